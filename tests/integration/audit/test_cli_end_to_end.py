"""`kyodo audit export | verify | replay` on the log that a running audit service built from
real registry events over Redis, and each kind of tampering caught by `verify`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis as SyncRedis
from typer.testing import CliRunner, Result

from services.registry.app import SPEC as REGISTRY_SPEC
from shared.audit import merkle
from shared.audit.canonical import canonical_json
from shared.audit.checkpoint import Checkpoint, sign_checkpoint
from shared.audit.keys import load_audit_keys
from shared.audit.live import compare, live_read_models
from shared.audit.note import Signer
from shared.audit.replay import replay_log
from shared.audit.sources import audit_engine, log_from_database
from shared.audit.sql import leaves
from shared.bus.streams import StreamNames
from shared.cli.discovery import service_specs
from shared.cli.main import app
from shared.settings import Settings
from shared.testing.services import redis_url, unique_name
from tests.integration.audit.conftest import live_platform, platform_settings
from tests.integration.registry.scenarios import (
    neighbourhood_association,
    npo,
    ota_company,
    register,
    register_verified,
)

pytestmark = pytest.mark.redis
WARD = "nerima"
ROOT = Path(__file__).resolve().parents[3]
BOX_DRAWING = re.compile("[\u2500-\u257f]")


@dataclass(frozen=True)
class AuditedPlatform:
    """What a run of the registry and the audit service left in their data directory."""

    data_dir: Path
    settings: Settings
    signed_size: int
    verifier_key: str


async def run_platform(settings: Settings) -> int:
    async with live_platform(settings) as platform:
        for number in range(6):
            body = neighbourhood_association(name=f"練馬第{number}町会")
            await register_verified(platform.registry, WARD, body)
            await platform.audited(WARD)  # one checkpoint after each pair of events
        await register(platform.registry, WARD, npo())
        await register_verified(platform.registry, "ota", ota_company())
        await platform.audited("ota")
        await platform.registry.caught_up()
        return int((await platform.audited(WARD))["tree_size"])


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> AuditedPlatform:
    names = StreamNames(unique_name("kyodotest"), 4)
    client = SyncRedis.from_url(redis_url())
    try:
        client.ping()
    except Exception as error:
        pytest.skip(f"Redis is not reachable: {error}")
    data_dir = tmp_path_factory.mktemp("platform")
    settings = platform_settings(names, data_dir)
    try:
        size = asyncio.run(run_platform(settings))
    finally:
        keys = list(client.scan_iter(match=f"{names.prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    key = load_audit_keys(settings, create=False).signer.verifier().key_string()
    return AuditedPlatform(data_dir, settings, size, key)


@pytest.fixture(autouse=True)
def this_projects_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Discovery input built from this project's pyproject.toml: distribution metadata placed
    first on sys.path, so `kyodo audit replay` finds exactly the services declared here, not
    whatever the shared environment has installed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["kyodo.services"]
    dist_info = tmp_path / "metadata" / "kyodo-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: kyodo\nVersion: 0.1.0\n")
    lines = [f"{name} = {target}" for name, target in declared.items()]
    (dist_info / "entry_points.txt").write_text("[kyodo.services]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(dist_info.parent))


def test_discovery_finds_every_read_model_and_no_projection_of_the_log() -> None:
    discovered = service_specs()
    assert discovered.specs["registry"] is REGISTRY_SPEC
    with_read_models = {name for name, spec in discovered.specs.items() if spec.projections}
    assert with_read_models == {"registry", "proposals", "fund", "evaluation"}
    assert not discovered.specs["audit"].projections, "the log is what a replay reads"
    assert all(spec.name == name for name, spec in discovered.specs.items())
    assert discovered.unavailable == {}


@pytest.fixture
def copy(audited: AuditedPlatform, tmp_path: Path) -> AuditedPlatform:
    """A copy of the data directory that a test may tamper with."""
    data_dir = tmp_path / "data"
    shutil.copytree(audited.data_dir, data_dir)
    settings = audited.settings.model_copy(update={"data_dir": data_dir})
    return AuditedPlatform(data_dir, settings, audited.signed_size, audited.verifier_key)


def kyodo(platform: AuditedPlatform, *args: str) -> tuple[int, str]:
    result = invoke(platform, *args)
    return result.exit_code, " ".join(BOX_DRAWING.sub(" ", result.output).split())


def invoke(platform: AuditedPlatform, *args: str) -> Result:
    runner = CliRunner()
    environment = {
        "KYODO_DATA_DIR": str(platform.data_dir),
        "COLUMNS": "200",
        "KYODO_STREAM_PREFIX": platform.settings.stream_prefix,
    }
    return runner.invoke(app, list(args), env=environment)


def export(platform: AuditedPlatform, directory: Path) -> Path:
    code, output = kyodo(platform, "audit", "export", "--ward", WARD, "--out", str(directory))
    assert code == 0, output
    return directory


def verify(platform: AuditedPlatform, directory: Path) -> tuple[int, str]:
    return kyodo(platform, "audit", "verify", str(directory), "--key", platform.verifier_key)


def tamper(platform: AuditedPlatform, *statements: sa.Executable) -> None:
    engine = sa.create_engine(f"sqlite:///{platform.data_dir / 'audit.sqlite3'}")
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)
    engine.dispose()


def leaf_at(platform: AuditedPlatform, index: int) -> bytes:
    engine = sa.create_engine(f"sqlite:///{platform.data_dir / 'audit.sqlite3'}")
    with engine.connect() as connection:
        query = sa.select(leaves.c.leaf).where(leaf_key(index))
        leaf = connection.execute(query).scalar_one()
    engine.dispose()
    return bytes(leaf)


def leaf_key(index: int) -> sa.ColumnElement[bool]:
    return (leaves.c.ward == WARD) & (leaves.c.leaf_index == index)


def event_id_at(platform: AuditedPlatform, index: int) -> str:
    return str(json.loads(leaf_at(platform, index))["event_id"])


# --- an untouched log -----------------------------------------------------------------------


def test_the_export_of_a_live_log_verifies(audited: AuditedPlatform, tmp_path: Path) -> None:
    directory = export(audited, tmp_path / "export")
    manifest = json.loads((directory / "log.json").read_text())
    assert manifest["entries"] == audited.signed_size == 15
    assert manifest["checkpoints"] >= 6
    code, output = verify(audited, directory)
    assert code == 0, output
    assert f"✓ intact: kyodo.example/audit/{WARD}, 15 entries" in output


def test_verify_without_a_trusted_key_says_so(audited: AuditedPlatform, tmp_path: Path) -> None:
    directory = export(audited, tmp_path / "export")
    code, output = kyodo(audited, "audit", "verify", str(directory))
    assert code == 0, output
    assert "Trusting the keys in the export itself" in output


def test_a_key_that_did_not_sign_is_refused(audited: AuditedPlatform, tmp_path: Path) -> None:
    stranger = Signer.generate("kyodo.example/audit").verifier().key_string()
    directory = export(audited, tmp_path / "export")
    code, output = kyodo(audited, "audit", "verify", str(directory), "--key", stranger)
    assert code == 1
    assert "unknown-key" in output and "checkpoints/000001.note" in output


def test_export_of_a_ward_without_a_log_fails_clearly(
    audited: AuditedPlatform, tmp_path: Path
) -> None:
    code, output = kyodo(audited, "audit", "export", "--ward", "setagaya", "--out", str(tmp_path))
    assert code == 1
    assert "ward 'setagaya' has no signed checkpoint" in output


# --- tampering with the audit database ------------------------------------------------------


def test_a_flipped_byte_in_a_stored_leaf(copy: AuditedPlatform, tmp_path: Path) -> None:
    leaf = bytearray(leaf_at(copy, 5))
    leaf[len(leaf) // 2] ^= 0x01
    tamper(copy, sa.update(leaves).where(leaf_key(5)).values(leaf=bytes(leaf)))
    code, output = verify(copy, export(copy, tmp_path / "export"))
    assert code == 1
    assert f"changed-entry: entry 5 ({event_id_at(copy, 5)}) was changed" in output
    assert "entries.jsonl line 6" in output


def test_a_deleted_leaf(copy: AuditedPlatform, tmp_path: Path) -> None:
    follower = event_id_at(copy, 8)
    tamper(copy, sa.delete(leaves).where(leaf_key(7)))
    code, output = verify(copy, export(copy, tmp_path / "export"))
    assert code == 1
    assert "removed-entry: entry 7 was removed" in output
    assert f"entry 8 ({follower}) follows entry 6" in output


def test_a_forged_event_inserted(copy: AuditedPlatform, tmp_path: Path) -> None:
    forged = json.loads(leaf_at(copy, 4))
    forged["event_id"] = "0badc0de-0000-4000-8000-000000000000"
    forged["data"]["name"] = "偽造町会"
    forged_leaf = canonical_json(forged)
    shifts = [
        sa.update(leaves).where(leaf_key(index)).values(leaf_index=index + 1)
        for index in range(copy.signed_size - 1, 3, -1)
    ]
    insert = sa.insert(leaves).values(
        ward=WARD,
        leaf_index=4,
        event_id=forged["event_id"],
        leaf=forged_leaf,
        leaf_hash=merkle.leaf_hash(forged_leaf),
    )
    tamper(copy, *shifts, insert)
    code, output = verify(copy, export(copy, tmp_path / "export"))
    assert code == 1
    assert f"inserted-entry: entry 4 ({forged['event_id']}) was inserted" in output


def test_two_roots_signed_for_one_size(copy: AuditedPlatform, tmp_path: Path) -> None:
    directory = export(copy, tmp_path / "export")
    keys = load_audit_keys(copy.settings, create=False)
    notes = sorted((directory / "checkpoints").glob("*.note"))
    honest = Checkpoint.from_body(notes[2].read_text().split("\n\n")[0] + "\n")
    other_history = Checkpoint(honest.origin, honest.tree_size, merkle.leaf_hash(b"rewritten"))
    fork = directory / "checkpoints" / f"{notes[2].stem}b.note"
    fork.write_text(sign_checkpoint(other_history, [keys.signer]))
    code, output = verify(copy, directory)
    assert code == 1
    assert "conflicting-checkpoints" in output
    assert f"both sign tree size {honest.tree_size} but with different roots" in output
    assert f"checkpoints/{notes[2].name} and checkpoints/{fork.name}" in output


# --- replay -----------------------------------------------------------------------------------


def test_replay_compare_reports_the_registry_read_models_equal(
    audited: AuditedPlatform,
) -> None:
    code, output = kyodo(audited, "audit", "replay", "--ward", WARD, "--compare")
    assert code == 0, output
    for table in ("registry_actors", "registry_activities", "registry_wards"):
        assert f"registry {table}" in output
    assert output.count("match") >= 3 and "DIFFERS" not in output
    assert "15 events applied from 15 signed entries" in output


async def test_replayed_digests_equal_the_live_ones(
    audited: AuditedPlatform, tmp_path: Path
) -> None:
    engine = audit_engine(audited.settings)
    keys = load_audit_keys(audited.settings, create=False).verifiers
    log = log_from_database(engine, WARD, keys, audited.settings.audit_origin_prefix)
    result = await replay_log(log, {"registry": REGISTRY_SPEC}, tmp_path)
    engine.dispose()
    (replayed,) = result.services
    assert replayed.events == audited.signed_size
    assert replayed.digests["registry_actors"] is not None
    assert replayed.digests["registry_actors"].rows == 7
    live = live_read_models(audited.settings, REGISTRY_SPEC, WARD)
    assert live is not None and live.positions == replayed.positions
    assert all(row.matches for row in compare(replayed, live))


def test_replay_in_one_process_prints_the_digests_of_replay_in_several(
    audited: AuditedPlatform,
) -> None:
    """Discovery finds the services with read models: asked for two processes, they are
    replayed in processes of their own, which find their specs again by discovery."""
    code, alone = kyodo(audited, "audit", "replay", "--ward", WARD, "--processes", "1")
    assert code == 0, alone
    code, shared = kyodo(audited, "audit", "replay", "--ward", WARD, "--processes", "2")
    assert code == 0, shared
    digests = alone[: alone.index("events applied")]
    assert digests == shared[: shared.index("events applied")]
    for service in ("evaluation", "proposals", "registry"):
        assert f"{service} {service}_" in digests


def test_replay_of_a_prefix_differs_from_live(audited: AuditedPlatform) -> None:
    code, output = kyodo(audited, "audit", "replay", "--ward", WARD, "--size", "5", "--compare")
    assert code == 1
    assert "5 events applied" in output
    assert "registry registry_actors 2 7 DIFFERS" in output
    assert "live read models are at positions" in output


def test_replay_of_an_export_with_a_changed_leaf_is_refused(
    copy: AuditedPlatform, tmp_path: Path
) -> None:
    directory = export(copy, tmp_path / "export")
    lines = (directory / "entries.jsonl").read_bytes().split(b"\n")
    lines[3] = lines[3].replace("練馬".encode(), "大田".encode(), 1)
    (directory / "entries.jsonl").write_bytes(b"\n".join(lines))
    code, output = kyodo(
        copy,
        "audit",
        "replay",
        "--ward",
        WARD,
        "--export",
        str(directory),
        "--key",
        copy.verifier_key,
    )
    assert code == 1
    assert "do not reproduce the signed root" in output


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_refused_replay_leaves_no_read_model_behind(
    copy: AuditedPlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str
) -> None:
    """A changed name still parses: the registry's rows are written before the root fails."""
    changed = leaf_at(copy, 3).replace("練馬".encode(), "大田".encode(), 1)
    tamper(copy, sa.update(leaves).where(leaf_key(3)).values(leaf=changed))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    into = tmp_path / "into"
    for where in (("--into", str(into)), ()):
        replay = ("audit", "replay", "--ward", WARD, "--processes", processes, *where)
        code, output = kyodo(copy, *replay)
        assert code == 1
        assert "do not reproduce the signed root" in output
    assert not into.exists()
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_leaf_that_is_no_envelope_fails_the_replay_in_one_line(
    copy: AuditedPlatform, processes: str
) -> None:
    tamper(copy, sa.update(leaves).where(leaf_key(5)).values(leaf=b"not an envelope"))
    result = invoke(copy, "audit", "replay", "--ward", WARD, "--processes", processes)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    (message,) = [line for line in result.output.splitlines() if line]  # one, unwrapped
    assert message.startswith("✗ the 15 entries do not reproduce the signed root")
    assert "so the log was changed (and replaying it failed: leaf 5 is not an event" in message
    assert message.endswith("run `kyodo audit verify` to locate the change")


def test_a_target_that_is_a_file_fails_the_replay_in_one_line(
    audited: AuditedPlatform, tmp_path: Path
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    into = here / "notes.txt"
    into.write_text("the auditor's own")
    result = invoke(audited, "audit", "replay", "--ward", WARD, "--into", str(into))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    (message,) = [line for line in result.output.splitlines() if line]
    assert message == f"✗ {into} is not a directory: replay needs a directory for its databases"
    assert into.read_text() == "the auditor's own"
    assert list(here.iterdir()) == [into]
