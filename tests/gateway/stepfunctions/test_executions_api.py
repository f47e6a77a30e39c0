"""The execution operations of the Step Functions API, through boto3 against a real gateway.

The gateway runs a compressed clock (TIME_SCALE definition seconds per real
second), so Waits and heartbeat windows pass quickly; executions are awaited by
polling DescribeExecution, bounded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions.conftest import StepFunctions, machine_arn, pass_chain

TIME_SCALE = 100.0
CLOSED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
ACCOUNT, REGION = "000000000000", "us-east-1"

DOUBLE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("refused " + str(event["v"]))
    return {"v": event["v"] * 2}
"""

NOTHING = """
def handler(event, context):
    return None
"""


def execution_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


def callback_task(**fields: Any) -> dict[str, Any]:
    """A Task that invokes `nothing` with its token and waits for SendTask*."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "nothing", "Payload": {"token.$": "$$.Task.Token"}},
        **fields,
    }


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(
        gateway_settings, states_time_scale=TIME_SCALE, states_poll_seconds=0.02
    )


@dataclasses.dataclass
class Executions:
    sfn: StepFunctions

    async def machine(self, name: str, definition: dict[str, Any], **params: Any) -> str:
        return str((await self.sfn.machine(name, definition, **params))["stateMachineArn"])

    async def start(self, machine: str, input: Any = None, **params: Any) -> str:
        if input is not None:
            params["input"] = json.dumps(input)
        started = await self.sfn("start_execution", stateMachineArn=machine, **params)
        return str(started["executionArn"])

    async def describe(self, arn: str) -> dict[str, Any]:
        return dict(await self.sfn("describe_execution", executionArn=arn))

    async def until(
        self, arn: str, condition: Callable[[dict[str, Any]], bool], *, timeout: float = 20.0
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await self.describe(arn)
            if condition(found):
                return found
            if loop.time() > deadline:
                raise AssertionError(f"{arn}: condition not reached; last {found}")
            await asyncio.sleep(0.02)

    async def closed(self, arn: str) -> dict[str, Any]:
        return await self.until(arn, lambda found: found["status"] in CLOSED)

    async def events(self, arn: str, **params: Any) -> list[dict[str, Any]]:
        """Every event, page by page."""
        events: list[dict[str, Any]] = []
        while True:
            page = await self.sfn("get_execution_history", executionArn=arn, **params)
            events += page["events"]
            if "nextToken" not in page:
                return events
            params["nextToken"] = page["nextToken"]

    async def event(self, arn: str, kind: str, *, timeout: float = 20.0) -> dict[str, Any]:
        """The first event of type `kind`, once the history has it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [e for e in await self.events(arn) if e["type"] == kind]
            if found:
                return found[0]
            if loop.time() > deadline:
                raise AssertionError(f"no {kind} in the history of {arn}")
            await asyncio.sleep(0.02)

    async def token(self, arn: str) -> str:
        """The task token a waiting callback Task was given (its TaskScheduled parameters),
        once the function it was handed to has answered (TaskSubmitted)."""
        await self.event(arn, "TaskSubmitted")
        scheduled = await self.event(arn, "TaskScheduled")
        parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
        return str(parameters["Payload"]["token"])


@pytest.fixture
def runs(sfn: StepFunctions) -> Executions:
    return Executions(sfn)


@pytest.fixture
async def functions(gateway: Gateway) -> None:
    await gateway.deploy("double", files={"app.py": DOUBLE})
    await gateway.deploy("nothing", files={"app.py": NOTHING})


# -- StartExecution and DescribeExecution ------------------------------------------------------


async def test_a_pass_machine_runs_and_is_described_as_aws_describes_it(
    runs: Executions,
) -> None:
    machine = await runs.machine("greet", pass_chain("One", "Two"))

    arn = await runs.start(machine, {"who": "Ada"}, name="first", traceHeader="Root=1-abc")
    described = await runs.closed(arn)

    assert arn == execution_arn("greet", "first")
    assert described["status"] == "SUCCEEDED"
    assert described["stateMachineArn"] == machine
    assert described["name"] == "first"
    assert json.loads(described["input"]) == {"who": "Ada"}
    assert json.loads(described["output"]) == {"who": "Ada"}
    assert described["inputDetails"] == {"included": True}
    assert described["outputDetails"] == {"included": True}
    assert described["traceHeader"] == "Root=1-abc"
    assert described["stopDate"] >= described["startDate"]
    assert described["redriveCount"] == 0
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert "error" not in described and "cause" not in described


