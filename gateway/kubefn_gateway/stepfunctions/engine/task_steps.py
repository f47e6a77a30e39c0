"""A Task state's steps: schedule it, invoke it, wait for its callback or nested
execution, and record how it ended. Each takes the run's `Walk` (interpreter.py).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubefn.asl import errors, payload, waits
from kubefn.asl.errors import StatesError
from kubefn_gateway.stepfunctions.engine import history, tasks
from kubefn_gateway.stepfunctions.engine.runs import NOW, Phase
from kubefn_gateway.stepfunctions.engine.store import Execution
from kubefn_gateway.stepfunctions.engine.tasks import task_token

if TYPE_CHECKING:
    from kubefn_gateway.stepfunctions.engine.interpreter import Walk

_TIMED_OUT = "The task did not finish within its TimeoutSeconds"

TASK_TIMEOUT_DEFAULT_SECONDS = 99_999_999
"""Step Functions' timeout of a Task that names none."""

_MAX_PERIOD_MS = 3_600_000
"""The longest a waiting Task sleeps between looks at its deadline."""


def schedule(walk: Walk, state: Mapping[str, Any]) -> str:
    run = walk.run_
    resource = tasks.parse_resource(state["Resource"])
    token = None
    if resource.pattern or resource.kind == tasks.NESTED:
        run.token = secrets.token_hex(12)
        token = task_token(walk.x.id, run.id, run.token)
    context = walk.context(token=token)
    run.effective = payload.effective_input(state, run.input, context=context)
    timeout, heartbeat = waits.task_timeouts(state, run.input, context=context)
    seconds = timeout if timeout is not None else TASK_TIMEOUT_DEFAULT_SECONDS
    run.deadline_ms = walk.now + walk.e._clock.duration_ms(seconds)
    run.heartbeat_ms = walk.e._clock.duration_ms(heartbeat) if heartbeat else None
    run.wake_ms = walk.now
    details: dict[str, Any] = {}
    if timeout is not None:
        details["timeoutInSeconds"] = int(timeout)
    if resource.kind == tasks.FUNCTION:
        details["resource"] = _function_arn(resource.function, walk.x, walk.e._region)
        details.update(history.with_data("input", errors.encoded(run.effective)))
    else:
        details.update(region=walk.e._region, parameters=errors.encoded(run.effective))
        if heartbeat:
            details["heartbeatInSeconds"] = int(heartbeat)
    _record(walk, resource, "Scheduled", **details)
    _record(walk, resource, "Started")
    run.phase = Phase.INVOKE
    return NOW


async def invoke(walk: Walk, state: Mapping[str, Any]) -> str:
    run = walk.run_
    resource = tasks.parse_resource(state["Resource"])
    if walk.loaded.callback is not None:
        return callback_arrived(walk, state, resource)
    token = task_token(walk.x.id, run.id, run.token) if run.token else ""
    remaining = max(0, (run.deadline_ms or walk.now) - walk.now) / 1000
    if resource.kind == tasks.NESTED:
        result = await walk.e._nested.start_nested(
            parent=walk.x, run=run, token=token, resource=resource, request=run.effective
        )
        walk.now = walk.e._clock.now_ms()
        if result.ok and resource.pattern in (tasks.SYNC, tasks.SYNC2, tasks.WAIT_FOR_TOKEN):
            return submitted(
                walk, resource, result.value, sync=resource.pattern != tasks.WAIT_FOR_TOKEN
            )
    else:
        name, body, qualifier = tasks.invoke_request(resource, run.effective)
        try:
            result = await asyncio.wait_for(
                walk.e._functions.invoke(name, payload=body, qualifier=qualifier),
                timeout=remaining,
            )
        except TimeoutError:
            walk.now = walk.e._clock.now_ms()
            return task_failed(
                walk,
                state,
                resource,
                errors.TIMEOUT,
                _TIMED_OUT,
                timed_out=True,
            )
        walk.now = walk.e._clock.now_ms()
        if result.ok and resource.waits_for_token:
            return submitted(
                walk, resource, tasks.invoke_response(resource, result.value), sync=False
            )
        if result.ok:
            result = tasks.TaskResult(ok=True, value=tasks.invoke_response(resource, result.value))
    if not result.ok:
        return task_failed(walk, state, resource, result.error, result.cause)
    return task_succeeded(walk, state, resource, result.value)


