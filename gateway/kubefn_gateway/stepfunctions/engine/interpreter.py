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

import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from kubefn.asl import choice_rules, errors, jsonpath, payload, retry, waits
from kubefn.asl.errors import StatesError
from kubefn_gateway.stepfunctions.engine import fork_steps, history, task_steps, tasks
from kubefn_gateway.stepfunctions.engine.clock import Clock
from kubefn_gateway.stepfunctions.engine.definitions import Definition
from kubefn_gateway.stepfunctions.engine.plan import Plan
from kubefn_gateway.stepfunctions.engine.runs import CONTINUE, END, NOW, PARK, Phase, Run
from kubefn_gateway.stepfunctions.engine.store import (
    FAILED,
    SUCCEEDED,
    Execution,
    ForkState,
    Loaded,
)

BATCH_TRANSITIONS = 64
"""Pure transitions committed together at most; bounds what a crash makes redo."""


_RANDOM = secrets.SystemRandom()


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
        walk = Walk(self, execution, definition, loaded, fork=fork)
        return await walk.run()


class Walk:
    """One advance of one run: mutates a copy of the run and fills a plan.

    Its Task steps are in `task_steps`, its Parallel and Map steps in `fork_steps`.
    """

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
        self.run_ = loaded.run  # read for this advance alone; a stale plan is dropped whole
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
                return task_steps.schedule(self, state)
            if run.phase == Phase.INVOKE:
                return await task_steps.invoke(self, state)
            if run.phase in (Phase.TOKEN, Phase.SYNC):
                return await task_steps.waiting(self, state)
            if run.phase == Phase.WAIT:
                return self.waited(state)
            if run.phase == Phase.RETRY:
                return self.retry_due(state)
            if run.phase == Phase.FORK:
                return await fork_steps.forked(self, state)
        except StatesError as failure:
            if kind in ("Task", "Parallel", "Map"):
                return self.state_failed(state, failure.error, failure.cause)
            return self.run_failed(failure.error, failure.cause)
        raise AssertionError(f"unknown phase {run.phase!r}")

    # -- context -------------------------------------------------------------------------

    def context(self, *, token: str | None = None) -> Mapping[str, Any]:
        """The context object (`$$`), built only if a path of the state reads it."""
        return _Context(lambda: self._context(token=token))

    def _context(self, *, token: str | None) -> dict[str, Any]:
        if self._execution_input is None:
            self._execution_input = self.x.input_value()
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
        input_text = errors.encoded(run.input)
        self.event(history.entered(kind, name=run.state, input_text=input_text, at_ms=self.now))
        errors.check_text_size(input_text, what=f"input of the state '{run.state}'")
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
            return fork_steps.start_fork(self, state)
        raise StatesError(errors.RUNTIME, f"The state '{run.state}' has an unknown Type '{kind}'")

    def exit(self, state: Mapping[str, Any], output: Any, *, following: str | None = None) -> str:
        run, kind = self.run_, state["Type"]
        output_text = errors.encoded(output)
        try:
            errors.check_text_size(output_text, what=f"output of the state '{run.state}'")
        except StatesError as failure:
            if kind in ("Task", "Parallel", "Map"):
                return self.state_failed(state, failure.error, failure.cause)
            return self.run_failed(failure.error, failure.cause)
        self.event(history.exited(kind, name=run.state, output_text=output_text, at_ms=self.now))
        following = following or state.get("Next")
        if kind == "Succeed" or state.get("End") or following is None:
            return self.run_succeeded(output_text)
        run.state, run.input, run.phase = following, output, Phase.ENTER
        run.effective, run.token, run.nested = None, None, None
        run.deadline_ms, run.heartbeat_ms, run.wake_ms = None, None, None
        return CONTINUE

    def park(self, wake: int | None) -> str:
        self.wake = wake
        return PARK

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
        return fork_steps.start_fork(self, state)

    def waited(self, state: Mapping[str, Any]) -> str:
        run = self.run_
        if run.wake_ms is not None and self.now < run.wake_ms:
            return self.park(run.wake_ms)
        context = self.context()
        selected = _selected(state, "InputPath", run.input, context)
        return self.exit(state, _selected(state, "OutputPath", selected, context))

    # -- ends of runs --------------------------------------------------------------------

    def _parent_type(self) -> str:
        scope = self.run_.scope
        return str(self.d.state(scope[:-1], scope[-1][0])["Type"])

    def run_succeeded(self, text: str) -> str:
        """The run ended with the output `text` (JSON)."""
        run = self.run_
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


class _Context(Mapping[str, Any]):
    """A context object made on first use: most states never read `$$`."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._value: dict[str, Any] | None = None

    def _made(self) -> dict[str, Any]:
        if self._value is None:
            self._value = self._build()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._made()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())


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


__all__ = ["Interpreter", "Step", "Walk", "iso"]
