"""Demo data: donations of every designation kind in both built-in wards, a grant with its
lineage, a tranche and a return; idempotent, and patient with the registry.

The fund may start before the registry's events arrive, so seeding runs in the background and
waits (bounded) for each ward's rules and demo actors. Actor ids are derived the way the
registry's demo derives them; a project is designated only if one has started by then.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.fund import queries
from services.fund.commands import (
    AwardGrant,
    DisburseGrant,
    ReceiveDonation,
    ReturnGrantFunds,
)
from services.fund.designations import DesignationKind
from services.fund.handlers import FundService
from services.fund.targets import TargetStatus
from shared.errors import KyodoError, NotFound
from shared.events import EventActor
from shared.eventstore.store import AppendContext
from shared.service import ServiceContext

log = logging.getLogger("kyodo.fund.demo")

# The registry's demo namespace: its actor ids are uuid5(namespace, "<ward>/<slug>").
REGISTRY_DEMO_NAMESPACE = uuid.UUID("6b796f64-6f2d-4465-8d6f-2d7265676973")
FUND_DEMO_NAMESPACE = uuid.UUID("6b796f64-6f2d-4466-756e-642d64656d6f")
DEMO_ACTOR = EventActor(subject="demo-data", role="system")
WAIT_SECONDS = 120.0
POLL_SECONDS = 0.5


def registry_actor_id(ward: str, slug: str) -> str:
    return str(uuid.uuid5(REGISTRY_DEMO_NAMESPACE, f"{ward}/{slug}"))


def demo_id(ward: str, *slugs: str) -> str:
    return str(uuid.uuid5(FUND_DEMO_NAMESPACE, "/".join((ward, *slugs))))


@dataclass(frozen=True)
class DemoDonation:
    slug: str
    amount_yen: int
    designation: dict[str, Any]
    donor: dict[str, Any]
    days_ago: int


@dataclass(frozen=True)
class DemoGrant:
    slug: str
    actor_slug: str
    field: str
    amount_yen: int
    title: str
    tranche_yen: int
    returned_yen: int


def _person(name: str, address: str, *, publish: bool) -> dict[str, Any]:
    return {"kind": "person", "name": name, "address": address, "publish_name": publish}


def _company(name: str, address: str) -> dict[str, Any]:
    return {"kind": "company", "name": name, "address": address, "publish_name": True}


def _donations(ward: str, group: str, field: str, other_group: str) -> tuple[DemoDonation, ...]:
    city = {"ota": "東京都大田区", "nerima": "東京都練馬区"}[ward]
    return (
        DemoDonation(
            "general",
            50_000,
            {"kind": "general"},
            _company("株式会社 協働商事", f"{city}本町1-1-1"),
            60,
        ),
        DemoDonation(
            "field",
            30_000,
            {"kind": "field", "field": field},
            _person("山田 花子", f"{city}中央2-3-4", publish=True),
            45,
        ),
        DemoDonation(
            "actor",
            20_000,
            {"kind": "actor", "actor_id": registry_actor_id(ward, group)},
            _person("佐藤 太郎", f"{city}南5-6-7", publish=False),
            30,
        ),
        DemoDonation(
            "other-actor",
            15_000,
            {"kind": "actor", "actor_id": registry_actor_id(ward, other_group)},
            _person("鈴木 一郎", f"{city}北8-9-10", publish=False),
            20,
        ),
    )


DEMO: dict[str, tuple[tuple[DemoDonation, ...], DemoGrant]] = {
    "ota": (
        _donations("ota", "tamagawa-clean", "environment", "kodomo-shokudo-net"),
        DemoGrant(
            "grant",
            "tamagawa-clean",
            "environment",
            45_000,
            "多摩川河川敷の清掃用具",
            30_000,
            5_000,
        ),
    ),
    "nerima": (
        _donations("nerima", "kosodate-net", "childcare", "hikarigaoka-chokai"),
        DemoGrant(
            "grant", "kosodate-net", "childcare", 40_000, "子育てひろばの絵本と遊具", 25_000, 3_000
        ),
    ),
}


def _context(ward: str, key: str, policy_version: int) -> AppendContext:
    # A fixed fingerprint: a rerun on another day (other dates) still finds the first answer.
    return AppendContext(
        ward,
        DEMO_ACTOR,
        policy_version=policy_version,
        idempotency_scope="demo",
        idempotency_key=f"demo-{key}",
        fingerprint="demo",
    )


async def seed_ward(fund: FundService, ward: str, today: date) -> bool:
    """Seed one ward's donations and grant once its rules and demo actors are known."""
    donations, grant = DEMO[ward]
    if not await _ready(fund, ward, donations):
        return False
    policy = await queries.fund_policy(fund.ctx.database, ward)
    for demo in donations:
        command = ReceiveDonation(
            ward=ward,
            donation_id=demo_id(ward, "donation", demo.slug),
            amount_yen=demo.amount_yen,
            received_on=today - timedelta(days=demo.days_ago),
            designation=demo.designation,
            donor=demo.donor,
            note="デモデータ",
        )
        await fund.receive_donation(command, _context(ward, f"{ward}-{demo.slug}", policy.version))
    await _seed_grant(fund, ward, grant, today, policy.version)
    return True


