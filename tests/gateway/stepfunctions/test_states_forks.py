"""Parallel and Map states end to end: branch and item outputs in order, failing fast, Catch
and Retry of the whole fork, MaxConcurrency measured by a real function, tolerated failures,
ItemSelector with the item's context, and ItemBatcher."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn.redisserver import EmbeddedRedis
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions

QUICKLY = 5.0
"""Real seconds a fork that fails fast may take (its slow branch would take 10 s)."""


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return sh.compressed(gateway_settings)


@pytest.fixture
def flows(sfn: StepFunctions) -> sh.Workflows:
    return sh.Workflows(sfn)


@pytest.fixture
async def echo(gateway: Gateway) -> str:
    await gateway.deploy("echo", files={"app.py": sh.ECHO})
    return "echo"


@pytest.fixture
async def counted(gateway: Gateway, redis_server: EmbeddedRedis) -> str:
    """A function that records in Redis how many of its invocations run at once."""
    await gateway.deploy(
        "counted",
        files={"app.py": sh.CONCURRENCY},
        environment={"OUTBOX_URL": redis_server.url},
    )
    return "counted"


def peak_iterations(finished: sh.Finished) -> int:
    """The most Map iterations the history shows running at once."""
    running = peak = 0
    for kind in finished.types:
        if kind == "MapIterationStarted":
            running += 1
            peak = max(peak, running)
        elif kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
            running -= 1
    return peak


def branch(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A branch (or item processor) of the given states, run in order."""
    named = dict(states)
    names = list(named)
    for here, after in zip(names, [*names[1:], None], strict=True):
        state = named[here]
        if state["Type"] not in ("Succeed", "Fail", "Choice") and "Next" not in state:
            state.update({"Next": after} if after else {"End": True})
    return {"StartAt": names[0], "States": named}


SLOW_BRANCH = branch(("Linger", {"Type": "Wait", "Seconds": 1000}), ("After", {"Type": "Pass"}))
"""A branch that waits 1000 s (10 s of real time) before it ends."""


# -- Parallel ---------------------------------------------------------------------------------


async def test_parallel_outputs_each_branch_in_order(flows: sh.Workflows, echo: str) -> None:
    state = {
        "Type": "Parallel",
        "Branches": [
            branch(("Slowest", {"Type": "Wait", "Seconds": 30, "OutputPath": "$.a"})),
            branch(("Call", sh.task(echo, Parameters={"b.$": "$.b"}))),
            branch(("Shape", {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, 1)"}})),
        ],
        "ResultPath": "$.results",
        "End": True,
    }

    finished = await flows.run(sh.single(state, name="Fork"), {"a": 1, "b": 2})

    assert finished.output == {"a": 1, "b": 2, "results": [1, {"b": 2}, {"sum": 2}]}
    assert finished.types[:3] == [
        "ExecutionStarted",
        "ParallelStateEntered",
        "ParallelStateStarted",
    ]
    assert finished.types[-3:] == [
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "ExecutionSucceeded",
    ]


async def test_a_failing_branch_fails_the_parallel_at_once_with_its_error(
    flows: sh.Workflows,
) -> None:
    state = {
        "Type": "Parallel",
        "Branches": [
            SLOW_BRANCH,
            branch(("Broke", {"Type": "Fail", "Error": "BranchBroke", "Cause": "bad part"})),
        ],
        "End": True,
    }

    finished = await flows.run(sh.single(state), {}, timeout=QUICKLY)

    assert (finished.status, finished.error, finished.cause) == (
        "FAILED",
        "BranchBroke",
        "bad part",
    )
    assert finished.types[-2:] == ["ParallelStateFailed", "ExecutionFailed"]
    assert "WaitStateExited" not in finished.types
    assert "PassStateEntered" not in finished.types


async def test_a_parallel_catches_its_failed_branch(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "Fork",
        "States": {
            "Fork": {
                "Type": "Parallel",
                "Branches": [
                    SLOW_BRANCH,
                    branch(("Broke", {"Type": "Fail", "Error": "BranchBroke", "Cause": "c"})),
                ],
                "Catch": [
                    {"ErrorEquals": ["BranchBroke"], "ResultPath": "$.error", "Next": "Recover"}
                ],
                "End": True,
            },
            "Recover": {"Type": "Pass", "End": True},
        },
    }

    finished = await flows.run(definition, {"order": 1}, timeout=QUICKLY)

    assert finished.output == {"order": 1, "error": {"Error": "BranchBroke", "Cause": "c"}}
    failed_at = finished.types.index("ParallelStateFailed")
    assert finished.types[failed_at + 1 : failed_at + 3] == [
        "ParallelStateExited",
        "PassStateEntered",
    ]


async def test_a_parallel_retries_all_its_branches(flows: sh.Workflows, echo: str) -> None:
    state = {
        "Type": "Parallel",
        "Branches": [
            branch(("Call", sh.task(echo))),
            branch(("Broke", {"Type": "Fail", "Error": "Flaky"})),
        ],
        "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 10}],
        "End": True,
    }

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "Flaky")
    assert len(finished.of_type("ParallelStateStarted")) == 3
    assert len(finished.of_type("ParallelStateEntered")) == 1
    assert len(finished.of_type("LambdaFunctionScheduled")) == 3  # the good branch ran again


# -- Map --------------------------------------------------------------------------------------


@pytest.mark.parametrize("selector", ["ItemSelector", "Parameters"])
async def test_a_map_runs_each_selected_item_and_keeps_their_order(
    flows: sh.Workflows, echo: str, selector: str
) -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.order.lines",
        selector: {
            "index.$": "$$.Map.Item.Index",
            "sku.$": "$$.Map.Item.Value.sku",
            "customer.$": "$.order.customer",
        },
        "ItemProcessor": branch(("Price", sh.task(echo, ResultSelector={"line.$": "$"}))),
        "ResultPath": "$.priced",
        "End": True,
    }
    lines = [{"sku": "pen"}, {"sku": "ink"}, {"sku": "pad"}]

    finished = await flows.run(sh.single(state), {"order": {"customer": "c-1", "lines": lines}})

    assert finished.output["priced"] == [
        {"line": {"index": i, "sku": line["sku"], "customer": "c-1"}}
        for i, line in enumerate(lines)
    ]
    assert finished.details("MapStateStarted") == {"length": 3}
    indexes = [sh.details(e)["index"] for e in finished.of_type("MapIterationSucceeded")]
    assert sorted(indexes) == [0, 1, 2]


