"""Ids from the randomness pool: version 4 UUIDs, distinct, and distinct across a fork."""

from __future__ import annotations

import os
import uuid

from hypothesis import given
from hypothesis import strategies as st

from shared.ids import new_id, new_uuid, uuid4_text


def test_ids_are_random_version_4_uuids_in_canonical_form() -> None:
    made = new_uuid()
    assert made.version == 4
    assert made.variant == uuid.RFC_4122
    text = new_id()
    assert str(uuid.UUID(text)) == text


def test_many_ids_across_pool_refills_are_all_distinct() -> None:
    ids = {new_id() for _ in range(5_000)}
    assert len(ids) == 5_000


def test_a_forked_child_does_not_repeat_the_parents_next_ids() -> None:
    new_id()  # the pool holds unread bytes now
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.write(write_end, "\n".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        childs = set(pipe.read().split("\n"))
    os.waitpid(child, 0)
    parents = {new_id() for _ in range(10)}
    assert len(childs) == 10
    assert not childs & parents


@given(st.binary(min_size=16, max_size=16))
def test_the_text_of_an_id_is_what_uuid_writes_for_the_same_bytes(random: bytes) -> None:
    assert uuid4_text(random) == str(uuid.UUID(bytes=random, version=4))
