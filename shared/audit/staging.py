"""Where a replay builds its databases: a scratch directory inside the target, whose files move
into the target only once the replay has succeeded (the log reproduced its signed root). A
replay that fails leaves nothing it built behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from shared.audit.errors import ReplayError

SCRATCH_PREFIX = ".replay-"


@contextmanager
def staged(target: Path, names: Iterable[str]) -> Iterator[Path]:
    """A scratch directory to build the databases ``names`` of ``target`` in.

    It lies inside ``target``, so on its filesystem, where renaming a file moves it whole. When
    the block returns, every file built moves into ``target``; when it raises, they are deleted,
    and so is ``target`` if it was made here and is still empty.
    """
    made = not target.exists()
    for name in names:
        fresh_database_path(target, name)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=target))
    try:
        yield scratch
        _move_files(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        if made:
            _remove_if_empty(target)
        raise
    scratch.rmdir()


def fresh_database_path(target: Path, name: str) -> Path:
    """Where service ``name``'s database goes in ``target``; ReplayError if one is there."""
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.sqlite3"
    _require_absent(path)
    return path


def sync_to_disk(path: Path) -> None:
    """Flush a closed file, or a directory's entries, to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _move_files(scratch: Path, target: Path) -> None:
    built = sorted(scratch.iterdir())
    for path in built:
        _require_absent(target / path.name)
    for path in built:
        path.rename(target / path.name)
    sync_to_disk(target)


def _require_absent(path: Path) -> None:
    if path.exists():
        raise ReplayError(f"{path} exists: replay needs a fresh database")


def _remove_if_empty(directory: Path) -> None:
    with suppress(OSError):
        directory.rmdir()
