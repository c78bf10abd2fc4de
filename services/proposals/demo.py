"""Demo data modelled on the seeds' example projects: a call per ward and proposals in several
forms (補助・助成, 共催, 委託, 事業協力, 人材育成) at every stage, two of them started projects.

The actors are the registry's demo actors; their ids are derived exactly as the registry
derives them. The registry's events may arrive after this service starts, so seeding waits
(bounded) in the background until the read model knows those actors. Every record has a fixed
id, so a second run only completes what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from services.proposals import handlers, queries
from services.proposals.commands import (
    WARD_PARTY,
    AgreementPartyBody,
    DecideProposal,
    DraftAgreement,
    DraftProposal,
    OpenCall,
    SignAgreement,
    SubmitProposal,
    SubmitReview,
)
from services.proposals.events import call_stream, project_id_of, project_stream, proposal_stream
from services.proposals.handlers import CALL, PROJECT, PROPOSAL
from services.proposals.policy import ProposalsPolicy
from services.proposals.proposal import ADOPTED, DRAFT, UNDER_REVIEW, Proposal
from services.proposals.web import today
from shared.errors import ConcurrencyError, KyodoError, NotFound
from shared.events import EventActor
from shared.eventstore.store import AppendContext, EventStore
from shared.handling import load
from shared.service import ServiceContext

log = logging.getLogger("kyodo.proposals.demo")

# The registry's demo namespace: its demo actor ids are uuid5(namespace, "ward/slug").
REGISTRY_DEMO_NAMESPACE = uuid.UUID("6b796f64-6f2d-4465-8d6f-2d7265676973")
DEMO_NAMESPACE = uuid.UUID("6b796f64-6f2d-4465-8d6f-2d70726f706f")
DEMO_ACTOR = EventActor(subject="demo-data", role="system")
REVIEWERS = ("reviewer-1@demo", "reviewer-2@demo", "reviewer-3@demo")
WAIT_FOR_REGISTRY_SECONDS = 120.0

STAGES = ("draft", "submitted", "reviewed", "adopted", "started")


def registry_actor_id(ward: str, slug: str) -> str:
    return str(uuid.uuid5(REGISTRY_DEMO_NAMESPACE, f"{ward}/{slug}"))


def demo_id(ward: str, *slugs: str) -> str:
    return str(uuid.uuid5(DEMO_NAMESPACE, "/".join((ward, *slugs))))


@dataclass(frozen=True)
class DemoProposal:
    slug: str
    lead: str
    title: str
    local_issue: str
    purpose: str
    form: str
    department: str
    fields: tuple[str, ...]
    lead_role: str
    ward_role: str
    budget_total_yen: int
    requested_yen: int
    stage: str
    partners: tuple[tuple[str, str], ...] = ()
    """(actor slug, its role)"""
    score: int = 4
    recused_reviewer: bool = False


@dataclass(frozen=True)
class DemoCall:
    slug: str
    title: str
    description: str
    allowed_forms: tuple[str, ...]
    budget_limit_yen: int
    proposals: tuple[DemoProposal, ...]
    expected_actor_status: Mapping[str, str] = field(default_factory=dict)


@dataclass
class DemoSummary:
    calls: int = 0
    steps: int = 0


NERIMA = DemoCall(
    slug="kumin-teian-2026",
    title="区民提案型 協働事業の募集（ねりま協働ラボ）",
    description="地域の課題を区民と区が協働して解決する事業の提案を募集します。",
    allowed_forms=(
        "cooperation_actor_hosted",
        "subsidy",
        "co_hosting",
        "joint_committee",
        "commission",
        "proposal_participation",
        "capacity_building",
    ),
    budget_limit_yen=3_000_000,
    proposals=(
        DemoProposal(
            slug="kosodate-hiroba",
            lead="kosodate-net",
            title="民設子育てのひろば事業",
            local_issue="乳幼児を育てる親が孤立しがちで、身近に相談できる場が足りない。",
            purpose="石神井地域に子育てのひろばを開き、親子の交流と子育て相談の場をつくる。",
            form="subsidy",
            department="子育て支援課",
            fields=("childcare",),
            lead_role="ひろばの運営、子育て相談、利用者の受付",
            ward_role="経費の一部補助、区報での広報",
            budget_total_yen=2_400_000,
            requested_yen=1_800_000,
            stage="started",
            score=5,
        ),
        DemoProposal(
            slug="nerima-yasai-matsuri",
            lead="oizumi-shotenkai",
            partners=(("hikarigaoka-chokai", "当日の運営ボランティアと地域への周知"),),
            title="練馬野菜の収穫まつり",
            local_issue="区内の農地と都市農業の魅力が、若い世代に知られていない。",
            purpose="商店会と町会が区と共催で、練馬大根の収穫体験と朝市を開く。",
            form="co_hosting",
            department="都市農業課",
            fields=("local_economy", "community_development"),
            lead_role="企画、出店の取りまとめ、当日の運営",
            ward_role="会場の設営、農家との調整、PR",
            budget_total_yen=1_200_000,
            requested_yen=500_000,
            stage="reviewed",
            recused_reviewer=True,
        ),
        DemoProposal(
            slug="koen-jishu-kanri",
            lead="shakujii-midori",
            title="石神井公園の住民自主管理",
            local_issue="公園の花壇や水辺の手入れが行き届かず、利用者の声が管理に届きにくい。",
            purpose="地域住民の管理運営委員会が花壇・広場の点検と清掃を担う。",
            form="commission",
            department="公園緑地課",
            fields=("environment",),
            lead_role="花壇・広場の点検と清掃、利用者アンケート",
            ward_role="委託料の支払い、資器材の提供",
            budget_total_yen=900_000,
            requested_yen=900_000,
            stage="submitted",
        ),
        DemoProposal(
            slug="kitamachi-kaishoku",
            lead="kodomo-shokudo",
            title="こども食堂と高齢者の会食会",
            local_issue="ひとりで食事をとる子どもと高齢者が増えている。",
            purpose="月2回の食堂を、子どもと高齢者が一緒に食べる会食会に広げる。",
            form="subsidy",
            department="地域福祉課",
            fields=("childcare", "welfare"),
            lead_role="食堂の運営、食材の調達",
            ward_role="経費の一部補助",
            budget_total_yen=600_000,
            requested_yen=400_000,
            stage="submitted",
        ),
        DemoProposal(
            slug="sumaho-kyoshitsu",
            lead="midorigaoka-koko",
            partners=(("kokusai-kyokai", "外国人区民への案内と通訳"),),
            title="高校生が教えるスマートフォン教室",
            local_issue="高齢者や外国人区民が、行政のオンライン手続きを使いこなせない。",
            purpose="高校生を講師に育て、地域でスマートフォン教室を開く。",
            form="capacity_building",
            department="地域福祉課",
            fields=("youth", "lifelong_learning"),
            lead_role="講師となる生徒の育成と教室の運営",
            ward_role="会場の提供と参加者の募集",
            budget_total_yen=500_000,
            requested_yen=300_000,
            stage="draft",
        ),
    ),
)

OTA = DemoCall(
    slug="chiikiryoku-2026",
    title="地域力応援基金助成事業（チャレンジ助成）の募集",
    description="区民活動団体が区と協働して地域の課題に取り組む事業を募集します。",
    allowed_forms=("cooperation_actor_hosted", "subsidy", "co_hosting", "commission"),
    budget_limit_yen=1_000_000,
    proposals=(
        DemoProposal(
            slug="shokudo-volunteer",
            lead="kodomo-shokudo-net",
            title="子ども食堂ボランティア養成講座",
            local_issue="子ども食堂の担い手が不足し、開催日を増やせない。",
            purpose="ボランティアを養成し、区内の子ども食堂の開催日を増やす。",
            form="subsidy",
            department="地域力推進課",
            fields=("children", "health_welfare"),
            lead_role="講座の企画と運営、受講者の食堂への紹介",
            ward_role="経費の一部助成、区報・SNSでの募集",
            budget_total_yen=800_000,
            requested_yen=600_000,
            stage="started",
            score=5,
        ),
        DemoProposal(
            slug="monozukuri",
            lead="ota-seimitsu",
            partners=(("kamata-jichikai", "参加する子どもの募集と見守り"),),
            title="町工場ものづくり体験教室",
            local_issue="町工場の技術が次の世代に伝わらず、子どもが地域の産業を知らない。",
            purpose="町工場と自治会が区と共催で、子ども向けのものづくり教室を開く。",
            form="co_hosting",
            department="産業振興課",
            fields=("science_technology", "children"),
            lead_role="教室の企画、材料と工具の用意、技術指導",
            ward_role="会場の手配と広報",
            budget_total_yen=600_000,
            requested_yen=300_000,
            stage="reviewed",
        ),
        DemoProposal(
            slug="tamagawa",
            lead="tamagawa-clean",
            title="多摩川河川敷クリーンアップ",
            local_issue="河川敷のごみが増え、水辺の生きものがすみにくくなっている。",
            purpose="毎月の清掃に区が資器材と広報で協力し、参加者を広げる。",
            form="cooperation_actor_hosted",
            department="環境対策課",
            fields=("environment",),
            lead_role="清掃活動の主催と参加者の受付",
            ward_role="清掃用具の支給、ごみの回収",
            budget_total_yen=300_000,
            requested_yen=150_000,
            stage="submitted",
        ),
        DemoProposal(
            slug="haneda-annai",
            lead="haneda-kokusai",
            title="羽田 多言語まち案内",
            local_issue="訪日客が空港周辺のまちを歩くための案内が足りない。",
            purpose="多言語の案内板と案内ボランティアを整える。",
            form="commission",
            department="観光課",
            fields=("international_cooperation", "tourism"),
            lead_role="案内ボランティアの運営",
            ward_role="委託料の支払い",
            budget_total_yen=2_000_000,
            requested_yen=1_500_000,
            stage="submitted",
        ),
    ),
)

DEMO_CALLS: dict[str, DemoCall] = {"nerima": NERIMA, "ota": OTA}
# The registry leaves these demo actors unverified; every other demo actor is verified.
UNVERIFIED = {("nerima", "kodomo-shokudo"), ("ota", "ikegami-machizukuri")}


def start_demo_seeding(ctx: ServiceContext) -> None:
    """Seed in the background: the registry's events may not have arrived yet."""
    ctx.tasks.append(asyncio.create_task(_seed_when_ready(ctx)))


