"""Execution history as GetExecutionHistory answers it: the exact event types of representative
machines, their ids and previousEventId threads, the 256 KB payload limit
(States.DataLimitExceeded) and the cap on a history's length."""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions, pass_chain

BULK = '''
def handler(event, context):
    """Answers a string of `bytes` characters."""
    return "x" * event["bytes"]
'''

OVER_LIMIT = 300 * 1024
"""Bytes of a payload past Step Functions' 256 KB limit."""


@pytest.fixture
def history_max() -> int:
    """The most events an execution's history may hold (a test may parametrize it)."""
    return 25_000


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings, history_max: int) -> GatewaySettings:
    return dataclasses.replace(sh.compressed(gateway_settings), states_history_max=history_max)


@pytest.fixture
def flows(sfn: StepFunctions) -> sh.Workflows:
    return sh.Workflows(sfn)


@pytest.fixture
async def echo(gateway: Gateway) -> str:
    await gateway.deploy("echo", files={"app.py": sh.ECHO})
    return "echo"


@pytest.fixture
async def bulk(gateway: Gateway) -> str:
    await gateway.deploy("bulk", files={"app.py": BULK})
    return "bulk"


def assert_numbered(events: list[dict[str, Any]]) -> None:
    """Ids run 1, 2, 3... and every event follows an earlier one."""
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))
    for event in events:
        assert 0 <= event["previousEventId"] < event["id"], event


def assert_one_thread(events: list[dict[str, Any]]) -> None:
    """A machine without forks: each event after the first state's entry follows the one
    before it."""
    assert_numbered(events)
    for before, event in itertools.pairwise(events[1:]):
        assert event["previousEventId"] == before["id"], event


# -- one thread -------------------------------------------------------------------------------


async def test_a_pass_chain(flows: sh.Workflows) -> None:
    finished = await flows.run(pass_chain("A", "B", "C"), {"k": 1})

    assert finished.types == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "PassStateEntered",
        "PassStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert_one_thread(finished.events)
    assert [sh.details(e)["name"] for e in finished.events[1:-1]] == ["A", "A", "B", "B", "C", "C"]
    started = sh.details(finished.events[0])
    assert json.loads(started["input"]) == {"k": 1}
    assert started["roleArn"] == sh.ROLE_ARN
    assert json.loads(sh.details(finished.events[-1])["output"]) == {"k": 1}


async def test_the_first_state_entered_follows_no_event(flows: sh.Workflows) -> None:
    finished = await flows.run(pass_chain("Only"))

    # As Step Functions numbers them: the first state's entry has previousEventId 0, like
    # ExecutionStarted itself.
    assert sh.chain_of(finished.events)[:3] == [(1, 0), (2, 0), (3, 2)]


async def test_a_task_a_choice_a_wait_and_a_fail(flows: sh.Workflows, echo: str) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": sh.task(echo, Next="Route"),
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Hold"}],
                "Default": "Done",
            },
            "Hold": {"Type": "Wait", "Seconds": 5, "Next": "Broke"},
            "Broke": {"Type": "Fail", "Error": "Stop", "Cause": "by design"},
            "Done": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition, {"go": True})

    assert finished.types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert_one_thread(finished.events)
    assert sh.details(finished.events[-1]) == {"error": "Stop", "cause": "by design"}


async def test_retries_and_a_catch_stay_on_one_thread(
    flows: sh.Workflows, gateway: Gateway
) -> None:
    await gateway.deploy("raises", files={"app.py": sh.RAISES})
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": sh.task(
                "raises",
                Parameters={"raise": "Transient"},
                Retry=[{"ErrorEquals": ["Transient"], "MaxAttempts": 1, "IntervalSeconds": 2}],
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
            ),
            "Handled": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition)

    assert finished.types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "TaskStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert_one_thread(finished.events)


# -- forks: one thread per branch or iteration ------------------------------------------------


async def test_a_parallel_gives_each_branch_its_thread(flows: sh.Workflows) -> None:
    state = {
        "Type": "Parallel",
        "Branches": [pass_chain("Left1", "Left2"), pass_chain("Right")],
        "End": True,
    }

    finished = await flows.run(sh.single(state, name="Fork"))

    events = finished.events
    assert_numbered(events)
    types = finished.types
    assert types[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]
    assert sorted(types[3:-3]) == sorted(["PassStateEntered", "PassStateExited"] * 3)
    by_id = {event["id"]: event for event in events}
    started_id = finished.of_type("ParallelStateStarted")[0]["id"]
    branch_events = events[3:-3]
    for event in branch_events:
        name = sh.details(event)["name"]
        previous = by_id[event["previousEventId"]]
        if event["type"] == "PassStateEntered" and name in ("Left1", "Right"):
            assert previous["id"] == started_id, event  # a branch starts from the fork
        elif event["type"] == "PassStateEntered":
            assert sh.details(previous)["name"] == "Left1", event
        else:
            assert sh.details(previous)["name"] == name, event  # exit follows its entry
    exited = finished.of_type("ParallelStateExited")[0]
    assert exited["previousEventId"] == finished.of_type("ParallelStateSucceeded")[0]["id"]
    assert finished.events[-1]["previousEventId"] == exited["id"]


