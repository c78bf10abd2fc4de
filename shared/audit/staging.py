"""Where a replay builds its databases: a scratch directory inside the target, whose files move
into the target only once the replay has succeeded (the log reproduced its signed root). A
replay that fails leaves nothing it built behind: no database, no scratch directory, and none
of the directories it made for the target.

A replay that was killed (SIGKILL, a power cut) leaves its scratch directory; each one holds a
lock for as long as its replay runs, and the next replay into the target removes those whose
lock no process holds."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from shared.audit.errors import ReplayError

SCRATCH_PREFIX = ".replay-"
OWNER_LOCK = ".owner.lock"
"""In a scratch directory: locked (``flock``) by the replay building there while it runs."""
UNNAMED_LOCK = f"{OWNER_LOCK}.new"
"""The lock file before it is locked."""
LOCK_FILES = (OWNER_LOCK, UNNAMED_LOCK)
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})
"""What ``link`` fails with on a filesystem without hard links (FAT, some network mounts)."""


@contextmanager
def staged(target: Path, names: Iterable[str]) -> Iterator[Path]:
    """A scratch directory to build the databases ``names`` of ``target`` in.

    ``target`` must be a directory without those databases, or not exist yet (with nothing but
    directories above it); it is made here, parents included, and what was made is removed
    again if the block or the move fails. The scratch directory lies inside ``target``, so on
    its filesystem, where a file moves whole. When the block returns, every file built moves
    into ``target``, none replacing a file there; when it or a move fails, they are deleted.
    """
    missing = _missing_directories(target)
    for name in names:
        fresh_database_path(target, name)
    made = _make_directories(missing)
    try:
        with _scratch(target) as scratch:
            yield scratch
    except BaseException:
        _remove_directories(made)
        raise


def _missing_directories(target: Path) -> list[Path]:
    """The directories to make for ``target``, outermost first; ReplayError if ``target`` or
    one of its parents is something other than a directory."""
    missing: list[Path] = []
    path = target
    while not path.is_dir():
        if path.exists() or path.is_symlink():
            raise ReplayError(_not_a_directory(target, path))
        missing.append(path)
        path = path.parent
    return missing[::-1]


def fresh_database_path(target: Path, name: str) -> Path:
    """Where service ``name``'s database goes in ``target``; ReplayError if one is there."""
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


def _not_a_directory(target: Path, path: Path) -> str:
    if path == target:
        return f"{target} is not a directory: replay needs a directory for its databases"
    return f"{target} cannot be made a directory: {path} is not a directory"


def _make_directories(missing: list[Path]) -> list[Path]:
    """Makes the ``missing`` directories in order and returns those made here; on an error,
    removes them again."""
    made: list[Path] = []
    try:
        for directory in missing:
            if _make_directory(directory):
                made.append(directory)
    except BaseException:
        _remove_directories(made)
        raise
    return made


def _make_directory(directory: Path) -> bool:
    """Whether ``directory`` was made here (False: another process made it meanwhile)."""
    try:
        directory.mkdir()
    except OSError as error:
        if isinstance(error, FileExistsError) and directory.is_dir():
            return False
        raise ReplayError(f"cannot make {directory}: {error.strerror or error}") from error
    return True


def _remove_directories(made: list[Path]) -> None:
    """Removes the directories ``made`` (outermost first), innermost first, if still empty."""
    for directory in reversed(made):
        with suppress(OSError):
            directory.rmdir()


@contextmanager
def _scratch(target: Path) -> Iterator[Path]:
    remove_abandoned_scratch(target)
    try:
        scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=target))
    except OSError as error:
        raise ReplayError(f"cannot build in {target}: {error.strerror or error}") from error
    try:
        with _owned(scratch):
            yield scratch
            _move_files(scratch, target)
            _remove_emptied(scratch)
    except BaseException:
        _emptied(scratch)
        raise