async def _ready(fund: FundService, ward: str, donations: tuple[DemoDonation, ...]) -> bool:
    try:
        await queries.fund_policy(fund.ctx.database, ward)
    except NotFound:
        return False
    known = {t.target_id for t in await queries.targets(fund.ctx.database, ward) if t.usable}
    wanted = {d.designation["actor_id"] for d in donations if d.designation["kind"] == "actor"}
    return wanted <= known


async def _seed_grant(
    fund: FundService, ward: str, demo: DemoGrant, today: date, version: int
) -> None:
    grant_id = demo_id(ward, demo.slug)
    award = AwardGrant(
        ward=ward,
        grant_id=grant_id,
        recipient={"kind": "actor", "actor_id": registry_actor_id(ward, demo.actor_slug)},
        purpose_field=demo.field,
        fiscal_year=_fiscal_year(today),
        amount_yen=demo.amount_yen,
        title=demo.title,
        awarded_on=today - timedelta(days=10),
    )
    await fund.award_grant(award, _context(ward, f"{ward}-{demo.slug}", version))
    tranche = DisburseGrant(
        ward=ward,
        grant_id=grant_id,
        disbursement_id=demo_id(ward, demo.slug, "tranche-1"),
        amount_yen=demo.tranche_yen,
        paid_on=today - timedelta(days=7),
        note="第1回交付",
    )
    await fund.disburse(tranche, _context(ward, f"{ward}-{demo.slug}-tranche-1", version))
    returned = ReturnGrantFunds(
        ward=ward,
        grant_id=grant_id,
        return_id=demo_id(ward, demo.slug, "return-1"),
        amount_yen=demo.returned_yen,
        returned_on=today - timedelta(days=1),
        source="disbursed",
        reason="精算による未使用額の返還",
    )
    await fund.return_funds(returned, _context(ward, f"{ward}-{demo.slug}-return-1", version))


async def designate_a_project(fund: FundService, ward: str, today: date) -> bool:
    """A gift to a started project of the ward, once the proposals service has started one."""
    projects = [
        t
        for t in await queries.targets(fund.ctx.database, ward)
        if t.kind is DesignationKind.PROJECT and t.status is TargetStatus.ACTIVE
    ]
    if not projects:
        return False
    version = (await queries.fund_policy(fund.ctx.database, ward)).version
    project = min(projects, key=lambda t: t.target_id)
    command = ReceiveDonation(
        ward=ward,
        donation_id=demo_id(ward, "donation", "project"),
        amount_yen=10_000,
        received_on=today - timedelta(days=5),
        designation={"kind": "project", "project_id": project.target_id},
        donor=_person("高橋 美咲", "東京都", publish=True),
        note="デモデータ",
    )
    await fund.receive_donation(command, _context(ward, f"{ward}-project", version))
    return True


def _fiscal_year(today: date) -> int:
    return today.year if today.month >= 4 else today.year - 1


STEPS = {"donations and a grant": seed_ward, "a project's gift": designate_a_project}


async def seed_until_ready(fund: FundService, stop: asyncio.Event, wait: float) -> list[str]:
    """Seed every built-in ward as its data becomes known; give up after ``wait`` seconds."""
    pending = {(ward, step) for ward in DEMO for step in STEPS}
    deadline = asyncio.get_running_loop().time() + wait
    while pending and not stop.is_set() and asyncio.get_running_loop().time() < deadline:
        for ward, step in sorted(pending):
            try:
                if await STEPS[step](fund, ward, fund.today()):
                    pending.discard((ward, step))
            except KyodoError as error:
                log.warning("demo data for %s not seeded yet: %s", ward, error.detail)
        if pending:
            await asyncio.sleep(POLL_SECONDS)
    for ward, step in sorted(pending):
        log.warning("demo data: %s of %s not seeded within %.0fs", step, ward, wait)
    return sorted({ward for ward in DEMO} - {ward for ward, _ in pending})


def start_demo(fund: FundService, wait: float = WAIT_SECONDS) -> Any:
    def hook(ctx: ServiceContext) -> None:
        ctx.tasks.append(asyncio.create_task(_run(fund, ctx.stop, wait)))

    return hook


async def _run(fund: FundService, stop: asyncio.Event, wait: float) -> None:
    await seed_until_ready(fund, stop, wait)
    await stop.wait()  # stays alive: a finished worker would mark the service unhealthy