async def test_a_map_gives_each_iteration_its_thread(flows: sh.Workflows) -> None:
    state = {"Type": "Map", "ItemProcessor": pass_chain("Each"), "End": True}

    finished = await flows.run(sh.single(state, name="Every"), [10, 20, 30])

    events = finished.events
    assert_numbered(events)
    assert finished.types[:4] == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
    ]
    assert finished.types[-3:] == ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    assert finished.types.count("MapIterationStarted") == 3
    assert finished.types.count("MapIterationSucceeded") == 3
    assert finished.output == [10, 20, 30]
    by_id = {event["id"]: event for event in events}
    map_started = finished.of_type("MapStateStarted")[0]
    for started in finished.of_type("MapIterationStarted"):
        assert started["previousEventId"] == map_started["id"]
        assert sh.details(started)["name"] == "Every"
    for event in events:
        if event["type"] == "PassStateEntered":
            assert by_id[event["previousEventId"]]["type"] == "MapIterationStarted"
        if event["type"] == "MapIterationSucceeded":
            assert by_id[event["previousEventId"]]["type"] == "PassStateExited"


# -- the 256 KB payload limit -----------------------------------------------------------------


async def test_a_state_output_past_256_kb_fails_with_data_limit_exceeded(
    flows: sh.Workflows,
) -> None:
    state = {"Type": "Pass", "Result": "x" * OVER_LIMIT, "End": True}

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "States.DataLimitExceeded")
    assert finished.types == ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]


async def test_a_function_result_past_256_kb_is_not_caught_by_states_all(
    flows: sh.Workflows, bulk: str
) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": sh.task(
                bulk,
                Parameters={"bytes": OVER_LIMIT},
                Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
            ),
            "Handled": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition)

    assert (finished.status, finished.error) == ("FAILED", "States.DataLimitExceeded")
    assert len(finished.of_type("LambdaFunctionScheduled")) == 1  # never retried
    assert "SucceedStateEntered" not in finished.types


async def test_a_result_within_256_kb_passes(flows: sh.Workflows, bulk: str) -> None:
    # The limit counts the payload as JSON text: a string of n characters takes n + 2 bytes.
    state = sh.task(bulk, Parameters={"bytes": 256 * 1024 - 2})

    finished = await flows.run(sh.single(state))

    assert finished.status == "SUCCEEDED"
    assert len(finished.output) == 256 * 1024 - 2


async def test_a_parallel_whose_branches_together_pass_256_kb_fails(
    flows: sh.Workflows, bulk: str
) -> None:
    state = {
        "Type": "Parallel",
        "Branches": [
            sh.single(sh.task(bulk, Parameters={"bytes": 150_000}), name=name)
            for name in ("Left", "Right")
        ],
        "End": True,
    }

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "States.DataLimitExceeded")
    assert finished.types.count("LambdaFunctionSucceeded") == 2


# -- the history's length ---------------------------------------------------------------------


@pytest.mark.parametrize("history_max", [pytest.param(12, id="history-of-12")])
async def test_an_execution_that_would_pass_its_history_limit_fails(
    flows: sh.Workflows, history_max: int
) -> None:
    finished = await flows.run(pass_chain(*(f"S{i}" for i in range(10))))

    # As Step Functions caps it: event number `history_max` is the ExecutionFailed.
    assert finished.status == "FAILED"
    assert len(finished.events) == history_max
    assert finished.types[-1] == "ExecutionFailed"
    assert str(history_max) in (finished.cause or "")


@pytest.mark.parametrize("history_max", [pytest.param(12, id="history-of-12")])
async def test_an_execution_that_succeeds_as_its_last_allowed_event_succeeds(
    flows: sh.Workflows, history_max: int
) -> None:
    # Five Pass states: ExecutionStarted, 5 x (Entered, Exited), ExecutionSucceeded = 12.
    finished = await flows.run(pass_chain(*(f"S{i}" for i in range(5))))

    assert finished.status == "SUCCEEDED"
    assert len(finished.events) == history_max
