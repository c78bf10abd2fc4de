"""Checkpoint bodies, signing and consistency-checked issuing."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from shared.audit import merkle
from shared.audit.checkpoint import (
    Checkpoint,
    issue_checkpoint,
    open_checkpoint,
    origin_for_ward,
    read_unverified_checkpoint,
    sign_checkpoint,
)
from shared.audit.compact import Subtree
from shared.audit.errors import CheckpointError
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.store import InMemoryLogStore, StoredCheckpoint

from .conftest import ORIGIN, WARD, Envelope

Build = Callable[[int, int], list[Envelope]]


def test_body_follows_tlog_checkpoint() -> None:
    root = merkle.leaf_hash(b"")
    checkpoint = Checkpoint("kyodo.example/audit/nerima", 12, root)
    assert (
        checkpoint.body() == f"kyodo.example/audit/nerima\n12\n{base64.b64encode(root).decode()}\n"
    )
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint


def test_extension_lines_are_kept() -> None:
    body = Checkpoint("log.example", 0, merkle.EMPTY_ROOT, ("ext one", "ext two")).body()
    assert Checkpoint.from_body(body).extensions == ("ext one", "ext two")


@pytest.mark.parametrize(
    "body",
    [
        "log.example\n012\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "log.example\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "log.example\n1\nAAAA\n",
        "log.example\n1\n",
        "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
        "log.example\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nx\n",
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.from_body(body)


def test_origin_names_the_ward() -> None:
    assert origin_for_ward("ota") == "kyodo.example/audit/ota"
    assert origin_for_ward("ota", prefix="audit.city.example") == "audit.city.example/ota"
    with pytest.raises(CheckpointError):
        origin_for_ward("o ta")


def test_signed_checkpoint_opens_with_its_key_and_origin(signer: Signer) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 3, bytes(range(32))), [signer])
    opened = open_checkpoint(note, [signer.verifier()], origin=ORIGIN)
    assert opened.checkpoint.tree_size == 3
    assert note.startswith(f"{ORIGIN}\n3\n")
    assert f"\n\n— {ORIGIN} " in note
    with pytest.raises(CheckpointError, match=r"not 'kyodo\.example/audit/ota'"):
        open_checkpoint(note, [signer.verifier()], origin="kyodo.example/audit/ota")


def test_issuing_signs_the_current_root(signer: Signer, envelopes: Build) -> None:
    log = AuditLog(InMemoryLogStore(WARD))
    log.append(envelopes(0, 6))
    stored = issue_checkpoint(log, [signer], origin=ORIGIN)
    assert (stored.tree_size, stored.root) == (6, log.root())
    assert read_unverified_checkpoint(stored.note) == Checkpoint(ORIGIN, 6, log.root())
    assert issue_checkpoint(log, [signer], origin=ORIGIN) == stored
    log.append(envelopes(6, 9))
    later = issue_checkpoint(log, [signer], origin=ORIGIN)
    assert [c.tree_size for c in log.store.checkpoints()] == [6, 9]
    assert later.root == log.root(9)


def test_an_empty_log_can_be_checkpointed(signer: Signer, envelopes: Build) -> None:
    log = AuditLog(InMemoryLogStore(WARD))
    assert issue_checkpoint(log, [signer], origin=ORIGIN).root == merkle.EMPTY_ROOT
    log.append(envelopes(0, 2))
    assert issue_checkpoint(log, [signer], origin=ORIGIN).tree_size == 2


class RewrittenHistoryStore(InMemoryLogStore):
    """A store whose old subtree hashes were replaced after a checkpoint was signed."""

    def __init__(self) -> None:
        super().__init__(WARD)
        self.rewritten: dict[tuple[int, int], bytes] = {}

    def subtree_hashes(self, positions):  # type: ignore[no-untyped-def]
        found = super().subtree_hashes(positions)
        return {p: self.rewritten.get(p, h) for p, h in found.items()}


def test_issuing_refuses_a_tree_inconsistent_with_the_last_checkpoint(
    signer: Signer, envelopes: Build
) -> None:
    store = RewrittenHistoryStore()
    log = AuditLog(store)
    log.append(envelopes(0, 5))
    issue_checkpoint(log, [signer], origin=ORIGIN)
    log.append(envelopes(5, 8))
    store.rewritten[(2, 0)] = merkle.leaf_hash(b"rewritten history")
    with pytest.raises(CheckpointError, match="not consistent with the checkpoint at size 5"):
        issue_checkpoint(log, [signer], origin=ORIGIN)
    assert [c.tree_size for c in store.checkpoints()] == [5]


class CountingStore(InMemoryLogStore):
    """A store that records which subtree positions were read from it."""

    def __init__(self) -> None:
        super().__init__(WARD)
        self.read: list[tuple[int, int]] = []

    def subtree_hashes(self, positions):  # type: ignore[no-untyped-def]
        self.read.extend(positions)
        return super().subtree_hashes(positions)


def test_a_checkpoint_after_an_append_reads_only_the_older_history(
    signer: Signer, envelopes: Build
) -> None:
    store = CountingStore()
    log = AuditLog(store)
    log.append(envelopes(0, 5))
    issue_checkpoint(log, [signer], origin=ORIGIN)
    log.append(envelopes(5, 13))
    store.read.clear()
    checkpoint = issue_checkpoint(log, [signer], origin=ORIGIN)
    assert store.read, "the history before the append is read back and checked"
    assert all((index + 1) << level <= 5 for level, index in store.read)
    fresh = AuditLog(store)
    assert checkpoint.root == fresh.root(13)
    assert merkle.root_of([e.leaf_hash for e in store.entries(0, 13)]) == checkpoint.root


def test_issuing_refuses_a_shrunken_log(signer: Signer, envelopes: Build) -> None:
    store = InMemoryLogStore(WARD)
    log = AuditLog(store)
    log.append(envelopes(0, 4))
    issue_checkpoint(log, [signer], origin=ORIGIN)
    shrunk = InMemoryLogStore(WARD)
    entries = list(store.entries(0, 3))
    shrunk.add_entries(
        entries, [Subtree(1, 0, merkle.node_hash(entries[0].leaf_hash, entries[1].leaf_hash))]
    )
    for checkpoint in store.checkpoints():
        shrunk.add_checkpoint(checkpoint)
    with pytest.raises(CheckpointError, match="smaller than the checkpoint at size 4"):
        issue_checkpoint(AuditLog(shrunk), [signer], origin=ORIGIN)


def test_issuing_refuses_a_new_root_at_the_signed_size(signer: Signer, envelopes: Build) -> None:
    store = RewrittenHistoryStore()
    log = AuditLog(store)
    log.append(envelopes(0, 1))
    issue_checkpoint(log, [signer], origin=ORIGIN)
    store.rewritten[(0, 0)] = merkle.leaf_hash(b"forged")
    with pytest.raises(CheckpointError, match="two different roots for the same tree size 1"):
        issue_checkpoint(AuditLog(store), [signer], origin=ORIGIN)


def test_a_log_whose_checkpoints_were_removed_is_not_signed_again(
    signer: Signer, envelopes: Build
) -> None:
    store = InMemoryLogStore(WARD)
    AuditLog(store).append(envelopes(0, 4))
    log = AuditLog(store)
    log.append(envelopes(4, 6))
    with pytest.raises(CheckpointError, match="entries that no checkpoint covers"):
        issue_checkpoint(log, [signer], origin=ORIGIN)
    assert store.checkpoints() == []


def test_a_first_checkpoint_covers_what_its_log_appended(signer: Signer, envelopes: Build) -> None:
    log = AuditLog(InMemoryLogStore(WARD))
    log.append(envelopes(0, 3))
    log.append(envelopes(3, 5))
    assert issue_checkpoint(log, [signer], origin=ORIGIN).tree_size == 5


class ForgedCheckpointStore(InMemoryLogStore):
    """A store whose latest checkpoint row was replaced by one signed with another key."""

    def __init__(self, forger: Signer) -> None:
        super().__init__(WARD)
        self.forger = forger

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        stored = super().latest_checkpoint()
        if stored is None:
            return None
        forged = sign_checkpoint(Checkpoint(ORIGIN, stored.tree_size, stored.root), [self.forger])
        return StoredCheckpoint(stored.tree_size, stored.root, forged)


def test_a_checkpoint_that_no_trusted_key_signed_is_not_extended(
    signer: Signer, envelopes: Build
) -> None:
    store = ForgedCheckpointStore(Signer.generate("forger.example"))
    log = AuditLog(store)
    log.append(envelopes(0, 2))
    issue_checkpoint(log, [signer], origin=ORIGIN)
    log.append(envelopes(2, 5))
    with pytest.raises(CheckpointError, match="does not verify with a trusted key"):
        issue_checkpoint(log, [signer], origin=ORIGIN)
    assert [c.tree_size for c in store.checkpoints()] == [2]


def checkpointed_log(signer: Signer, envelopes: Build) -> AuditLog:
    """Two events and their checkpoint."""
    log = AuditLog(InMemoryLogStore(WARD))
    log.append(envelopes(0, 2))
    issue_checkpoint(log, [signer], origin=ORIGIN)
    return log


def test_a_checkpoint_of_a_retired_key_is_extended_when_that_key_is_trusted(
    signer: Signer, envelopes: Build
) -> None:
    log = checkpointed_log(signer, envelopes)
    successor = Signer.generate("kyodo.example/audit")
    log.append(envelopes(2, 4))
    with pytest.raises(CheckpointError, match="does not verify"):
        issue_checkpoint(log, [successor], origin=ORIGIN)
    trusted = [successor.verifier(), signer.verifier()]
    assert issue_checkpoint(log, [successor], origin=ORIGIN, trusted=trusted).tree_size == 4


def test_a_changed_origin_is_named_when_signing_is_refused(
    signer: Signer, envelopes: Build
) -> None:
    log = checkpointed_log(signer, envelopes)
    log.append(envelopes(2, 3))
    with pytest.raises(CheckpointError, match=r"is for log 'kyodo\.example/audit/nerima'"):
        issue_checkpoint(log, [signer], origin="audit.city.example/nerima")
