"""Spans are recorded only once something exports them; trace ids flow either way."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.telemetry.context import current_traceparent
from shared.telemetry.tracing import (
    KyodoTracerProvider,
    append_spans,
    build_tracer_provider,
    traceparent_of,
    unrecorded_span,
)


def provider() -> KyodoTracerProvider:
    built = build_tracer_provider("gate-test")
    assert isinstance(built, KyodoTracerProvider)
    return built


def test_without_an_exporter_spans_are_not_recorded_but_carry_the_trace() -> None:
    tracer = provider().get_tracer("test")
    with tracer.start_as_current_span("request") as request:
        child = tracer.start_span("append")
    assert not request.is_recording()
    assert not child.is_recording()
    assert child.get_span_context().trace_id == request.get_span_context().trace_id
    assert child.get_span_context().is_valid
    traceparent = traceparent_of(child)
    assert traceparent is not None
    assert f"{request.get_span_context().trace_id:032x}" in traceparent


def test_spans_are_recorded_and_exported_from_the_first_processor_on() -> None:
    gated = provider()
    exporter = InMemorySpanExporter()
    gated.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = gated.get_tracer("test")
    with tracer.start_as_current_span("request") as request:
        assert request.is_recording()
        tracer.start_span("append").end()
    names = {span.name for span in exporter.get_finished_spans()}
    assert names == {"request", "append"}


def test_an_exporter_given_at_build_time_records_at_once() -> None:
    exporter = InMemorySpanExporter()
    built = build_tracer_provider("gate-test", exporter=exporter)
    with built.get_tracer("test").start_as_current_span("request"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["request"]


def test_an_unrecorded_server_span_continues_the_callers_trace_or_starts_one() -> None:
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    parent = TraceContextTextMapPropagator().extract({"traceparent": caller})
    continued = unrecorded_span(parent)
    started, another = unrecorded_span(None), unrecorded_span(None)
    assert not continued.is_recording()
    assert continued.get_span_context().trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert continued.get_span_context().span_id != 0xB7AD6B7169203331
    assert started.get_span_context().is_valid
    assert started.get_span_context().trace_id != another.get_span_context().trace_id
    traceparent = traceparent_of(continued)
    assert traceparent is not None and traceparent.startswith("00-0af7651916cd43dd")


def test_the_current_traceparent_is_what_the_propagator_writes() -> None:
    for caller in (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0000000000000000000000000000000a-000000000000000b-00",
    ):
        parent = TraceContextTextMapPropagator().extract({"traceparent": caller})
        token = otel_context.attach(parent)
        try:
            carrier: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(carrier)
            assert current_traceparent() == carrier["traceparent"] == caller
        finally:
            otel_context.detach(token)


def test_a_group_commit_makes_spans_only_while_they_are_recorded() -> None:
    requests = [
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        None,
        "00-0000000000000000000000000000000a-000000000000000b-00",
    ]
    spans, carried = append_spans(requests, recording=False)
    assert spans == []
    assert carried == requests
    spans, carried = append_spans(requests, recording=True)
    assert len(spans) == len(requests) == len(carried)
    for span in spans:
        span.end()
