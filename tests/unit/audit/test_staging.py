"""Staging a replay's databases: a target that is checked before anything is made, a move into
it that replaces nothing and is undone whole, and nothing left behind by a failure."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.audit import staging
from shared.audit.errors import ReplayError
from shared.audit.staging import OWNER_LOCK, SCRATCH_PREFIX, remove_abandoned_scratch, staged

BUILT = ("a", "b")
BUILT_FILES = ("a.sqlite3", "b.sqlite3")
Act = Callable[[Path], None]
"""Called with the destination of a move out of a scratch directory, before the move."""


class Failed(Exception):
    """The block of ``staged`` failed."""


def files_in(directory: Path) -> list[str]:
    """Everything below ``directory``, hidden entries included."""
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


def build(scratch: Path, names: tuple[str, ...] = BUILT) -> None:
    for name in names:
        (scratch / f"{name}.sqlite3").write_text(f"built {name}")


def stage(target: Path, block: Callable[[Path], None] = build) -> None:
    """Stages the databases BUILT of ``target``, running ``block`` in the scratch directory."""
    with staged(target, BUILT) as scratch:
        block(scratch)


def build_and_fail(scratch: Path) -> None:
    build(scratch)
    raise Failed


@pytest.fixture(params=["hard links", "no hard links"])
def before_each_move(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Installs an action run before each move of a built file into its target, however the
    file is moved: by a hard link, by a rename, or (where the filesystem has no hard links)
    by a replace of a claimed name."""
    moves = ["rename"]
    if request.param == "hard links":
        moves.append("link")
    else:
        monkeypatch.setattr(os, "link", _unsupported_link)
        moves.append("replace")

    def install(act: Act) -> None:
        for name in moves:
            monkeypatch.setattr(os, name, _acting_before(getattr(os, name), act))

    return install


def _unsupported_link(source: Any, destination: Any, **_: Any) -> None:
    raise OSError(errno.EPERM, "Operation not permitted", str(source))


def _acting_before(move: Callable[..., None], act: Act) -> Any:
    def moving(source: Any, destination: Any, *args: Any, **kwargs: Any) -> None:
        if Path(source).parent.name.startswith(SCRATCH_PREFIX):
            act(Path(destination))
        move(source, destination, *args, **kwargs)

    return moving


def test_the_built_files_move_into_a_target_made_with_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    with staged(target, BUILT) as scratch:
        assert scratch.parent == target and scratch.name.startswith(SCRATCH_PREFIX)
        build(scratch)
    assert files_in(tmp_path / "a") == ["b", "b/a.sqlite3", "b/b.sqlite3"]
    assert (target / "b.sqlite3").read_text() == "built b"


def test_without_hard_links_the_built_files_still_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _unsupported_link)
    stage(tmp_path / "out")
    assert files_in(tmp_path / "out") == ["a.sqlite3", "b.sqlite3"]
    assert (tmp_path / "out" / "a.sqlite3").read_text() == "built a"


def test_a_target_is_made_even_when_there_is_nothing_to_build(tmp_path: Path) -> None:
    with staged(tmp_path / "out", []):
        pass
    assert files_in(tmp_path) == ["out"]


def test_a_move_that_fails_partway_takes_back_the_files_already_moved(
    tmp_path: Path, before_each_move: Callable[[Act], None]
) -> None:
    def no_space_for_the_second(destination: Path) -> None:
        if destination.name == "b.sqlite3":
            raise OSError(errno.ENOSPC, "No space left on device", str(destination))

    before_each_move(no_space_for_the_second)
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("the auditor's own")
    for target in (tmp_path / "new" / "out", kept):
        with pytest.raises(OSError, match="No space left on device"):
            stage(target)
    assert files_in(tmp_path) == ["kept", "kept/notes.txt"]


def test_a_database_that_appears_during_the_move_is_not_replaced(
    tmp_path: Path, before_each_move: Callable[[Act], None]
) -> None:
    def another_replay_finishes(destination: Path) -> None:
        if destination.name == "a.sqlite3":
            (destination.parent / "b.sqlite3").write_text("another replay's")

    before_each_move(another_replay_finishes)
    target = tmp_path / "out"
    with pytest.raises(ReplayError, match=r"b\.sqlite3 exists: replay needs a fresh database"):
        stage(target)
    assert files_in(target) == ["b.sqlite3"]
    assert (target / "b.sqlite3").read_text() == "another replay's"


def test_of_two_replays_into_one_target_the_second_to_finish_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"

    def build_after_another_replay(scratch: Path) -> None:
        stage(target, lambda first: build(first, ("a",)))
        build(scratch)

    with pytest.raises(ReplayError, match=r"a\.sqlite3 exists: replay needs a fresh database"):
        stage(target, build_after_another_replay)
    assert files_in(target) == ["a.sqlite3"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("file", r"/file is not a directory: replay needs a directory for its databases$"),
        ("file/out", r"/file/out cannot be made a directory: \S+/file is not a directory$"),
        ("file/a/out", r"/file/a/out cannot be made a directory: \S+/file is not a directory$"),
    ],
)
def test_a_target_that_is_or_lies_under_a_file_is_refused_first(
    tmp_path: Path, where: str, message: str
) -> None:
    (tmp_path / "file").write_text("the auditor's own")
    with pytest.raises(ReplayError, match=message):
        stage(tmp_path / where)
    assert files_in(tmp_path) == ["file"]
    assert (tmp_path / "file").read_text() == "the auditor's own"


