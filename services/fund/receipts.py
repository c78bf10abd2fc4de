"""Donations are written in groups: the ones waiting when a write starts share one transaction.

Each takes the next receipt number of its ward and fiscal year: the donation is appended to the
receipt stream (``receipts-{ward}-{year}``, whose version is the number) at the expected
version. Numbers are therefore consecutive with no gap whatever the concurrency; when another
instance took a number first (ConcurrencyError), the donation is numbered again from the
stream's new version. One writer per process, so its own donations
never race each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from services.fund.commands import ReceiveDonation
from services.fund.donations import decide_donation
from services.fund.events import receipt_stream
from shared.errors import ConcurrencyError
from shared.eventstore.store import AppendContext, AppendResult, BatchItem, EventStore, StreamAppend

log = logging.getLogger("kyodo.fund.receipts")
MAX_BATCH = 250
MAX_ATTEMPTS = 50
Counter = tuple[str, int]
"""(ward, fiscal year)"""


@dataclass
class _Waiting:
    command: ReceiveDonation
    context: AppendContext
    counter: Counter
    answer: asyncio.Future[AppendResult]


class DonationWriter:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.versions: dict[Counter, int] = {}
        self.waiting: deque[_Waiting] = deque()
        self.task: asyncio.Task[None] | None = None

    async def write(
        self, command: ReceiveDonation, context: AppendContext, year: int
    ) -> AppendResult:
        answer: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Waiting(command, context, (command.ward, year), answer))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        while self.waiting:
            group = [self.waiting.popleft() for _ in range(min(MAX_BATCH, len(self.waiting)))]
            try:
                await self._write_group(group)
            except Exception as error:  # the database is unreachable: tell every waiting request
                log.warning("writing %d donations failed: %s", len(group), error)
                for waiting in group:
                    _answer(waiting, error=error)

    async def _write_group(self, group: list[_Waiting]) -> None:
        for _attempt in range(MAX_ATTEMPTS):
            numbers = await self._number(group)
            items = [self._item(w, n) for w, n in zip(group, numbers, strict=True)]
            outcomes = await self.store.append_batch(items)
            again, stale = [], set()
            for waiting, number, outcome in zip(group, numbers, outcomes, strict=True):
                if isinstance(outcome, ConcurrencyError):
                    again.append(waiting)
                    stale.add(waiting.counter)
                elif isinstance(outcome, Exception):
                    _answer(waiting, error=outcome)
                else:
                    if not outcome.replayed:
                        self.versions[waiting.counter] = number
                    _answer(waiting, result=outcome)
            for counter in stale:
                self.versions[counter] = await self._read_version(counter)
            if not again:
                return
            group = again
        for waiting in group:
            _answer(waiting, error=ConcurrencyError("receipt numbers are too contended"))

    async def _number(self, group: list[_Waiting]) -> list[int]:
        """The receipt number each donation would take, in order, per counter."""
        next_number: dict[Counter, int] = {}
        numbers = []
        for waiting in group:
            counter = waiting.counter
            if counter not in next_number:
                if counter not in self.versions:
                    self.versions[counter] = await self._read_version(counter)
                next_number[counter] = self.versions[counter] + 1
            numbers.append(next_number[counter])
            next_number[counter] += 1
        return numbers

    def _item(self, waiting: _Waiting, number: int) -> BatchItem:
        received = decide_donation(waiting.command, number)
        ward, year = waiting.counter
        return BatchItem(
            [StreamAppend(receipt_stream(ward, year), number - 1, [received])], waiting.context
        )

    async def _read_version(self, counter: Counter) -> int:
        known = self.versions.get(counter, 0)
        newer = await self.store.read_stream(receipt_stream(*counter), after_version=known)
        return newer[-1].version if newer else known


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
