"""Random (version 4) UUIDs drawn from a pool of operating-system randomness.

``uuid.uuid4()`` makes one ``getrandom`` call per id, and each call releases the GIL: under
load the event loop then waits for a worker thread to hand it back (up to the 5 ms switch
interval). Reading 4 KiB at a time makes that one call per 256 ids; the bytes are the same
kernel CSPRNG output. The pool is per process (a forked child starts with an empty one) and
guarded by a lock, as ids are also made in worker threads.
"""

from __future__ import annotations

import os
import threading
import uuid

_POOL_BYTES = 4096
_ID_BYTES = 16


class _RandomPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._offset = 0

    def take(self) -> bytes:
        with self._lock:
            if self._offset + _ID_BYTES > len(self._bytes):
                self._bytes, self._offset = os.urandom(_POOL_BYTES), 0
            start = self._offset
            self._offset += _ID_BYTES
            return self._bytes[start : self._offset]

    def forget(self) -> None:
        self._lock = threading.Lock()
        self._bytes, self._offset = b"", 0


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.forget)


def new_uuid() -> uuid.UUID:
    return uuid.UUID(bytes=_pool.take(), version=4)


def new_id() -> str:
    """A new random id in the canonical text form (as ``str(uuid.uuid4())``)."""
    return uuid4_text(_pool.take())


def uuid4_text(random: bytes) -> str:
    """``str(uuid.UUID(bytes=random, version=4))``, formatted directly (without the UUID
    object, whose construction costs twice as much as the text)."""
    raw = bytearray(random)
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