async def test_a_map_over_no_items_outputs_an_empty_list(flows: sh.Workflows) -> None:
    state = {
        "Type": "Map",
        "ItemProcessor": branch(("Each", {"Type": "Pass"})),
        "End": True,
    }

    finished = await flows.run(sh.single(state), [])

    assert finished.output == []
    assert "MapIterationStarted" not in finished.types


async def test_a_map_whose_items_path_is_not_a_list_fails_with_runtime(
    flows: sh.Workflows,
) -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": branch(("Each", {"Type": "Pass"})),
        "End": True,
    }

    finished = await flows.run(sh.single(state), {"items": {"not": "a list"}})

    assert (finished.status, finished.error) == ("FAILED", "States.Runtime")


@pytest.mark.parametrize("limit", [1, 2])
async def test_max_concurrency_bounds_the_iterations_running_at_once(
    flows: sh.Workflows, counted: str, redis_client: aioredis.Redis, limit: int
) -> None:
    group = f"limit-{limit}"
    state = {
        "Type": "Map",
        "MaxConcurrency": limit,
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "group": group, "hold": 0.25},
        "ItemProcessor": branch(("Work", sh.task(counted))),
        "End": True,
    }

    finished = await flows.run(sh.single(state), list(range(6)))

    assert finished.output == [{"item": i} for i in range(6)]
    assert int(await redis_client.get(f"{group}:peak") or 0) == limit
    assert peak_iterations(finished) == limit


async def test_without_max_concurrency_items_overlap(
    flows: sh.Workflows, counted: str, redis_client: aioredis.Redis
) -> None:
    state = {
        "Type": "Map",
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "group": "unbounded", "hold": 0.5},
        "ItemProcessor": branch(("Work", sh.task(counted))),
        "End": True,
    }

    finished = await flows.run(sh.single(state), list(range(4)))

    assert finished.status == "SUCCEEDED"
    assert int(await redis_client.get("unbounded:peak") or 0) > 1
    assert peak_iterations(finished) == 4


def failing_items(count: int, failing: set[int]) -> list[dict[str, Any]]:
    return [{"item": i, "fail": i in failing} for i in range(count)]


def tolerant_map(function: str, **tolerance: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemSelector": {
            "item.$": "$$.Map.Item.Value.item",
            "fail.$": "$$.Map.Item.Value.fail",
            "group": "tolerant",
            "hold": 0,
        },
        "ItemProcessor": branch(("Work", sh.task(function))),
        **tolerance,
        "End": True,
    }


