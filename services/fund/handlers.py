"""Commands with their I/O: read what the fund knows, decide, append with expected versions.

Two serialisation points keep the money right:
- receipt numbers: a donation is the next event of the ward's receipt stream for that fiscal
  year, numbered by the store under its append lock, so numbers are consecutive with no gap
  whatever the number of instances;
- the ward's book: every decision that takes money out of a lot appends to ``fund-{ward}`` at
  the version of the book it was decided on; a ConcurrencyError means: catch up, decide again.

In one process donations are written in groups by one writer (:mod:`services.fund.receipts`)
and an asyncio lock per ward avoids needless retries of decisions; the book is cached per ward
and caught up by global position (appends commit in position order).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from services.fund import queries
from services.fund.book import FundBook
from services.fund.commands import (
    AwardGrant,
    DisburseGrant,
    ReceiveDonation,
    RefundDonation,
    ReleaseHeldFunds,
    ReturnGrantFunds,
)
from services.fund.designations import Designation
from services.fund.donations import check_donation, decide_refund
from services.fund.donations import receipt_fiscal_year as receipt_year
from services.fund.events import fund_stream
from services.fund.grants import (
    decide_disbursement,
    decide_grant,
    decide_return,
    existing_grant,
    recipient_designation_kind,
    recipient_id,
)
from services.fund.holds import decide_hold, decide_release
from services.fund.policy import FundPolicy
from services.fund.receipts import DonationWriter
from shared.errors import ConcurrencyError, KyodoError
from shared.events import SYSTEM_ACTOR, NewEvent
from shared.eventstore.store import AppendContext, AppendResult
from shared.policy.fiscal import JST
from shared.service import ServiceContext

MAX_ATTEMPTS = 50
POLICY_TTL_SECONDS = 1.0
Decider = Callable[[FundBook], Sequence[NewEvent]]


@dataclass(frozen=True)
class Decided:
    """The events a command appended (or, for a retried request, first appended) and the book
    caught up past them."""

    result: AppendResult
    book: FundBook


class FundService:
    """The fund's command side for one service context; caches are per process."""

    def __init__(self) -> None:
        self._ctx: ServiceContext | None = None
        self.books: dict[str, FundBook] = {}
        self.book_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.policies: dict[str, tuple[float, FundPolicy]] = {}
        self.policy_reads: dict[str, asyncio.Future[FundPolicy]] = {}
        self._donations: DonationWriter | None = None

    def attach(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._donations = DonationWriter(ctx.store)

    @property
    def donations(self) -> DonationWriter:
        assert self._donations is not None, "FundService.attach(ctx) first"
        return self._donations

    @property
    def ctx(self) -> ServiceContext:
        assert self._ctx is not None, "FundService.attach(ctx) first"
        return self._ctx

    def today(self) -> date:
        return self.ctx.clock().astimezone(JST).date()

    # --- donations ------------------------------------------------------------------------

    async def receive_donation(
        self, command: ReceiveDonation, context: AppendContext
    ) -> AppendResult:
        designation = command.designation.value()
        try:
            policy = await self.recent_policy(command.ward)
            target = None
            if designation.names_a_target:
                target = await queries.target(self.ctx.database, designation)
            check_donation(command, policy, target, self.today())
        except KyodoError:
            # A retry of a request that succeeded gets its first answer, whatever changed since.
            if (earlier := await self.ctx.store.replay(context)) is not None:
                return earlier
            raise
        context = replace(context, policy_version=policy.version)
        return await self.donations.write(command, context, receipt_year(command))

    async def refund_donation(self, command: RefundDonation, context: AppendContext) -> Decided:
        policy = await self._policy(command.ward)
        today = self.today()
        return await self.decide(
            command.ward,
            lambda book: decide_refund(book, command, today),
            replace(context, policy_version=policy.version),
        )

    # --- grants ---------------------------------------------------------------------------

    async def award_grant(self, command: AwardGrant, context: AppendContext) -> Decided:
        designation = Designation(recipient_designation_kind(command), recipient_id(command))
        policy, recipient = await queries.policy_and_target(
            self.ctx.database, command.ward, designation
        )
        today = self.today()
        return await self.decide(
            command.ward,
            lambda book: decide_grant(book, command, policy, recipient, today),
            replace(context, policy_version=policy.version),
        )

    async def disburse(self, command: DisburseGrant, context: AppendContext) -> Decided:
        book = await self.book(command.ward)
        grant = existing_grant(book, command.ward, command.grant_id)
        purpose = grant.purpose
        designation = Designation.parse(f"{purpose.recipient_kind.value}:{purpose.recipient_id}")
        policy, recipient = await queries.policy_and_target(
            self.ctx.database, command.ward, designation
        )
        today = self.today()
        return await self.decide(
            command.ward,
            lambda book: decide_disbursement(book, command, recipient, today),
            replace(context, policy_version=policy.version),
        )

    async def return_funds(self, command: ReturnGrantFunds, context: AppendContext) -> Decided:
        policy = await self._policy(command.ward)
        today = self.today()
        return await self.decide(
            command.ward,
            lambda book: decide_return(book, command, today),
            replace(context, policy_version=policy.version),
        )

    # --- held money -----------------------------------------------------------------------

    async def release_held(self, command: ReleaseHeldFunds, context: AppendContext) -> Decided:
        to = command.to.value()
        policy, target = await queries.policy_and_target(self.ctx.database, command.ward, to)
        today = self.today()
        return await self.decide(
            command.ward,
            lambda book: decide_release(book, command, policy, target, today),
            replace(context, policy_version=policy.version),
        )

    async def hold_gone_targets(self, ward: str) -> int:
        """Hold the money of every gone target that still has some available; returns holds."""
        gone = await queries.gone_designations(self.ctx.database, ward)
        if not gone:
            return 0
        book = await self.book(ward)
        policy = await self._policy(ward)
        held = 0
        for designation in gone:
            if not decide_hold(book, designation):
                continue
            context = AppendContext(ward, SYSTEM_ACTOR, policy_version=policy.version)
            decided = await self.decide(ward, _holding(designation), context)
            held += len(decided.result.events)
            book = decided.book
        return held

    # --- the ward's book ------------------------------------------------------------------

    async def decide(self, ward: str, decider: Decider, context: AppendContext) -> Decided:
        """Decide on the caught-up book and append at its version; on a race, decide again."""
        store = self.ctx.store
        if (earlier := await store.replay(context)) is not None:
            return Decided(earlier, await self.book(ward))
        async with self.book_locks[ward]:
            for _attempt in range(MAX_ATTEMPTS):
                book = await self._caught_up(ward)
                events = list(decider(book))
                if not events:
                    return Decided(AppendResult([]), book)
                try:
                    result = await store.append(fund_stream(ward), book.version, events, context)
                except ConcurrencyError:
                    continue
                return Decided(result, await self._caught_up(ward))
        raise ConcurrencyError(f"the fund of ward {ward!r} is too contended; try again")

    async def book(self, ward: str) -> FundBook:
        async with self.book_locks[ward]:
            return await self._caught_up(ward)

    async def _caught_up(self, ward: str) -> FundBook:
        book = self.books.setdefault(ward, FundBook())
        async for page in self.ctx.store.iterate_all(after=book.position, ward=ward):
            for event in page:
                book.apply(event)
        return book

    async def _policy(self, ward: str) -> FundPolicy:
        return await queries.fund_policy(self.ctx.database, ward)

    async def recent_policy(self, ward: str) -> FundPolicy:
        """The ward's fund rules as read at most a second ago: a donation is decided on rules
        the read model learnt asynchronously anyway, so this adds at most a second of lag.
        Concurrent requests share one read."""
        cached = self.policies.get(ward)
        if cached is not None and time.monotonic() - cached[0] <= POLICY_TTL_SECONDS:
            return cached[1]
        reading = self.policy_reads.get(ward)
        if reading is None:
            reading = self.policy_reads[ward] = asyncio.ensure_future(self._policy(ward))
            reading.add_done_callback(lambda _done: self.policy_reads.pop(ward, None))
        policy = await asyncio.shield(reading)
        self.policies[ward] = (time.monotonic(), policy)
        return policy


def _holding(designation: Designation) -> Decider:
    return lambda book: decide_hold(book, designation)
