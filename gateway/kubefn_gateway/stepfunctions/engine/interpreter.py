"""One run advanced to its next durable point: the States Language, step by step.

`advance` reads a run as stored, walks it through as many states as it can
without an outside effect (Pass, Choice, Succeed, Fail, entering states), and
returns a `Step`: the plan to commit and whether the run goes on at once. The
side effects (invoking a function, starting a nested execution) happen only at
the start of an `advance` whose run was committed as about to do them, so a
crash repeats at most the effect in flight (at-least-once), never a state that
completed. The pure rules (paths, choices, retries...) live in kubefn.asl.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kubefn.asl import choice_rules, errors, jsonpath, map_items, payload, retry, waits
from kubefn.asl.errors import StatesError
from kubefn_gateway.stepfunctions.engine import history, tasks
from kubefn_gateway.stepfunctions.engine.clock import Clock
from kubefn_gateway.stepfunctions.engine.definitions import Definition
from kubefn_gateway.stepfunctions.engine.plan import Plan
from kubefn_gateway.stepfunctions.engine.runs import Phase, Run, child_id
from kubefn_gateway.stepfunctions.engine.store import (
    ABORTED,
    FAILED,
    SUCCEEDED,
    Execution,
    ForkState,
    Loaded,
)

TASK_TIMEOUT_DEFAULT_SECONDS = 99_999_999
"""Step Functions' timeout of a Task that names none."""

BATCH_TRANSITIONS = 64
"""Pure transitions committed together at most; bounds what a crash makes redo."""

_MAX_PERIOD_MS = 3_600_000

CONTINUE, NOW, PARK, END = "continue", "now", "park", "end"

_RANDOM = secrets.SystemRandom()
_TIMED_OUT = "The task did not finish within its TimeoutSeconds"


@dataclass
class Step:
    plan: Plan
    next_run: Run | None
    """The run, when it goes on at once (the caller commits, then advances it again)."""
    closed: str | None = None
    """The execution's final status, when this step closed it."""


class Nested(Protocol):
    """Starts and reads nested executions (`states:startExecution`)."""

    async def start_nested(
        self, *, parent: Execution, run: Run, token: str, resource: tasks.Resource, request: Any
    ) -> tasks.TaskResult: ...

    async def nested_outcome(self, arn: str, *, integration: str) -> tasks.TaskResult | None: ...


