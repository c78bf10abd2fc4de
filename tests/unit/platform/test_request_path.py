"""The idempotency scope of a request is its URL path, read without parsing the whole URL."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from shared.web.commands import request_path


def request(path: str, host: bytes | None) -> Request:
    headers = [(b"host", host)] if host is not None else []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    return Request({**scope, "query_string": b"a=1", "server": ("127.0.0.1", 8103)})


@given(
    st.text(min_size=0, max_size=40).map(lambda tail: "/" + tail),
    st.sampled_from([b"127.0.0.1:8103", b"fund.example", None]),
)
def test_the_path_is_the_one_starlettes_url_gives(path: str, host: bytes | None) -> None:
    made = request(path, host)
    assert request_path(made) == made.url.path


def test_characters_that_would_end_the_path_are_escaped() -> None:
    made = request("/v1/wards/ota/donations?#\\x", b"fund.example")
    assert request_path(made) == "/v1/wards/ota/donations%3F%23%5Cx" == made.url.path
