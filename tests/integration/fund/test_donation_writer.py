"""The donation writer on each store backend: gapless receipts across writers, answers that
survive a caller who went away."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest

from services.fund.commands import ReceiveDonation
from services.fund.receipts import DonationWriter
from shared.db import Database
from shared.errors import IdempotencyConflict
from shared.events import EventActor
from shared.eventstore.store import AppendContext, EventStore

FINANCE = EventActor(subject="finance@ota", role="finance")


def donation(amount: int = 1_000) -> ReceiveDonation:
    return ReceiveDonation(
        ward="ota",
        donation_id=str(uuid.uuid4()),
        amount_yen=amount,
        received_on=date(2025, 7, 1),
        designation={"kind": "general"},
        donor={"kind": "person", "name": "大田 花子", "address": "東京都大田区"},
    )


def keyed(key: str | None = None, fingerprint: str = "f") -> AppendContext:
    return AppendContext(
        "ota", FINANCE, idempotency_key=key or uuid.uuid4().hex, fingerprint=fingerprint
    )


@pytest.fixture
async def store(database: Database) -> EventStore:
    created = EventStore(database)
    await created.create_tables()
    return created


async def receipts(store: EventStore) -> list[int]:
    return [e.version for e in await store.read_stream("receipts-ota-2025")]


async def test_two_writers_share_one_gapless_sequence(store: EventStore) -> None:
    writers = [DonationWriter(store), DonationWriter(store)]
    results = await asyncio.gather(
        *(writers[i % 2].write(donation(), keyed(), 2025) for i in range(40))
    )
    numbers = sorted(r.events[0].data["receipt"]["number"] for r in results)
    assert numbers == list(range(1, 41))
    assert await receipts(store) == list(range(1, 41))
    for stored in await store.read_stream("receipts-ota-2025"):
        receipt = stored.data["receipt"]
        assert receipt == {
            "fiscal_year": 2025,
            "number": stored.version,
            "label": f"ota-2025-{stored.version:06d}",
        }


async def test_retries_in_one_group_get_the_first_answer_or_a_refusal(store: EventStore) -> None:
    writer = DonationWriter(store)
    first = donation()
    same, other = keyed("k"), keyed("k", fingerprint="other")
    results = await asyncio.gather(
        writer.write(first, same, 2025),
        writer.write(first, same, 2025),
        writer.write(donation(), other, 2025),
        writer.write(donation(), keyed(), 2025),
        return_exceptions=True,
    )
    original, retried, reused, next_one = results
    assert not isinstance(original, BaseException) and not isinstance(retried, BaseException)
    assert retried.replayed and retried.events == original.events
    assert isinstance(reused, IdempotencyConflict)
    assert not isinstance(next_one, BaseException)
    assert next_one.events[0].data["receipt"]["number"] == 2
    assert await receipts(store) == [1, 2]


async def test_a_caller_who_went_away_does_not_cost_the_others_their_answer(
    store: EventStore,
) -> None:
    writer = DonationWriter(store)
    gone = asyncio.create_task(writer.write(donation(), keyed(), 2025))
    staying = [asyncio.create_task(writer.write(donation(), keyed(), 2025)) for _ in range(3)]
    await asyncio.sleep(0)
    gone.cancel()
    answers = await asyncio.gather(*staying)
    assert sorted(a.events[0].data["receipt"]["number"] for a in answers) == [2, 3, 4]
    assert await receipts(store) == [1, 2, 3, 4]  # the cancelled caller's donation is kept
