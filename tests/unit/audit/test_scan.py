"""Chunked reading and hashing of an entries file agree with hashing it whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.audit import merkle, scan
from shared.audit.compact import CompactRange, HashLevels


@given(st.integers(0, 70), st.integers(0, 70), st.data())
def test_a_chunk_summary_covers_its_leaves_at_every_size(
    first: int, count: int, data: st.DataObject
) -> None:
    leaves = [b"%d" % number for number in range(first + count)]
    full = HashLevels.from_leaf_hashes(scan.leaf_hashes(leaves))
    sizes = data.draw(st.lists(st.integers(first + 1, first + count + 1), max_size=4))
    levels = scan._aligned_levels(first, scan.leaf_hashes(leaves[first:]))
    for size in sizes:
        if size > first + count:
            continue
        cover = merkle.perfect_subtrees(first, size)
        got = [levels[level][1][index - levels[level][0]] for level, index in cover]
        assert got == [full.subtree_hash(level, index) for level, index in cover]


@given(st.integers(0, 300), st.integers(0, 300))
def test_appending_perfect_subtrees_equals_appending_their_leaves(start: int, count: int) -> None:
    hashes = scan.leaf_hashes([b"%d" % number for number in range(start + count)])
    full = HashLevels.from_leaf_hashes(hashes)
    tree = CompactRange()
    tree.extend(hashes[:start])
    for level, index in merkle.perfect_subtrees(start, start + count):
        tree.append_subtree(level, full.subtree_hash(level, index))
    assert tree.root() == merkle.root_of(hashes)
