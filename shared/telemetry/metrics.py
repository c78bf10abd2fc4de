"""Platform metrics (OpenTelemetry). Instruments are no-ops until a MeterProvider is set."""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("kyodo")

appended_events = _meter.create_counter("kyodo.events.appended", unit="{event}")
relay_published = _meter.create_counter("kyodo.relay.published", unit="{event}")
consumer_applied = _meter.create_counter("kyodo.consumer.applied", unit="{event}")
consumer_duplicates = _meter.create_counter("kyodo.consumer.duplicates", unit="{event}")
dead_lettered = _meter.create_counter("kyodo.consumer.dead_lettered", unit="{event}")
