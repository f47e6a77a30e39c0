"""Workers: claim due runs from a store and drive each to its next durable point.

A claimed run is leased, not locked: its due time is pushed a lease ahead and
renewed while the worker holds it, so a replica that dies lets it come due
again for another. Sequence numbers make a late commit of the same step fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kubefn import aio
from kubefn.asl import errors
from kubefn_gateway.stepfunctions.engine import definitions, history, layout
from kubefn_gateway.stepfunctions.engine.clock import Clock
from kubefn_gateway.stepfunctions.engine.interpreter import Interpreter
from kubefn_gateway.stepfunctions.engine.plan import Outcome, Plan
from kubefn_gateway.stepfunctions.engine.runs import TOP
from kubefn_gateway.stepfunctions.engine.store import (
    FAILED,
    RUNNING,
    TIMED_OUT,
    Execution,
    Loaded,
    Store,
)

log = logging.getLogger(__name__)

_STATE_ENTERED = 'StateEntered","'
"""What the type of a state-entered event ends with, as an event's text holds it."""

_EXECUTIONS_KEPT = 1024
"""Running executions whose records a replica keeps (oldest forgotten first)."""

HISTORY_FULL_CAUSE = "The execution reached the limit of {limit} events in its history."

Closed = Callable[[Execution, str], Awaitable[None]]


