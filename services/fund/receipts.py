"""Donations are written in groups: the ones waiting when a write starts share one transaction.

Each is appended to its ward's receipt book for the fiscal year (``receipts-{ward}-{year}``,
whose version is the receipt number) at whatever version the book is at, and the store writes
that version into the donation's receipt under the append lock (``StreamAppend.stamp``).
Numbers are therefore consecutive, with no gap and no guess to retry, however many instances
write at once (a numbering guessed before the lock had to be retried whenever another instance
committed first: with two instances, nearly every group).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from services.fund.commands import ReceiveDonation
from services.fund.donations import decide_donation, with_receipt
from services.fund.events import receipt_stream
from shared.eventstore.store import AppendContext, AppendResult, BatchItem, EventStore, StreamAppend

log = logging.getLogger("kyodo.fund.receipts")
MAX_BATCH = 250


@dataclass
class _Waiting:
    command: ReceiveDonation
    context: AppendContext
    year: int
    answer: asyncio.Future[AppendResult]


class DonationWriter:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.waiting: deque[_Waiting] = deque()
        self.task: asyncio.Task[None] | None = None

    async def write(
        self, command: ReceiveDonation, context: AppendContext, year: int
    ) -> AppendResult:
        answer: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Waiting(command, context, year, answer))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        while self.waiting:
            group = [self.waiting.popleft() for _ in range(min(MAX_BATCH, len(self.waiting)))]
            try:
                outcomes = await self.store.append_batch([_item(w) for w in group])
            except Exception as error:  # the database is unreachable: tell every waiting request
                log.warning("writing %d donations failed: %s", len(group), error)
                for waiting in group:
                    _answer(waiting, error=error)
                continue
            for waiting, outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    _answer(waiting, error=outcome)
                else:
                    _answer(waiting, result=outcome)


def _item(waiting: _Waiting) -> BatchItem:
    ward, year = waiting.command.ward, waiting.year
    received = decide_donation(waiting.command)
    book = StreamAppend(receipt_stream(ward, year), None, [received], with_receipt(ward, year))
    return BatchItem([book], waiting.context)


def _answer(
    waiting: _Waiting, *, result: AppendResult | None = None, error: Exception | None = None
) -> None:
    """Answer a request, unless it has gone (a client that disconnected cancels its wait; the
    donation it asked for is written all the same, and a retry with its key finds it)."""
    if waiting.answer.done():
        return
    if error is not None:
        waiting.answer.set_exception(error)
    else:
        assert result is not None
        waiting.answer.set_result(result)