def submitted(walk: Walk, resource: tasks.Resource, value: Any, *, sync: bool) -> str:
    run = walk.run_
    _record(walk, resource, "Submitted", **history.with_data("output", errors.encoded(value)))
    run.phase = Phase.SYNC if sync else Phase.TOKEN
    if sync and isinstance(value, dict) and isinstance(value.get("ExecutionArn"), str):
        run.nested = value["ExecutionArn"]
    # The heartbeat clock runs from when the Task started (run.wake_ms, set when scheduled).
    return walk.park(waiting_wake(walk, last_heartbeat=run.wake_ms or walk.now))


def waiting_wake(walk: Walk, *, last_heartbeat: int) -> int:
    run = walk.run_
    wake = run.deadline_ms or (walk.now + _MAX_PERIOD_MS)
    if run.heartbeat_ms:
        wake = min(wake, last_heartbeat + run.heartbeat_ms)
    if run.phase == Phase.SYNC:
        wake = min(wake, walk.now + walk.e._sync_poll_ms)
    return wake


async def waiting(walk: Walk, state: Mapping[str, Any]) -> str:
    run = walk.run_
    resource = tasks.parse_resource(state["Resource"])
    if walk.loaded.callback is not None:
        return callback_arrived(walk, state, resource)
    if run.phase == Phase.SYNC and run.nested:
        outcome = await walk.e._nested.nested_outcome(run.nested, integration=resource.pattern)
        if outcome is not None:
            return task_outcome(walk, state, resource, outcome)
    if run.deadline_ms is not None and walk.now >= run.deadline_ms:
        return task_failed(
            walk,
            state,
            resource,
            errors.TIMEOUT,
            _TIMED_OUT,
            timed_out=True,
        )
    last = walk.loaded.last_heartbeat_ms or run.wake_ms or run.entered_ms
    if run.heartbeat_ms and walk.now >= last + run.heartbeat_ms:
        return task_failed(
            walk,
            state,
            resource,
            errors.TIMEOUT,
            "The task sent no heartbeat within its HeartbeatSeconds",
            timed_out=True,
            matched_as=errors.HEARTBEAT_TIMEOUT,
        )
    return walk.park(waiting_wake(walk, last_heartbeat=last))


def callback_arrived(walk: Walk, state: Mapping[str, Any], resource: tasks.Resource) -> str:
    text = walk.loaded.callback or ""
    walk.loaded.callback = None
    value = json.loads(text[1:])
    if text.startswith("+"):
        return task_succeeded(walk, state, resource, value)
    return task_failed(walk, state, resource, value.get("Error", ""), value.get("Cause", ""))


def task_outcome(
    walk: Walk, state: Mapping[str, Any], resource: tasks.Resource, outcome: tasks.TaskResult
) -> str:
    if outcome.ok:
        return task_succeeded(walk, state, resource, outcome.value)
    return task_failed(walk, state, resource, outcome.error, outcome.cause)


def task_succeeded(
    walk: Walk, state: Mapping[str, Any], resource: tasks.Resource, value: Any
) -> str:
    run = walk.run_
    text = errors.encoded(value)
    _record(walk, resource, "Succeeded", **history.with_data("output", text))
    run.token = None
    try:
        errors.check_text_size(text, what=f"result of the state '{run.state}'")
        output = payload.state_output(state, run.input, value, context=walk.context())
    except StatesError as failure:
        return walk.state_failed(state, failure.error, failure.cause)
    return walk.exit(state, output)


def task_failed(
    walk: Walk,
    state: Mapping[str, Any],
    resource: tasks.Resource,
    error: str,
    cause: str,
    *,
    timed_out: bool = False,
    matched_as: str | None = None,
) -> str:
    _record(walk, resource, "TimedOut" if timed_out else "Failed", error=error, cause=cause)
    walk.run_.token = None
    return walk.state_failed(state, error, cause, matched_as=matched_as)


def _record(walk: Walk, task: tasks.Resource, outcome: str, **details: Any) -> None:
    """A Task's event: `LambdaFunction<outcome>` for a function named as the Resource (as
    Step Functions records those), else `Task<outcome>` naming the integration."""
    if task.kind == tasks.FUNCTION:
        walk.event(history.event(f"LambdaFunction{outcome}", at_ms=walk.now, **details))
        return
    walk.event(
        history.event(
            f"Task{outcome}",
            at_ms=walk.now,
            resourceType=task.resource_type,
            resource=task.resource_name,
            **details,
        )
    )


def _function_arn(name: str, execution: Execution, region: str) -> str:
    if name.startswith("arn:"):
        return name
    account = execution.arn.split(":")[4] if execution.arn.count(":") >= 4 else "000000000000"
    return f"arn:aws:lambda:{region}:{account}:function:{name.rpartition('/')[2]}"