def test_a_dangling_link_is_no_target(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    with pytest.raises(ReplayError, match="is not a directory"):
        stage(tmp_path / "out")
    assert files_in(tmp_path) == ["out"]


def test_a_failure_removes_exactly_the_directories_it_made(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    for target in (tmp_path / "kept" / "a" / "b", tmp_path / "new" / "a" / "b"):
        with pytest.raises(Failed):
            stage(target, build_and_fail)
    assert files_in(tmp_path) == ["kept"]


def test_a_made_directory_that_came_to_hold_something_else_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "new" / "out"

    def write_beside_and_fail(scratch: Path) -> None:
        (tmp_path / "new" / "notes.txt").write_text("written meanwhile")
        build_and_fail(scratch)

    with pytest.raises(Failed):
        stage(target, write_beside_and_fail)
    assert files_in(tmp_path) == ["new", "new/notes.txt"]


def test_a_used_target_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "b.sqlite3").write_text("an earlier replay's")
    with pytest.raises(ReplayError, match="needs a fresh database"):
        stage(target)
    assert files_in(target) == ["b.sqlite3"]


HOLDER_IN_A_PROCESS = """
import sys
from pathlib import Path
from shared.audit.staging import holding

with holding(Path(sys.argv[1])):
    print("holding", flush=True)
    sys.stdin.read()
"""

REPLAY_IN_A_PROCESS = """
import os, signal, sys
from pathlib import Path
from shared.audit.staging import staged

with staged(Path(sys.argv[1]), ["a"]) as scratch:
    (scratch / "a.sqlite3").write_text("half built")
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    print(scratch, flush=True)
    sys.stdin.read()  # builds until its input closes
"""


def replay_process(target: Path, how: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", REPLAY_IN_A_PROCESS, str(target), how]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_the_scratch_of_a_killed_replay_is_removed_by_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "out"
    abandoned = abandoned_scratch(target)
    assert sorted(p.name for p in abandoned.iterdir()) == [OWNER_LOCK, "a.sqlite3"]
    stage(target)
    assert files_in(target) == ["a.sqlite3", "b.sqlite3"]
    assert (target / "a.sqlite3").read_text() == "built a"


def test_the_scratch_of_a_running_replay_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out"
    running = replay_process(target, "running")
    assert running.stdout is not None and running.stdin is not None
    scratch = Path(running.stdout.readline().strip())
    try:
        assert remove_abandoned_scratch(target) == []
        assert (scratch / "a.sqlite3").read_text() == "half built"
    finally:
        running.stdin.close()
    assert running.wait(timeout=60) == 0
    assert files_in(target) == ["a.sqlite3"]


def test_a_hidden_directory_without_a_lock_is_not_taken_for_scratch(tmp_path: Path) -> None:
    kept = tmp_path / f"{SCRATCH_PREFIX}notes"
    kept.mkdir()
    (kept / "a.sqlite3").write_text("someone's")
    assert remove_abandoned_scratch(tmp_path) == []
    stage(tmp_path)
    left = [f"{SCRATCH_PREFIX}notes", f"{SCRATCH_PREFIX}notes/a.sqlite3", *BUILT_FILES]
    assert files_in(tmp_path) == sorted(left)


def abandoned_scratch(target: Path) -> Path:
    killed = replay_process(target, "killed")
    assert killed.wait(timeout=60) == -signal.SIGKILL
    (abandoned,) = target.glob(f"{SCRATCH_PREFIX}*")
    return abandoned


def test_a_scratch_is_not_swept_while_a_process_building_for_it_runs(tmp_path: Path) -> None:
    abandoned = abandoned_scratch(tmp_path)
    command = [sys.executable, "-c", HOLDER_IN_A_PROCESS, str(abandoned)]
    holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert remove_abandoned_scratch(tmp_path) == []
    finally:
        holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert remove_abandoned_scratch(tmp_path) == [abandoned]
    assert files_in(tmp_path) == []


def test_a_sweep_before_the_lock_is_taken_leaves_the_new_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    swept: list[list[Path]] = []
    flock = staging.fcntl.flock

    def sweep_first(descriptor: int, operation: int) -> None:
        if not swept:
            swept.append(remove_abandoned_scratch(target))  # another replay, at the worst time
        flock(descriptor, operation)

    monkeypatch.setattr(staging.fcntl, "flock", sweep_first)
    stage(target)
    assert swept == [[]]
    assert files_in(target) == list(BUILT_FILES)


def test_a_sweep_cut_short_leaves_the_lock_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    abandoned = abandoned_scratch(tmp_path)
    unlink = Path.unlink

    def refuse_databases(path: Path, missing_ok: bool = False) -> None:
        if path.suffix == ".sqlite3":
            raise PermissionError(errno.EACCES, "refused", str(path))
        unlink(path, missing_ok=missing_ok)

    with monkeypatch.context() as patched:
        patched.setattr(Path, "unlink", refuse_databases)
        assert remove_abandoned_scratch(tmp_path) == []
    assert sorted(p.name for p in abandoned.iterdir()) == [OWNER_LOCK, "a.sqlite3"]
    assert remove_abandoned_scratch(tmp_path) == [abandoned]
    assert files_in(tmp_path) == []
