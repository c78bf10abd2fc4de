"""A row's digest bytes are the standard encoder's canonical form, whatever encodes them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit.digest import row_bytes, table_digest
from shared.eventstore.schema import UtcDateTime

STANDARD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)


@given(row=st.dictionaries(texts, values, max_size=6))
def test_row_bytes_are_the_standard_encoders_bytes(row: dict[str, object]) -> None:
    assert row_bytes(row) == STANDARD.encode(row).encode() + b"\n"


def test_moments_are_written_in_utc() -> None:
    moment = datetime(2026, 4, 1, 9, 0, 0, 5, tzinfo=UTC)
    assert row_bytes({"at": moment, "𠮷": "\x1f\n"}) == (
        b'{"at":"2026-04-01T09:00:00.000005+00:00","\xf0\xa0\xae\xb7":"\\u001f\\n"}\n'
    )


metadata = sa.MetaData()
kinds = sa.Table(
    "digest_kinds",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", UtcDateTime),
    sa.Column("on", sa.Date),
    sa.Column("doc", sa.JSON),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("blob", sa.LargeBinary),
    sa.Column("ratio", sa.Float),
)
moments = st.datetimes(
    min_value=datetime(900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
kind_rows = st.fixed_dictionaries(
    {
        "ward": st.sampled_from(["nerima", "ota"]),
        "name": st.none() | texts,
        "flag": st.none() | st.booleans(),
        "at": st.none() | moments,
        "on": st.none() | st.dates(),
        "doc": values,
        "amount": st.none() | st.decimals(places=2, min_value=-(10**9), max_value=10**9),
        "blob": st.none() | st.binary(max_size=8),
        "ratio": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    }
)
# Texts that SQLAlchemy reads as moments and dates but the stored forms of writes never take.
ODD_TEXTS = [
    {"at": "2026-04-01 09:00:00", "doc": 7},
    {"at": "2026-04-01T09:00:00.5", "doc": "[1e400]"},
]


def reference_digest(connection: sa.Connection, ward: str) -> tuple[int, str]:
    """Every row read by SQLAlchemy, each value made plain, one line each."""
    query = sa.select(kinds).where(kinds.c.ward == ward).order_by(kinds.c.ward, kinds.c.n)
    lines = [row_bytes(row) for row in connection.execute(query).mappings()]
    return len(lines), hashlib.sha256(b"".join(lines)).hexdigest()


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(kind_rows, max_size=8), odd=st.booleans())
def test_sqlite_digests_hash_the_rows_as_sqlalchemy_reads_them(
    rows: list[dict[str, object]], odd: bool
) -> None:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        metadata.create_all(connection)
        numbered = [{**row, "n": n} for n, row in enumerate(rows)]
        if numbered:
            connection.execute(sa.insert(kinds), numbered)
        if odd:
            for n, texts_of in enumerate(ODD_TEXTS, start=len(rows)):
                columns = ", ".join(f'"{name}"' for name in ["ward", "n", *texts_of])
                marks = ", ".join("?" * (len(texts_of) + 2))
                sql = f"INSERT INTO digest_kinds ({columns}) VALUES ({marks})"
                connection.exec_driver_sql(sql, ("nerima", n, *texts_of.values()))
        for ward in ("nerima", "ota"):
            digest = table_digest(connection, kinds, ward)
            assert (digest.rows, digest.sha256) == reference_digest(connection, ward)
    engine.dispose()
