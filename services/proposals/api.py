"""HTTP routes of calls, proposals and screening under /v1/wards/{ward}/.

Who may do what:
- open a call: the ward's staff; read calls: anyone;
- draft, edit, submit, withdraw: a member of the lead actor (an ``actor`` token naming it);
- read a proposal: anyone once decided; before that its proposers' members, and the ward's
  staff, reviewers and auditors (drafts only the proposers);
- review: the ward's reviewers; read reviews and a call's ranking: staff, reviewers, auditors;
- decide: the ward's staff.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.proposals import handlers, queries
from services.proposals.commands import (
    CallOpening,
    DecideProposal,
    DecisionBody,
    DraftProposal,
    EditProposal,
    OpenCall,
    ProposalChanges,
    ProposalDraft,
    ReviewBody,
    SubmitProposal,
    SubmitReview,
    Withdrawal,
    WithdrawProposal,
)
from services.proposals.handlers import Outcome
from services.proposals.proposal import Proposal
from services.proposals.views import (
    CallView,
    ProposalPage,
    ProposalView,
    RankingView,
    ReviewOutcome,
    ReviewsView,
    call_from_row,
    call_view,
    proposal_from_row,
    proposal_view,
    ranking,
    review_outcome,
    reviews_view,
)
from services.proposals.web import (
    ActorMember,
    Context,
    Insider,
    Reader,
    Reviewer,
    Staff,
    build,
    member_actor,
    set_etag,
    today,
    visibility_of,
)
from shared.errors import NotFound
from shared.ids import new_id
from shared.web.auth import Principal
from shared.web.commands import append_context

router = APIRouter(prefix="/v1/wards/{ward}")

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
CodeFilter = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
IdFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
STATUSES = "^(draft|under_review|ineligible|adopted|rejected|revise|withdrawn)$"

# --- calls ----------------------------------------------------------------------------------


@router.post("/calls", status_code=201, tags=["calls"])
async def open_call(
    ward: str, body: CallOpening, request: Request, response: Response, ctx: Context, staff: Staff
) -> CallView:
    command = build(OpenCall, ward=ward, call_id=new_id(), **dict(body))
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.open_call(ctx.store, ctx.database, command, context)
    assert outcome.state is not None
    set_etag(response, outcome.version)
    response.headers["Location"] = f"/v1/wards/{ward}/calls/{outcome.state.call_id}"
    return call_view(outcome.state, outcome.version)


@router.get("/calls", tags=["calls"])
async def list_calls(
    ward: str,
    ctx: Context,
    _reader: Reader,
    kind: Annotated[str | None, Query(pattern="^(citizen_proposed|ward_proposed)$")] = None,
) -> list[CallView]:
    await queries.ward_policy(ctx.database, ward)
    rows = await queries.list_calls(ctx.database, ward, kind)
    return [call_view(call_from_row(row), row["version"]) for row in rows]


@router.get("/calls/{call_id}", tags=["calls"])
async def get_call(ward: str, call_id: str, ctx: Context, _reader: Reader) -> CallView:
    row = await _call_row(ctx, ward, call_id)
    return call_view(call_from_row(row), row["version"])


@router.get("/calls/{call_id}/ranking", tags=["screening"])
async def call_ranking(ward: str, call_id: str, ctx: Context, _insider: Insider) -> RankingView:
    call = call_from_row(await _call_row(ctx, ward, call_id))
    rows = await queries.ranked_proposals(ctx.database, ward, call_id)
    return ranking(call, [proposal_from_row(row) for row in rows])


# --- proposals ------------------------------------------------------------------------------


@router.post("/proposals", status_code=201, tags=["proposals"])
async def draft_proposal(
    ward: str,
    body: ProposalDraft,
    request: Request,
    response: Response,
    ctx: Context,
    member: ActorMember,
) -> ProposalView:
    command = build(
        DraftProposal,
        ward=ward,
        proposal_id=new_id(),
        by_actor=member_actor(member),
        **dict(body),
    )
    context = append_context(request, member, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.draft_proposal(ctx.store, ctx.database, command, context)
    view = _written(outcome, response)
    response.headers["Location"] = f"/v1/wards/{ward}/proposals/{view.proposal_id}"
    return view


@router.get("/proposals", tags=["proposals"])
async def list_proposals(
    ward: str,
    ctx: Context,
    principal: Reader,
    call_id: IdFilter = None,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    form: CodeFilter = None,
    field: CodeFilter = None,
    actor_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ProposalPage:
    await queries.ward_policy(ctx.database, ward)
    search = queries.ProposalSearch(ward, call_id, status, form, field, actor_id, limit, offset)
    page = await queries.search_proposals(ctx.database, search, visibility_of(principal, ward))
    items = [proposal_view(proposal_from_row(row), row["version"]) for row in page.items]
    return ProposalPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/proposals/{proposal_id}", tags=["proposals"])
async def get_proposal(
    ward: str, proposal_id: str, response: Response, ctx: Context, principal: Reader
) -> ProposalView:
    row = await _visible_proposal_row(ctx, ward, proposal_id, principal)
    set_etag(response, row["version"])
    return proposal_view(proposal_from_row(row), row["version"])


@router.patch("/proposals/{proposal_id}", tags=["proposals"])
async def edit_proposal(
    ward: str,
    proposal_id: str,
    body: ProposalChanges,
    request: Request,
    response: Response,
    ctx: Context,
    member: ActorMember,
) -> ProposalView:
    command = build(
        EditProposal,
        ward=ward,
        proposal_id=proposal_id,
        by_actor=member_actor(member),
        changes=body,
    )
    context = append_context(request, member, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.edit_proposal(ctx.store, ctx.database, command, context)
    return _written(outcome, response)


@router.post("/proposals/{proposal_id}/submit", tags=["proposals"])
async def submit_proposal(
    ward: str,
    proposal_id: str,
    request: Request,
    response: Response,
    ctx: Context,
    member: ActorMember,
) -> ProposalView:
    """Submit; eligibility is assessed at once and recorded with its reasons."""
    command = build(
        SubmitProposal, ward=ward, proposal_id=proposal_id, by_actor=member_actor(member)
    )
    context = append_context(request, member, ward, payload={"proposal_id": proposal_id})
    outcome = await handlers.submit_proposal(
        ctx.store, ctx.database, command, context, today=today(ctx)
    )
    return _written(outcome, response)


@router.post("/proposals/{proposal_id}/withdraw", tags=["proposals"])
async def withdraw_proposal(
    ward: str,
    proposal_id: str,
    request: Request,
    response: Response,
    ctx: Context,
    member: ActorMember,
    body: Withdrawal | None = None,
) -> ProposalView:
    reason = body.reason if body else None
    command = build(
        WithdrawProposal,
        ward=ward,
        proposal_id=proposal_id,
        by_actor=member_actor(member),
        reason=reason,
    )
    context = append_context(request, member, ward, payload={"reason": reason})
    outcome = await handlers.withdraw_proposal(ctx.store, ctx.database, command, context)
    return _written(outcome, response)


# --- screening ------------------------------------------------------------------------------


@router.post("/proposals/{proposal_id}/reviews", status_code=201, tags=["screening"])
async def submit_review(
    ward: str,
    proposal_id: str,
    body: ReviewBody,
    request: Request,
    ctx: Context,
    reviewer: Reviewer,
) -> ReviewOutcome:
    """Score every rubric item, or declare a conflict of interest. A reviewer who is a member
    of a proposing actor is recused whatever they send; a recused reviewer's score never counts."""
    command = build(
        SubmitReview,
        ward=ward,
        proposal_id=proposal_id,
        reviewer=reviewer.subject,
        reviewer_actor_id=reviewer.actor_id,
        **dict(body),
    )
    context = append_context(request, reviewer, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.submit_review(ctx.store, ctx.database, command, context)
    assert outcome.state is not None
    return review_outcome(outcome.state, reviewer.subject)


@router.get("/proposals/{proposal_id}/reviews", tags=["screening"])
async def list_reviews(ward: str, proposal_id: str, ctx: Context, insider: Insider) -> ReviewsView:
    row = await _visible_proposal_row(ctx, ward, proposal_id, insider)
    return reviews_view(proposal_from_row(row))


@router.post("/proposals/{proposal_id}/decision", tags=["screening"])
async def decide_proposal(
    ward: str,
    proposal_id: str,
    body: DecisionBody,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> ProposalView:
    command = build(DecideProposal, ward=ward, proposal_id=proposal_id, **dict(body))
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.decide_proposal(ctx.store, ctx.database, command, context)
    return _written(outcome, response)


# --- helpers --------------------------------------------------------------------------------


async def _call_row(ctx: Context, ward: str, call_id: str) -> dict[str, Any]:
    row = await queries.find_call(ctx.database, ward, call_id)
    if row is None:
        raise NotFound(f"no call {call_id} in ward {ward!r}", ward=ward)
    return row


async def _visible_proposal_row(
    ctx: Context, ward: str, proposal_id: str, principal: Principal
) -> dict[str, Any]:
    row = await queries.find_proposal(ctx.database, ward, proposal_id)
    if row is None or not queries.proposal_visible(row, visibility_of(principal, ward)):
        raise NotFound(f"no proposal {proposal_id} in ward {ward!r}", ward=ward)
    return row


def _written(outcome: Outcome[Proposal | None], response: Response) -> ProposalView:
    assert outcome.state is not None
    set_etag(response, outcome.version)
    return proposal_view(outcome.state, outcome.version)
