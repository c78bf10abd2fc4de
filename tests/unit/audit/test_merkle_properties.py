"""Property-based checks of tree hashing, incremental trees and proofs."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit import merkle
from shared.audit.compact import CompactRange, HashLevels, Subtree
from shared.audit.errors import ProofError

sizes = st.integers(min_value=1, max_value=300)


def leaf_hashes(size: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(size)]


def reference_root(hashes: list[bytes]) -> bytes:
    """RFC 6962 MTH, straight from its recursive definition."""
    if len(hashes) == 1:
        return hashes[0]
    split = merkle.largest_power_of_two_below(len(hashes))
    return merkle.node_hash(reference_root(hashes[:split]), reference_root(hashes[split:]))


def flip_bit(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8 % len(value)] ^= 1 << (bit % 8)
    return bytes(flipped)


@given(sizes)
def test_root_of_matches_the_recursive_definition(size: int) -> None:
    hashes = leaf_hashes(size)
    assert merkle.root_of(hashes) == reference_root(hashes)


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12))
def test_incremental_tree_matches_recomputed_root_at_every_size(batches: list[int]) -> None:
    hashes = leaf_hashes(sum(batches))
    one_by_one, batched = CompactRange(), CompactRange()
    levels = HashLevels()
    for batch in batches:
        start = one_by_one.size
        for leaf_hash in hashes[start : start + batch]:
            levels.add(Subtree(0, one_by_one.size, leaf_hash))
            for subtree in one_by_one.append(leaf_hash):
                levels.add(subtree)
        batched.extend(hashes[start : start + batch])
        expected = merkle.root_of(hashes[: one_by_one.size])
        assert one_by_one.root() == expected
        assert batched.root() == expected
        assert batched.peaks == one_by_one.peaks
        assert merkle.root_at(one_by_one.size, levels.subtree_hash) == expected


@given(sizes, st.data())
def test_every_inclusion_proof_verifies(size: int, data: st.DataObject) -> None:
    hashes = leaf_hashes(size)
    levels = HashLevels.from_leaf_hashes(hashes)
    root = merkle.root_of(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, levels.subtree_hash)
    merkle.verify_inclusion(index, size, hashes[index], proof, root)
    assert len(proof) <= (size - 1).bit_length()


@given(sizes, st.data())
def test_every_consistency_proof_verifies(size2: int, data: st.DataObject) -> None:
    hashes = leaf_hashes(size2)
    levels = HashLevels.from_leaf_hashes(hashes)
    size1 = data.draw(st.integers(min_value=1, max_value=size2))
    proof = merkle.consistency_proof(size1, size2, levels.subtree_hash)
    merkle.verify_consistency(
        size1, size2, proof, merkle.root_of(hashes[:size1]), merkle.root_of(hashes)
    )


@settings(max_examples=200)
@given(st.integers(min_value=2, max_value=200), st.data())
def test_any_flipped_bit_breaks_an_inclusion_proof(size: int, data: st.DataObject) -> None:
    hashes = leaf_hashes(size)
    levels = HashLevels.from_leaf_hashes(hashes)
    root = merkle.root_of(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(index, size, levels.subtree_hash)
    target = data.draw(st.sampled_from(["leaf", "root", "proof"]))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    leaf, tampered_root = hashes[index], root
    if target == "leaf":
        leaf = flip_bit(leaf, bit)
    elif target == "root":
        tampered_root = flip_bit(root, bit)
    else:
        position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        proof[position] = flip_bit(proof[position], bit)
    try:
        merkle.verify_inclusion(index, size, leaf, proof, tampered_root)
    except ProofError:
        return
    raise AssertionError(f"a flipped bit in the {target} was not detected")


@settings(max_examples=200)
@given(st.integers(min_value=2, max_value=200), st.data())
def test_any_flipped_bit_breaks_a_consistency_proof(size2: int, data: st.DataObject) -> None:
    hashes = leaf_hashes(size2)
    levels = HashLevels.from_leaf_hashes(hashes)
    size1 = data.draw(st.integers(min_value=1, max_value=size2 - 1))
    proof = merkle.consistency_proof(size1, size2, levels.subtree_hash)
    roots = [merkle.root_of(hashes[:size1]), merkle.root_of(hashes)]
    bit = data.draw(st.integers(min_value=0, max_value=255))
    target = data.draw(st.integers(min_value=0, max_value=len(proof) + 1))
    if target < len(proof):
        proof[target] = flip_bit(proof[target], bit)
    else:
        roots[target - len(proof)] = flip_bit(roots[target - len(proof)], bit)
    try:
        merkle.verify_consistency(size1, size2, proof, roots[0], roots[1])
    except ProofError:
        return
    raise AssertionError(f"a flipped bit at position {target} was not detected")


@given(st.integers(min_value=2, max_value=100), st.data())
def test_a_proof_does_not_verify_another_leaf(size: int, data: st.DataObject) -> None:
    hashes = leaf_hashes(size)
    levels = HashLevels.from_leaf_hashes(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
    proof = merkle.inclusion_proof(index, size, levels.subtree_hash)
    try:
        merkle.verify_inclusion(index, size, hashes[other], proof, merkle.root_of(hashes))
    except ProofError:
        return
    raise AssertionError("a proof verified for the wrong leaf")


@given(
    st.lists(st.integers(min_value=0, max_value=40), max_size=12),
    st.integers(min_value=1, max_value=5),
)
def test_batched_appends_report_every_subtree_they_complete(
    batches: list[int], from_level: int
) -> None:
    hashes = leaf_hashes(sum(batches))
    full = HashLevels.from_leaf_hashes(hashes)
    tree = CompactRange()
    for batch in batches:
        start, end = tree.size, tree.size + batch
        reported = tree.append_all(hashes[start:end], from_level)
        expected = [
            Subtree(level, index, full.subtree_hash(level, index))
            for level in range(from_level, end.bit_length())
            for index in range(start >> level, end >> level)
        ]
        assert reported == expected
        assert tree.root() == merkle.root_of(hashes[:end])
