from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.audit.checkpoint import origin_for_ward
from shared.audit.note import Signer

WARD = "nerima"
ORIGIN = origin_for_ward(WARD)

Envelope = dict[str, Any]


def project_root() -> Path:
    here = Path(__file__).resolve()
    return next(parent for parent in here.parents if parent.name == "tests").parent


VECTORS = project_root().parent / "shared" / "testvectors" / "merkle" / "testdata"


def make_envelope(number: int, ward: str = WARD) -> Envelope:
    return {
        "event_id": str(uuid.UUID(int=number + 1)),
        "event_type": "fund.DonationReceived",
        "schema_version": 1,
        "ward": ward,
        "stream_id": str(uuid.UUID(int=10_000 + number // 3)),
        "version": number % 3 + 1,
        "position": number + 1,
        "occurred_at": "2025-04-01T09:00:00+00:00",
        "actor": {"subject": "staff-1", "role": "finance"},
        "data": {"amount_yen": 1000 + number, "personal": {"name": "山田太郎"}},
    }


@pytest.fixture
def envelopes() -> Callable[[int, int], list[Envelope]]:
    def build(start: int, stop: int) -> list[Envelope]:
        return [make_envelope(number) for number in range(start, stop)]

    return build


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer.generate(ORIGIN)
