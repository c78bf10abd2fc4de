from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.audit.errors import LeafEncodingError
from shared.audit.leaf import event_id_of, leaf_bytes


def test_leaf_bytes_are_rfc8785_canonical_json() -> None:
    envelope = {"ward": "ota", "data": {"b": 2, "a": [1, "区民"]}, "event_id": "e-1", "n": 1.5}
    assert leaf_bytes(envelope) == (
        '{"data":{"a":[1,"区民"],"b":2},"event_id":"e-1","n":1.5,"ward":"ota"}'.encode()
    )


def test_leaf_bytes_do_not_depend_on_key_order() -> None:
    first = {"event_id": "e-1", "ward": "ota", "data": {"x": 1, "y": 2}}
    second = {"data": {"y": 2, "x": 1}, "ward": "ota", "event_id": "e-1"}
    assert leaf_bytes(first) == leaf_bytes(second)


def test_leaf_bytes_never_contain_a_newline() -> None:
    leaf = leaf_bytes({"event_id": "e-1", "data": {"note": "line one\nline two\r\n"}})
    assert b"\n" not in leaf
    assert json.loads(leaf)["data"]["note"] == "line one\nline two\r\n"


@pytest.mark.parametrize("value", [uuid.uuid4(), datetime.now(UTC), float("nan"), 2**60])
def test_values_that_are_not_plain_json_are_refused(value: object) -> None:
    with pytest.raises(LeafEncodingError, match="not canonical JSON"):
        leaf_bytes({"event_id": "e-1", "data": {"value": value}})


def test_event_id_is_required() -> None:
    assert event_id_of({"event_id": "e-1"}) == "e-1"
    with pytest.raises(LeafEncodingError, match="no event_id"):
        event_id_of({"event_id": 5})
