"""Nested workflows end to end: a parent's Task starts a child execution with
`arn:aws:states:::states:startExecution`, fire-and-forget, `.sync` or `.sync:2`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions, machine_arn

START = "arn:aws:states:::states:startExecution"


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return sh.compressed(gateway_settings)


@pytest.fixture
def flows(sfn: StepFunctions) -> sh.Workflows:
    return sh.Workflows(sfn)


CHILD = {
    "StartAt": "Think",
    "States": {
        "Think": {"Type": "Wait", "Seconds": 50, "Next": "Answer"},
        "Answer": {
            "Type": "Pass",
            "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)", "parent.$": "$.parent"},
            "End": True,
        },
    },
}
"""A child that takes 0.5 s of real time and doubles `n`."""

FAILING_CHILD = sh.single({"Type": "Fail", "Error": "ChildBroke", "Cause": "no parts"})


def starts(child_arn: str, pattern: str = "", **fields: Any) -> dict[str, Any]:
    """A Task that starts `child_arn` with {n, parent} as its input."""
    resource = f"{START}.{pattern}" if pattern else START
    parameters = {
        "StateMachineArn": child_arn,
        "Input": {"n.$": "$.n", "parent.$": "$$.Execution.Id"},
    }
    return sh.task(resource, Parameters=parameters, **fields)


async def test_a_started_child_runs_on_its_own(flows: sh.Workflows) -> None:
    child = await flows.machine(CHILD, name="child")
    parent = await flows.machine(sh.single(starts(child)), name="parent")

    execution = await flows.start(parent, {"n": 4})
    finished = await flows.finished(execution)

    started = finished.output
    assert set(started) >= {"ExecutionArn", "StartDate"}
    assert started["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:") + ":")
    # Fire and forget: the parent is done while its child still thinks.
    assert (await flows.describe(started["ExecutionArn"]))["status"] == "RUNNING"
    assert finished.types[-5:] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = finished.details("TaskScheduled")
    assert (scheduled["resourceType"], scheduled["resource"]) == ("states", "startExecution")
    grown = await flows.finished(started["ExecutionArn"])
    assert grown.output == {"doubled": 8, "parent": execution}
    assert json.loads(grown.description["input"]) == {"n": 4, "parent": execution}


async def test_a_child_is_started_under_the_name_given(flows: sh.Workflows) -> None:
    child = await flows.machine(CHILD)
    task = starts(child)
    task["Parameters"]["Name.$"] = "States.Format('child-of-{}', $$.Execution.Name)"

    finished = await flows.finished(
        await flows.start(await flows.machine(sh.single(task)), {"n": 1}, name="p1")
    )

    assert finished.output["ExecutionArn"].endswith(":child-of-p1")


async def test_sync_waits_for_the_child_and_answers_its_description(flows: sh.Workflows) -> None:
    child = await flows.machine(CHILD)
    parent = await flows.machine(sh.single(starts(child, "sync")))

    execution = await flows.start(parent, {"n": 21})
    finished = await flows.finished(execution)

    described = finished.output
    assert described["Status"] == "SUCCEEDED"
    assert described["StateMachineArn"] == child
    # `.sync` answers the child's input and output as JSON text, as DescribeExecution does.
    assert json.loads(described["Output"]) == {"doubled": 42, "parent": execution}
    assert json.loads(described["Input"]) == {"n": 21, "parent": execution}
    assert finished.types[-6:] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert finished.details("TaskScheduled")["resource"] == "startExecution.sync"
    child_run = await flows.describe(described["ExecutionArn"])
    assert child_run["status"] == "SUCCEEDED"
    # The parent went on only once its child had stopped.
    assert finished.of_type("TaskSucceeded")[0]["timestamp"] >= child_run["stopDate"]


async def test_sync2_answers_the_childs_output_as_json(flows: sh.Workflows) -> None:
    child = await flows.machine(CHILD)
    task = starts(child, "sync:2", ResultSelector={"child.$": "$.Output"}, ResultPath="$.result")

    finished = await flows.run(sh.single(task), {"n": 5})

    assert finished.output["result"]["child"]["doubled"] == 10
    assert finished.details("TaskScheduled")["resource"] == "startExecution.sync:2"


@pytest.mark.parametrize("pattern", ["sync", "sync:2"])
async def test_a_failed_child_fails_the_task_with_task_failed(
    flows: sh.Workflows, pattern: str
) -> None:
    child = await flows.machine(FAILING_CHILD)

    finished = await flows.run(sh.single(starts(child, pattern)), {"n": 1})

    assert (finished.status, finished.error) == ("FAILED", "States.TaskFailed")
    described = json.loads(finished.cause or "")
    assert (described["Status"], described["Error"], described["Cause"]) == (
        "FAILED",
        "ChildBroke",
        "no parts",
    )
    assert finished.types[-2:] == ["TaskFailed", "ExecutionFailed"]


async def test_a_parent_catches_its_failed_child(flows: sh.Workflows) -> None:
    child = await flows.machine(FAILING_CHILD)
    definition = {
        "StartAt": "Delegate",
        "States": {
            "Delegate": starts(
                child,
                "sync",
                Catch=[
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Fix"}
                ],
            ),
            "Fix": {"Type": "Pass", "End": True},
        },
    }

    finished = await flows.run(definition, {"n": 1})

    assert finished.output["error"]["Error"] == "States.TaskFailed"
    assert json.loads(finished.output["error"]["Cause"])["Error"] == "ChildBroke"


async def test_starting_a_machine_that_does_not_exist_fails_the_task(
    flows: sh.Workflows,
) -> None:
    missing = machine_arn("no-such-machine")

    finished = await flows.run(sh.single(starts(missing)), {"n": 1})

    assert (finished.status, finished.error) == (
        "FAILED",
        "StepFunctions.StateMachineDoesNotExistException",
    )
    assert finished.details("TaskFailed")["error"] == finished.error
