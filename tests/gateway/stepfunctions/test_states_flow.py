"""Pass, Choice, Wait, Succeed and Fail states, run end to end through boto3 `stepfunctions`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return sh.compressed(gateway_settings)


@pytest.fixture
def flows(sfn: StepFunctions) -> sh.Workflows:
    return sh.Workflows(sfn)


# -- Pass ------------------------------------------------------------------------------------


async def test_pass_states_hand_their_input_along_a_chain(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {
                "Type": "Pass",
                "Result": {"greeting": "hello"},
                "ResultPath": "$.r",
                "End": True,
            },
        },
    }

    finished = await flows.run(definition, {"name": "Ada"})

    assert finished.status == "SUCCEEDED"
    assert finished.output == {"name": "Ada", "r": {"greeting": "hello"}}
    assert finished.types == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


async def test_a_pass_result_replaces_the_input_by_default(flows: sh.Workflows) -> None:
    finished = await flows.run(sh.single({"Type": "Pass", "Result": [1, 2], "End": True}), {"a": 1})

    assert finished.output == [1, 2]


async def test_a_pass_state_with_parameters_builds_its_output(flows: sh.Workflows) -> None:
    state = {
        "Type": "Pass",
        "Parameters": {"who.$": "$.user.name", "fixed": True},
        "End": True,
    }

    finished = await flows.run(sh.single(state), {"user": {"name": "Lin"}})

    assert finished.output == {"who": "Lin", "fixed": True}


# -- Choice -----------------------------------------------------------------------------------

ROUTER = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.amount", "IsPresent": True},
                        {"Variable": "$.amount", "IsNumeric": True},
                        {"Variable": "$.amount", "NumericGreaterThanEquals": 1000},
                    ],
                    "Next": "Large",
                },
                {"Variable": "$.amount", "NumericGreaterThanPath": "$.limit", "Next": "OverLimit"},
                {"Variable": "$.sku", "StringMatches": "BOOK-*", "Next": "Book"},
                {"Not": {"Variable": "$.express", "BooleanEquals": False}, "Next": "Express"},
                {
                    "Or": [
                        {"Variable": "$.due", "TimestampLessThan": "2020-01-01T00:00:00Z"},
                        {"Variable": "$.note", "IsNull": True},
                    ],
                    "Next": "Odd",
                },
            ],
            "Default": "Plain",
        },
        **{
            name: {"Type": "Pass", "Result": name, "End": True}
            for name in ("Large", "OverLimit", "Book", "Express", "Odd", "Plain")
        },
    },
}


ORDINARY = {
    "amount": 5,
    "limit": 10,
    "sku": "CD-1",
    "express": False,
    "due": "2030-01-01T00:00:00Z",
    "note": "leave at the door",
}
"""An order no rule but the Default takes; each case changes what makes its rule match."""


@pytest.mark.parametrize(
    ("change", "chosen"),
    [
        pytest.param({"amount": 1500}, "Large", id="and-of-three"),
        pytest.param({"amount": 20}, "OverLimit", id="path-operand"),
        pytest.param({"sku": "BOOK-42"}, "Book", id="string-matches"),
        pytest.param({"express": True}, "Express", id="not"),
        pytest.param({"due": "2019-06-01T00:00:00+02:00"}, "Odd", id="or-timestamp"),
        pytest.param({"note": None}, "Odd", id="or-is-null"),
        pytest.param({"amount": "1500", "limit": 2000}, "Plain", id="text-is-not-numeric"),
        pytest.param({}, "Plain", id="default"),
    ],
)
async def test_a_choice_takes_the_first_matching_rule(
    flows: sh.Workflows, change: dict[str, Any], chosen: str
) -> None:
    finished = await flows.run(ROUTER, {**ORDINARY, **change})

    assert finished.output == chosen
    assert finished.details("ChoiceStateExited")["name"] == "Route"
    assert finished.details("PassStateEntered")["name"] == chosen


async def test_a_choice_without_a_match_or_default_fails_with_no_choice_matched(
    flows: sh.Workflows,
) -> None:
    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}],
            },
            "One": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition, {"n": 2})

    assert (finished.status, finished.error) == ("FAILED", "States.NoChoiceMatched")
    assert finished.types == ["ExecutionStarted", "ChoiceStateEntered", "ExecutionFailed"]


async def test_a_choice_on_a_missing_variable_fails_with_runtime(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.missing", "StringEquals": "x", "Next": "Done"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition, {"present": 1})

    assert (finished.status, finished.error) == ("FAILED", "States.Runtime")


async def test_a_choice_applies_input_and_output_paths(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "InputPath": "$.order",
                "OutputPath": "$.lines",
                "Choices": [{"Variable": "$.total", "NumericLessThan": 10, "Next": "Done"}],
            },
            "Done": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition, {"order": {"total": 5, "lines": ["a"]}, "other": 1})

    assert finished.output == ["a"]


# -- Wait -------------------------------------------------------------------------------------


async def test_a_wait_of_seconds_waits_that_long_on_the_compressed_clock(
    flows: sh.Workflows,
) -> None:
    finished = await flows.run(sh.single({"Type": "Wait", "Seconds": 60, "End": True}), {"k": 1})

    assert finished.output == {"k": 1}
    entered, exited = (
        finished.of_type("WaitStateEntered")[0],
        finished.of_type("WaitStateExited")[0],
    )
    assert sh.seconds(entered, exited) >= sh.real_seconds(60) - 0.01


async def test_a_wait_reads_its_seconds_from_the_input(flows: sh.Workflows) -> None:
    state = {"Type": "Wait", "SecondsPath": "$.delay", "End": True}

    finished = await flows.run(sh.single(state), {"delay": 40})

    entered, exited = (
        finished.of_type("WaitStateEntered")[0],
        finished.of_type("WaitStateExited")[0],
    )
    assert sh.seconds(entered, exited) >= sh.real_seconds(40) - 0.01


async def test_a_wait_until_a_timestamp_waits_for_that_real_instant(flows: sh.Workflows) -> None:
    # A timestamp is an instant: the compressed clock does not move it.
    until = datetime.now(UTC) + timedelta(seconds=1.2)
    text = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    state = {"Type": "Wait", "TimestampPath": "$.until", "End": True}

    finished = await flows.run(sh.single(state), {"until": text})

    exited = finished.of_type("WaitStateExited")[0]
    assert exited["timestamp"] >= until.replace(microsecond=0)


async def test_a_wait_until_a_past_timestamp_goes_on_at_once(flows: sh.Workflows) -> None:
    state = {"Type": "Wait", "Timestamp": "2001-02-03T04:05:06Z", "Next": "Done"}
    definition = {"StartAt": "Hold", "States": {"Hold": state, "Done": {"Type": "Succeed"}}}

    finished = await flows.run(definition, {"v": 1}, timeout=5)

    assert finished.output == {"v": 1}
    assert finished.types == [
        "ExecutionStarted",
        "WaitStateEntered",
        "WaitStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]


@pytest.mark.parametrize(
    "delay",
    [
        pytest.param(-5, id="negative"),
        pytest.param("ten", id="text"),
    ],
)
async def test_a_wait_with_a_bad_seconds_path_fails_with_runtime(
    flows: sh.Workflows, delay: Any
) -> None:
    state = {"Type": "Wait", "SecondsPath": "$.delay", "End": True}

    finished = await flows.run(sh.single(state), {"delay": delay})

    assert (finished.status, finished.error) == ("FAILED", "States.Runtime")


# -- Succeed and Fail -------------------------------------------------------------------------


async def test_succeed_ends_the_execution_with_its_selected_input(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "Done",
        "States": {"Done": {"Type": "Succeed", "InputPath": "$.result", "OutputPath": "$.id"}},
    }

    finished = await flows.run(definition, {"result": {"id": "r-1", "x": 1}})

    assert finished.output == "r-1"
    assert finished.types[-3:] == [
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]


async def test_fail_ends_the_execution_with_its_error_and_cause(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Pass", "Next": "Broke"},
            "Broke": {"Type": "Fail", "Error": "OrderInvalid", "Cause": "no lines"},
        },
    }

    finished = await flows.run(definition, {"lines": []})

    assert (finished.status, finished.error, finished.cause) == (
        "FAILED",
        "OrderInvalid",
        "no lines",
    )
    assert finished.types == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert sh.details(finished.events[-1]) == {"error": "OrderInvalid", "cause": "no lines"}


async def test_fail_reads_its_error_and_cause_by_path(flows: sh.Workflows) -> None:
    state = {
        "Type": "Fail",
        "ErrorPath": "$.code",
        "CausePath": "States.Format('order {} has {} lines', $.id, $.count)",
    }

    finished = await flows.run(sh.single(state), {"code": "TooBig", "id": "o-7", "count": 900})

    assert (finished.error, finished.cause) == ("TooBig", "order o-7 has 900 lines")


# -- Express, synchronously -------------------------------------------------------------------


async def test_an_express_machine_answers_start_sync_execution(flows: sh.Workflows) -> None:
    definition = {
        "StartAt": "Shape",
        "States": {
            "Shape": {
                "Type": "Pass",
                "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"},
                "End": True,
            }
        },
    }

    answer = await flows.run_sync(definition, {"a": 2, "b": 40})

    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"sum": 42}


async def test_a_failing_express_machine_answers_its_error(flows: sh.Workflows) -> None:
    answer = await flows.run_sync(sh.single({"Type": "Fail", "Error": "Nope", "Cause": "c"}))

    assert (answer["status"], answer["error"], answer["cause"]) == ("FAILED", "Nope", "c")


# -- the execution's own timeout --------------------------------------------------------------


async def test_an_execution_past_its_timeout_seconds_times_out(flows: sh.Workflows) -> None:
    definition = {
        "TimeoutSeconds": 30,
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": 1000, "End": True}},
    }

    finished = await flows.run(definition, timeout=5)

    assert finished.status == "TIMED_OUT"
    assert finished.types == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    took = (finished.description["stopDate"] - finished.description["startDate"]).total_seconds()
    assert sh.real_seconds(30) - 0.01 <= took < sh.real_seconds(1000)