async def _seed_when_ready(ctx: ServiceContext) -> None:
    try:
        if await wait_for_registry(ctx, WAIT_FOR_REGISTRY_SECONDS):
            summary = await seed_demo_data(ctx)
            log.info("demo data: %s calls opened, %s steps taken", summary.calls, summary.steps)
        else:
            log.warning("demo data skipped: the registry's demo actors did not arrive in time")
    except Exception:
        log.exception("demo data could not be loaded")
    # A worker task that ends looks unhealthy; this one stays until the service stops.
    await ctx.stop.wait()


async def wait_for_registry(ctx: ServiceContext, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await _registry_ready(ctx):
        if asyncio.get_running_loop().time() > deadline or ctx.stop.is_set():
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stop.wait(), 0.5)
    return True


async def _registry_ready(ctx: ServiceContext) -> bool:
    for ward, call in DEMO_CALLS.items():
        try:
            await queries.ward_policy(ctx.database, ward)
        except NotFound:
            return False
        slugs = {slug for p in call.proposals for slug in (p.lead, *(s for s, _ in p.partners))}
        ids = {registry_actor_id(ward, slug): slug for slug in slugs}
        standings = await queries.actor_standings(ctx.database, ward, list(ids))
        for actor_id, slug in ids.items():
            wanted = "pending" if (ward, slug) in UNVERIFIED else "active"
            if standings.get(actor_id) != wanted:
                return False
    return True


