"""Tracing: one trace from the HTTP request through the append, the relay and each consumer."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.telemetry.context import context_from_traceparent

tracer = trace.get_tracer("kyodo")
TRACEPARENT_KEY = '"traceparent":"'


class WhileExporting(Sampler):
    """Records spans only once something exports them (parent-based then).

    Until then every span is non-recording but still carries its trace id, so the traceparent
    kept in each envelope joins the request, the append, the relay and the consumers as before,
    at a fraction of the cost of spans that nobody reads.
    """

    def __init__(self) -> None:
        self.exporting = False
        self._recording = ParentBased(ALWAYS_ON)

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        sampler = self._recording if self.exporting else ALWAYS_OFF
        return sampler.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "WhileExporting"


class KyodoTracerProvider(TracerProvider):
    """A tracer provider whose spans are recorded from the first span processor on."""

    def __init__(self, resource: Resource) -> None:
        self.gate = WhileExporting()
        super().__init__(resource=resource, sampler=self.gate)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.gate.exporting = True


def spans_recorded() -> bool:
    """False while the installed provider records nothing: per-event spans can be skipped."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, KyodoTracerProvider):
        return provider.gate.exporting
    return isinstance(provider, TracerProvider)


def unrecorded_span(parent: otel_context.Context | None) -> trace.NonRecordingSpan:
    """What the tracer gives while nothing records (a non-recording span in the parent's
    trace, or in a new one), without its sampler and span machinery: for a server span on
    every request."""
    parent_context = trace.get_current_span(parent).get_span_context()
    trace_id = parent_context.trace_id if parent_context.is_valid else _random_bits(128)
    span_context = trace.SpanContext(
        trace_id=trace_id,
        span_id=_random_bits(64),
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
        trace_state=parent_context.trace_state if parent_context.is_valid else None,
    )
    return trace.NonRecordingSpan(span_context)


def _random_bits(bits: int) -> int:
    while not (value := random.getrandbits(bits)):
        continue
    return value


def build_tracer_provider(
    service: str, *, otlp_endpoint: str | None = None, exporter: SpanExporter | None = None
) -> TracerProvider:
    provider = KyodoTracerProvider(Resource.create({"service.name": f"kyodo-{service}"}))
    processor: SpanProcessor | None = None
    if exporter is not None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        processor = SimpleSpanProcessor(exporter)
    elif otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
    if processor is not None:
        provider.add_span_processor(processor)
    return provider


def install_tracer_provider(provider: TracerProvider) -> bool:
    """Install the process-wide provider once; later calls (several apps in a test) keep it."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return False
    trace.set_tracer_provider(provider)
    return True


def install_meter_provider(service: str, otlp_endpoint: str) -> None:
    """Export the platform's metrics over OTLP (only when an endpoint is configured)."""
    from opentelemetry import metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{otlp_endpoint}/v1/metrics")
    )
    resource = Resource.create({"service.name": f"kyodo-{service}"})
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))


def traceparent_in(body: str) -> str | None:
    """The traceparent inside a stored body, found without parsing the JSON."""
    start = body.find(TRACEPARENT_KEY)
    if start < 0:
        return None
    start += len(TRACEPARENT_KEY)
    return body[start : body.index('"', start)]


@contextmanager
def relay_spans(service: str, rows: Sequence[tuple[int, str, str]]) -> Iterator[None]:
    """A publish span for each relayed event that belongs to a trace."""
    if not spans_recorded():
        yield
        return
    with ExitStack() as stack:
        for position, ward, body in rows:
            parent = context_from_traceparent(traceparent_in(body))
            if parent is not None:
                stack.enter_context(
                    tracer.start_as_current_span(
                        f"relay.publish {service}",
                        context=parent,
                        kind=trace.SpanKind.PRODUCER,
                        attributes={"kyodo.position": position, "kyodo.ward": ward},
                    )
                )
        yield


@contextmanager
def consume_spans(group: str, traceparents: Sequence[str | None]) -> Iterator[None]:
    if not spans_recorded():
        yield
        return
    with ExitStack() as stack:
        for traceparent in traceparents:
            parent = context_from_traceparent(traceparent)
            if parent is not None:
                stack.enter_context(
                    tracer.start_as_current_span(
                        f"consume {group}", context=parent, kind=trace.SpanKind.CONSUMER
                    )
                )
        yield


def append_span(traceparent: str | None, group_size: int) -> trace.Span:
    """A span for one request's share of a group commit, in that request's own trace."""
    return tracer.start_span(
        "eventstore.append",
        context=context_from_traceparent(traceparent),
        attributes={"kyodo.group_commit": group_size},
    )


def append_spans(
    traceparents: Sequence[str | None], *, recording: bool
) -> tuple[list[trace.Span], list[str | None]]:
    """The spans of a group commit's requests (``append_span``), and the traceparent each
    request's events carry: its span's. While nothing records (``spans_recorded``) there are no
    spans, and the events carry the request's own traceparent, in the same trace."""
    if not recording:
        return [], list(traceparents)
    spans = [append_span(traceparent, len(traceparents)) for traceparent in traceparents]
    carried = [
        traceparent_of(span) or traceparent
        for span, traceparent in zip(spans, traceparents, strict=True)
    ]
    return spans, carried


def traceparent_of(span: trace.Span) -> str | None:
    context = span.get_span_context()
    if not context.is_valid:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")
