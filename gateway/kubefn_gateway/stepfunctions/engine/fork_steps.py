"""Parallel and Map steps: start the children, then gather their results (or fail
fast). Each takes the run's `Walk` (interpreter.py); the store starts the children
a Map's MaxConcurrency holds back as others finish.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubefn.asl import errors, map_items, payload
from kubefn.asl.errors import StatesError
from kubefn_gateway.stepfunctions.engine import history
from kubefn_gateway.stepfunctions.engine.runs import Phase, Run, child_id

if TYPE_CHECKING:
    from kubefn_gateway.stepfunctions.engine.interpreter import Walk


def start_fork(walk: Walk, state: Mapping[str, Any]) -> str:
    run, kind = walk.run_, state["Type"]
    context = walk.context()
    effective = payload.effective_input(state, run.input, context=context)
    run.effective = None
    if kind == "Parallel":
        inputs = [effective] * len(state["Branches"])
        limit, tolerated = len(inputs), 0
        walk.event(history.event("ParallelStateStarted", at_ms=walk.now))
    else:
        inputs = map_items.iteration_inputs(state, effective, context=context)
        limit = map_items.max_concurrency(state, effective, context=context) or len(inputs)
        tolerated = _tolerated(state, effective, context, total=len(inputs))
        walk.event(history.event("MapStateStarted", at_ms=walk.now, length=len(inputs)))
        if not inputs:
            return fork_done(walk, state, [])
    for index, child_input in enumerate(inputs):
        errors.check_size(child_input, what=f"input of iteration {index} of '{run.state}'")
        child = Run(
            id=child_id(run.id, index),
            scope=(*run.scope, (run.state, index if kind == "Parallel" else 0)),
            state=walk.d.start_at((*run.scope, (run.state, index if kind == "Parallel" else 0))),
            input=child_input,
            parent=run.id,
            index=index,
        )
        walk.plan.put(child)
        if index < limit:
            walk.plan.chain(child.id, run.id)
            walk.plan.due(child.id, walk.now)
    started = min(limit, len(inputs))
    walk.plan.fork(run.id, total=len(inputs), tolerated=tolerated, started=started)
    run.phase = Phase.FORK
    return walk.park(None)


async def forked(walk: Walk, state: Mapping[str, Any]) -> str:
    run, kind = walk.run_, state["Type"]
    fork = await walk.fork_state()
    if fork.total == 0:
        return walk.park(None)
    context = walk.context()
    effective = payload.effective_input(state, run.input, context=context)
    tolerated = 0 if kind == "Parallel" else _tolerated(state, effective, context, total=fork.total)
    if fork.failed > tolerated:
        walk.plan.unfork(run.id, total=fork.total)
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
                    walk.event(
                        history.event(
                            "MapIterationAborted", at_ms=walk.now, name=run.state, index=index
                        )
                    )
        walk.event(history.event(f"{kind}StateFailed", at_ms=walk.now))
        run.phase = Phase.ENTER
        return walk.state_failed(state, error, cause)
    if fork.done + fork.failed < fork.total:
        return walk.park(None)
    walk.plan.unfork(run.id, total=fork.total)
    results = [json.loads(r[1:]) for r in fork.results if r is not None]
    return fork_done(walk, state, results)


def fork_done(walk: Walk, state: Mapping[str, Any], results: list[Any]) -> str:
    run, kind = walk.run_, state["Type"]
    walk.event(history.event(f"{kind}StateSucceeded", at_ms=walk.now))
    run.phase = Phase.ENTER
    try:
        errors.check_size(results, what=f"result of the state '{run.state}'")
        output = payload.state_output(state, run.input, results, context=walk.context())
    except StatesError as failure:
        return walk.state_failed(state, failure.error, failure.cause)
    return walk.exit(state, output)


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