class Workers:
    def __init__(
        self,
        *,
        store: Store,
        interpreter: Interpreter,
        clock: Clock,
        lease_ms: int,
        poll_ms: int,
        concurrency: int,
        on_closed: Closed,
        ready: asyncio.Event | None = None,
        history_limit: int = 25_000,
        on_transitions: Callable[[str, int], None] = lambda machine, count: None,
    ) -> None:
        self._store = store
        self._interpreter = interpreter
        self._clock = clock
        self._lease_ms = lease_ms
        self._poll_ms = poll_ms
        self._concurrency = concurrency
        self._on_closed = on_closed
        self._ready = ready or asyncio.Event()
        self._history_limit = history_limit
        self._on_transitions = on_transitions
        self._active: set[asyncio.Task[None]] = set()
        self._executions: dict[str, Execution] = {}
        self.transitions = 0
        """Plans committed by this replica's workers (for metrics)."""

    def nudge(self) -> None:
        """Something became due now: claim at once instead of at the next poll."""
        self._ready.set()

    async def run(self) -> None:
        try:
            while not aio.cancel_requested():
                free = self._concurrency - len(self._active)
                claimed: list[str] = []
                if free > 0:
                    try:
                        claimed = await self._store.claim(
                            now_ms=self._clock.now_ms(), lease_ms=self._lease_ms, limit=free
                        )
                    except Exception as exc:  # Redis away: try again at the next poll
                        log.warning("cannot claim state machine work: %s", exc)
                for member in claimed:
                    task = asyncio.create_task(self._drive(member))
                    self._active.add(task)
                    task.add_done_callback(self._done)
                if claimed and len(claimed) == free:
                    await asyncio.sleep(0)
                    continue
                self._ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), timeout=self._poll_ms / 1000)
        finally:
            for task in list(self._active):
                task.cancel()
            for task in list(self._active):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._active.discard(task)
        self._ready.set()

    async def _drive(self, member: str) -> None:
        execution_id, run_id = layout.split_member(member)
        keeper = asyncio.create_task(self._keep_claim(member))
        try:
            execution = await self._execution(execution_id)
            if execution is None or execution.status != RUNNING:
                await self._store.release(member)
                return
            if run_id == layout.TIMEOUT_RUN:
                await self._time_out(execution, member)
                return
            loaded = await self._store.load(execution_id, run_id)
            if loaded is None:
                await self._store.release(member)
                if run_id == TOP:
                    self._executions.pop(execution_id, None)
                return
            await self._advance(execution, loaded)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The claim lapses and another attempt follows; the step was not committed.
            log.exception("state machine run %s failed to advance", member)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _execution(self, execution_id: str) -> Execution | None:
        """An execution's record, kept while it runs: what a step reads of it (definition,
        input, names) never changes, and a stop is seen by every commit's guard."""
        cached = self._executions.pop(execution_id, None)
        if cached is not None and cached.status == RUNNING:
            self._executions[execution_id] = cached
            return cached
        found = await self._store.execution(execution_id)
        if found is not None and found.status == RUNNING:
            if len(self._executions) >= _EXECUTIONS_KEPT:
                self._executions.pop(next(iter(self._executions)))
            self._executions[execution_id] = found
        return found

    async def _advance(self, execution: Execution, loaded: Loaded) -> None:
        definition = definitions.parse(execution.definition)
        store = self._store
        while True:
            run_id = loaded.run.id
            step = await self._interpreter.advance(
                execution,
                definition,
                loaded,
                fork=lambda run_id=run_id: store.fork_state(execution.id, run_id),  # type: ignore[misc]
            )
            outcome = await store.commit(execution.id, step.plan, now_ms=self._clock.now_ms())
            if outcome == Outcome.HISTORY_FULL:
                await self._history_full(execution)
                return
            if outcome == Outcome.CLOSED:
                # Stopped or failed elsewhere: forget it here; its runs are no longer due.
                self._executions.pop(execution.id, None)
                await store.release(layout.member(execution.id, run_id))
                return
            if outcome != Outcome.COMMITTED:
                return
            self.transitions += 1
            entered = sum(1 for _, text in step.plan.events if _STATE_ENTERED in text)
            if entered:
                self._on_transitions(execution.machine_key, entered)
            if _wakes_others(step.plan):
                self.nudge()
            if step.closed:
                execution.status = step.closed
                await self._on_closed(execution, step.closed)
                return
            if step.next_run is None:
                return
            loaded = Loaded(
                run=step.next_run, seq=loaded.seq + 1, callback=None, last_heartbeat_ms=None
            )

    async def _keep_claim(self, member: str) -> None:
        period = self._lease_ms / 3000
        while True:
            await asyncio.sleep(period)  # renewal period of the claim's lease
            now = self._clock.now_ms()
            with contextlib.suppress(Exception):
                await self._store.extend(member, now_ms=now, until_ms=now + self._lease_ms)

    async def _close(
        self, execution: Execution, *, status: str, kind: str, error: str, cause: str
    ) -> None:
        now = self._clock.now_ms()
        plan = Plan(run_id=TOP, seq=None)
        plan.event(TOP, history.event(kind, at_ms=now, error=error, cause=cause))
        plan.close(status, stop_ms=now, error=error, cause=cause)
        outcome = await self._store.commit(execution.id, plan, now_ms=now, limit_history=False)
        if outcome == Outcome.COMMITTED:
            execution.status = status
            await self._on_closed(execution, status)

    async def _time_out(self, execution: Execution, member: str) -> None:
        timeout = definitions.parse(execution.definition).timeout_seconds
        if timeout is None:
            await self._store.release(member)
            return
        due = execution.start_ms + self._clock.duration_ms(timeout)
        if self._clock.now_ms() < due:
            await self._store.extend(member, now_ms=0, until_ms=due)
            return
        await self._close(
            execution,
            status=TIMED_OUT,
            kind="ExecutionTimedOut",
            error=errors.TIMEOUT,
            cause=f"The execution ran longer than its TimeoutSeconds ({timeout})",
        )
        await self._store.release(member)

    async def _history_full(self, execution: Execution) -> None:
        """The store closed the execution itself (Redis), or leaves it to us (memory)."""
        self._executions.pop(execution.id, None)
        current = await self._store.execution(execution.id)
        if current is not None and current.status != RUNNING:
            await self._on_closed(current, current.status)
            return
        await self._close(
            execution,
            status=FAILED,
            kind="ExecutionFailed",
            error=errors.RUNTIME,
            cause=HISTORY_FULL_CAUSE.format(limit=self._history_limit),
        )


def _wakes_others(plan: Plan) -> bool:
    """Whether a committed plan made another run due (a child started, a parent woken)."""
    return any(op[0] == "finish" or (op[0] == "due" and op[1] != plan.run_id) for op in plan.ops)
