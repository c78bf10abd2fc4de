"""A server span per HTTP request, continuing the caller's trace when it sends a traceparent."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.telemetry.tracing import spans_recorded, tracer, unrecorded_span

_propagator = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset(name.encode() for name in _propagator.fields)


class TraceMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        parent = _propagator.extract(carrier) if carrier else None
        if not spans_recorded():
            token = otel_context.attach(trace.set_span_in_context(unrecorded_span(parent)))
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)
            return
        name = f"{scope['method']} {scope['path']}"
        with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.SERVER) as span:
            span.set_attribute("kyodo.service", self.service)

            async def send_with_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_with_status)
