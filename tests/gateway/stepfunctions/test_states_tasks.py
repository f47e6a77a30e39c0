"""Task states through real functions: how a Task names its function, function errors by their
errorType, Retry with back-off (timed from history on the compressed clock), Catch, and
TimeoutSeconds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

SLACK = 0.3
"""Real seconds a scheduled step may run late (polling, a busy machine)."""


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
async def raises(gateway: Gateway) -> str:
    await gateway.deploy("raises", files={"app.py": sh.RAISES})
    return "raises"


@pytest.fixture
async def sleeps(gateway: Gateway) -> str:
    await gateway.deploy("sleeps", files={"app.py": sh.SLEEPS}, timeoutSeconds=30)
    return "sleeps"


def gaps(finished: sh.Finished, *, failed: str, scheduled: str) -> list[float]:
    """Real seconds from each failed attempt to the next attempt's scheduling."""
    failures, schedules = finished.of_type(failed), finished.of_type(scheduled)
    return [sh.seconds(f, s) for f, s in zip(failures, schedules[1:], strict=False)]


# -- naming the function ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param("echo", id="function-name"),
        pytest.param(sh.lambda_arn("echo"), id="lambda-arn"),
    ],
)
async def test_a_task_runs_the_function_its_resource_names(
    flows: sh.Workflows, echo: str, resource: str
) -> None:
    finished = await flows.run(sh.single(sh.task(resource)), {"add": {"seen": True}})

    assert finished.output == {"add": {"seen": True}, "seen": True}
    assert finished.types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert finished.details("LambdaFunctionScheduled")["resource"] == sh.lambda_arn("echo")
    assert json.loads(finished.details("LambdaFunctionSucceeded")["output"]) == finished.output


async def test_the_lambda_invoke_integration_runs_the_function_it_names(
    flows: sh.Workflows, echo: str
) -> None:
    state = sh.task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": sh.lambda_arn(echo), "Payload.$": "$"},
        OutputPath="$.Payload",
    )

    finished = await flows.run(sh.single(state), {"n": 1})

    assert finished.output == {"n": 1}
    assert finished.types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = finished.details("TaskScheduled")
    assert (scheduled["resourceType"], scheduled["resource"]) == ("lambda", "invoke")
    assert json.loads(scheduled["parameters"]) == {
        "FunctionName": sh.lambda_arn(echo),
        "Payload": {"n": 1},
    }


# -- function errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "failed_event"),
    [
        pytest.param("raises", "LambdaFunctionFailed", id="function-resource"),
        pytest.param(LAMBDA_INVOKE, "TaskFailed", id="lambda-invoke"),
    ],
)
async def test_a_function_error_fails_the_task_by_its_error_type(
    flows: sh.Workflows, raises: str, resource: str, failed_event: str
) -> None:
    request = {"raise": "OrderRejected", "message": "out of stock"}
    if resource == LAMBDA_INVOKE:
        state = sh.task(resource, Parameters={"FunctionName": raises, "Payload": request})
    else:
        state = sh.task(resource, Parameters=request)

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "OrderRejected")
    cause = json.loads(finished.cause or "")
    assert (cause["errorType"], cause["errorMessage"]) == ("OrderRejected", "out of stock")
    failed = finished.details(failed_event)
    assert failed["error"] == "OrderRejected"
    assert json.loads(failed["cause"]) == cause
    assert finished.types[-2:] == [failed_event, "ExecutionFailed"]


async def test_a_missing_function_fails_with_lambdas_resource_not_found(
    flows: sh.Workflows,
) -> None:
    state = sh.task(LAMBDA_INVOKE, Parameters={"FunctionName": "nobody-here", "Payload": {}})

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "Lambda.ResourceNotFoundException")


# -- Retry ------------------------------------------------------------------------------------


async def test_retry_backs_off_exponentially_then_fails(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Retry=[
            {
                "ErrorEquals": ["Transient"],
                "IntervalSeconds": 20,
                "BackoffRate": 2,
                "MaxAttempts": 3,
            }
        ],
    )

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "Transient")
    assert len(finished.of_type("LambdaFunctionScheduled")) == 4  # the first attempt and 3 retries
    waited = gaps(finished, failed="LambdaFunctionFailed", scheduled="LambdaFunctionScheduled")
    for took, expected in zip(waited, (20, 40, 80), strict=True):
        assert sh.real_seconds(expected) - 0.01 <= took <= sh.real_seconds(expected) + SLACK, waited
    # Each attempt is a new scheduling of the same state: it is entered once.
    assert len(finished.of_type("TaskStateEntered")) == 1


