"""The cheapest round trip between two processes on this machine: a 64-byte
ping-pong over a Unix socketpair and over loopback TCP (TCP_NODELAY), blocking
sockets, no Python framework. Every hop of an invocation (client -> gateway ->
agent -> function process and back) pays at least one of these.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from bench import stats

_MESSAGE = b"x" * 64


def _pair(kind: str) -> tuple[socket.socket, socket.socket]:
    if kind == "unix":
        return socket.socketpair()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        a = socket.create_connection(listener.getsockname())
        b, _ = listener.accept()
    for s in (a, b):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return a, b


def _ping_pong(kind: str, count: int) -> dict[str, Any]:
    a, b = _pair(kind)
    pid = os.fork()
    if pid == 0:  # the echo side: never returns into the caller
        code = 0
        try:
            a.close()
            while data := b.recv(4096):
                b.sendall(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    b.close()
    rtts: list[float] = []
    sends: list[float] = []
    cpu_before = time.process_time_ns()
    try:
        for _ in range(count):
            began = time.perf_counter_ns()
            a.sendall(_MESSAGE)
            sent = time.perf_counter_ns()
            a.recv(4096)
            rtts.append((time.perf_counter_ns() - began) / 1e6)
            sends.append((sent - began) / 1e6)
        cpu_ns = time.process_time_ns() - cpu_before
    finally:
        a.close()
        os.waitpid(pid, 0)
    return {
        "round_trip_ms": stats.summarize(rtts),
        "send_call_ms": stats.summarize(sends),
        "caller_cpu_ms_per_round_trip": round(cpu_ns / 1e6 / count, 4),
    }


def measure(count: int) -> dict[str, Any]:
    return {kind: _ping_pong(kind, count) for kind in ("unix", "tcp")}
