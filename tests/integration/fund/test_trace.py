"""One trace from a donation's HTTP request through the fund's append, the relay and the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.audit.app import bootstrap as audit_bootstrap
from shared.testing.http import serve
from tests.integration.fund.conftest import World


def in_trace(spans: tuple[ReadableSpan, ...], trace_id: int) -> set[str]:
    return {s.name for s in spans if s.context is not None and s.context.trace_id == trace_id}


async def test_donation_request_to_audit_append_is_one_trace(world: World, tmp_path: Path) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with serve(audit_bootstrap(world.fund.settings)):
        await world.fund.donate("nerima", 12_000, {"kind": "general"})
        spans = exporter.get_finished_spans()
        request = next(s for s in spans if s.name == "POST /v1/wards/nerima/donations")
        assert request.context is not None
        expected = {
            "POST /v1/wards/nerima/donations",
            "eventstore.append",
            "relay.publish fund",
            "consume fund",
            "consume audit",
        }
        try:
            async with asyncio.timeout(15):
                while not expected <= in_trace(
                    exporter.get_finished_spans(), request.context.trace_id
                ):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            seen = in_trace(exporter.get_finished_spans(), request.context.trace_id)
            raise AssertionError(
                f"missing from the trace: {expected - seen}; seen {seen}"
            ) from None
