"""HTTP routes of the audit log.

- ``GET /v1/audit/keys``: the verifier keys of the log's checkpoints (public).
- ``GET /v1/wards/{ward}/audit/checkpoint``: the latest signed checkpoint (public).
- ``GET /v1/wards/{ward}/audit/entries?start=&end=``: leaves, at most 1000 per page;
- ``GET /v1/wards/{ward}/audit/proof/inclusion?event_id=`` (or ``index=&size=``);
- ``GET /v1/wards/{ward}/audit/proof/consistency?first=&second=``: RFC 9162 proofs;
  these three for auditors of the ward and platform auditors (ward ``*``).

Hashes are base64, as in checkpoints; a leaf is the exact canonical JSON text that was hashed.
Sizes default to the latest checkpoint's, and no route reads past it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request

from shared.audit import queries
from shared.audit.checkpoint import origin_for_ward
from shared.audit.keys import AuditKeys
from shared.audit.store import LogEntry
from shared.errors import KyodoError, NotFound
from shared.service import ServiceContext
from shared.web.auth import Principal, require

T = TypeVar("T")

router = APIRouter(prefix="/v1", tags=["audit"])

Auditor = Annotated[Principal, require("auditor")]
Ward = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]
Size = Annotated[int | None, Query(ge=1, le=2**53)]
Index = Annotated[int | None, Query(ge=0, le=2**53)]
EventId = Annotated[uuid.UUID | None, Query()]


class InvalidParameter(KyodoError):
    status = 422
    title = "Invalid parameter"
    type_slug = "invalid-parameter"


@router.get("/audit/keys")
async def verifier_keys(request: Request) -> dict[str, Any]:
    keys: AuditKeys = request.app.state.audit_keys
    return {
        "signing_key": keys.signer.verifier().key_string(),
        "keys": [verifier.key_string() for verifier in keys.verifiers],
    }


@router.get("/wards/{ward}/audit/checkpoint")
async def checkpoint(request: Request, ward: Ward) -> dict[str, Any]:
    latest = await _read(request, lambda c: queries.latest_checkpoint(c, ward))
    return {
        "ward": ward,
        "origin": origin_for_ward(ward, _context(request).settings.audit_origin_prefix),
        "tree_size": latest.tree_size,
        "root": _b64(latest.root),
        "note": latest.note,
    }


@router.get("/wards/{ward}/audit/entries")
async def entries(
    request: Request,
    ward: Ward,
    _auditor: Auditor,
    start: Annotated[int, Query(ge=0, le=2**53)] = 0,
    end: Size = None,
) -> dict[str, Any]:
    page = await _read(request, lambda c: queries.entry_page(c, ward, start, end))
    return {
        "ward": ward,
        "tree_size": page.checkpoint.tree_size,
        "start": page.start,
        "end": page.end,
        "entries": [_entry(entry) for entry in page.entries],
    }


@router.get("/wards/{ward}/audit/proof/inclusion")
async def inclusion_proof(
    request: Request,
    ward: Ward,
    _auditor: Auditor,
    event_id: EventId = None,
    index: Index = None,
    size: Size = None,
) -> dict[str, Any]:
    if (event_id is None) == (index is None):
        raise InvalidParameter("give either event_id or index (with an optional size)")
    if event_id is not None:
        logged_id = str(event_id)  # the form envelopes are logged in, whatever form was asked
        proof = await _read(
            request, lambda c: queries.inclusion_by_event_id(c, ward, logged_id, size)
        )
    else:
        leaf_index = int(index or 0)
        proof = await _read(
            request, lambda c: queries.inclusion_by_index(c, ward, leaf_index, size)
        )
    return {
        "ward": ward,
        "tree_size": proof.tree_size,
        "leaf_index": proof.entry.index,
        **_entry(proof.entry),
        "hashes": [_b64(node) for node in proof.hashes],
    }


@router.get("/wards/{ward}/audit/proof/consistency")
async def consistency_proof(
    request: Request,
    ward: Ward,
    _auditor: Auditor,
    first: Annotated[int, Query(ge=1, le=2**53)],
    second: Size = None,
) -> dict[str, Any]:
    proof = await _read(request, lambda c: queries.consistency(c, ward, first, second))
    return {
        "ward": ward,
        "first": proof.first,
        "second": proof.second,
        "hashes": [_b64(node) for node in proof.hashes],
    }


def _context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.ctx
    return context


async def _read(request: Request, work: Callable[[sa.Connection], T]) -> T:
    try:
        return await _context(request).database.read(work)
    except (queries.NoCheckpoint, queries.UnknownEvent) as error:
        raise NotFound(str(error)) from error
    except queries.BadRange as error:
        raise InvalidParameter(str(error)) from error


def _entry(entry: LogEntry) -> dict[str, Any]:
    return {
        "index": entry.index,
        "event_id": entry.event_id,
        "leaf_hash": _b64(entry.leaf_hash),
        "leaf": entry.leaf.decode(),
    }


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()