@contextmanager
def _owned(scratch: Path) -> Iterator[None]:
    """Holds the scratch directory's lock for the block. The lock file takes its name only
    once locked, so a sweep never finds it free while its replay runs; where the filesystem
    has no locks, it never takes the name and the directory is never swept."""
    unnamed = scratch / UNNAMED_LOCK
    try:
        descriptor = os.open(unnamed, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise ReplayError(f"cannot build in {scratch}: {error.strerror or error}") from error
    try:
        if _locked(descriptor, fcntl.LOCK_SH):
            with suppress(OSError):
                os.rename(unnamed, scratch / OWNER_LOCK)
        yield
    finally:
        os.close(descriptor)


@contextmanager
def holding(scratch: Path) -> Iterator[None]:
    """Shares the lock of a scratch directory for the block: for a process that builds in it
    on behalf of the replay that made it, so that it is not swept while that process runs."""
    try:
        descriptor = os.open(scratch / OWNER_LOCK, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        yield  # the replay that made it could not lock it either
        return
    try:
        _locked(descriptor, fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


def _locked(descriptor: int, operation: int) -> bool:
    try:
        fcntl.flock(descriptor, operation)
    except OSError:
        return False  # held elsewhere (non-blocking), or a filesystem without locks
    return True


def remove_abandoned_scratch(target: Path) -> list[Path]:
    """Removes the scratch directories in ``target`` whose replay is gone (their lock is
    free), and returns them. One without a lock file is being made, or is not a replay's."""
    removed = []
    for scratch in sorted(target.glob(f"{SCRATCH_PREFIX}*")):
        if scratch.is_symlink() or not scratch.is_dir():
            continue
        try:
            descriptor = os.open(scratch / OWNER_LOCK, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if _locked(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB) and _emptied(scratch):
                removed.append(scratch)
        finally:
            os.close(descriptor)
    return removed


def _emptied(scratch: Path) -> bool:
    """Removes what the scratch directory holds, its lock file last (a removal cut short
    leaves it for a later sweep), then the directory; whether it is gone."""
    with suppress(OSError):
        for path in scratch.iterdir():
            if path.name in LOCK_FILES:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with suppress(OSError):
                    path.unlink()
    _remove_emptied(scratch)
    return not os.path.lexists(scratch)


def _remove_emptied(scratch: Path) -> None:
    """Removes a scratch directory that holds nothing but its lock file; one that holds more
    (a file that appeared meanwhile) keeps its lock file, for a later sweep."""
    with suppress(OSError):
        if any(p.name not in LOCK_FILES for p in scratch.iterdir()):
            return
        (scratch / UNNAMED_LOCK).unlink(missing_ok=True)
        (scratch / OWNER_LOCK).unlink(missing_ok=True)
        scratch.rmdir()


def _move_files(scratch: Path, target: Path) -> None:
    """Moves every file of ``scratch`` into ``target``, or, on any error, none."""
    moved: list[Path] = []
    try:
        for path in sorted(p for p in scratch.iterdir() if p.name not in LOCK_FILES):
            destination = target / path.name
            _move_without_replacing(path, destination)
            moved.append(destination)
        sync_to_disk(target)
    except BaseException:
        for destination in moved:
            with suppress(OSError):
                destination.unlink()
        raise


def _move_without_replacing(source: Path, destination: Path) -> None:
    """Moves ``source`` to ``destination`` on the same filesystem; ReplayError if a file is
    there (``rename`` would replace it, e.g. the database of another replay into the target).

    A hard link is made only if the name is free, atomically; the source is then unlinked.
    Without hard links, the name is claimed by creating an empty file exclusively, which
    ``replace`` then swaps for the database in one step.
    """
    try:
        if _linked(source, destination):
            _unlink_source(source, destination)
        else:
            _claim_and_replace(source, destination)
    except FileExistsError:
        raise ReplayError(f"{destination} exists: replay needs a fresh database") from None


def _linked(source: Path, destination: Path) -> bool:
    """Whether ``destination`` is now a hard link to ``source``; False where the filesystem
    has no hard links."""
    try:
        os.link(source, destination)
    except OSError as error:
        if error.errno in NO_HARD_LINKS:
            return False
        raise
    return True


def _unlink_source(source: Path, destination: Path) -> None:
    try:
        os.unlink(source)
    except BaseException:
        with suppress(OSError):
            os.unlink(destination)
        raise


def _claim_and_replace(source: Path, destination: Path) -> None:
    os.close(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    try:
        os.replace(source, destination)
    except BaseException:
        with suppress(OSError):
            os.unlink(destination)
        raise


def _require_absent(path: Path) -> None:
    if path.exists():
        raise ReplayError(f"{path} exists: replay needs a fresh database")