@pytest.mark.parametrize(
    ("tolerance", "failing"),
    [
        pytest.param({"ToleratedFailureCount": 2}, {1, 3}, id="count-at-its-limit"),
        pytest.param({"ToleratedFailurePercentage": 40}, {0, 4}, id="percentage-at-its-limit"),
        pytest.param(
            {"ToleratedFailureCount": 3, "ToleratedFailurePercentage": 40}, {1, 3}, id="both"
        ),
    ],
)
async def test_a_map_tolerates_failures_up_to_its_threshold(
    flows: sh.Workflows, counted: str, tolerance: dict[str, Any], failing: set[int]
) -> None:
    finished = await flows.run(
        sh.single(tolerant_map(counted, **tolerance)), failing_items(5, failing)
    )

    assert finished.status == "SUCCEEDED"
    results = finished.output
    assert len(results) == 5
    for index, result in enumerate(results):
        if index in failing:
            assert result["Error"] == "ValueError", result
        else:
            assert result == {"item": index}
    assert len(finished.of_type("MapIterationFailed")) == len(failing)


@pytest.mark.parametrize(
    ("tolerance", "failing"),
    [
        pytest.param({"ToleratedFailureCount": 2}, {0, 1, 3}, id="count"),
        pytest.param({"ToleratedFailurePercentage": 40}, {0, 2, 4}, id="percentage"),
        pytest.param(
            # Given both, exceeding either fails the Map.
            {"ToleratedFailureCount": 0, "ToleratedFailurePercentage": 50},
            {2},
            id="either-of-both",
        ),
    ],
)
async def test_a_map_past_its_tolerated_failures_fails(
    flows: sh.Workflows, counted: str, tolerance: dict[str, Any], failing: set[int]
) -> None:
    finished = await flows.run(
        sh.single(tolerant_map(counted, **tolerance)), failing_items(5, failing)
    )

    assert (finished.status, finished.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert finished.types[-2:] == ["MapStateFailed", "ExecutionFailed"]


async def test_a_failing_iteration_fails_the_map_with_its_error(
    flows: sh.Workflows, counted: str
) -> None:
    state = tolerant_map(counted)

    finished = await flows.run(sh.single(state), failing_items(3, {1}))

    assert (finished.status, finished.error) == ("FAILED", "ValueError")
    assert "item 1 failed" in (finished.cause or "")
    assert finished.types[-2:] == ["MapStateFailed", "ExecutionFailed"]


async def test_a_failing_iteration_aborts_the_others_at_once(flows: sh.Workflows) -> None:
    processor = {
        "StartAt": "Which",
        "States": {
            "Which": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Broke"}],
                "Default": "Linger",
            },
            "Broke": {"Type": "Fail", "Error": "ItemBroke"},
            "Linger": {"Type": "Wait", "Seconds": 1000, "End": True},
        },
    }
    state = {"Type": "Map", "ItemProcessor": processor, "End": True}

    finished = await flows.run(sh.single(state), failing_items(3, {0}), timeout=QUICKLY)

    assert (finished.status, finished.error) == ("FAILED", "ItemBroke")
    assert "WaitStateExited" not in finished.types
    # As Step Functions records it: the failed iteration, then each one still running
    # aborted, then the Map state's failure.
    assert [sh.details(e)["index"] for e in finished.of_type("MapIterationFailed")] == [0]
    aborted = [sh.details(e)["index"] for e in finished.of_type("MapIterationAborted")]
    assert sorted(aborted) == [1, 2]
    assert finished.types[-2:] == ["MapStateFailed", "ExecutionFailed"]


async def test_a_map_catches_a_failed_iteration(flows: sh.Workflows, counted: str) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                **tolerant_map(counted),
                "ItemsPath": "$.items",
                "Catch": [
                    {"ErrorEquals": ["ValueError"], "ResultPath": "$.error", "Next": "Recover"}
                ],
            },
            "Recover": {"Type": "Pass", "End": True},
        },
    }

    finished = await flows.run(definition, {"items": failing_items(2, {0})})

    assert finished.output["error"]["Error"] == "ValueError"
    assert finished.output["items"] == failing_items(2, {0})


async def test_item_batcher_hands_each_iteration_a_batch(flows: sh.Workflows, echo: str) -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.skus",
        "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"warehouse.$": "$.warehouse"}},
        "ItemProcessor": branch(("Batch", sh.task(echo))),
        "End": True,
    }

    finished = await flows.run(
        sh.single(state), {"warehouse": "w-1", "skus": ["a", "b", "c", "d", "e"]}
    )

    assert finished.output == [
        {"BatchInput": {"warehouse": "w-1"}, "Items": ["a", "b"]},
        {"BatchInput": {"warehouse": "w-1"}, "Items": ["c", "d"]},
        {"BatchInput": {"warehouse": "w-1"}, "Items": ["e"]},
    ]
    assert finished.details("MapStateStarted") == {"length": 3}
