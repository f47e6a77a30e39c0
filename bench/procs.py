"""Child processes for the benchmarks: started until they say they are ready, their
descendants found through /proc, their CPU time read from schedstat (nanoseconds,
unlike the 10 ms ticks of /proc/PID/stat), and stopped by pid only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BIN = Path(sys.executable).parent
"""The venv's bin folder: `kubefn`, `kubefn-rie`."""

_PORT = re.compile(r"127\.0\.0\.1:(\d+)")


@dataclass
class Child:
    """A started child process and the port it announced in its ready line."""

    process: asyncio.subprocess.Process
    port: int
    ready_line: str
    _drain: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the platform's orderly stop), SIGKILL if it does not exit in time."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self._drain is not None:
            await self._drain


async def start(
    argv: Sequence[str],
    *,
    log: IO[bytes],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Child:
    """Start `argv` and wait for a stdout line containing "ready" and a loopback port.

    stdout keeps being copied to `log` afterwards, so the child never blocks on a
    full pipe; stderr goes straight to `log`.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        cwd=cwd,
        env=dict(env) if env is not None else None,
    )
    assert process.stdout is not None
    stdout = process.stdout

    async def ready() -> str:
        while True:
            line = await stdout.readline()
            if not line:
                raise RuntimeError(f"{argv[0]} exited before it was ready (see {log.name})")
            log.write(line)
            text = line.decode(errors="replace")
            if "ready" in text and _PORT.search(text):
                return text.strip()

    try:
        line = await asyncio.wait_for(ready(), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    match = _PORT.search(line)
    assert match is not None

    async def drain() -> None:
        while chunk := await stdout.read(65536):
            log.write(chunk)

    return Child(process, int(match.group(1)), line, asyncio.create_task(drain()))


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all its threads)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(p) for p in text.split())
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    stack = children(pid)
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(children(child))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def socket_inodes(pid: int) -> set[str]:
    """The sockets a process holds open; one that persists keeps its inode."""
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:"):
                    found.add(target)
    return found


def cpu_ns(pids: Sequence[int]) -> int:
    """CPU time consumed so far by these processes (every thread), in nanoseconds."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
    return total


def machine_busy_ns() -> int:
    """CPU time all cores spent running anything since boot (user, nice, system, irq,
    softirq from /proc/stat), in nanoseconds."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields)
    busy = user + nice + system + irq + softirq
    return busy * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


class MachineLoad:
    """How many cores the whole machine kept busy during a `with` block. A sequential
    cold-start loop uses at most about one: more means other work shared the machine."""

    def __init__(self) -> None:
        self.cores = 0.0
        self._busy = 0
        self._began = 0.0

    def __enter__(self) -> MachineLoad:
        self._busy = machine_busy_ns()
        self._began = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.monotonic() - self._began
        busy = machine_busy_ns() - self._busy
        self.cores = round(busy / 1e9 / elapsed, 2) if elapsed > 0 else 0.0


def wait_http(process: subprocess.Popen[bytes], url: str, *, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200, failing early if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except urllib.error.HTTPError:
            pass  # answering, not ready yet (the gateway: 503 until its config is loaded)
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready in {timeout:g} s")
        time.sleep(0.01)  # poll interval


def terminate(*processes: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM each process still running; SIGKILL what has not exited after `grace`."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