async def test_an_execution_without_input_or_name_gets_an_empty_object_and_a_uuid(
    runs: Executions,
) -> None:
    machine = await runs.machine("anon", pass_chain("Only"))

    arn = await runs.start(machine)
    described = await runs.closed(arn)

    name = arn.rsplit(":", 1)[1]
    assert len(name) == 36 and name.count("-") == 4
    assert described["input"] == "{}"
    assert described["output"] == "{}"


async def test_metadata_only_leaves_input_and_output_out(runs: Executions) -> None:
    machine = await runs.machine("quiet", pass_chain("Only"))
    arn = await runs.start(machine, {"secret": 1})
    await runs.closed(arn)

    described = await runs.sfn("describe_execution", executionArn=arn, includedData="METADATA_ONLY")

    assert "input" not in described and "output" not in described
    assert described["inputDetails"] == {"included": False}
    assert described["status"] == "SUCCEEDED"


@pytest.mark.usefixtures("functions")
async def test_a_task_calls_a_real_function(runs: Executions) -> None:
    machine = await runs.machine(
        "doubler",
        {
            "StartAt": "Double",
            "States": {"Double": {"Type": "Task", "Resource": "double", "End": True}},
        },
    )

    described = await runs.closed(await runs.start(machine, {"v": 21}))

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"v": 42}


@pytest.mark.usefixtures("functions")
async def test_a_failing_function_fails_the_execution_with_its_error(runs: Executions) -> None:
    machine = await runs.machine(
        "refuser",
        {
            "StartAt": "Double",
            "States": {"Double": {"Type": "Task", "Resource": "double", "End": True}},
        },
    )

    described = await runs.closed(await runs.start(machine, {"v": 1, "fail": True}))

    assert described["status"] == "FAILED"
    assert described["error"] == "ValueError"
    assert "refused 1" in described["cause"]
    assert "output" not in described


async def test_starting_a_running_name_again_with_the_same_input_answers_that_execution(
    runs: Executions,
) -> None:
    machine = await runs.machine(
        "waiter", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    )
    first = await runs.sfn(
        "start_execution", stateMachineArn=machine, name="once", input='{"a": 1}'
    )

    again = await runs.sfn(
        "start_execution", stateMachineArn=machine, name="once", input='{"a": 1}'
    )
    refused = await runs.sfn.error(
        "start_execution", stateMachineArn=machine, name="once", input='{"a": 2}'
    )

    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    assert refused.response["Error"]["Code"] == "ExecutionAlreadyExists"
    assert first["executionArn"] in refused.response["Error"]["Message"]


async def test_a_closed_execution_s_name_is_taken(runs: Executions) -> None:
    machine = await runs.machine("taken", pass_chain("Only"))
    await runs.closed(await runs.start(machine, {}, name="done"))

    refused = await runs.sfn.error(
        "start_execution", stateMachineArn=machine, name="done", input="{}"
    )

    assert isinstance(refused, runs.sfn.client.exceptions.ExecutionAlreadyExists)


# -- callbacks --------------------------------------------------------------------------------


@pytest.mark.usefixtures("functions")
async def test_send_task_success_resumes_a_waiting_task_with_its_output(runs: Executions) -> None:
    machine = await runs.machine(
        "approval",
        {"StartAt": "Ask", "States": {"Ask": callback_task(ResultPath="$.answer", End=True)}},
    )
    arn = await runs.start(machine, {"order": 7})
    token = await runs.token(arn)

    await runs.sfn("send_task_success", taskToken=token, output=json.dumps({"approved": True}))
    described = await runs.closed(arn)

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"order": 7, "answer": {"approved": True}}
    types = [e["type"] for e in await runs.events(arn)]
    assert types[-4:] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