async def test_retry_succeeds_once_the_error_stops(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient", "until_retry": 1, "retry_count.$": "$$.State.RetryCount"},
        Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5}],
    )

    finished = await flows.run(sh.single(state))

    assert finished.output == {"ok": True, "retry_count": 1}
    assert finished.types[2:] == [
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


async def test_max_delay_seconds_caps_the_back_off(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Retry=[
            {
                "ErrorEquals": ["Transient"],
                "IntervalSeconds": 20,
                "BackoffRate": 4,
                "MaxDelaySeconds": 30,
                "MaxAttempts": 3,
            }
        ],
    )

    finished = await flows.run(sh.single(state))

    waited = gaps(finished, failed="LambdaFunctionFailed", scheduled="LambdaFunctionScheduled")
    for took, expected in zip(waited, (20, 30, 30), strict=True):  # not 20, 80, 320
        assert sh.real_seconds(expected) - 0.01 <= took <= sh.real_seconds(expected) + SLACK, waited


async def test_full_jitter_waits_at_most_the_back_off(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Retry=[
            {
                "ErrorEquals": ["Transient"],
                "IntervalSeconds": 40,
                "BackoffRate": 1,
                "MaxAttempts": 8,
                "JitterStrategy": "FULL",
            }
        ],
    )

    finished = await flows.run(sh.single(state))

    waited = gaps(finished, failed="LambdaFunctionFailed", scheduled="LambdaFunctionScheduled")
    assert len(waited) == 8
    assert max(waited) <= sh.real_seconds(40) + SLACK, waited
    # Without jitter every wait would be the full 0.4 s; with FULL jitter, eight waits all
    # longer than 0.3 s would happen about once in ten thousand runs.
    assert min(waited) < 0.3, waited


async def test_the_first_retrier_that_matches_decides(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Retry=[
            {"ErrorEquals": ["OrderRejected"], "MaxAttempts": 5, "IntervalSeconds": 1},
            {"ErrorEquals": ["Transient"], "MaxAttempts": 1, "IntervalSeconds": 1},
            {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5, "IntervalSeconds": 1},
        ],
    )

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "Transient")
    assert len(finished.of_type("LambdaFunctionFailed")) == 2  # States.ALL was never consulted


async def test_max_attempts_zero_never_retries(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}],
    )

    finished = await flows.run(sh.single(state))

    assert len(finished.of_type("LambdaFunctionFailed")) == 1


# -- Catch ------------------------------------------------------------------------------------


def caught(state: dict[str, Any], *, handler: str = "Handled") -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {"Work": state, handler: {"Type": "Pass", "End": True}},
    }


async def test_catch_hands_the_error_to_its_next_state_under_result_path(
    flows: sh.Workflows, raises: str
) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "OrderRejected", "message": "no stock"},
        Catch=[{"ErrorEquals": ["OrderRejected"], "ResultPath": "$.failure", "Next": "Handled"}],
    )

    finished = await flows.run(caught(state), {"order": 12})

    out = finished.output
    assert out["order"] == 12
    assert out["failure"]["Error"] == "OrderRejected"
    assert json.loads(out["failure"]["Cause"])["errorMessage"] == "no stock"
    assert finished.types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


async def test_catch_without_result_path_passes_only_the_error(
    flows: sh.Workflows, raises: str
) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "ValueError"},
        Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}],
    )

    finished = await flows.run(caught(state), {"order": 12})

    assert set(finished.output) == {"Error", "Cause"}
    assert finished.output["Error"] == "ValueError"


async def test_the_first_matching_catcher_takes_the_error(flows: sh.Workflows, raises: str) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "OrderRejected"},
        Catch=[
            {"ErrorEquals": ["ValueError"], "Next": "Wrong"},
            {"ErrorEquals": ["OrderRejected", "Transient"], "Next": "Right"},
            {"ErrorEquals": ["States.ALL"], "Next": "Wrong"},
        ],
    )
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": state,
            "Right": {"Type": "Pass", "Result": "right", "End": True},
            "Wrong": {"Type": "Pass", "Result": "wrong", "End": True},
        },
    }

    finished = await flows.run(definition)

    assert finished.output == "right"


async def test_an_error_no_catcher_takes_fails_the_execution(
    flows: sh.Workflows, raises: str
) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Catch=[{"ErrorEquals": ["OrderRejected"], "Next": "Handled"}],
    )

    finished = await flows.run(caught(state))

    assert (finished.status, finished.error) == ("FAILED", "Transient")


async def test_retries_run_out_before_catch_takes_the_error(
    flows: sh.Workflows, raises: str
) -> None:
    state = sh.task(
        raises,
        Parameters={"raise": "Transient"},
        Retry=[{"ErrorEquals": ["Transient"], "MaxAttempts": 2, "IntervalSeconds": 5}],
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
    )

    finished = await flows.run(caught(state), {})

    assert finished.output["error"]["Error"] == "Transient"
    assert len(finished.of_type("LambdaFunctionFailed")) == 3


# -- TimeoutSeconds ---------------------------------------------------------------------------


