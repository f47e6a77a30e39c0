"""Length-prefixed frames between the agent and a forked Python function process.

The fast path for python runtimes: no HTTP inside the instance, one socketpair.
A frame is two 4-byte big-endian lengths, a small JSON header and the raw body,
so the event and the result cross unchanged and only the header is JSON-coded.

Agent -> function: {"op": "invoke", ...invocation fields} + event.
Function -> agent: {"op": "ready"} once init is done, or {"op": "init_error"} +
error object; then per invocation {"op": "result"} + result or {"op": "error"} +
error object.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

from kubefn_runtime.invocation import Invocation, Reply

_PREFIX = struct.Struct(">II")
_JOIN_BYTES_MAX = 256 * 1024
_READ_BYTES = 64 * 1024
"""The agent's read buffer; it grows (by copying) only for a frame that does not fit."""


def encode(header: dict[str, Any], body: bytes = b"") -> list[bytes]:
    data = json.dumps(header).encode()
    return [_PREFIX.pack(len(data), len(body)), data, body]


def send(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    """Blocking send, for the function process; small frames in one system call."""
    parts = encode(header, body)
    if len(body) < _JOIN_BYTES_MAX:
        sock.sendall(b"".join(parts))
    else:
        for part in parts:
            sock.sendall(part)


def receive(sock: socket.socket) -> tuple[dict[str, Any], bytes] | None:
    """Blocking receive, for the function process; None when the agent hung up."""
    prefix = _receive_exactly(sock, _PREFIX.size)
    if prefix is None:
        return None
    header_size, body_size = _PREFIX.unpack(prefix)
    data = _receive_exactly(sock, header_size + body_size)
    if data is None:
        return None
    return json.loads(data[:header_size]), data[header_size:]


def _receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            return None
        got += count
    return bytes(buffer)


class FrameChannel(asyncio.BufferedProtocol):
    """The agent's end of the socketpair to one forked Python function process.

    A buffered protocol: the kernel copies into one reused buffer and frames are cut
    where they land, with no stream reader or task in between. (A plain protocol gets a
    new 256 KiB bytes object from every read: an mmap, an mremap, a munmap and two page
    faults each time.) The first frame ends init; each later one answers an invocation.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray(_READ_BYTES)
        self._filled = 0
        self._frame_size = 0
        """The whole size of the frame being received, once its prefix is in."""
        self._init: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self._reply: asyncio.Future[Reply] | None = None
        self._lost: Exception | None = None

    @classmethod
    async def open(cls, sock: socket.socket) -> FrameChannel:
        loop = asyncio.get_running_loop()
        _, channel = await loop.create_unix_connection(lambda: cls(loop), sock=sock)
        return channel

    async def initialized(self) -> dict[str, Any] | None:
        return await self._init

    def invoke(self, invocation: Invocation) -> asyncio.Future[Reply]:
        header = {
            "op": "invoke",
            "requestId": invocation.request_id,
            "deadlineMs": invocation.deadline_ms,
            "functionArn": invocation.function_arn,
            "traceId": invocation.trace_id,
            "clientContext": invocation.client_context,
            "cognitoIdentity": invocation.cognito_identity,
        }
        self._reply = reply = self._loop.create_future()
        if self._lost is not None or self._transport is None:
            reply.set_exception(self._lost or ConnectionResetError("not connected"))
        else:
            # No drain: one frame at a time is in flight, so the transport buffers at
            # most one event (6 MiB) while the process reads it.
            self._transport.writelines(encode(header, invocation.event))
        return reply

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.BufferedProtocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionResetError("the function process hung up")
        for waiter in (self._init, self._reply):
            if waiter is not None and not waiter.done():
                waiter.set_exception(self._lost)

    def get_buffer(self, sizehint: int) -> memoryview:
        wanted = max(self._frame_size, self._filled + 1)
        if wanted > len(self._buffer):
            # A new buffer, not a resize: the transport may still hold a view of the old one.
            grown = bytearray(max(wanted, 2 * len(self._buffer)))
            grown[: self._filled] = memoryview(self._buffer)[: self._filled]
            self._buffer = grown
        return memoryview(self._buffer)[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        buffer, start, self._frame_size = self._buffer, 0, 0
        while self._filled - start >= _PREFIX.size:
            header_size, body_size = _PREFIX.unpack_from(buffer, start)
            body_start = start + _PREFIX.size + header_size
            end = body_start + body_size
            if end > self._filled:
                self._frame_size = end - start
                break
            header = json.loads(buffer[start + _PREFIX.size : body_start])
            self._deliver(header, bytes(memoryview(buffer)[body_start:end]))
            start = end
        if start:
            rest = self._filled - start
            buffer[:rest] = buffer[start : self._filled]  # the same length: no resize
            self._filled = rest
        if not self._filled and len(buffer) > _READ_BYTES:
            self._buffer = bytearray(_READ_BYTES)  # let a large frame's buffer go

    def _deliver(self, header: dict[str, Any], body: bytes) -> None:
        if not self._init.done():
            self._init.set_result(None if header["op"] == "ready" else json.loads(body))
        elif self._reply is not None and not self._reply.done():
            reply = Reply(body, error=header["op"] == "error", peak_kb=header.get("peakKb"))
            self._reply.set_result(reply)
        # Otherwise the agent gave up waiting (and is replacing the process).