@pytest.mark.usefixtures("functions")
async def test_send_task_failure_fails_the_task_and_a_catch_takes_it(runs: Executions) -> None:
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": callback_task(
                Catch=[{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "Declined"}],
                End=True,
            ),
            "Declined": {"Type": "Pass", "End": True},
        },
    }
    machine = await runs.machine("rejection", definition)
    arn = await runs.start(machine, {"order": 8})
    token = await runs.token(arn)

    await runs.sfn("send_task_failure", taskToken=token, error="Rejected", cause="out of stock")
    described = await runs.closed(arn)

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "order": 8,
        "why": {"Error": "Rejected", "Cause": "out of stock"},
    }
    failed = await runs.event(arn, "TaskFailed")
    assert failed["taskFailedEventDetails"]["error"] == "Rejected"
    assert failed["taskFailedEventDetails"]["cause"] == "out of stock"


@pytest.mark.usefixtures("functions")
async def test_heartbeats_keep_a_waiting_task_alive_past_its_heartbeat_window(
    runs: Executions,
) -> None:
    # HeartbeatSeconds 20 is 0.2 s of real time; the task is kept waiting for 1 s.
    machine = await runs.machine(
        "beating",
        {"StartAt": "Ask", "States": {"Ask": callback_task(HeartbeatSeconds=20, End=True)}},
    )
    arn = await runs.start(machine, {})
    token = await runs.token(arn)

    for _ in range(20):
        await runs.sfn("send_task_heartbeat", taskToken=token)
        await asyncio.sleep(0.05)
    assert (await runs.describe(arn))["status"] == "RUNNING"
    await runs.sfn("send_task_success", taskToken=token, output='"done"')

    described = await runs.closed(arn)
    assert described["status"] == "SUCCEEDED"
    assert described["output"] == '"done"'


@pytest.mark.usefixtures("functions")
async def test_without_heartbeats_the_task_times_out_and_its_token_is_refused(
    runs: Executions,
) -> None:
    machine = await runs.machine(
        "silent",
        {"StartAt": "Ask", "States": {"Ask": callback_task(HeartbeatSeconds=20, End=True)}},
    )
    arn = await runs.start(machine, {})
    token = await runs.token(arn)

    described = await runs.closed(arn)
    late = await runs.sfn.error("send_task_success", taskToken=token, output="{}")
    late_beat = await runs.sfn.error("send_task_heartbeat", taskToken=token)

    assert described["status"] == "FAILED"
    assert isinstance(late, runs.sfn.client.exceptions.TaskTimedOut)
    assert isinstance(late_beat, runs.sfn.client.exceptions.TaskTimedOut)


async def test_a_token_that_names_no_task_is_invalid(runs: Executions) -> None:
    for operation, params in (
        ("send_task_success", {"output": "{}"}),
        ("send_task_failure", {"error": "E"}),
        ("send_task_heartbeat", {}),
    ):
        refused = await runs.sfn.error(operation, taskToken="not-a-token", **params)
        assert isinstance(refused, runs.sfn.client.exceptions.InvalidToken), operation


# -- StartSyncExecution -------------------------------------------------------------------------


async def test_start_sync_execution_answers_an_express_execution_s_outcome(
    runs: Executions,
) -> None:
    machine = await runs.machine("fast", pass_chain("One", "Two"), type="EXPRESS")
    answer = await runs.sfn(
        "start_sync_execution", stateMachineArn=machine, name="quick", input='{"x": 1}'
    )

    assert answer["status"] == "SUCCEEDED"
    assert answer["stateMachineArn"] == machine
    assert answer["name"] == "quick"
    assert answer["executionArn"].startswith(
        f"arn:aws:states:{REGION}:{ACCOUNT}:express:fast:quick:"
    )
    assert json.loads(answer["output"]) == {"x": 1}
    assert answer["input"] == '{"x": 1}'
    assert answer["stopDate"] >= answer["startDate"]
    assert answer["billingDetails"]["billedMemoryUsedInMB"] == 64
    assert answer["billingDetails"]["billedDurationInMilliseconds"] % 100 == 0
    assert answer["billingDetails"]["billedDurationInMilliseconds"] >= 100


async def test_start_sync_execution_answers_a_failure(runs: Executions) -> None:
    machine = await runs.machine(
        "fails",
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "why"}}},
        type="EXPRESS",
    )

    answer = await runs.sfn("start_sync_execution", stateMachineArn=machine)

    assert (answer["status"], answer["error"], answer["cause"]) == ("FAILED", "Bad", "why")
    assert "output" not in answer