async def test_a_task_past_its_timeout_fails_with_states_timeout(
    flows: sh.Workflows, sleeps: str
) -> None:
    # 50 s on the compressed clock is 0.5 s; the function holds for 1.2 s of real time.
    state = sh.task(sleeps, Parameters={"seconds": 1.2}, TimeoutSeconds=50)

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "States.Timeout")
    assert finished.types[-2:] == ["LambdaFunctionTimedOut", "ExecutionFailed"]
    assert finished.details("LambdaFunctionScheduled")["timeoutInSeconds"] == 50
    timed_out = finished.of_type("LambdaFunctionTimedOut")[0]
    took = sh.seconds(finished.of_type("LambdaFunctionStarted")[0], timed_out)
    assert sh.real_seconds(50) - 0.01 <= took <= sh.real_seconds(50) + SLACK


async def test_a_timeout_read_by_path_is_caught_as_states_timeout(
    flows: sh.Workflows, sleeps: str
) -> None:
    state = sh.task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": sleeps, "Payload": {"seconds": 1.2}},
        TimeoutSecondsPath="$.limit",
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Handled"}],
    )

    finished = await flows.run(caught(state), {"limit": 30})

    assert finished.output["error"]["Error"] == "States.Timeout"
    assert "TaskTimedOut" in finished.types
    assert finished.details("TaskScheduled")["timeoutInSeconds"] == 30


async def test_task_failed_does_not_catch_a_timeout(flows: sh.Workflows, sleeps: str) -> None:
    state = sh.task(
        sleeps,
        Parameters={"seconds": 1.2},
        TimeoutSeconds=30,
        Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}],
    )

    finished = await flows.run(caught(state))

    assert (finished.status, finished.error) == ("FAILED", "States.Timeout")


async def test_a_task_within_its_timeout_succeeds(flows: sh.Workflows, sleeps: str) -> None:
    state = sh.task(sleeps, Parameters={"seconds": 0.05}, TimeoutSeconds=300)

    finished = await flows.run(sh.single(state))

    assert finished.output == {"seconds": 0.05}


# -- HeartbeatSeconds -------------------------------------------------------------------------


def awaiting_callback(function: str, **fields: Any) -> dict[str, Any]:
    """A Task that invokes `function` with its task token, then waits for a callback no one
    sends."""
    return sh.task(
        LAMBDA_INVOKE + ".waitForTaskToken",
        Parameters={"FunctionName": function, "Payload": {"token.$": "$$.Task.Token"}},
        **fields,
    )


async def test_a_silent_task_fails_its_heartbeat_as_a_timeout(
    flows: sh.Workflows, echo: str
) -> None:
    state = awaiting_callback(echo, HeartbeatSeconds=30, TimeoutSeconds=6000)

    finished = await flows.run(sh.single(state))

    # Step Functions reports a missed heartbeat as States.Timeout (States.HeartbeatTimeout is
    # a name Retry and Catch match on).
    assert (finished.status, finished.error) == ("FAILED", "States.Timeout")
    assert finished.types[-5:] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskTimedOut",
        "ExecutionFailed",
    ]
    scheduled = finished.details("TaskScheduled")
    assert (scheduled["heartbeatInSeconds"], scheduled["timeoutInSeconds"]) == (30, 6000)
    assert finished.details("TaskTimedOut")["error"] == "States.Timeout"
    took = sh.seconds(finished.of_type("TaskStarted")[0], finished.of_type("TaskTimedOut")[0])
    assert sh.real_seconds(30) - 0.01 <= took <= sh.real_seconds(30) + SLACK


async def test_catch_matches_a_missed_heartbeat_by_heartbeat_timeout(
    flows: sh.Workflows, echo: str
) -> None:
    state = awaiting_callback(
        echo,
        HeartbeatSeconds=20,
        Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Handled"}],
    )

    finished = await flows.run(caught(state), {})

    assert finished.status == "SUCCEEDED"
    assert finished.types[-4:] == [
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


async def test_a_waiting_task_past_its_timeout_fails_with_states_timeout(
    flows: sh.Workflows, echo: str
) -> None:
    state = awaiting_callback(echo, TimeoutSeconds=30)

    finished = await flows.run(sh.single(state))

    assert (finished.status, finished.error) == ("FAILED", "States.Timeout")
    assert finished.types[-2:] == ["TaskTimedOut", "ExecutionFailed"]


async def test_a_tasks_outcome_is_recorded_when_the_function_answers(
    flows: sh.Workflows, sleeps: str
) -> None:
    definition = {
        "StartAt": "Direct",
        "States": {
            "Direct": sh.task(sleeps, Parameters={"seconds": 0.4}, Next="Integrated"),
            "Integrated": sh.task(
                LAMBDA_INVOKE, Parameters={"FunctionName": sleeps, "Payload": {"seconds": 0.4}}
            ),
        },
    }

    finished = await flows.run(definition)

    direct = sh.seconds(
        finished.of_type("LambdaFunctionStarted")[0], finished.of_type("LambdaFunctionSucceeded")[0]
    )
    integrated = sh.seconds(
        finished.of_type("TaskStarted")[0], finished.of_type("TaskSucceeded")[0]
    )
    assert direct >= 0.4 - 0.01
    assert integrated >= 0.4 - 0.01
    entered = finished.of_type("TaskStateEntered")[1]
    assert sh.seconds(finished.of_type("TaskStateExited")[0], entered) >= 0
