"""Reconciling StateMachines: compile, publish to Redis, report status. A state
machine owns no Kubernetes objects: the gateways will run its executions from
the definition in Redis.

Like the Tables' handlers these are idempotent, and an invalid update leaves the
last good version serving. The machine is published under its object's name
(`<namespace>/<metadata.name>`), so no two objects can claim one machine.
"""

from __future__ import annotations

from typing import Any

import kopf
import redis.exceptions

from kubefn import config, statemachine
from kubefn.resources import GROUP, STATE_MACHINE, VERSION
from kubefn_operator import conditions
from kubefn_operator.handlers import report


@kopf.on.resume(GROUP, VERSION, STATE_MACHINE.plural)
@kopf.on.create(GROUP, VERSION, STATE_MACHINE.plural)
@kopf.on.update(GROUP, VERSION, STATE_MACHINE.plural)
async def reconcile(
    *,
    body: kopf.Body,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Publish the StateMachine and show its revision; or say why not, every problem."""
    try:
        compiled = statemachine.compile_statemachine(body)
    except statemachine.InvalidStateMachine as exc:
        reason = (
            conditions.INVALID_DEFINITION
            if any(statemachine.is_definition_problem(p) for p in exc.problems)
            else conditions.INVALID_SPEC
        )
        report(body, status, patch, ok=False, reason=reason, message=str(exc))
        return
    try:
        result = await config.publish_compiled(memo.redis, compiled)
    except redis.exceptions.RedisError as exc:
        message = f"cannot publish to Redis: {exc}"
        report(body, status, patch, ok=False, reason=conditions.PUBLISH_FAILED, message=message)
        raise kopf.TemporaryError(message, delay=memo.config.retry_seconds) from None
    message = f"revision {result.revision} of state machine {compiled.name} is published"
    report(body, status, patch, ok=True, reason=conditions.PUBLISHED, message=message)
    patch.status["revision"] = result.revision


@kopf.on.delete(GROUP, VERSION, STATE_MACHINE.plural)
async def withdraw(
    *, status: kopf.Status, namespace: str | None, name: str | None, memo: kopf.Memo, **_: Any
) -> None:
    """Stop serving the machine it published (a revision in its status says it did)."""
    if not status.get("revision"):
        return  # it never published: nothing of its own to withdraw
    await config.remove(memo.redis, kind=statemachine.KIND, key=f"{namespace}/{name}")
