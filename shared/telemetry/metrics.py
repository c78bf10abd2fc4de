"""Platform metrics (OpenTelemetry). Instruments are no-ops until a MeterProvider is installed."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("kyodo")

appended_events = _meter.create_counter("kyodo.events.appended", unit="{event}")
relay_published = _meter.create_counter("kyodo.relay.published", unit="{event}")
consumer_applied = _meter.create_counter("kyodo.consumer.applied", unit="{event}")
consumer_duplicates = _meter.create_counter("kyodo.consumer.duplicates", unit="{event}")
dead_lettered = _meter.create_counter("kyodo.consumer.dead_lettered", unit="{event}")

# Latest sampled values, keyed by gauge name and attribute set; read by the observable gauges.
_samples: dict[str, dict[tuple[tuple[str, str], ...], int]] = {}


def record_sample(gauge: str, value: int, **attributes: str) -> None:
    _samples.setdefault(gauge, {})[tuple(sorted(attributes.items()))] = value


def _observer(gauge: str):  # type: ignore[no-untyped-def]
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        for attributes, value in _samples.get(gauge, {}).items():
            yield Observation(value, dict(attributes))

    return observe


for _name in ("relay.lag", "consumer.lag", "consumer.pending", "consumer.dead_letters"):
    _meter.create_observable_gauge(f"kyodo.{_name}", callbacks=[_observer(_name)], unit="{event}")
