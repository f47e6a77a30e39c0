"""Function processes: started (forked for python, spawned for provided), watched
(exit through a pidfd, memory through /proc), and killed with their process group.

Every function process leads its own process group, so a kill at the deadline
also takes whatever it started, and dies with the agent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import NamedTuple

from kubefn_runtime import python_runtime
from kubefn_runtime.config import InstanceConfig
from kubefn_runtime.frames import FrameChannel
from kubefn_runtime.lifetime import preexec_die_with_parent
from kubefn_runtime.logs import LineSink, LogPipe
from kubefn_runtime.protocol import describe_exit

MEMORY_POLL_SECONDS = 0.005
"""VmRSS is read this often while the function process runs code."""


class FunctionProcess:
    """A running function process, its log pipe, and what it used."""

    def __init__(
        self,
        *,
        pid: int,
        poll: Callable[[], int | None],
        log_fd: int,
        on_lines: LineSink,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.pid = pid
        self.exited: asyncio.Future[str] = self._loop.create_future()
        """Resolves with the exit in Lambda's words ('exit status 1', 'signal: killed')."""
        self.out_of_memory = False
        self.logs = LogPipe(log_fd, on_lines)
        self._peak_kb = 0
        self._guard: asyncio.TimerHandle | None = None
        self._poll = poll
        self._status = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        """Kept open: re-reading costs one pread, and it can never name a recycled pid."""
        self._pidfd = os.pidfd_open(pid)
        self._loop.add_reader(self._pidfd, self._reap)

    @property
    def max_memory_mb(self) -> int:
        return math.ceil(self._peak_kb / 1024)

    def memory_kb(self) -> int | None:
        """Resident memory now (None once the process is gone); also tracks the peak."""
        try:
            data = os.pread(self._status, 8192, 0)
        except OSError:
            return None
        rss = _field_kb(data, b"VmRSS:")
        if rss is None:
            return None
        self._peak_kb = max(self._peak_kb, rss, _field_kb(data, b"VmHWM:") or 0)
        return rss

    def take_peak(self, reported_kb: int | None) -> None:
        """Update the peak memory once the process has answered: from the peak it
        reported, or else from /proc (VmHWM).

        The reported peak is the same high-water mark, counted without summing the
        kernel's per-CPU deltas (it may trail VmHWM by a few hundred KiB).
        """
        if reported_kb is None:
            self.memory_kb()
        else:
            self._peak_kb = max(self._peak_kb, reported_kb)

    def guard_memory(self, limit_kb: int) -> None:
        """Until unguard(): kill the process (as out of memory) once VmRSS passes the limit."""
        self._guard = self._loop.call_later(MEMORY_POLL_SECONDS, self._check_memory, limit_kb)

    def unguard(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def _check_memory(self, limit_kb: int) -> None:
        rss_kb = self.memory_kb()
        if rss_kb is None:
            self._guard = None
        elif rss_kb > limit_kb:
            self._guard = None
            self.kill(out_of_memory=True)
        else:
            self._guard = self._loop.call_later(MEMORY_POLL_SECONDS, self._check_memory, limit_kb)

    def kill(self, *, out_of_memory: bool = False) -> None:
        self.out_of_memory = self.out_of_memory or out_of_memory
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    async def stop(self) -> None:
        """Kill, wait for the exit, and take the last of its log."""
        self.kill()
        await asyncio.shield(self.exited)
        self.logs.drain()
        self.logs.close()

    def _reap(self) -> None:
        code = self._poll()
        if code is None:
            return
        self.unguard()
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        os.close(self._status)
        self._status = -1
        self.exited.set_result(describe_exit(code))


class Forked(NamedTuple):
    """A forked Python function process, not yet watched by an event loop."""

    pid: int
    sock: socket.socket
    """The agent's end of the frame socketpair."""
    log_fd: int
    """The read end of the process's stdout and stderr."""
    began: float
    """time.perf_counter() just before the fork."""


def fork_python(config: InstanceConfig) -> Forked:
    """Fork kubefn's Python runtime from this (already warm) interpreter.

    Needs no event loop, so an agent can start its function process before its own loop.
    """
    ours, theirs = socket.socketpair()
    log_read, log_write = os.pipe()
    parent = os.getpid()
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        python_runtime.run_child(config, sock=theirs, log_fd=log_write, parent=parent)
    try:
        os.setpgid(pid, pid)  # also done by the child; whichever runs first wins the race
    except OSError:
        pass
    theirs.close()
    os.close(log_write)
    return Forked(pid, ours, log_read, began)


async def watch_python(
    forked: Forked, *, on_lines: LineSink
) -> tuple[FunctionProcess, FrameChannel]:
    """Watch a forked function process from the running loop, and open its channel."""
    pid = forked.pid
    process = FunctionProcess(
        pid=pid, poll=lambda: _wait(pid), log_fd=forked.log_fd, on_lines=on_lines
    )
    return process, await FrameChannel.open(forked.sock)


def spawn_command(
    config: InstanceConfig, *, runtime_api: str, on_lines: LineSink
) -> FunctionProcess:
    """Start a provided runtime's command; raises OSError when it cannot be executed."""
    assert config.command is not None
    log_read, log_write = os.pipe()
    try:
        popen = subprocess.Popen(
            config.command,
            cwd=config.code_dir,
            env=config.process_environment(runtime_api=runtime_api),
            stdin=subprocess.DEVNULL,
            stdout=log_write,
            stderr=log_write,
            start_new_session=True,
            preexec_fn=preexec_die_with_parent,
        )
    except OSError:
        os.close(log_read)
        raise
    finally:
        os.close(log_write)
    return FunctionProcess(pid=popen.pid, poll=popen.poll, log_fd=log_read, on_lines=on_lines)


def _wait(pid: int) -> int | None:
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return -signal.SIGKILL
    return os.waitstatus_to_exitcode(status) if done else None


def _field_kb(data: bytes, name: bytes) -> int | None:
    start = data.find(name)
    if start < 0:
        return None
    end = data.find(b"\n", start)
    return int(data[start + len(name) : end].split()[0])
