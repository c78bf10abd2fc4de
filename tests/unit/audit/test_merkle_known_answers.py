"""Known answers for RFC 6962 tree hashing (transparency-dev/merkle), kept in the repository."""

from __future__ import annotations

import pytest

from shared.audit import merkle
from shared.audit.compact import CompactRange, HashLevels
from shared.audit.errors import ProofError

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAF_HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def test_empty_tree_root() -> None:
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.root_of([]) == merkle.EMPTY_ROOT
    assert CompactRange().root() == merkle.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_first_leaves(size: int) -> None:
    assert merkle.root_of(LEAF_HASHES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize("size", range(1, 9))
def test_incremental_root_matches_known_answer(size: int) -> None:
    tree = CompactRange()
    for leaf_hash in LEAF_HASHES[:size]:
        tree.append(leaf_hash)
    assert tree.root().hex() == ROOTS[size - 1]


def test_leaf_and_node_hash_use_domain_separation() -> None:
    assert merkle.leaf_hash(b"") == bytes.fromhex(ROOTS[0])
    left, right = LEAF_HASHES[0], LEAF_HASHES[1]
    assert merkle.node_hash(left, right).hex() == ROOTS[1]
    assert merkle.leaf_hash(left + right) != merkle.node_hash(left, right)


def test_rfc_example_proof_shapes() -> None:
    levels = HashLevels.from_leaf_hashes(LEAF_HASHES[:7])
    # RFC 9162 2.1.5: in the 7-leaf example tree the audit path of d3 is [c, g, l].
    proof = merkle.inclusion_proof(3, 7, levels.subtree_hash)
    assert proof == [LEAF_HASHES[2], levels.subtree_hash(1, 0), merkle.root_of(LEAF_HASHES[4:7])]
    # ... and the consistency proof between 3 and 7 leaves is [c, d, g, l].
    assert merkle.consistency_proof(3, 7, levels.subtree_hash) == [
        LEAF_HASHES[2],
        LEAF_HASHES[3],
        levels.subtree_hash(1, 0),
        merkle.root_of(LEAF_HASHES[4:7]),
    ]
    assert merkle.consistency_proof(4, 7, levels.subtree_hash) == [merkle.root_of(LEAF_HASHES[4:7])]
    assert merkle.consistency_proof(6, 7, levels.subtree_hash) == [
        levels.subtree_hash(1, 2),
        LEAF_HASHES[6],
        levels.subtree_hash(2, 0),
    ]


def test_perfect_subtrees_cover_ranges_exactly() -> None:
    assert merkle.perfect_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.perfect_subtrees(5, 12) == [(0, 5), (1, 3), (2, 2)]
    assert merkle.perfect_subtrees(3, 3) == []


def test_proof_errors_are_clear() -> None:
    root = bytes.fromhex(ROOTS[7])
    with pytest.raises(ProofError, match="outside a tree of size 8"):
        merkle.verify_inclusion(8, 8, LEAF_HASHES[0], [], root)
    with pytest.raises(ProofError, match="too few"):
        merkle.verify_inclusion(0, 8, LEAF_HASHES[0], [], root)
    with pytest.raises(ProofError, match="empty tree"):
        merkle.verify_consistency(0, 8, [], merkle.EMPTY_ROOT, root)
    with pytest.raises(ProofError, match="33 bytes"):
        merkle.verify_inclusion(0, 1, LEAF_HASHES[0] + b"x", [], LEAF_HASHES[0])


def test_proof_generation_refuses_impossible_sizes() -> None:
    levels = HashLevels.from_leaf_hashes(LEAF_HASHES)
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(8, 8, levels.subtree_hash)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(0, 8, levels.subtree_hash)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(5, 4, levels.subtree_hash)
