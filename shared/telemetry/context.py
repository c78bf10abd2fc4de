"""W3C trace context carried inside envelopes."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    # The W3C form the propagator's inject writes, without building a carrier for it.
    trace_id, span_id, flags = span_context.trace_id, span_context.span_id, span_context.trace_flags
    return f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})