def task_token(execution_id: str, run_id: str, nonce: str) -> str:
    raw = json.dumps([execution_id, run_id, nonce], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(token: str) -> tuple[str, str, str] | None:
    """(execution id, run id, nonce) of a task token, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        execution, run, nonce = json.loads(raw)
    except (ValueError, binascii.Error, TypeError):
        return None
    if not all(isinstance(part, str) for part in (execution, run, nonce)):
        return None
    return execution, run, nonce


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


class Interpreter:
    def __init__(
        self,
        *,
        functions: tasks.Functions,
        nested: Nested,
        clock: Clock,
        lease_ms: int,
        sync_poll_ms: int,
        region: str,
        random: Callable[[], float] = _RANDOM.random,
    ) -> None:
        self._functions = functions
        self._nested = nested
        self._clock = clock
        self._lease_ms = lease_ms
        self._sync_poll_ms = sync_poll_ms
        self._region = region
        self._random = random

    async def advance(
        self,
        execution: Execution,
        definition: Definition,
        loaded: Loaded,
        *,
        fork: Callable[[], Awaitable[ForkState]],
    ) -> Step:
        walk = _Walk(self, execution, definition, loaded, fork=fork)
        return await walk.run()


class _Walk:
    """One advance of one run: mutates a copy of the run and fills a plan."""

    def __init__(
        self,
        engine: Interpreter,
        execution: Execution,
        definition: Definition,
        loaded: Loaded,
        *,
        fork: Callable[[], Awaitable[ForkState]],
    ) -> None:
        self.e = engine
        self.x = execution
        self.d = definition
        self.run_ = Run.decode(loaded.run.encode())
        self.loaded = loaded
        self.plan = Plan(run_id=loaded.run.id, seq=loaded.seq)
        self.fork_state = fork
        self.closed: str | None = None
        self.wake: int | None = None
        self.now = engine._clock.now_ms()
        self._execution_input: Any = None

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> Step:
        transitions = 0
        while True:
            self.now = self.e._clock.now_ms()
            disposition = await self.step()
            if disposition == CONTINUE and transitions < BATCH_TRANSITIONS:
                transitions += 1
                self.loaded.callback = None
                continue
            break
        run = self.run_
        if disposition == END:
            return Step(plan=self.plan, next_run=None, closed=self.closed)
        self.plan.put(run)
        if disposition in (CONTINUE, NOW):
            self.plan.due(run.id, self.now + self.e._lease_ms)
            return Step(plan=self.plan, next_run=run)
        if self.wake is None:
            self.plan.undue(run.id)
        else:
            self.plan.due(run.id, self.wake)
        return Step(plan=self.plan, next_run=None)

    async def step(self) -> str:
        run = self.run_
        state = self.d.state(run.scope, run.state)
        kind = state["Type"]
        try:
            if run.phase == Phase.ENTER:
                return self.enter(state)
            if run.phase == Phase.SCHEDULE:
                return self.schedule(state)
            if run.phase == Phase.INVOKE:
                return await self.invoke(state)
            if run.phase in (Phase.TOKEN, Phase.SYNC):
                return await self.waiting(state)
            if run.phase == Phase.WAIT:
                return self.waited(state)
            if run.phase == Phase.RETRY:
                return self.retry_due(state)
            if run.phase == Phase.FORK:
                return await self.forked(state)
        except StatesError as failure:
            if kind in ("Task", "Parallel", "Map"):
                return self.state_failed(state, failure.error, failure.cause)
            return self.run_failed(failure.error, failure.cause)
        raise AssertionError(f"unknown phase {run.phase!r}")

    # -- context -------------------------------------------------------------------------

    def context(self, *, token: str | None = None) -> dict[str, Any]:
        if self._execution_input is None:
            self._execution_input = json.loads(self.x.input)
        run = self.run_
        context: dict[str, Any] = {
            "Execution": {
                "Id": self.x.arn,
                "Input": self._execution_input,
                "Name": self.x.name,
                "RoleArn": self.x.role_arn,
                "StartTime": iso(self.x.start_ms),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": iso(run.entered_ms or self.now),
                "Name": run.state,
                "RetryCount": run.retries,
            },
            "StateMachine": {
                "Id": self.x.machine_arn,
                "Name": self.x.machine_key.split("/", 1)[-1],
            },
        }
        if token is not None:
            context["Task"] = {"Token": token}
        return context

    def event(self, text: str) -> None:
        self.plan.event(self.run_.id, text)

    # -- entering states -----------------------------------------------------------------

    def enter(self, state: Mapping[str, Any]) -> str:
        run, kind = self.run_, state["Type"]
        if run.parent is not None and run.entered_ms == 0 and self._parent_type() == "Map":
            self.event(
                history.event(
                    "MapIterationStarted", at_ms=self.now, name=run.scope[-1][0], index=run.index
                )
            )
        run.entered_ms = self.now
        run.attempts, run.retries = {}, 0
        self.event(
            history.entered(
                kind, name=run.state, input_text=errors.encoded(run.input), at_ms=self.now
            )
        )
        errors.check_size(run.input, what=f"input of the state '{run.state}'")
        context = self.context()
        if kind == "Pass":
            effective = payload.effective_input(state, run.input, context=context)
            result = payload.pass_result(state, effective)
            return self.exit(state, payload.state_output(state, run.input, result, context=context))
        if kind == "Choice":
            selected = _selected(state, "InputPath", run.input, context)
            following = choice_rules.choose(state, selected, context=context)
            output = _selected(state, "OutputPath", selected, context)
            return self.exit(state, output, following=following)
        if kind == "Wait":
            selected = _selected(state, "InputPath", run.input, context)
            wait = waits.wait_for(state, selected, context=context)
            if wait.until is not None:
                wake = int(wait.until.timestamp() * 1000)
            else:
                wake = self.now + self.e._clock.duration_ms(wait.seconds or 0)
            run.phase, run.wake_ms = Phase.WAIT, wake
            return self.park(wake)
        if kind == "Succeed":
            selected = _selected(state, "InputPath", run.input, context)
            return self.exit(state, _selected(state, "OutputPath", selected, context))
        if kind == "Fail":
            error = _text_field(state, "Error", run.input, context)
            cause = _text_field(state, "Cause", run.input, context)
            return self.run_failed(error, cause)
        if kind == "Task":
            run.phase = Phase.SCHEDULE
            return CONTINUE
        if kind in ("Parallel", "Map"):
            return self.start_fork(state)
        raise StatesError(errors.RUNTIME, f"The state '{run.state}' has an unknown Type '{kind}'")

    def exit(self, state: Mapping[str, Any], output: Any, *, following: str | None = None) -> str:
        run, kind = self.run_, state["Type"]
        try:
            errors.check_size(output, what=f"output of the state '{run.state}'")
        except StatesError as failure:
            if kind in ("Task", "Parallel", "Map"):
                return self.state_failed(state, failure.error, failure.cause)
            return self.run_failed(failure.error, failure.cause)
        self.event(
            history.exited(kind, name=run.state, output_text=errors.encoded(output), at_ms=self.now)
        )
        following = following or state.get("Next")
        if kind == "Succeed" or state.get("End") or following is None:
            return self.run_succeeded(output)
        run.state, run.input, run.phase = following, output, Phase.ENTER
        run.effective, run.token, run.nested = None, None, None
        run.deadline_ms, run.heartbeat_ms, run.wake_ms = None, None, None
        return CONTINUE

    def park(self, wake: int | None) -> str:
        self.wake = wake
        return PARK

    # -- tasks ---------------------------------------------------------------------------

    def schedule(self, state: Mapping[str, Any]) -> str:
        run = self.run_
        resource = tasks.parse_resource(state["Resource"])
        token = None
        if resource.pattern or resource.kind == tasks.NESTED:
            run.token = secrets.token_hex(12)
            token = task_token(self.x.id, run.id, run.token)
        context = self.context(token=token)
        run.effective = payload.effective_input(state, run.input, context=context)
        timeout, heartbeat = waits.task_timeouts(state, run.input, context=context)
        seconds = timeout if timeout is not None else TASK_TIMEOUT_DEFAULT_SECONDS
        run.deadline_ms = self.now + self.e._clock.duration_ms(seconds)
        run.heartbeat_ms = self.e._clock.duration_ms(heartbeat) if heartbeat else None
        run.wake_ms = self.now
        details: dict[str, Any] = {}
        if timeout is not None:
            details["timeoutInSeconds"] = int(timeout)
        if resource.kind == tasks.FUNCTION:
            self.event(
                history.event(
                    "LambdaFunctionScheduled",
                    at_ms=self.now,
                    resource=_function_arn(resource.function, self.x, self.e._region),
                    **history.with_data("input", errors.encoded(run.effective)),
                    **details,
                )
            )
            self.event(history.event("LambdaFunctionStarted", at_ms=self.now))
        else:
            if heartbeat:
                details["heartbeatInSeconds"] = int(heartbeat)
            self.event(
                history.event(
                    "TaskScheduled",
                    at_ms=self.now,
                    resourceType=resource.resource_type,
                    resource=resource.resource_name,
                    region=self.e._region,
                    parameters=errors.encoded(run.effective),
                    **details,
                )
            )
            self.event(
                history.event(
                    "TaskStarted",
                    at_ms=self.now,
                    resourceType=resource.resource_type,
                    resource=resource.resource_name,
                )
            )
        run.phase = Phase.INVOKE
        return NOW

    async def invoke(self, state: Mapping[str, Any]) -> str:
        run = self.run_
        resource = tasks.parse_resource(state["Resource"])
        if self.loaded.callback is not None:
            return self.callback_arrived(state, resource)
        token = task_token(self.x.id, run.id, run.token) if run.token else ""
        remaining = max(0, (run.deadline_ms or self.now) - self.now) / 1000
        if resource.kind == tasks.NESTED:
            result = await self.e._nested.start_nested(
                parent=self.x, run=run, token=token, resource=resource, request=run.effective
            )
            self.now = self.e._clock.now_ms()
            if result.ok and resource.pattern in (tasks.SYNC, tasks.SYNC2, tasks.WAIT_FOR_TOKEN):
                return self.submitted(
                    resource, result.value, sync=resource.pattern != tasks.WAIT_FOR_TOKEN
                )
        else:
            name, body, qualifier = tasks.invoke_request(resource, run.effective)
            try:
                result = await asyncio.wait_for(
                    self.e._functions.invoke(name, payload=body, qualifier=qualifier),
                    timeout=remaining,
                )
            except TimeoutError:
                self.now = self.e._clock.now_ms()
                return self.task_failed(
                    state,
                    resource,
                    errors.TIMEOUT,
                    _TIMED_OUT,
                    timed_out=True,
                )
            self.now = self.e._clock.now_ms()
            if result.ok and resource.waits_for_token:
                return self.submitted(
                    resource, tasks.invoke_response(resource, result.value), sync=False
                )
            if result.ok:
                result = tasks.TaskResult(
                    ok=True, value=tasks.invoke_response(resource, result.value)
                )
        if not result.ok:
            return self.task_failed(state, resource, result.error, result.cause)
        return self.task_succeeded(state, resource, result.value)

    def submitted(self, resource: tasks.Resource, value: Any, *, sync: bool) -> str:
        run = self.run_
        self.event(
            history.event(
                "TaskSubmitted",
                at_ms=self.now,
                resourceType=resource.resource_type,
                resource=resource.resource_name,
                **history.with_data("output", errors.encoded(value)),
            )
        )
        run.phase = Phase.SYNC if sync else Phase.TOKEN
        run.wake_ms = self.now
        if sync and isinstance(value, dict) and isinstance(value.get("ExecutionArn"), str):
            run.nested = value["ExecutionArn"]
        return self.park(self._waiting_wake(last_heartbeat=self.now))

    def _waiting_wake(self, *, last_heartbeat: int) -> int:
        run = self.run_
        wake = run.deadline_ms or (self.now + _MAX_PERIOD_MS)
        if run.heartbeat_ms:
            wake = min(wake, last_heartbeat + run.heartbeat_ms)
        if run.phase == Phase.SYNC:
            wake = min(wake, self.now + self.e._sync_poll_ms)
        return wake

    async def waiting(self, state: Mapping[str, Any]) -> str:
        run = self.run_
        resource = tasks.parse_resource(state["Resource"])
        if self.loaded.callback is not None:
            return self.callback_arrived(state, resource)
        if run.phase == Phase.SYNC and run.nested:
            outcome = await self.e._nested.nested_outcome(run.nested, integration=resource.pattern)
            if outcome is not None:
                return self._task_outcome(state, resource, outcome)
        if run.deadline_ms is not None and self.now >= run.deadline_ms:
            return self.task_failed(
                state,
                resource,
                errors.TIMEOUT,
                _TIMED_OUT,
                timed_out=True,
            )
        last = self.loaded.last_heartbeat_ms or run.wake_ms or run.entered_ms
        if run.heartbeat_ms and self.now >= last + run.heartbeat_ms:
            return self.task_failed(
                state,
                resource,
                errors.TIMEOUT,
                "The task sent no heartbeat within its HeartbeatSeconds",
                timed_out=True,
                matched_as=errors.HEARTBEAT_TIMEOUT,
            )
        return self.park(self._waiting_wake(last_heartbeat=last))

    def callback_arrived(self, state: Mapping[str, Any], resource: tasks.Resource) -> str:
        text = self.loaded.callback or ""
        self.loaded.callback = None
        value = json.loads(text[1:])
        if text.startswith("+"):
            return self.task_succeeded(state, resource, value)
        return self.task_failed(state, resource, value.get("Error", ""), value.get("Cause", ""))

    def _task_outcome(
        self, state: Mapping[str, Any], resource: tasks.Resource, outcome: tasks.TaskResult
    ) -> str:
        if outcome.ok:
            return self.task_succeeded(state, resource, outcome.value)
        return self.task_failed(state, resource, outcome.error, outcome.cause)

    def task_succeeded(self, state: Mapping[str, Any], resource: tasks.Resource, value: Any) -> str:
        run = self.run_
        text = errors.encoded(value)
        if resource.kind == tasks.FUNCTION:
            self.event(
                history.event(
                    "LambdaFunctionSucceeded", at_ms=self.now, **history.with_data("output", text)
                )
            )
        else:
            self.event(
                history.event(
                    "TaskSucceeded",
                    at_ms=self.now,
                    resourceType=resource.resource_type,
                    resource=resource.resource_name,
                    **history.with_data("output", text),
                )
            )
        run.token = None
        try:
            errors.check_size(value, what=f"result of the state '{run.state}'")
            output = payload.state_output(state, run.input, value, context=self.context())
        except StatesError as failure:
            return self.state_failed(state, failure.error, failure.cause)
        return self.exit(state, output)

    def task_failed(
        self,
        state: Mapping[str, Any],
        resource: tasks.Resource,
        error: str,
        cause: str,
        *,
        timed_out: bool = False,
        matched_as: str | None = None,
    ) -> str:
        details = {"error": error, "cause": cause}
        if resource.kind == tasks.FUNCTION:
            kind = "LambdaFunctionTimedOut" if timed_out else "LambdaFunctionFailed"
            self.event(history.event(kind, at_ms=self.now, **details))
        else:
            kind = "TaskTimedOut" if timed_out else "TaskFailed"
            self.event(
                history.event(
                    kind,
                    at_ms=self.now,
                    resourceType=resource.resource_type,
                    resource=resource.resource_name,
                    **details,
                )
            )
        self.run_.token = None
        return self.state_failed(state, error, cause, matched_as=matched_as)

    # -- errors --------------------------------------------------------------------------

    def state_failed(
        self, state: Mapping[str, Any], error: str, cause: str, *, matched_as: str | None = None
    ) -> str:
        """A Task, Parallel or Map failed: retry it, catch it, or fail the run.

        A missed heartbeat is reported as States.Timeout but matched as
        States.HeartbeatTimeout (which States.Timeout also matches), as Step Functions does.
        """
        run = self.run_
        attempts = {int(k): v for k, v in run.attempts.items()}
        plan = retry.plan_retry(
            state.get("Retry", ()),
            error=matched_as or error,
            attempts=attempts,
            random=self.e._random,
        )
        if plan is not None:
            run.attempts[str(plan.retrier)] = plan.attempt
            run.retries += 1
            run.phase = Phase.RETRY
            run.token = None
            run.wake_ms = self.now + self.e._clock.duration_ms(plan.delay_seconds)
            return self.park(run.wake_ms)
        catcher = retry.find_catcher(state.get("Catch", ()), error=matched_as or error)
        if catcher is None:
            return self.run_failed(error, cause)
        result_path = catcher.get("ResultPath", "$")
        failure = retry.error_output(error, cause)
        try:
            output = (
                jsonpath.copied(run.input)
                if result_path is None
                else jsonpath.write(run.input, result_path, failure)
            )
        except StatesError as broken:
            return self.run_failed(broken.error, broken.cause)
        self.event(
            history.exited(
                state["Type"], name=run.state, output_text=errors.encoded(output), at_ms=self.now
            )
        )
        run.state, run.input, run.phase = catcher["Next"], output, Phase.ENTER
        run.token, run.effective = None, None
        return CONTINUE

    def retry_due(self, state: Mapping[str, Any]) -> str:
        run = self.run_
        if run.wake_ms is not None and self.now < run.wake_ms:
            return self.park(run.wake_ms)
        if state["Type"] == "Task":
            run.phase = Phase.SCHEDULE
            return CONTINUE
        return self.start_fork(state)

    def waited(self, state: Mapping[str, Any]) -> str:
        run = self.run_
        if run.wake_ms is not None and self.now < run.wake_ms:
            return self.park(run.wake_ms)
        context = self.context()
        selected = _selected(state, "InputPath", run.input, context)
        return self.exit(state, _selected(state, "OutputPath", selected, context))

    # -- Parallel and Map ----------------------------------------------------------------

    def start_fork(self, state: Mapping[str, Any]) -> str:
        run, kind = self.run_, state["Type"]
        context = self.context()
        effective = payload.effective_input(state, run.input, context=context)
        run.effective = None
        if kind == "Parallel":
            inputs = [effective] * len(state["Branches"])
            limit, tolerated = len(inputs), 0
            self.event(history.event("ParallelStateStarted", at_ms=self.now))
        else:
            inputs = map_items.iteration_inputs(state, effective, context=context)
            limit = map_items.max_concurrency(state, effective, context=context) or len(inputs)
            tolerated = _tolerated(state, effective, context, total=len(inputs))
            self.event(history.event("MapStateStarted", at_ms=self.now, length=len(inputs)))
            if not inputs:
                return self.fork_done(state, [])
        for index, child_input in enumerate(inputs):
            errors.check_size(child_input, what=f"input of iteration {index} of '{run.state}'")
            child = Run(
                id=child_id(run.id, index),
                scope=(*run.scope, (run.state, index if kind == "Parallel" else 0)),
                state=self.d.start_at(
                    (*run.scope, (run.state, index if kind == "Parallel" else 0))
                ),
                input=child_input,
                parent=run.id,
                index=index,
            )
            self.plan.put(child)
            if index < limit:
                self.plan.chain(child.id, run.id)
                self.plan.due(child.id, self.now)
        started = min(limit, len(inputs))
        self.plan.fork(run.id, total=len(inputs), tolerated=tolerated, started=started)
        run.phase, run.fork_total = Phase.FORK, len(inputs)
        return self.park(None)

    async def forked(self, state: Mapping[str, Any]) -> str:
        run, kind = self.run_, state["Type"]
        fork = await self.fork_state()
        if fork.total == 0:
            return self.park(None)
        context = self.context()
        effective = payload.effective_input(state, run.input, context=context)
        tolerated = (
            0 if kind == "Parallel" else _tolerated(state, effective, context, total=fork.total)
        )
        if fork.failed > tolerated:
            self.plan.unfork(run.id, total=fork.total)
            first = next(r for r in fork.results if r is not None and r.startswith("!"))
            failure = json.loads(first[1:])
            error, cause = failure.get("Error", ""), failure.get("Cause", "")
            if kind == "Map" and _has_tolerance(state):
                error = errors.EXCEED_TOLERATED_FAILURE_THRESHOLD
                cause = (
                    f"The Map state '{run.state}' failed: {fork.failed} of {fork.total} "
                    "iterations failed"
                )
            if kind == "Map":
                for index in range(min(fork.started, fork.total)):
                    if fork.results[index] is None:
                        self.event(
                            history.event(
                                "MapIterationAborted", at_ms=self.now, name=run.state, index=index
                            )
                        )
            self.event(history.event(f"{kind}StateFailed", at_ms=self.now))
            run.phase = Phase.ENTER
            return self.state_failed(state, error, cause)
        if fork.done + fork.failed < fork.total:
            return self.park(None)
        self.plan.unfork(run.id, total=fork.total)
        results = [json.loads(r[1:]) for r in fork.results if r is not None]
        return self.fork_done(state, results)

    def fork_done(self, state: Mapping[str, Any], results: list[Any]) -> str:
        run, kind = self.run_, state["Type"]
        self.event(history.event(f"{kind}StateSucceeded", at_ms=self.now))
        run.phase, run.fork_total = Phase.ENTER, 0
        try:
            errors.check_size(results, what=f"result of the state '{run.state}'")
            output = payload.state_output(state, run.input, results, context=self.context())
        except StatesError as failure:
            return self.state_failed(state, failure.error, failure.cause)
        return self.exit(state, output)

    # -- ends of runs --------------------------------------------------------------------

    def _parent_type(self) -> str:
        scope = self.run_.scope
        return str(self.d.state(scope[:-1], scope[-1][0])["Type"])

    def run_succeeded(self, output: Any) -> str:
        run = self.run_
        text = errors.encoded(output)
        if run.parent is None:
            self.event(
                history.event(
                    "ExecutionSucceeded", at_ms=self.now, **history.with_data("output", text)
                )
            )
            self.plan.close(SUCCEEDED, stop_ms=self.now, output=text)
            self.closed = SUCCEEDED
        else:
            if self._parent_type() == "Map":
                self.event(
                    history.event(
                        "MapIterationSucceeded",
                        at_ms=self.now,
                        name=run.scope[-1][0],
                        index=run.index,
                    )
                )
            self.plan.finish(run.parent, index=run.index, ok=True, value=text)
        self.plan.drop(run.id)
        return END

    def run_failed(self, error: str, cause: str) -> str:
        run = self.run_
        if run.parent is None:
            self.event(history.event("ExecutionFailed", at_ms=self.now, error=error, cause=cause))
            self.plan.close(FAILED, stop_ms=self.now, error=error, cause=cause)
            self.closed = FAILED
        else:
            if self._parent_type() == "Map":
                self.event(
                    history.event(
                        "MapIterationFailed", at_ms=self.now, name=run.scope[-1][0], index=run.index
                    )
                )
            self.plan.finish(
                run.parent,
                index=run.index,
                ok=False,
                value=errors.encoded(retry.error_output(error, cause)),
            )
        self.plan.drop(run.id)
        return END


def _selected(state: Mapping[str, Any], field: str, data: Any, context: Mapping[str, Any]) -> Any:
    """InputPath or OutputPath applied alone (Choice, Wait and Succeed have no Parameters)."""
    if field not in state:
        return data
    path = state[field]
    if path is None:
        return {}
    try:
        return jsonpath.read(path, data, context=context)
    except jsonpath.PathNotFound:
        raise StatesError(
            errors.RUNTIME,
            f"Invalid path '{path}' : No results for path: {field} '{path}' in "
            f"{errors.encoded(data)[:200]}",
        ) from None


def _text_field(state: Mapping[str, Any], field: str, data: Any, context: Mapping[str, Any]) -> str:
    """A Fail state's Error or Cause, given as text or read by ErrorPath/CausePath."""
    if field in state:
        return str(state[field])
    path = state.get(f"{field}Path")
    if path is None:
        return ""
    if isinstance(path, str) and path.startswith("States."):
        from kubefn.asl import intrinsic_functions

        value = intrinsic_functions.evaluate_text(path, data, context=context)
    else:
        try:
            value = jsonpath.read(path, data, context=context)
        except jsonpath.PathNotFound:
            raise StatesError(
                errors.RUNTIME, f"The {field}Path '{path}' matched nothing in the input"
            ) from None
    if not isinstance(value, str):
        raise StatesError(
            errors.RUNTIME,
            f"The {field}Path '{path}' must give a string, got {errors.encoded(value)}",
        )
    return value


def _has_tolerance(state: Mapping[str, Any]) -> bool:
    return any(
        field in state
        for field in (
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        )
    )


def _tolerated(
    state: Mapping[str, Any], data: Any, context: Mapping[str, Any], *, total: int
) -> int:
    """The most failed iterations the Map tolerates (as a count the store can compare)."""
    if not _has_tolerance(state):
        return 0
    allowed = 0
    while allowed < total and not map_items.tolerance_exceeded(
        state, data, context=context, failed=allowed + 1, total=total
    ):
        allowed += 1
    return allowed


def _function_arn(name: str, execution: Execution, region: str) -> str:
    if name.startswith("arn:"):
        return name
    account = execution.arn.split(":")[4] if execution.arn.count(":") >= 4 else "000000000000"
    return f"arn:aws:lambda:{region}:{account}:function:{name.rpartition('/')[2]}"


__all__ = ["ABORTED", "Interpreter", "Step", "iso", "parse_token", "task_token"]
