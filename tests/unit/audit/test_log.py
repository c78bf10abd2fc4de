"""AuditLog over the in-memory store: idempotent appends, roots and proofs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.audit import merkle
from shared.audit.errors import LeafEncodingError
from shared.audit.leaf import leaf_bytes
from shared.audit.log import AuditLog
from shared.audit.store import InMemoryLogStore

from .conftest import WARD, Envelope, make_envelope

Build = Callable[[int, int], list[Envelope]]


def new_log() -> AuditLog:
    return AuditLog(InMemoryLogStore(WARD))


def test_append_stores_leaf_bytes_exactly_as_hashed(envelopes: Build) -> None:
    log = new_log()
    result = log.append(envelopes(0, 3))
    assert [entry.index for entry in result.appended] == [0, 1, 2]
    for entry, envelope in zip(result.appended, envelopes(0, 3), strict=True):
        assert entry.event_id == envelope["event_id"]
        assert entry.leaf == leaf_bytes(envelope)
        assert entry.leaf_hash == merkle.leaf_hash(entry.leaf)
    assert result.tree_size == 3
    assert log.root() == merkle.root_of([entry.leaf_hash for entry in result.appended])


def test_a_repeated_event_is_skipped_and_reported(envelopes: Build) -> None:
    log = new_log()
    log.append(envelopes(0, 5))
    root_before = log.root()
    result = log.append([*envelopes(3, 7), make_envelope(6)])
    assert [entry.event_id for entry in result.appended] == [
        make_envelope(5)["event_id"],
        make_envelope(6)["event_id"],
    ]
    assert sorted(result.skipped_event_ids) == sorted(
        [make_envelope(6)["event_id"], make_envelope(3)["event_id"], make_envelope(4)["event_id"]]
    )
    assert log.tree_size() == 7
    assert log.append(envelopes(0, 7)).appended == ()
    assert log.root(5) == root_before


def test_an_event_of_another_ward_is_refused() -> None:
    with pytest.raises(LeafEncodingError, match="for ward 'ota'"):
        new_log().append([make_envelope(0, ward="ota")])


def test_proofs_verify_against_roots_at_every_size(envelopes: Build) -> None:
    log = new_log()
    for start in range(0, 21, 4):
        log.append(envelopes(start, start + 4))
    hashes = [entry.leaf_hash for entry in log.store.entries(0, log.tree_size())]
    for size in range(1, log.tree_size() + 1):
        root = log.root(size)
        assert root == merkle.root_of(hashes[:size])
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            merkle.verify_inclusion(index, size, hashes[index], proof, root)
        for older in range(1, size + 1):
            proof = log.consistency_proof(older, size)
            merkle.verify_consistency(older, size, proof, log.root(older), root)


def test_roots_and_proofs_refuse_sizes_beyond_the_tree(envelopes: Build) -> None:
    log = new_log()
    log.append(envelopes(0, 3))
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        log.root(4)
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        log.inclusion_proof(0, 4)


def test_an_inclusion_proof_fetches_its_subtree_hashes_in_one_request(envelopes: Build) -> None:
    store = InMemoryLogStore(WARD)
    log = AuditLog(store)
    log.append(envelopes(0, 100))
    requested: list[int] = []
    original = store.subtree_hashes

    def counting(positions):  # type: ignore[no-untyped-def]
        requested.append(len(positions))
        return original(positions)

    store.subtree_hashes = counting  # type: ignore[method-assign]
    proof = log.inclusion_proof(37, 100)
    assert len(proof) == 7
    assert len(requested) == 1
    assert requested[0] <= 2 * len(proof)
