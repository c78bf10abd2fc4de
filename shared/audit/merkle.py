"""RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.

Positions in a tree are ``(level, index)`` pairs: the perfect subtree at ``(level, index)`` covers
the leaves ``[index << level, (index + 1) << level)``; level 0 holds the leaf hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from shared.audit.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Position = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""

SubtreeHash = Callable[[int, int], bytes]
"""Returns the hash of the perfect subtree at ``(level, index)``."""

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def pair_hashes(hashes: Sequence[bytes]) -> list[bytes]:
    """Node hashes of adjacent pairs ``(0, 1), (2, 3), ...``; an odd last hash is left out."""
    pairs = iter(hashes)
    return [
        _sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
    ]


def parent_level(hashes: Sequence[bytes]) -> list[bytes]:
    """Hashes one level up: adjacent pairs combined, an odd last hash carried up unchanged."""
    parents = pair_hashes(hashes)
    if len(hashes) % 2:
        parents.append(hashes[-1])
    return parents


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a list of leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = parent_level(level)
    return level[0]


def fold_peaks(peaks: Sequence[bytes]) -> bytes:
    """Root of a tree from the hashes of its peaks (its perfect subtrees, largest first)."""
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = node_hash(peak, root)
    return root


def perfect_subtrees(begin: int, end: int) -> list[Position]:
    """The fewest perfect subtrees that exactly cover leaves ``[begin, end)``, left to right."""
    positions = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        positions.append((level, begin >> level))
        begin += 1 << level
    return positions


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_at(tree_size: int, subtree_hash: SubtreeHash) -> bytes:
    """Root of the tree of the first ``tree_size`` leaves."""
    return _subtree_range_hash(0, tree_size, subtree_hash)


def _subtree_range_hash(begin: int, end: int, subtree_hash: SubtreeHash) -> bytes:
    # Only valid where begin is aligned to a power of two >= end - begin, which holds for every
    # range the RFC 9162 recursion visits: then the cover below lists exactly the peaks.
    return fold_peaks([subtree_hash(*position) for position in perfect_subtrees(begin, end)])


def inclusion_proof(leaf_index: int, tree_size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """The audit path of a leaf (RFC 9162 section 2.1.3.1), nearest sibling first."""
    if not 0 <= leaf_index < tree_size:
        raise ValueError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    proof = []
    begin, end = 0, tree_size
    while end - begin > 1:
        split = begin + largest_power_of_two_below(end - begin)
        if leaf_index < split:
            proof.append(_subtree_range_hash(split, end, subtree_hash))
            end = split
        else:
            proof.append(_subtree_range_hash(begin, split, subtree_hash))
            begin = split
    proof.reverse()
    return proof


def consistency_proof(size1: int, size2: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """The proof that the first ``size1`` leaves are a prefix of a tree of ``size2`` leaves
    (RFC 9162 section 2.1.4.1)."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    proof = []
    begin, end = 0, size2
    old_tree_is_whole_subtree = True
    while size1 != end:
        split = begin + largest_power_of_two_below(end - begin)
        if size1 <= split:
            proof.append(_subtree_range_hash(split, end, subtree_hash))
            end = split
        else:
            proof.append(_subtree_range_hash(begin, split, subtree_hash))
            begin = split
            old_tree_is_whole_subtree = False
    if not old_tree_is_whole_subtree:
        proof.append(_subtree_range_hash(begin, end, subtree_hash))
    proof.reverse()
    return proof


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that an inclusion proof leads to (RFC 9162 section 2.1.3.2)."""
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    _require_hash_size(leaf_hash, "leaf hash")
    _require_proof_hash_sizes(proof)
    fn, sn = leaf_index, tree_size - 1
    result = leaf_hash
    for sibling in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(proof)} hashes: too many for its path")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(proof)} hashes: too few for its path")
    return result


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows the leaf at ``leaf_index`` is in the tree."""
    computed = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof of leaf {leaf_index} leads to root {computed.hex()}, "
            f"not the expected {root.hex()} at tree size {tree_size}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows the tree ``root1`` is a prefix of ``root2``."""
    if size2 < size1:
        raise ProofError(f"tree size {size2} is smaller than the earlier size {size1}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        _verify_equal_sizes(size1, proof, root1, root2)
        return
    if not proof:
        raise ProofError(f"empty consistency proof between different sizes {size1} and {size2}")
    _require_hash_size(root1, "first root")
    _require_hash_size(root2, "second root")
    _require_proof_hash_sizes(proof)
    old_root, new_root = _roots_from_consistency_proof(size1, size2, proof, root1)
    if old_root != root1:
        raise ProofError(f"consistency proof does not lead to the root at size {size1}")
    if new_root != root2:
        raise ProofError(f"consistency proof does not lead to the root at size {size2}")


def _verify_equal_sizes(size: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    if proof:
        raise ProofError(f"consistency proof between equal sizes {size} must be empty")
    if root1 != root2:
        raise ProofError(f"two different roots for the same tree size {size}")


def _roots_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> tuple[bytes, bytes]:
    path = list(proof)
    if (size1 & (size1 - 1)) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_root = new_root = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof has {len(proof)} hashes: too many")
        if fn & 1 or fn == sn:
            old_root = node_hash(sibling, old_root)
            new_root = node_hash(sibling, new_root)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_root = node_hash(new_root, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"consistency proof has {len(proof)} hashes: too few")
    return old_root, new_root


def _require_hash_size(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes long, not {HASH_SIZE}")


def _require_proof_hash_sizes(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _require_hash_size(value, f"proof hash {position}")
