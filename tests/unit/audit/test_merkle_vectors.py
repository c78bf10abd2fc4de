"""RFC 6962 proof vectors from transparency-dev/merkle, read from the shared test vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared.audit import merkle
from shared.audit.errors import ProofError

from .conftest import VECTORS

pytestmark = pytest.mark.skipif(
    not VECTORS.is_dir(), reason=f"Merkle test vectors not found at {VECTORS}"
)


def _vectors(kind: str) -> list[Any]:
    if not VECTORS.is_dir():
        return []
    paths = sorted((VECTORS / kind).rglob("*.json"))
    return [pytest.param(path, id=str(path.relative_to(VECTORS / kind))) for path in paths]


def _decode(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(value) for value in values or []]


def test_vectors_are_present() -> None:
    assert len(_vectors("inclusion")) > 50
    assert len(_vectors("consistency")) > 50


@pytest.mark.parametrize("path", _vectors("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    arguments = (
        vector["leafIdx"],
        vector["treeSize"],
        base64.b64decode(vector["leafHash"]),
        _decode(vector["proof"]),
        base64.b64decode(vector["root"]),
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*arguments)
    else:
        merkle.verify_inclusion(*arguments)


@pytest.mark.parametrize("path", _vectors("consistency"))
def test_consistency_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    arguments = (
        vector["size1"],
        vector["size2"],
        _decode(vector["proof"]),
        base64.b64decode(vector["root1"]),
        base64.b64decode(vector["root2"]),
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*arguments)
    else:
        merkle.verify_consistency(*arguments)
