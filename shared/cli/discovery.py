"""Services plug in through the ``kyodo.services`` entry-point group (shared never imports them)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from fastapi import FastAPI

from shared.settings import SERVICE_PORTS, Settings

Bootstrap = Callable[..., FastAPI]
GROUP = "kyodo.services"


def available_services() -> dict[str, Bootstrap]:
    found: dict[str, Any] = {ep.name: ep for ep in entry_points(group=GROUP)}
    order = list(SERVICE_PORTS)
    names = sorted(found, key=lambda n: (order.index(n) if n in order else len(order), n))
    return {name: _lazy(found[name]) for name in names}


def _lazy(entry_point: Any) -> Bootstrap:
    def bootstrap(settings: Settings, **options: Any) -> FastAPI:
        function: Bootstrap = entry_point.load()
        return function(settings, **options)

    return bootstrap
