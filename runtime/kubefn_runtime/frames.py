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


async def read(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """Read one frame; raises asyncio.IncompleteReadError when the process hung up."""
    header_size, body_size = _PREFIX.unpack(await reader.readexactly(_PREFIX.size))
    header = json.loads(await reader.readexactly(header_size))
    return header, await reader.readexactly(body_size)


class FrameChannel:
    """The agent's end of the socketpair to one forked Python function process."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> FrameChannel:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        return cls(reader, writer)

    async def initialized(self) -> dict[str, Any] | None:
        header, body = await read(self._reader)
        if header["op"] == "ready":
            return None
        error: dict[str, Any] = json.loads(body)
        return error

    async def invoke(self, invocation: Invocation) -> Reply:
        header = {
            "op": "invoke",
            "requestId": invocation.request_id,
            "deadlineMs": invocation.deadline_ms,
            "functionArn": invocation.function_arn,
            "traceId": invocation.trace_id,
            "clientContext": invocation.client_context,
            "cognitoIdentity": invocation.cognito_identity,
        }
        self._writer.writelines(encode(header, invocation.event))
        await self._writer.drain()
        header, body = await read(self._reader)
        return Reply(body, error=header["op"] == "error")

    def close(self) -> None:
        self._writer.close()
