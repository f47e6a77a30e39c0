"""The agent's frame channel, against the blocking end the function process uses:
frames cut wherever reads split them, and a hang-up ends every wait."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from kubefn_runtime import frames
from kubefn_runtime.invocation import Invocation


def invocation(event: bytes) -> Invocation:
    return Invocation("req-1", event, 0, "arn:aws:lambda:us-east-1:0:function:f", "Root=1")


async def test_frames_split_and_joined_by_reads_arrive_whole() -> None:
    ours, theirs = socket.socketpair()
    channel = await frames.FrameChannel.open(ours)
    ready = b"".join(frames.encode({"op": "ready"}))
    for byte in ready:  # one byte per read
        theirs.send(bytes([byte]))
        await asyncio.sleep(0)
    assert await channel.initialized() is None
    replies = []
    for body in (b"first", b"x" * (3 * 1024 * 1024), b"third"):
        reply = channel.invoke(invocation(body))
        # The blocking end in a thread: the loop must run to send a large event.
        header, event = await asyncio.to_thread(frames.receive, theirs) or ({}, b"")
        assert (header["requestId"], event) == ("req-1", body)
        await asyncio.to_thread(theirs.sendall, b"".join(frames.encode({"op": "result"}, event)))
        replies.append((await reply).body)
    assert replies == [b"first", b"x" * (3 * 1024 * 1024), b"third"]
    error = json.dumps({"errorType": "E"}).encode()
    reply = channel.invoke(invocation(b"{}"))
    frames.receive(theirs)
    theirs.sendall(b"".join(frames.encode({"op": "error"}, error)))
    assert (await reply).error
    channel.close()
    theirs.close()


async def test_init_error_then_hang_up() -> None:
    ours, theirs = socket.socketpair()
    channel = await frames.FrameChannel.open(ours)
    error = {"errorType": "Runtime.ImportModuleError", "errorMessage": "no"}
    theirs.sendall(b"".join(frames.encode({"op": "init_error"}, json.dumps(error).encode())))
    assert await channel.initialized() == error
    reply = channel.invoke(invocation(b"{}"))
    theirs.close()
    with pytest.raises(ConnectionError):
        await reply
    with pytest.raises(ConnectionError):
        await channel.invoke(invocation(b"{}"))
    channel.close()