async def seed_demo_data(ctx: ServiceContext) -> DemoSummary:
    summary = DemoSummary()
    day = today(ctx)
    for ward, call in DEMO_CALLS.items():
        policy = await queries.ward_policy(ctx.database, ward)
        seeder = _Seeder(ctx, ward, call, policy, day, summary)
        try:
            await seeder.run()
        except (ConcurrencyError, KyodoError) as error:
            log.warning("demo data for %s stopped early: %s", ward, error)
    return summary


@dataclass
class _Seeder:
    ctx: ServiceContext
    ward: str
    call: DemoCall
    policy: ProposalsPolicy
    day: date
    summary: DemoSummary

    @property
    def store(self) -> EventStore:
        return self.ctx.store

    @property
    def context(self) -> AppendContext:
        return AppendContext(self.ward, DEMO_ACTOR)

    @property
    def call_id(self) -> str:
        return demo_id(self.ward, "call", self.call.slug)

    async def run(self) -> None:
        await self._open_call()
        for demo in self.call.proposals:
            await self._advance(demo)

    async def _open_call(self) -> None:
        if (await load(self.store, CALL, call_stream(self.call_id))).state is not None:
            return
        command = OpenCall(
            ward=self.ward,
            call_id=self.call_id,
            title=self.call.title,
            kind="citizen_proposed",
            opens_on=self.day - timedelta(days=30),
            closes_on=self.day + timedelta(days=60),
            allowed_forms=list(self.call.allowed_forms),
            budget_limit_yen=self.call.budget_limit_yen,
            description=self.call.description,
        )
        await handlers.open_call(self.store, self.ctx.database, command, self.context)
        self.summary.calls += 1

    async def _advance(self, demo: DemoProposal) -> None:
        target = STAGES.index(demo.stage)
        proposal = await self._proposal(demo)
        if proposal is None:
            proposal = await self._step(handlers.draft_proposal, self._draft(demo))
        if proposal.status == DRAFT and target >= STAGES.index("submitted"):
            submit = SubmitProposal(
                ward=self.ward, proposal_id=proposal.proposal_id, by_actor=proposal.lead_actor_id
            )
            outcome = await handlers.submit_proposal(
                self.store, self.ctx.database, submit, self.context, today=self.day
            )
            proposal = _state(outcome.state)
            self.summary.steps += 1
        if proposal.status == UNDER_REVIEW and target >= STAGES.index("reviewed"):
            proposal = await self._review(demo, proposal)
        if proposal.status == UNDER_REVIEW and target >= STAGES.index("adopted"):
            proposal = await self._step(handlers.decide_proposal, self._decision(proposal))
        if proposal.status == ADOPTED and target >= STAGES.index("started"):
            await self._start(demo, proposal)

    async def _proposal(self, demo: DemoProposal) -> Proposal | None:
        stream = proposal_stream(demo_id(self.ward, "proposal", demo.slug))
        return (await load(self.store, PROPOSAL, stream)).state

    async def _step(self, handler: Any, command: Any) -> Proposal:
        outcome: handlers.Outcome[Proposal | None] = await handler(
            self.store, self.ctx.database, command, self.context
        )
        self.summary.steps += 1
        return _state(outcome.state)

    def _draft(self, demo: DemoProposal) -> DraftProposal:
        lead = registry_actor_id(self.ward, demo.lead)
        partners = [(registry_actor_id(self.ward, slug), role) for slug, role in demo.partners]
        roles = [
            {"party": lead, "role": demo.lead_role},
            *({"party": actor_id, "role": role} for actor_id, role in partners),
            {"party": WARD_PARTY, "role": demo.ward_role},
        ]
        start = self.day + timedelta(days=45)
        return DraftProposal.model_validate(
            {
                "ward": self.ward,
                "proposal_id": demo_id(self.ward, "proposal", demo.slug),
                "by_actor": lead,
                "call_id": self.call_id,
                "lead_actor_id": lead,
                "partner_actor_ids": [actor_id for actor_id, _ in partners],
                "title": demo.title,
                "local_issue": demo.local_issue,
                "purpose": demo.purpose,
                "form": demo.form,
                "department": demo.department,
                "fields": list(demo.fields),
                "roles": roles,
                "budget_total_yen": demo.budget_total_yen,
                "requested_yen": demo.requested_yen,
                "term_start": start,
                "term_end": start + timedelta(days=364),
                "exclusions": {code: False for code in self.policy.exclusions},
            }
        )

    async def _review(self, demo: DemoProposal, proposal: Proposal) -> Proposal:
        for index, reviewer in enumerate(REVIEWERS):
            if reviewer in proposal.reviews or reviewer in proposal.recusals:
                continue
            recuse = demo.recused_reviewer and index == len(REVIEWERS) - 1
            scores = {
                item.code: min(demo.score - index % 2, item.max_score)
                for item in self.policy.rubric
            }
            review = SubmitReview(
                ward=self.ward,
                proposal_id=proposal.proposal_id,
                reviewer=reviewer,
                reviewer_actor_id=None,
                scores={} if recuse else scores,
                conflict_of_interest=recuse,
                comment="提案団体の役員を兼ねているため審査を辞退します。" if recuse else None,
            )
            proposal = await self._step(handlers.submit_review, review)
        return proposal

    def _decision(self, proposal: Proposal) -> DecideProposal:
        return DecideProposal(
            ward=self.ward,
            proposal_id=proposal.proposal_id,
            outcome="adopted",
            reasons=[
                "地域の課題に直接こたえる公益性の高い事業である。",
                "区と団体の役割分担が明確で、実現可能性が高い。",
            ],
        )

    async def _start(self, demo: DemoProposal, proposal: Proposal) -> None:
        stream = project_stream(project_id_of(proposal.proposal_id))
        project = (await load(self.store, PROJECT, stream)).state
        if project is None:
            project = _state(
                (
                    await handlers.draft_agreement(
                        self.store, self.ctx.database, self._agreement(demo, proposal), self.context
                    )
                ).state
            )
            self.summary.steps += 1
        for party in project.current.unsigned_parties:
            signer = "staff@demo" if party == WARD_PARTY else f"member@{party}"
            sign = SignAgreement(
                ward=self.ward, proposal_id=proposal.proposal_id, party=party, signed_by=signer
            )
            outcome = await handlers.sign_agreement(
                self.store, self.ctx.database, sign, self.context
            )
            project = _state(outcome.state)
            self.summary.steps += 1

    def _agreement(self, demo: DemoProposal, proposal: Proposal) -> DraftAgreement:
        content = proposal.content
        own_share = content.budget_total_yen - content.requested_yen
        parties = [
            AgreementPartyBody(party=role.party, role=role.role, cost_share_yen=0)
            for role in content.roles
        ]
        shares = {proposal.lead_actor_id: own_share, WARD_PARTY: content.requested_yen}
        return DraftAgreement(
            ward=self.ward,
            proposal_id=proposal.proposal_id,
            parties=[
                p.model_copy(update={"cost_share_yen": shares.get(p.party, 0)}) for p in parties
            ],
            information_sharing="月に一度、連絡会で活動の状況と課題を共有する。",
            disclosure="事業の成果と収支を、区のホームページと報告会で公開する。",
        )


T = TypeVar("T")


def _state(state: T | None) -> T:
    assert state is not None
    return state
