"""A closed-loop HTTP/1.1 load generator on raw asyncio protocols.

Why not aiohttp's client: its per-request cost (~0.1-0.2 ms of Python) would be
paid on every sample and would cap throughput at 32 clients on a 2-core machine.
Each client here owns one kept-alive connection, sends a pre-encoded request in
one write, and parses only the status line and Content-Length. asyncio sets
TCP_NODELAY on its TCP transports, so no Nagle/delayed-ACK stall can hide here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


class HttpError(Exception):
    """A response that was not a 200, or a connection that broke."""


def request_bytes(host: str, port: int, path: str, body: bytes, method: str = "POST") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Reply] | None = None
        self._lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or HttpError("connection closed by the server")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._lost)

    def send(self, data: bytes) -> asyncio.Future[Reply]:
        if self._lost is not None or self.transport is None:
            raise HttpError(f"connection is gone: {self._lost!r}")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        if length < 0:
            raise HttpError("response without Content-Length")
        if len(self._buffer) < end + 4 + length:
            return
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Reply(int(lines[0].split(" ", 2)[1]), headers, body))


class Connection:
    """One kept-alive connection; one request at a time."""

    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Protocol, host, port)
        return cls(protocol)

    async def call(self, data: bytes, *, timeout: float = 30.0) -> Reply:
        return await asyncio.wait_for(self._protocol.send(data), timeout)

    def close(self) -> None:
        if self._protocol.transport is not None:
            self._protocol.transport.close()


@dataclass
class Target:
    """Where one client sends its requests."""

    host: str
    port: int
    path: str
    body: bytes = b'{"name": "bench"}'
    request: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.request = request_bytes(self.host, self.port, self.path, self.body)


@dataclass
class LoadResult:
    latencies_ms: list[float]
    elapsed_s: float
    errors: int
    first_error: str | None

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s > 0 else 0.0


def check(reply: Reply) -> None:
    """A 200 without a function error, or HttpError."""
    if reply.status != 200 or "x-amz-function-error" in reply.headers:
        raise HttpError(f"HTTP {reply.status} {reply.headers}: {reply.body[:200]!r}")


async def closed_loop(
    targets: Sequence[Target], *, seconds: float, max_requests: int = 200_000
) -> LoadResult:
    """One client per target, each sending back to back on its own connection for
    `seconds` (bounded by `max_requests` in total)."""
    connections = [await Connection.open(t.host, t.port) for t in targets]
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    stop_at = time.perf_counter() + seconds

    async def client(connection: Connection, target: Target) -> None:
        clock = time.perf_counter_ns
        request = target.request
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            began = clock()
            try:
                reply = await connection.call(request)
                check(reply)
            except (HttpError, OSError, TimeoutError) as exc:
                errors.append(repr(exc))
                return
            latencies.append((clock() - began) / 1e6)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(client(c, t) for c, t in zip(connections, targets, strict=True)))
    finally:
        elapsed = time.perf_counter() - began
        for connection in connections:
            connection.close()
    return LoadResult(latencies, elapsed, len(errors), errors[0] if errors else None)
