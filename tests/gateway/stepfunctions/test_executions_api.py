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
from tests.gateway.stepfunctions.conftest import StepFunctions, pass_chain

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
