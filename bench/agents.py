"""Agents forked by the runtime's template process, driven from the benchmark process
exactly as the gateway's LocalProvider drives them (same Template client, same
instance config). Used for the direct baseline and for the cold-start parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.workspace import spec
from kubefn_gateway.providers.template import Template


def instance_config(name: str, folder: Path) -> dict[str, Any]:
    """The instance config LocalProvider builds for this example (docs/internals.md)."""
    s = spec(folder)
    return {
        "function": name,
        "namespace": "default",
        "version": "$LATEST",
        "revision": 1,
        "runtime": s["runtime"],
        "handler": s["handler"],
        "command": None,
        "codeDir": str(folder),
        "memoryMB": s["memoryMB"],
        "timeoutSeconds": s["timeoutSeconds"],
        "environment": s.get("environment") or {},
        "region": "us-east-1",
        "accountId": "000000000000",
        "instanceId": uuid.uuid4().hex[:12],
        "logPrefix": f"[{name}] ",
    }


@contextlib.contextmanager
def _stderr_to(log_fd: int) -> Iterator[None]:
    """Children started inside inherit `log_fd` as stderr (function logs stay off the terminal)."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log_fd, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Agents:
    """A Template plus the bookkeeping LocalProvider keeps: which agents exited."""

    def __init__(self, *, log_fd: int) -> None:
        self._log_fd = log_fd
        self._template = Template(sys.executable, on_exit=self._on_exit)
        self._exited: dict[int, asyncio.Event] = {}
        self.pids: list[int] = []

    def _event(self, pid: int) -> asyncio.Event:
        return self._exited.setdefault(pid, asyncio.Event())

    def _on_exit(self, pid: int, status: str) -> None:
        self._event(pid).set()

    async def boot(self, config: dict[str, Any]) -> float:
        """Start the template process with a first spawn (stopped again); its time in ms."""
        began = time.perf_counter_ns()
        with _stderr_to(self._log_fd):
            pid, _ = await self._template.spawn(config, timeout=60)
        elapsed = (time.perf_counter_ns() - began) / 1e6
        await self.stop(pid)
        return elapsed

    async def spawn(self, config: dict[str, Any]) -> tuple[int, int]:
        """Fork one agent: (pid, port). Its socket listens before this returns."""
        pid, port = await self._template.spawn(config, timeout=30)
        self.pids.append(pid)
        return pid, port

    async def stop(self, pid: int) -> None:
        """SIGTERM the agent's process group (as LocalProvider does); wait for its exit."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._event(pid).wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            await self._event(pid).wait()
        self._exited.pop(pid, None)
        with contextlib.suppress(ValueError):
            self.pids.remove(pid)

    async def close(self) -> None:
        """EOF to the template: it kills its agents and exits."""
        await self._template.close()
