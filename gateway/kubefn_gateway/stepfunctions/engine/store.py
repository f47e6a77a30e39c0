"""What the engine needs of a store, whichever holds the executions.

Standard executions live in Redis (`redis_store`), Express ones in this
process's memory (`memory_store`); workers, interpreter and API read both
through this one interface, and both apply a `Plan` with the same meaning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubefn.executions import STATUSES
from kubefn_gateway.stepfunctions.engine.plan import Plan
from kubefn_gateway.stepfunctions.engine.runs import Run

RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED = STATUSES


@dataclass(frozen=True)
class Link:
    """A nested execution's link back to the Task that started it (`.sync`, callbacks)."""

    execution: str
    run: str
    token: str
    integration: str
    """"sync", "sync:2" or "" (fire and forget)."""

    def encode(self) -> str:
        return json.dumps(
            {
                "execution": self.execution,
                "run": self.run,
                "token": self.token,
                "integration": self.integration,
            }
        )

    @classmethod
    def decode(cls, text: str) -> Link:
        return cls(**json.loads(text))


@dataclass
class Execution:
    """An execution's record: who it is, what it runs, where it stands."""

    id: str
    arn: str
    name: str
    machine_key: str
    machine_arn: str
    type: str
    status: str
    input: str
    """The input as JSON text, as given."""
    definition: str
    start_ms: int
    stop_ms: int | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    role_arn: str = ""
    parent: Link | None = None
    trace_header: str = ""
    events: int = 0
    _input: Any = field(default=None, repr=False, compare=False)

    def input_value(self) -> Any:
        """The input, parsed once (every state's `$$.Execution.Input` reads it)."""
        if self._input is None:
            self._input = json.loads(self.input)
        return self._input


@dataclass
class Loaded:
    run: Run
    seq: int
    callback: str | None
    """A callback's result waiting for the run: "+<output json>" or "!<error json>"."""
    last_heartbeat_ms: int | None


@dataclass
class ForkState:
    total: int
    done: int
    failed: int
    results: list[str | None]
    """Each child's "+output" or "!error" (None while it runs)."""
    started: int = 0
    """How many children have been started (the rest wait for MaxConcurrency)."""


class StartOutcome:
    STARTED = "started"
    SAME = "same"
    """A running execution of that name with the same input: StartExecution is idempotent."""
    EXISTS = "exists"


class Store(Protocol):
    async def start(
        self,
        execution: Execution,
        *,
        first_event: str,
        run: Run,
        timeout_ms: int | None,
        now_ms: int,
    ) -> str: ...

    async def execution(self, execution_id: str) -> Execution | None: ...

    async def load(self, execution_id: str, run_id: str) -> Loaded | None: ...

    async def fork_state(self, execution_id: str, parent_id: str) -> ForkState: ...

    async def commit(
        self, execution_id: str, plan: Plan, *, now_ms: int, limit_history: bool = True
    ) -> int: ...

    async def claim(self, *, now_ms: int, lease_ms: int, limit: int) -> list[str]: ...

    async def extend(self, member: str, *, now_ms: int, until_ms: int) -> None: ...

    async def release(self, member: str) -> None: ...

    async def callback(
        self, execution_id: str, run_id: str, *, token: str, result: str, now_ms: int
    ) -> int: ...

    async def heartbeat(
        self, execution_id: str, run_id: str, *, token: str, now_ms: int
    ) -> int: ...

    async def stop(
        self, execution_id: str, *, event: str, now_ms: int, error: str, cause: str
    ) -> bool: ...

    async def history(self, execution_id: str, *, start: int, stop: int) -> list[str]: ...