async def test_start_sync_execution_of_a_standard_machine_is_not_supported(
    runs: Executions,
) -> None:
    machine = await runs.machine("slow", pass_chain("Only"))
    refused = await runs.sfn.error("start_sync_execution", stateMachineArn=machine)

    assert isinstance(refused, runs.sfn.client.exceptions.StateMachineTypeNotSupported)
    assert "STANDARD" in refused.response["Error"]["Message"]


async def test_an_express_machine_starts_asynchronously_but_is_not_described(
    runs: Executions,
) -> None:
    machine = await runs.machine("async-fast", pass_chain("Only"), type="EXPRESS")

    arn = await runs.start(machine, {}, name="bg")
    refused = await runs.sfn.error("describe_execution", executionArn=arn)
    history = await runs.sfn.error("get_execution_history", executionArn=arn)

    assert ":express:async-fast:bg:" in arn
    assert isinstance(refused, runs.sfn.client.exceptions.InvalidArn)
    assert "express" in refused.response["Error"]["Message"]
    assert isinstance(history, runs.sfn.client.exceptions.InvalidArn)


# -- StopExecution ----------------------------------------------------------------------------

WAITS = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


async def test_stopping_a_waiting_execution_aborts_it_with_the_error_and_cause(
    runs: Executions,
) -> None:
    machine = await runs.machine("stoppable", WAITS)
    arn = await runs.start(machine, {}, name="long")
    await runs.event(arn, "WaitStateEntered")

    stopped = await runs.sfn("stop_execution", executionArn=arn, error="Manual", cause="not needed")
    described = await runs.describe(arn)
    again = await runs.sfn("stop_execution", executionArn=arn, error="Other")

    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Manual", "not needed")
    assert described["stopDate"] == stopped["stopDate"]
    assert again["stopDate"] == stopped["stopDate"]
    last = (await runs.events(arn))[-1]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {"error": "Manual", "cause": "not needed"}


async def test_stopping_without_error_or_cause_leaves_them_out(runs: Executions) -> None:
    machine = await runs.machine("plain-stop", WAITS)
    arn = await runs.start(machine, {})

    await runs.sfn("stop_execution", executionArn=arn)
    described = await runs.describe(arn)

    assert described["status"] == "ABORTED"
    assert "error" not in described and "cause" not in described


# -- ListExecutions ---------------------------------------------------------------------------


