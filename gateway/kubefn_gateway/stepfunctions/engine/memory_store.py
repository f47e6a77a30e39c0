"""Express executions in this process's memory, with the plans' meaning of redis_store.

Express workflows trade durability for speed, as on AWS: nothing is written to
Redis, a gateway restart loses them, and their history is not kept (Step
Functions offers none for Express). Finished executions are kept a short while
so StartSyncExecution and DescribeExecution can read their outcome.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from kubefn_gateway.stepfunctions.engine import layout
from kubefn_gateway.stepfunctions.engine.plan import Outcome, Plan
from kubefn_gateway.stepfunctions.engine.runs import Run
from kubefn_gateway.stepfunctions.engine.store import (
    ABORTED,
    RUNNING,
    Execution,
    ForkState,
    Loaded,
    StartOutcome,
)

KEEP_CLOSED_SECONDS = 300.0


@dataclass
class _Held:
    execution: Execution
    runs: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    """The run fields Redis keeps beside the records: seq:, last:, tok:, cb:, fork counters..."""
    events: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    closed_at: float = 0.0


class MemoryStore:
    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self._due: dict[str, int] = {}
        self.ready = asyncio.Event()
        """Set whenever a run becomes due, so workers need not poll."""

    def _set_due(self, member: str, at_ms: int) -> None:
        self._due[member] = at_ms
        self.ready.set()

    def next_due_ms(self) -> int | None:
        return min(self._due.values(), default=None)

    async def start(
        self,
        execution: Execution,
        *,
        first_event: str,
        run: Run,
        timeout_ms: int | None,
        now_ms: int,
    ) -> str:
        self._forget_old()
        held = self._held.get(execution.id)
        if held is not None:
            same = held.execution.status == RUNNING and held.execution.input == execution.input
            return StartOutcome.SAME if same else StartOutcome.EXISTS
        execution.status, execution.events = RUNNING, 1
        held = _Held(execution=execution, events=1)
        held.runs[run.id] = run.encode()
        held.fields.update({f"seq:{run.id}": "1", f"last:{run.id}": "0"})
        self._held[execution.id] = held
        self._set_due(layout.member(execution.id, run.id), now_ms)
        if timeout_ms is not None:
            self._set_due(layout.member(execution.id, layout.TIMEOUT_RUN), timeout_ms)
        return StartOutcome.STARTED

    def knows(self, execution_id: str) -> bool:
        return execution_id in self._held

    async def execution(self, execution_id: str) -> Execution | None:
        held = self._held.get(execution_id)
        return held.execution if held else None

    async def wait_closed(self, execution_id: str) -> Execution | None:
        held = self._held.get(execution_id)
        if held is None:
            return None
        await held.done.wait()
        return held.execution

    async def load(self, execution_id: str, run_id: str) -> Loaded | None:
        held = self._held.get(execution_id)
        if held is None or run_id not in held.runs:
            return None
        parent = run_id.rpartition("/")[0]
        if parent and f"ph:{parent}" not in held.fields:
            return None
        heartbeat = held.fields.get(f"hb:{run_id}")
        return Loaded(
            run=Run.decode(held.runs[run_id]),
            seq=int(held.fields[f"seq:{run_id}"]),
            callback=held.fields.get(f"cb:{run_id}"),
            last_heartbeat_ms=int(heartbeat) if heartbeat else None,
        )

    async def fork_state(self, execution_id: str, parent_id: str) -> ForkState:
        held = self._held[execution_id]
        total = int(held.fields.get(f"total:{parent_id}", "0"))
        return ForkState(
            total=total,
            done=int(held.fields.get(f"done:{parent_id}", "0")),
            failed=int(held.fields.get(f"failed:{parent_id}", "0")),
            results=[held.fields.get(f"out:{parent_id}:{i}") for i in range(total)],
            started=int(held.fields.get(f"next:{parent_id}", "0")),
        )

    async def commit(
        self, execution_id: str, plan: Plan, *, now_ms: int, limit_history: bool = True
    ) -> int:
        held = self._held.get(execution_id)
        if held is None or held.execution.status != RUNNING:
            return Outcome.CLOSED
        f = held.fields
        if plan.seq is not None and (
            f.get(f"seq:{plan.run_id}") != str(plan.seq) or plan.run_id not in held.runs
        ):
            return Outcome.STALE
        for chain, _text in plan.events:
            held.events += 1
            f[f"last:{chain}"] = str(held.events)
        held.execution.events = held.events
        for op in plan.ops:
            self._apply(held, op, now_ms=now_ms)
        return Outcome.COMMITTED

    def _member(self, held: _Held, run_id: str) -> str:
        return layout.member(held.execution.id, run_id)

    def _wake(self, held: _Held, run_id: str, now_ms: int) -> None:
        key = f"seq:{run_id}"
        held.fields[key] = str(int(held.fields.get(key, "0")) + 1)
        self._set_due(self._member(held, run_id), now_ms)

    def _forget_run(self, held: _Held, run_id: str) -> None:
        held.runs.pop(run_id, None)
        # The sequence number stays: a run made again under this id goes on counting.
        for prefix in ("last", "tok", "cb", "hb", "hbi", "dl", "ph"):
            held.fields.pop(f"{prefix}:{run_id}", None)
        self._due.pop(self._member(held, run_id), None)

    def _apply(self, held: _Held, op: tuple[str, ...], *, now_ms: int) -> None:
        f, name = held.fields, op[0]
        if name == "put":
            _, run_id, record, token, interval, deadline, phase = op
            held.runs[run_id] = record
            f[f"ph:{run_id}"] = phase
            f[f"seq:{run_id}"] = str(int(f.get(f"seq:{run_id}", "0")) + 1)
            if f.get(f"tok:{run_id}", "") != token:
                f.pop(f"cb:{run_id}", None)
                f.pop(f"hb:{run_id}", None)
            for key, value in (("tok", token), ("hbi", interval), ("dl", deadline)):
                if token:
                    f[f"{key}:{run_id}"] = value
                else:
                    f.pop(f"{key}:{run_id}", None)
        elif name == "drop":
            self._forget_run(held, op[1])
        elif name == "due":
            at = now_ms if f"cb:{op[1]}" in f else int(op[2])
            self._set_due(self._member(held, op[1]), at)
        elif name == "undue":
            self._due.pop(self._member(held, op[1]), None)
        elif name == "chain":
            f[f"last:{op[1]}"] = f.get(f"last:{op[2]}", "0")
        elif name == "fork":
            _, parent, total, tolerated, started = op
            f.update(
                {
                    f"total:{parent}": total,
                    f"tol:{parent}": tolerated,
                    f"next:{parent}": started,
                    f"done:{parent}": "0",
                    f"failed:{parent}": "0",
                }
            )
        elif name == "finish":
            self._finish(held, op, now_ms=now_ms)
        elif name == "unfork":
            parent, count = op[1], int(op[2])
            for index in range(count):
                self._forget_run(held, f"{parent}/{index}")
                f.pop(f"out:{parent}:{index}", None)
            for key in ("total", "tol", "next", "done", "failed"):
                f.pop(f"{key}:{parent}", None)
        elif name == "close":
            _, status, stop, output, error, cause = op
            x = held.execution
            x.status, x.stop_ms = status, int(stop)
            x.output, x.error, x.cause = output or None, error or None, cause or None
            self._closed(held)
        else:
            raise ValueError(f"unknown op {name}")

    def _finish(self, held: _Held, op: tuple[str, ...], *, now_ms: int) -> None:
        f = held.fields
        _, parent, index, ok, value = op
        if f"total:{parent}" not in f:
            return
        f[f"out:{parent}:{index}"] = ("+" if ok == "1" else "!") + value
        counter = f"done:{parent}" if ok == "1" else f"failed:{parent}"
        f[counter] = str(int(f[counter]) + 1)
        total, done = int(f[f"total:{parent}"]), int(f[f"done:{parent}"])
        failed, tolerated = int(f[f"failed:{parent}"]), int(f[f"tol:{parent}"])
        if failed > tolerated or done + failed >= total:
            self._wake(held, parent, now_ms)
            return
        following = int(f[f"next:{parent}"])
        if following < total:
            f[f"next:{parent}"] = str(following + 1)
            child = f"{parent}/{following}"
            f[f"last:{child}"] = f.get(f"last:{parent}", "0")
            self._set_due(self._member(held, child), now_ms)

    def _closed(self, held: _Held) -> None:
        held.closed_at = time.monotonic()
        held.runs.clear()
        prefix = held.execution.id + layout.RUN_SEPARATOR
        for member in [m for m in self._due if m.startswith(prefix)]:
            del self._due[member]
        held.done.set()

    def _forget_old(self) -> None:
        horizon = time.monotonic() - KEEP_CLOSED_SECONDS
        for key in [k for k, h in self._held.items() if h.closed_at and h.closed_at < horizon]:
            del self._held[key]

    async def claim(self, *, now_ms: int, lease_ms: int, limit: int) -> list[str]:
        due = sorted((at, m) for m, at in self._due.items() if at <= now_ms)[:limit]
        for _, member in due:
            self._due[member] = now_ms + lease_ms
        if not any(at <= now_ms for at in self._due.values()):
            self.ready.clear()
        return [m for _, m in due]

    async def extend(self, member: str, *, now_ms: int, until_ms: int) -> None:
        if self._due.get(member, 0) > now_ms:
            self._due[member] = until_ms

    async def release(self, member: str) -> None:
        self._due.pop(member, None)

    async def callback(
        self, execution_id: str, run_id: str, *, token: str, result: str, now_ms: int
    ) -> int:
        held = self._held.get(execution_id)
        if held is None or held.execution.status != RUNNING:
            return -1
        f = held.fields
        if f.get(f"tok:{run_id}") != token:
            return 0
        if f"cb:{run_id}" in f:
            return 1 if f[f"cb:{run_id}"] == result else 0
        f[f"cb:{run_id}"] = result
        if f.get(f"ph:{run_id}") != "invoke":
            self._wake(held, run_id, now_ms)
        return 1

    async def heartbeat(self, execution_id: str, run_id: str, *, token: str, now_ms: int) -> int:
        held = self._held.get(execution_id)
        if held is None or held.execution.status != RUNNING:
            return -1
        f = held.fields
        if f.get(f"tok:{run_id}") != token or f"cb:{run_id}" in f:
            return 0
        f[f"hb:{run_id}"] = str(now_ms)
        if f.get(f"hbi:{run_id}"):
            at = now_ms + int(f[f"hbi:{run_id}"])
            if f.get(f"dl:{run_id}"):
                at = min(at, int(f[f"dl:{run_id}"]))
            member = self._member(held, run_id)
            if member in self._due and self._due[member] < at:
                self._due[member] = at
        return 1

    async def stop(
        self, execution_id: str, *, event: str, now_ms: int, error: str, cause: str
    ) -> bool:
        held = self._held.get(execution_id)
        if held is None or held.execution.status != RUNNING:
            return False
        x = held.execution
        x.status, x.stop_ms, x.error, x.cause = ABORTED, now_ms, error or None, cause or None
        self._closed(held)
        return True

    async def history(self, execution_id: str, *, start: int, stop: int) -> list[str]:
        return []

    def running(self) -> list[Execution]:
        return [h.execution for h in self._held.values()]
