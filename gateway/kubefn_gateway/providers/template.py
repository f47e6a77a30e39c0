"""A client of one runtime template process (the "zygote", docs/internals.md).

The template has imported the runtime once; each instance is a fork of it,
which costs about a millisecond instead of a fresh interpreter's ~80 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubefn_runtime
from kubefn_runtime.lifetime import preexec_die_with_parent

log = logging.getLogger(__name__)

_RUNTIME_PARENT = str(Path(kubefn_runtime.__file__).resolve().parent.parent)
_BOOTSTRAP = (
    f"import sys; sys.path.insert(0, {_RUNTIME_PARENT!r}); "
    "from kubefn_runtime.zygote import main; main()"
)


class TemplateError(Exception):
    """The template could not start or could not fork an instance."""


class Template:
    def __init__(self, interpreter: str, *, on_exit: Callable[[int, str], None]) -> None:
        self.interpreter = interpreter
        self._on_exit = on_exit
        self._process: asyncio.subprocess.Process | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        async with self._lock:
            if self._process is not None and self._process.returncode is None:
                return self._process
            try:
                self._process = await asyncio.create_subprocess_exec(
                    self.interpreter,
                    "-c",
                    _BOOTSTRAP,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    preexec_fn=preexec_die_with_parent,
                    limit=1 << 20,
                )
            except OSError as exc:
                raise TemplateError(f"cannot start {self.interpreter}: {exc}") from exc
            self._reader = asyncio.create_task(self._read_replies(self._process))
            await self._call({"op": "ping"}, process=self._process)
            return self._process

    async def start(self, *, timeout: float = 60.0) -> None:
        """Boot the template now rather than on the first spawn."""
        await asyncio.wait_for(self._ensure_started(), timeout)

    async def spawn(self, config: dict[str, Any], *, timeout: float) -> tuple[int, int]:
        """Fork one agent for `config`; returns (pid, port)."""
        process = await asyncio.wait_for(self._ensure_started(), timeout)
        reply = await asyncio.wait_for(
            self._call({"op": "spawn", "config": config}, process=process), timeout
        )
        if reply.get("op") != "spawned":
            raise TemplateError(reply.get("message") or f"template refused: {reply}")
        return int(reply["pid"]), int(reply["port"])

    async def _call(
        self, command: dict[str, Any], *, process: asyncio.subprocess.Process
    ) -> dict[str, Any]:
        token = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps({**command, "id": token}).encode() + b"\n")
            await process.stdin.drain()
            return await future
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise TemplateError(f"template {self.interpreter} is gone") from exc
        finally:
            self._pending.pop(token, None)

    async def _read_replies(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                break
            try:
                reply = json.loads(line)
            except ValueError:
                log.warning("template %s: unreadable reply %r", self.interpreter, line[:200])
                continue
            if reply.get("op") == "exited":
                self._on_exit(int(reply["pid"]), str(reply.get("status", "")))
                continue
            future = self._pending.get(str(reply.get("id")))
            if future is not None and not future.done():
                future.set_result(reply)
        await process.wait()
        stderr_hint = f"exit code {process.returncode}"
        for future in self._pending.values():
            if not future.done():
                future.set_exception(
                    TemplateError(f"template {self.interpreter} died ({stderr_hint})")
                )

    async def close(self) -> None:
        """EOF on stdin: the template stops its agents and exits."""
        process = self._process
        self._process = None
        if process is None:
            return
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await self._reader