async def test_list_executions_lists_newest_first_filters_by_status_and_pages(
    runs: Executions,
) -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.wait", "BooleanEquals": True, "Next": "W"}],
                "Default": "Done",
            },
            "W": {"Type": "Wait", "Seconds": 3600, "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    machine = await runs.machine("listed", definition)
    names = [f"run-{i}" for i in range(7)]
    for index, name in enumerate(names):
        arn = await runs.start(machine, {"wait": index % 2 == 1}, name=name)
        if index % 2 == 0:
            await runs.closed(arn)
        else:
            await runs.event(arn, "WaitStateEntered")

    async def every(**params: Any) -> tuple[list[dict[str, Any]], int]:
        items, pages = [], 0
        while True:
            page = await runs.sfn("list_executions", stateMachineArn=machine, **params)
            items += page["executions"]
            pages += 1
            if "nextToken" not in page:
                return items, pages
            params["nextToken"] = page["nextToken"]

    listed, pages = await every(maxResults=3)
    running, _ = await every(statusFilter="RUNNING", maxResults=2)
    succeeded, _ = await every(statusFilter="SUCCEEDED")

    assert [x["name"] for x in listed] == names[::-1]
    assert pages == 3
    assert [x["name"] for x in running] == ["run-5", "run-3", "run-1"]
    assert [x["name"] for x in succeeded] == ["run-6", "run-4", "run-2", "run-0"]
    item = listed[0]
    assert item["executionArn"] == execution_arn("listed", "run-6")
    assert item["stateMachineArn"] == machine
    assert item["status"] == "SUCCEEDED"
    assert item["stopDate"] >= item["startDate"]
    assert "stopDate" not in running[0]


async def test_a_list_token_answers_only_the_listing_it_came_from(runs: Executions) -> None:
    machine = await runs.machine("paged", WAITS)
    other = await runs.machine("other", WAITS)
    for name in ("a", "b"):
        await runs.start(machine, {}, name=name)
    page = await runs.sfn("list_executions", stateMachineArn=machine, maxResults=1)
    token = page["nextToken"]

    elsewhere = await runs.sfn.error("list_executions", stateMachineArn=other, nextToken=token)
    filtered = await runs.sfn.error(
        "list_executions", stateMachineArn=machine, statusFilter="RUNNING", nextToken=token
    )
    garbage = await runs.sfn.error("list_executions", stateMachineArn=machine, nextToken="xyz")
    rest = await runs.sfn("list_executions", stateMachineArn=machine, nextToken=token)

    for refused in (elsewhere, filtered, garbage):
        assert isinstance(refused, runs.sfn.client.exceptions.InvalidToken)
    assert [x["name"] for x in page["executions"]] == ["b"]
    assert [x["name"] for x in rest["executions"]] == ["a"]


async def test_list_executions_refuses_what_it_cannot_list(runs: Executions) -> None:
    express = await runs.machine("listless", pass_chain("Only"), type="EXPRESS")
    missing = "arn:aws:states:us-east-1:000000000000:stateMachine:nowhere"
    exceptions = runs.sfn.client.exceptions

    cases = [
        ({"stateMachineArn": express}, exceptions.StateMachineTypeNotSupported),
        ({"stateMachineArn": missing}, exceptions.StateMachineDoesNotExist),
        ({"stateMachineArn": "arn:aws:lambda:us-east-1:1:function:f"}, exceptions.InvalidArn),
        ({"stateMachineArn": missing, "maxResults": 1001}, exceptions.ValidationException),
        ({"stateMachineArn": missing, "statusFilter": "DONE"}, exceptions.ValidationException),
        ({}, exceptions.ValidationException),
        (
            {"mapRunArn": "arn:aws:states:us-east-1:000000000000:mapRun:m/x:y"},
            exceptions.ResourceNotFound,
        ),
    ]
    for params, expected in cases:
        refused = await runs.sfn.error("list_executions", **params)
        assert isinstance(refused, expected), (params, refused)


# -- GetExecutionHistory -----------------------------------------------------------------------


async def test_history_pages_forwards_and_backwards_alike(runs: Executions) -> None:
    machine = await runs.machine("chain", pass_chain(*(f"S{i}" for i in range(6))))
    arn = await runs.start(machine, {"k": "v"})
    await runs.closed(arn)

    whole = (await runs.sfn("get_execution_history", executionArn=arn, maxResults=1000))["events"]
    forwards = await runs.events(arn, maxResults=4)
    backwards = await runs.events(arn, maxResults=5, reverseOrder=True)
    first = await runs.sfn("get_execution_history", executionArn=arn, maxResults=4)

    assert len(whole) == 14  # started, 6 x (entered, exited), succeeded
    assert [e["id"] for e in whole] == list(range(1, 15))
    assert forwards == whole
    assert backwards == whole[::-1]
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4]
    assert whole[0]["type"] == "ExecutionStarted"
    assert whole[0]["previousEventId"] == 0


async def test_history_without_execution_data_leaves_inputs_and_outputs_out(
    runs: Executions,
) -> None:
    machine = await runs.machine("private", pass_chain("Only"))
    arn = await runs.start(machine, {"card": "4111"})
    await runs.closed(arn)

    events = await runs.events(arn, includeExecutionData=False)

    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert "4111" not in json.dumps(events, default=str)
    assert events[1]["stateEnteredEventDetails"] == {"name": "Only"}
    assert "roleArn" in events[0]["executionStartedEventDetails"]


async def test_a_history_token_answers_only_the_order_it_came_from(runs: Executions) -> None:
    machine = await runs.machine("ordered", pass_chain("A", "B"))
    arn = await runs.start(machine, {})
    await runs.closed(arn)
    token = (await runs.sfn("get_execution_history", executionArn=arn, maxResults=2))["nextToken"]

    reversed_ = await runs.sfn.error(
        "get_execution_history", executionArn=arn, nextToken=token, reverseOrder=True
    )
    garbage = await runs.sfn.error("get_execution_history", executionArn=arn, nextToken="!!")

    assert isinstance(reversed_, runs.sfn.client.exceptions.InvalidToken)
    assert isinstance(garbage, runs.sfn.client.exceptions.InvalidToken)


# -- errors -----------------------------------------------------------------------------------


