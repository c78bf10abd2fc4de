"""Services plug in through the ``kyodo.services`` entry-point group (shared never imports them)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from fastapi import FastAPI

from shared.service import ServiceSpec
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


@dataclass(frozen=True)
class DiscoveredSpecs:
    specs: dict[str, ServiceSpec]
    unavailable: dict[str, str]
    """Services whose module could not be imported, with the error."""


def service_specs() -> DiscoveredSpecs:
    """Each discovered service's ``SPEC`` (read models and the streams they consume), from the
    module its entry point names; a service without a module-level spec is unavailable, so that
    a replay says it leaves that service out."""
    specs: dict[str, ServiceSpec] = {}
    unavailable: dict[str, str] = {}
    for entry_point in entry_points(group=GROUP):
        try:
            module = importlib.import_module(entry_point.module)
        except ImportError as error:
            unavailable[entry_point.name] = f"{type(error).__name__}: {error}"
            continue
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, ServiceSpec):
            specs[entry_point.name] = spec
        else:
            unavailable[entry_point.name] = f"{entry_point.module} has no module-level SPEC"
    return DiscoveredSpecs(specs, unavailable)


def discovered_specs() -> dict[str, ServiceSpec]:
    """The specs ``service_specs`` finds: how a replay process finds them again."""
    return service_specs().specs
