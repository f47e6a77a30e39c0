"""The engine as the API and the gateway see it: start, read, stop and resume executions.

Standard executions go to Redis and are driven by every replica's workers;
Express ones stay in this process's memory and are driven by its own workers.
Nested executions (`states:startExecution`) start through the same path, and a
`.sync` parent is told when its child closes (and polls it, should that word be
lost in a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from kubefn import executions as counting
from kubefn import statemachine
from kubefn.asl import errors as asl_errors
from kubefn_gateway.stepfunctions.arns import Arns
from kubefn_gateway.stepfunctions.engine import definitions, history, layout, tasks
from kubefn_gateway.stepfunctions.engine.clock import Clock
from kubefn_gateway.stepfunctions.engine.interpreter import Interpreter, iso
from kubefn_gateway.stepfunctions.engine.memory_store import MemoryStore
from kubefn_gateway.stepfunctions.engine.redis_store import RedisStore
from kubefn_gateway.stepfunctions.engine.runs import TOP, Run
from kubefn_gateway.stepfunctions.engine.store import (
    ABORTED,
    RUNNING,
    SUCCEEDED,
    Execution,
    Link,
    StartOutcome,
    Store,
)
from kubefn_gateway.stepfunctions.engine.tasks import parse_token
from kubefn_gateway.stepfunctions.engine.workers import Workers
from kubefn_gateway.stepfunctions.machines import Machine


@dataclass(frozen=True)
class EngineSettings:
    time_scale: float = 1.0
    lease_seconds: float = 30.0
    poll_seconds: float = 0.05
    workers: int = 64
    sync_poll_seconds: float = 5.0
    history_max: int = 25_000


EXPRESS_SECONDS_MAX = 300
"""Step Functions ends an Express execution after five minutes (ExecutionTimedOut)."""


def _ignore(*_: str) -> None:
    return None


@dataclass(frozen=True)
class EngineMetrics:
    """Where the engine reports what it did (the gateway's Prometheus counters)."""

    started: Callable[[str, str], None] = _ignore
    """(machine key, type) for each execution started."""
    closed: Callable[[str, str], None] = _ignore
    """(machine key, status) for each execution ended."""
    transitions: Callable[[str, int], None] = lambda machine, count: None
    """(machine key, states entered) for each committed step."""


class StartRefused(Exception):
    """StartExecution refused: the name is taken (by another input or a closed execution)."""


class TokenRefused(Exception):
    """A task token that names no waiting task; `known` says whether it ever could have."""

    def __init__(self, message: str, *, known: bool) -> None:
        super().__init__(message)
        self.known = known


class Engine:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        functions: tasks.Functions,
        arns: Arns,
        find_machine: Callable[[str], Any],
        settings: EngineSettings,
        metrics: EngineMetrics | None = None,
    ) -> None:
        self._arns = arns
        self._redis = redis
        self._find_machine = find_machine
        self.settings = settings
        self._metrics = metrics or EngineMetrics()
        self.clock = Clock(scale=settings.time_scale)
        self.standard = RedisStore(redis, history_max=settings.history_max)
        self.express = MemoryStore()
        lease_ms = int(settings.lease_seconds * 1000)
        self.interpreter = Interpreter(
            functions=functions,
            nested=self,
            clock=self.clock,
            lease_ms=lease_ms,
            sync_poll_ms=int(settings.sync_poll_seconds * 1000),
            region=arns.region,
        )
        common = dict(
            interpreter=self.interpreter,
            clock=self.clock,
            lease_ms=lease_ms,
            concurrency=settings.workers,
            on_closed=self._closed,
            history_limit=settings.history_max,
            on_transitions=self._metrics.transitions,
        )
        self.standard_workers = Workers(
            store=self.standard,
            poll_ms=int(settings.poll_seconds * 1000),
            **common,  # type: ignore[arg-type]
        )
        self.express_workers = Workers(
            store=self.express,
            poll_ms=1000,
            ready=self.express.ready,
            **common,  # type: ignore[arg-type]
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks_ = [
            asyncio.create_task(self.standard_workers.run(), name="states-standard"),
            asyncio.create_task(self.express_workers.run(), name="states-express"),
        ]
        try:
            yield
        finally:
            for task in tasks_:
                task.cancel()
            for task in tasks_:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- starting ------------------------------------------------------------------------

    async def start(
        self,
        machine: Machine,
        *,
        name: str | None,
        input_text: str,
        trace_header: str = "",
        parent: Link | None = None,
        role_arn: str = "",
    ) -> tuple[Execution, bool]:
        """Start an execution; (execution, whether it is new). Raises StartRefused."""
        name = name or str(uuid.uuid4())
        now = self.clock.now_ms()
        express = machine.type == statemachine.EXPRESS
        if express:
            express_id = str(uuid.uuid4())
            execution_id = f"{layout.execution_id(machine.key, name)}:{express_id}"
            arn = self._arns.express_execution(machine.key, name, express_id)
        else:
            execution_id = layout.execution_id(machine.key, name)
            arn = self._arns.execution(machine.key, name)
        execution = Execution(
            id=execution_id,
            arn=arn,
            name=name,
            machine_key=machine.key,
            machine_arn=self._arns.machine(machine.key),
            type=machine.type,
            status=RUNNING,
            input=input_text,
            definition=json.dumps(machine.definition, separators=(",", ":")),
            start_ms=now,
            role_arn=role_arn,
            parent=parent,
            trace_header=trace_header,
        )
        definition = definitions.parse(execution.definition)
        run = Run(id=TOP, scope=(), state=definition.start_at(()), input=json.loads(input_text))
        first = history.event(
            "ExecutionStarted",
            at_ms=now,
            roleArn=role_arn,
            **history.with_data("input", input_text),
        )
        timeout = definition.timeout_seconds
        if express:
            timeout = min(timeout or EXPRESS_SECONDS_MAX, EXPRESS_SECONDS_MAX)
        timeout_ms = now + self.clock.duration_ms(timeout) if timeout else None
        store: Store = self.express if express else self.standard
        outcome = await store.start(
            execution, first_event=first, run=run, timeout_ms=timeout_ms, now_ms=now
        )
        if outcome == StartOutcome.EXISTS:
            raise StartRefused(f"Execution Already Exists: '{arn}'")
        if outcome == StartOutcome.SAME:
            existing = await store.execution(execution_id)
            return (existing or execution), False
        (self.express_workers if express else self.standard_workers).nudge()
        await counting.count_started(self._redis, machine.key)
        self._metrics.started(machine.key, machine.type)
        return execution, True

    async def wait(self, execution: Execution) -> Execution:
        """An Express execution once it has closed (StartSyncExecution)."""
        closed = await self.express.wait_closed(execution.id)
        return closed or execution

    # -- reading and stopping ------------------------------------------------------------

    def store_of(self, execution_id: str) -> Store:
        return self.express if self.express.knows(execution_id) else self.standard

    async def describe(self, execution_id: str) -> Execution | None:
        return await self.store_of(execution_id).execution(execution_id)

    async def history(self, execution_id: str, *, start: int, stop: int) -> list[dict[str, Any]]:
        texts = await self.standard.history(execution_id, start=start, stop=stop)
        return [json.loads(text) for text in texts]

    async def listing(
        self, machine_key: str, *, at_most_ms: int | None = None, offset: int = 0, count: int = 100
    ) -> list[tuple[str, int]]:
        """A page of a machine's Standard executions, newest first (see RedisStore.listing)."""
        return await self.standard.listing(
            machine_key, at_most_ms=at_most_ms, offset=offset, count=count
        )

    async def stop(self, execution: Execution, *, error: str, cause: str) -> int:
        """Abort a running execution; its stop time (ms), or the time it had closed."""
        now = self.clock.now_ms()
        event = history.event("ExecutionAborted", at_ms=now, error=error, cause=cause)
        stopped = await self.store_of(execution.id).stop(
            execution.id, event=event, now_ms=now, error=error, cause=cause
        )
        if stopped:
            execution.status, execution.stop_ms = ABORTED, now
            execution.error, execution.cause = error or None, cause or None
            await self._closed(execution, ABORTED)
            return now
        current = await self.describe(execution.id)
        return current.stop_ms if current and current.stop_ms else now

    # -- callbacks -----------------------------------------------------------------------

    async def send_task_result(self, token: str, *, result: str) -> None:
        """Resume the Task a token names with "+<output>" or "!<error json>"."""
        where = self._token(token)
        code = await self.store_of(where[0]).callback(
            where[0], where[1], token=where[2], result=result, now_ms=self.clock.now_ms()
        )
        if code != 1:
            raise TokenRefused("Task Timed Out: 'Provided task does not exist anymore'", known=True)
        self._nudge(where[0])

    async def heartbeat(self, token: str) -> None:
        where = self._token(token)
        code = await self.store_of(where[0]).heartbeat(
            where[0], where[1], token=where[2], now_ms=self.clock.now_ms()
        )
        if code != 1:
            raise TokenRefused("Task Timed Out: 'Provided task does not exist anymore'", known=True)

    def _token(self, token: str) -> tuple[str, str, str]:
        where = parse_token(token) if isinstance(token, str) else None
        if where is None:
            raise TokenRefused("Invalid Token: 'Invalid token'", known=False)
        return where

    def _nudge(self, execution_id: str) -> None:
        if self.express.knows(execution_id):
            self.express_workers.nudge()
        else:
            self.standard_workers.nudge()

    # -- nested executions (the interpreter's Nested) ------------------------------------

    async def start_nested(
        self, *, parent: Execution, run: Run, token: str, resource: tasks.Resource, request: Any
    ) -> tasks.TaskResult:
        if not isinstance(request, dict) or not isinstance(request.get("StateMachineArn"), str):
            return tasks.TaskResult.failure(
                asl_errors.RUNTIME, "states:startExecution needs Parameters.StateMachineArn"
            )
        try:
            key = self._arns.machine_key(request["StateMachineArn"])
            machine = await self._find_machine(key)
        except Exception as exc:  # an AwsJsonError: the ARN is malformed or names nothing
            return tasks.TaskResult.failure(
                "StepFunctions.StateMachineDoesNotExistException", str(exc)
            )
        if machine is None:
            return tasks.TaskResult.failure(
                "StepFunctions.StateMachineDoesNotExistException",
                f"State Machine Does Not Exist: '{request['StateMachineArn']}'",
            )
        given = request.get("Input", {})
        input_text = given if isinstance(given, str) else asl_errors.encoded(given)
        name = request.get("Name")
        if not isinstance(name, str):
            # The same attempt of the same Task always names its child alike: a repeat after
            # a crash finds the child it started instead of starting a second one.
            name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{parent.id}|{run.id}|{run.token}"))
        link = None
        if resource.pattern in (tasks.SYNC, tasks.SYNC2):
            link = Link(
                execution=parent.id, run=run.id, token=run.token or "", integration=resource.pattern
            )
        try:
            child, _ = await self.start(machine, name=name, input_text=input_text, parent=link)
        except StartRefused as exc:
            existing = await self.describe(layout.execution_id(machine.key, name))
            if existing is None or existing.parent != link or "Name" in request:
                return tasks.TaskResult.failure(
                    "StepFunctions.ExecutionAlreadyExistsException", str(exc)
                )
            # This attempt started it before a crash (its name is this attempt's own):
            # the same child, already running or done.
            child = existing
        return tasks.TaskResult(
            ok=True, value={"ExecutionArn": child.arn, "StartDate": iso(child.start_ms)}
        )

    async def nested_outcome(self, arn: str, *, integration: str) -> tasks.TaskResult | None:
        try:
            ref = self._arns.execution_ref(arn)
        except Exception:
            return tasks.TaskResult.failure(asl_errors.RUNTIME, f"Not an execution: '{arn}'")
        execution_id = layout.execution_id(ref.machine_key, ref.name)
        if ref.express_id:
            execution_id = f"{execution_id}:{ref.express_id}"
        child = await self.describe(execution_id)
        if child is None or child.status == RUNNING:
            return None
        return outcome_of(child, integration=integration)

    async def _closed(self, execution: Execution, status: str) -> None:
        await counting.count_closed(self._redis, execution.machine_key, status=status)
        self._metrics.closed(execution.machine_key, status)
        link = execution.parent
        if link is None or link.integration not in (tasks.SYNC, tasks.SYNC2):
            return
        current = await self.describe(execution.id) or execution
        outcome = outcome_of(current, integration=link.integration)
        result = (
            ("+" + asl_errors.encoded(outcome.value))
            if outcome.ok
            else ("!" + asl_errors.encoded({"Error": outcome.error, "Cause": outcome.cause}))
        )
        store = self.store_of(link.execution)
        code = await store.callback(
            link.execution, link.run, token=link.token, result=result, now_ms=self.clock.now_ms()
        )
        if code == 1:
            self._nudge(link.execution)


def describe_nested(execution: Execution, *, parse_output: bool) -> dict[str, Any]:
    """DescribeExecution's fields as a `.sync` Task returns them."""
    described: dict[str, Any] = {
        "ExecutionArn": execution.arn,
        "Input": execution.input if not parse_output else json.loads(execution.input),
        "InputDetails": {"Included": True},
        "Name": execution.name,
        "StartDate": execution.start_ms,
        "StateMachineArn": execution.machine_arn,
        "Status": execution.status,
        "StopDate": execution.stop_ms,
    }
    if execution.output is not None:
        described["Output"] = json.loads(execution.output) if parse_output else execution.output
        described["OutputDetails"] = {"Included": True}
    if execution.error:
        described["Error"] = execution.error
    if execution.cause:
        described["Cause"] = execution.cause
    return described


def outcome_of(child: Execution, *, integration: str) -> tasks.TaskResult:
    described = describe_nested(child, parse_output=integration == tasks.SYNC2)
    if child.status == SUCCEEDED:
        return tasks.TaskResult(ok=True, value=described)
    return tasks.TaskResult.failure(asl_errors.TASK_FAILED, asl_errors.encoded(described))
