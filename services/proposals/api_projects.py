"""HTTP routes of agreements (協働協定書) and projects under /v1/wards/{ward}/.

Who may do what:
- draft or amend an agreement, end a project: the ward's staff;
- sign: a member of an actor party (an ``actor`` token naming it) for that actor, or the
  ward's staff for the ward (the department in charge);
- read an agreement: the ward's staff and auditors and the parties' members; anyone once
  the project has started (情報公開);
- read projects: anyone.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.proposals import handlers, queries
from services.proposals.agreement import Project
from services.proposals.commands import (
    WARD_PARTY,
    AgreementTerms,
    DraftAgreement,
    EndProject,
    ProjectEnding,
    SignAgreement,
    SignatureBody,
)
from services.proposals.handlers import Outcome
from services.proposals.views import (
    AgreementView,
    ProjectPage,
    ProjectView,
    agreement_view,
    project_from_row,
    project_view,
)
from services.proposals.web import (
    STAFF_ROLES,
    Context,
    Reader,
    Signer,
    Staff,
    build,
    is_staff_of,
    member_actor,
    set_etag,
    today,
)
from shared.errors import NotFound
from shared.web.auth import Principal, deny
from shared.web.commands import append_context

router = APIRouter(prefix="/v1/wards/{ward}")

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
CodeFilter = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


@router.post("/proposals/{proposal_id}/agreement", status_code=201, tags=["agreements"])
async def draft_agreement(
    ward: str,
    proposal_id: str,
    body: AgreementTerms,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> AgreementView:
    """A new version of the agreement: the first draft, a corrected draft, or an amendment of
    the agreement in force (with its reason). Every party signs the new version."""
    command = build(DraftAgreement, ward=ward, proposal_id=proposal_id, **dict(body))
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.draft_agreement(ctx.store, ctx.database, command, context)
    response.headers["Location"] = f"/v1/wards/{ward}/proposals/{proposal_id}/agreement"
    return _written(outcome, response)


@router.get("/proposals/{proposal_id}/agreement", tags=["agreements"])
async def get_agreement(
    ward: str, proposal_id: str, response: Response, ctx: Context, principal: Reader
) -> AgreementView:
    row = await queries.find_project(ctx.database, ward, proposal_id=proposal_id)
    project = project_from_row(row) if row else None
    if row is None or project is None or not _may_read(principal, ward, project):
        raise NotFound(f"no agreement for proposal {proposal_id} in ward {ward!r}", ward=ward)
    set_etag(response, row["version"])
    return agreement_view(project, row["version"])


@router.post("/proposals/{proposal_id}/agreement/sign", tags=["agreements"])
async def sign_agreement(
    ward: str,
    proposal_id: str,
    request: Request,
    response: Response,
    ctx: Context,
    signer: Signer,
    body: SignatureBody | None = None,
) -> AgreementView:
    body = body or SignatureBody()
    party = _party_of(signer, ward, body.party)
    command = build(
        SignAgreement,
        ward=ward,
        proposal_id=proposal_id,
        party=party,
        signed_by=signer.subject,
        agreement_version=body.agreement_version,
    )
    context = append_context(request, signer, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.sign_agreement(ctx.store, ctx.database, command, context)
    return _written(outcome, response)


@router.get("/projects", tags=["projects"])
async def list_projects(
    ward: str,
    ctx: Context,
    _reader: Reader,
    form: CodeFilter = None,
    domain: Annotated[str | None, Query(pattern="^[BCD]$")] = None,
    field: CodeFilter = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(pattern="^(started|ended)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ProjectPage:
    """Started projects with their form, domain, parties and department: public."""
    await queries.ward_policy(ctx.database, ward)
    search = queries.ProjectSearch(ward, form, domain, field, actor_id, status, limit, offset)
    page = await queries.search_projects(ctx.database, search)
    items = [project_view(project_from_row(row)) for row in page.items]
    return ProjectPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/projects/{project_id}", tags=["projects"])
async def get_project(ward: str, project_id: str, ctx: Context, _reader: Reader) -> ProjectView:
    row = await queries.find_project(ctx.database, ward, project_id=project_id)
    if row is None or row["started_at"] is None:
        raise NotFound(f"no project {project_id} in ward {ward!r}", ward=ward)
    return project_view(project_from_row(row))


@router.post("/projects/{project_id}/end", tags=["projects"])
async def end_project(
    ward: str,
    project_id: str,
    body: ProjectEnding,
    request: Request,
    ctx: Context,
    staff: Staff,
) -> ProjectView:
    ended_on = body.ended_on or today(ctx)
    command = build(
        EndProject, ward=ward, project_id=project_id, reason=body.reason, ended_on=ended_on
    )
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.end_project(ctx.store, ctx.database, command, context)
    assert outcome.state is not None
    return project_view(outcome.state)


def _party_of(signer: Principal, ward: str, requested: str | None) -> str:
    """Whom the signer signs for: the ward (staff), or the actor their token names."""
    own_actor = member_actor(signer)
    staff = is_staff_of(signer, ward)
    party = requested or own_actor or (WARD_PARTY if staff else None)
    if party == WARD_PARTY and staff:
        return party
    if party is not None and party == own_actor:
        return party
    raise deny(signer, ward, f"this user cannot sign for {party!r}")


def _may_read(principal: Principal, ward: str, project: Project) -> bool:
    if project.started_at is not None:
        return True
    if principal.has(*STAFF_ROLES, "auditor") and principal.acts_for(ward):
        return True
    return member_actor(principal) in project.actor_ids


def _written(outcome: Outcome[Project | None], response: Response) -> AgreementView:
    assert outcome.state is not None
    set_etag(response, outcome.version)
    return agreement_view(outcome.state, outcome.version)