async def test_executions_that_are_not_there_do_not_exist(runs: Executions) -> None:
    await runs.machine("present", pass_chain("Only"))
    missing = execution_arn("present", "never")
    elsewhere = "arn:aws:states:eu-west-1:000000000000:execution:present:x"
    exceptions = runs.sfn.client.exceptions

    for operation in ("describe_execution", "get_execution_history", "stop_execution"):
        for arn in (missing, elsewhere):
            refused = await runs.sfn.error(operation, executionArn=arn)
            assert isinstance(refused, exceptions.ExecutionDoesNotExist), (operation, arn)
        malformed = await runs.sfn.error(operation, executionArn="arn:aws:states:x")
        wrong_type = await runs.sfn.error(operation, executionArn=machine_arn("present"))
        assert isinstance(malformed, exceptions.InvalidArn), operation
        assert isinstance(wrong_type, exceptions.InvalidArn), operation


async def test_start_execution_refuses_bad_requests_naming_what_is_wrong(
    runs: Executions,
) -> None:
    machine = await runs.machine("strict", pass_chain("Only"))
    exceptions = runs.sfn.client.exceptions
    cases = [
        ({"name": "has space"}, exceptions.InvalidName, "' '"),
        ({"name": "a/b"}, exceptions.InvalidName, "'/'"),
        ({"name": "tab\there"}, exceptions.InvalidName, "'\\t'"),
        ({"name": "x" * 81}, exceptions.ValidationException, "80"),
        ({"input": "{not json"}, exceptions.InvalidExecutionInput, "not valid JSON"),
        ({"input": "NaN"}, exceptions.InvalidExecutionInput, "NaN"),
        (
            {"input": json.dumps("é" * 131072, ensure_ascii=False)},
            exceptions.InvalidExecutionInput,
            "262144",
        ),
        ({"traceHeader": "t" * 257}, exceptions.ValidationException, "256"),
        ({"traceHeader": "ü"}, exceptions.ValidationException, "ASCII"),
    ]
    for params, expected, named in cases:
        refused = await runs.sfn.error("start_execution", stateMachineArn=machine, **params)
        assert isinstance(refused, expected), (params, refused)
        assert named in refused.response["Error"]["Message"], (params, refused)

    missing = await runs.sfn.error("start_execution", stateMachineArn=machine_arn("gone"))
    malformed = await runs.sfn.error("start_execution", stateMachineArn="not-an-arn")
    assert isinstance(missing, exceptions.StateMachineDoesNotExist)
    assert isinstance(malformed, exceptions.InvalidArn)


async def test_a_name_with_letters_of_any_script_is_fine(runs: Executions) -> None:
    machine = await runs.machine("unicode", pass_chain("Only"))

    arn = await runs.start(machine, {}, name="commande-été_42.v1")

    assert (await runs.closed(arn))["name"] == "commande-été_42.v1"


@pytest.mark.usefixtures("functions")
async def test_task_callbacks_refuse_bad_requests_naming_what_is_wrong(runs: Executions) -> None:
    machine = await runs.machine(
        "callbacks", {"StartAt": "Ask", "States": {"Ask": callback_task(End=True)}}
    )
    arn = await runs.start(machine, {})
    token = await runs.token(arn)
    exceptions = runs.sfn.client.exceptions
    cases = [
        ("send_task_success", {"output": "{oops"}, exceptions.InvalidOutput, "not valid JSON"),
        (
            "send_task_success",
            {"output": json.dumps("x" * 262144)},
            exceptions.InvalidOutput,
            "262144",
        ),
        ("send_task_failure", {"error": "e" * 257}, exceptions.ValidationException, "256"),
        ("send_task_failure", {"cause": "c" * 32769}, exceptions.ValidationException, "32768"),
    ]
    for operation, params, expected, named in cases:
        refused = await runs.sfn.error(operation, taskToken=token, **params)
        assert isinstance(refused, expected), (operation, params, refused)
        assert named in refused.response["Error"]["Message"], (operation, refused)
    too_long = await runs.sfn.error("send_task_heartbeat", taskToken="t" * 2049)
    assert isinstance(too_long, exceptions.ValidationException)
    assert "2048" in too_long.response["Error"]["Message"]

    # None of the refusals touched the task: it still takes its answer.
    await runs.sfn("send_task_success", taskToken=token, output="[1]")
    assert (await runs.closed(arn))["output"] == "[1]"
