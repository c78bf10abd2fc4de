"""A lean HTTP/1.1 load generator: keep-alive connections, one request in flight on each.

On a 2-core machine the load generator shares the CPU with the server it measures. httpx spends
about 0.4 ms of CPU per request, a third of what a donation costs the server, so the figures
would measure the client. This client writes prepared bytes and reads the status line and
Content-Length of the answer (the servers here always send one), about 30 µs per request.
"""

from __future__ import annotations

import asyncio


class ProtocolError(Exception):
    pass


class _Answer(asyncio.Protocol):
    """Collects one response at a time; ``waiter`` gets its status code."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        status = self._complete_response()
        if status is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ProtocolError("the server closed the connection"))

    def _complete_response(self) -> int | None:
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = bytes(self.buffer[:head_end]).decode("latin-1").lower()
        length = 0
        for line in head.split("\r\n")[1:]:
            if line.startswith("content-length:"):
                length = int(line[15:])
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return None
        status = int(head[9:12])
        del self.buffer[:end]
        return status


class HttpConnection:
    """One keep-alive connection; ``send`` writes a prepared request and awaits its status."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.protocol = _Answer()

    async def open(self) -> HttpConnection:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: self.protocol, self.host, self.port)
        return self

    async def send(self, request: bytes) -> int:
        self.protocol.waiter = asyncio.get_running_loop().create_future()
        assert self.protocol.transport is not None
        self.protocol.transport.write(request)
        return await self.protocol.waiter

    def close(self) -> None:
        if self.protocol.transport is not None:
            self.protocol.transport.close()


def post_request(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """The bytes of a POST with a JSON body."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
