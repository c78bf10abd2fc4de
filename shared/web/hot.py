"""Hot routes: served straight from the middleware stack, past FastAPI's router.

A route marked with :func:`hot` stays an ordinary FastAPI route (OpenAPI documents it, and it
is its fallback), but :class:`HotRoutes` answers its requests itself: it matches the path
with the route's own compiled pattern and calls the endpoint with the request and the path
values. Routing, the exception middleware, the exit stack and dependency solving cost more
per request than the work of a route taking a thousand requests a second. The endpoint must
take only ``request`` and path values, read its body itself (:mod:`shared.web.bodies`) and
return a response; its errors go through the app's own exception handlers, so a problem is
the same problem either way.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeGuard, TypeVar, get_type_hints

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[..., Awaitable[Response]]
Handler = Callable[[Request, Any], Response | Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)
_HOT = "__kyodo_hot_route__"


def hot(endpoint: E) -> E:
    """Mark a route's endpoint to be served by :class:`HotRoutes` (apply under the route
    decorator). Its path values arrive as the text matched, unvalidated, so it may take only
    ``request`` and ``str`` path values."""
    hints = get_type_hints(endpoint)
    for name in inspect.signature(endpoint).parameters:
        wanted = Request if name == "request" else str
        if hints.get(name) is not wanted:
            raise TypeError(f"hot route {endpoint.__name__}: {name} must be a {wanted.__name__}")
    setattr(endpoint, _HOT, True)
    return endpoint


def is_hot(route: BaseRoute) -> TypeGuard[APIRoute]:
    return isinstance(route, APIRoute) and getattr(route.endpoint, _HOT, False)


class HotRoutes:
    """ASGI middleware in front of the router. ``routes`` are the routes of the routers the app
    includes (without a prefix; only the hot ones are kept), ``handlers`` the app's own
    exception handlers."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        handlers: Mapping[Any, Handler],
    ) -> None:
        self.app = app
        self.routes = [
            (frozenset(route.methods or ()), route.path_regex, route)
            for route in routes
            if is_hot(route)
        ]
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Behind a path prefix (root_path) the router's own matching applies.
        if scope["type"] == "http" and not scope.get("root_path"):
            for methods, pattern, route in self.routes:
                if scope["method"] in methods and (match := pattern.match(scope["path"])):
                    await self._serve(route, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, route: APIRoute, values: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = Request({**scope, "path_params": values, "route": route}, receive)
        try:
            response = await route.endpoint(request=request, **values)
        except Exception as error:
            handler = self._handler_for(error)
            if handler is None:
                raise
            answer = handler(request, error)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(request.scope, receive, send)

    def _handler_for(self, error: Exception) -> Handler | None:
        for kind in type(error).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        return None
