"""Input and output processing end to end: InputPath, Parameters, ResultSelector, ResultPath
and OutputPath around real functions, the context object, and intrinsics in Parameters."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import ROLE_ARN, StepFunctions

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


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


# -- the five steps around a Task -------------------------------------------------------------


async def test_a_task_processes_its_input_and_result_in_aws_order(
    flows: sh.Workflows, echo: str
) -> None:
    state = sh.task(
        echo,
        InputPath="$.order",
        Parameters={
            "orderId.$": "$.id",
            "count.$": "States.ArrayLength($.lines)",
            "add": {"checked": True},
        },
        ResultSelector={"id.$": "$.orderId", "lines.$": "$.count", "ok.$": "$.checked"},
        ResultPath="$.result",
        OutputPath="$.result",
    )
    given = {"order": {"id": "o-1", "lines": ["pen", "ink"]}, "customer": "c-9"}

    finished = await flows.run(sh.single(state), given)

    assert finished.output == {"id": "o-1", "lines": 2, "ok": True}
    # The function saw the effective input (InputPath, then Parameters) and nothing else.
    sent = json.loads(finished.details("LambdaFunctionScheduled")["input"])
    assert sent == {"orderId": "o-1", "count": 2, "add": {"checked": True}}
    # The state's input in history is the raw input, its output the processed one.
    assert json.loads(finished.details("TaskStateEntered")["input"]) == given
    assert json.loads(finished.details("TaskStateExited")["output"]) == finished.output


async def test_result_path_puts_the_result_inside_the_input(flows: sh.Workflows, echo: str) -> None:
    state = sh.task(echo, Parameters={"v": 2}, ResultPath="$.deep.er.result")

    finished = await flows.run(sh.single(state), {"keep": 1, "deep": {"x": 0}})

    assert finished.output == {"keep": 1, "deep": {"x": 0, "er": {"result": {"v": 2}}}}


async def test_result_path_null_discards_the_result(flows: sh.Workflows, echo: str) -> None:
    state = sh.task(echo, Parameters={"changed": True}, ResultPath=None)

    finished = await flows.run(sh.single(state), {"original": True})

    assert finished.output == {"original": True}


async def test_null_input_and_output_paths_give_empty_objects(
    flows: sh.Workflows, echo: str
) -> None:
    definition = {
        "StartAt": "Blind",
        "States": {
            "Blind": sh.task(echo, InputPath=None, ResultPath="$.seen", Next="Mute"),
            "Mute": {"Type": "Pass", "OutputPath": None, "End": True},
        },
    }

    finished = await flows.run(definition, {"secret": 1})

    assert json.loads(finished.details("LambdaFunctionScheduled")["input"]) == {}
    assert json.loads(finished.details("TaskStateExited")["output"]) == {
        "secret": 1,
        "seen": {},
    }
    assert finished.output == {}


async def test_the_lambda_invoke_integration_answers_invokes_response(
    flows: sh.Workflows, echo: str
) -> None:
    state = sh.task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": echo, "Payload": {"n.$": "$.n"}},
        ResultSelector={"status.$": "$.StatusCode", "payload.$": "$.Payload"},
    )

    finished = await flows.run(sh.single(state), {"n": 7})

    assert finished.output == {"status": 200, "payload": {"n": 7}}
    whole = json.loads(finished.details("TaskSucceeded")["output"])
    assert whole["Payload"] == {"n": 7}
    assert whole["StatusCode"] == 200


# -- the context object -----------------------------------------------------------------------


async def test_parameters_read_the_context_object(flows: sh.Workflows, echo: str) -> None:
    state = sh.task(
        echo,
        Parameters={
            "executionId.$": "$$.Execution.Id",
            "executionName.$": "$$.Execution.Name",
            "executionInput.$": "$$.Execution.Input",
            "roleArn.$": "$$.Execution.RoleArn",
            "startTime.$": "$$.Execution.StartTime",
            "stateName.$": "$$.State.Name",
            "enteredTime.$": "$$.State.EnteredTime",
            "retryCount.$": "$$.State.RetryCount",
            "machineId.$": "$$.StateMachine.Id",
            "machineName.$": "$$.StateMachine.Name",
        },
    )
    machine_arn = await flows.machine(sh.single(state, name="Look"), name="context-reader")

    execution_arn = await flows.start(machine_arn, {"order": 5}, name="run-17")
    finished = await flows.finished(execution_arn)

    seen = finished.output
    assert seen["executionId"] == execution_arn
    assert seen["executionName"] == "run-17"
    assert seen["executionInput"] == {"order": 5}
    assert seen["roleArn"] == ROLE_ARN
    assert seen["stateName"] == "Look"
    assert seen["retryCount"] == 0
    assert seen["machineId"] == machine_arn
    assert seen["machineName"] == "context-reader"
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
    assert re.fullmatch(iso, seen["startTime"]), seen["startTime"]
    assert re.fullmatch(iso, seen["enteredTime"]), seen["enteredTime"]
    assert seen["enteredTime"] >= seen["startTime"]


async def test_the_retry_count_in_the_context_counts_retries(
    flows: sh.Workflows, gateway: Gateway
) -> None:
    await gateway.deploy("raises", files={"app.py": sh.RAISES})
    state = sh.task(
        "raises",
        Parameters={"raise": "Transient", "until_retry": 2, "retry_count.$": "$$.State.RetryCount"},
        Retry=[{"ErrorEquals": ["Transient"], "IntervalSeconds": 1, "MaxAttempts": 5}],
    )

    finished = await flows.run(sh.single(state))

    assert finished.output == {"ok": True, "retry_count": 2}
    assert len(finished.of_type("LambdaFunctionFailed")) == 2


# -- intrinsic functions ----------------------------------------------------------------------


async def test_every_intrinsic_function_in_parameters(flows: sh.Workflows) -> None:
    parameters = {
        "format.$": "States.Format('Hello, {}! You have {} items.', $.name, $.count)",
        "parsed.$": "States.StringToJson($.text)",
        "text.$": "States.JsonToString($.object)",
        "array.$": "States.Array('a', $.count, $.object)",
        "partitioned.$": "States.ArrayPartition($.numbers, 2)",
        "contains.$": "States.ArrayContains($.numbers, 3)",
        "range.$": "States.ArrayRange(1, 9, 2)",
        "item.$": "States.ArrayGetItem($.numbers, 1)",
        "length.$": "States.ArrayLength($.numbers)",
        "unique.$": "States.ArrayUnique($.repeated)",
        "encoded.$": "States.Base64Encode($.name)",
        "decoded.$": "States.Base64Decode($.base64)",
        "hash.$": "States.Hash($.name, 'SHA-256')",
        "merged.$": "States.JsonMerge($.object, $.override, false)",
        "random.$": "States.MathRandom(10, 20)",
        "sum.$": "States.MathAdd($.count, -5)",
        "split.$": "States.StringSplit($.csv, ',')",
        "uuid.$": "States.UUID()",
        "nested.$": (
            "States.ArrayLength(States.StringSplit(States.Format('{}-{}', $.name, 'x'), '-'))"
        ),
    }
    given = {
        "name": "Ada",
        "count": 3,
        "text": '{"k":[1,2]}',
        "object": {"a": 1, "b": {"c": 2}},
        "override": {"b": {"d": 3}},
        "numbers": [1, 2, 3, 4, 5],
        "repeated": [1, 1, "x", "x", 2],
        "base64": base64.b64encode(b"kubefn").decode(),
        "csv": "a,b,c",
    }

    finished = await flows.run(
        sh.single({"Type": "Pass", "Parameters": parameters, "End": True}), given
    )

    out = finished.output
    assert out["format"] == "Hello, Ada! You have 3 items."
    assert out["parsed"] == {"k": [1, 2]}
    assert json.loads(out["text"]) == {"a": 1, "b": {"c": 2}}
    assert out["array"] == ["a", 3, {"a": 1, "b": {"c": 2}}]
    assert out["partitioned"] == [[1, 2], [3, 4], [5]]
    assert out["contains"] is True
    assert out["range"] == [1, 3, 5, 7, 9]
    assert out["item"] == 2
    assert out["length"] == 5
    assert out["unique"] == [1, "x", 2]
    assert out["encoded"] == base64.b64encode(b"Ada").decode()
    assert out["decoded"] == "kubefn"
    assert out["hash"] == hashlib.sha256(b"Ada").hexdigest()
    assert out["merged"] == {"a": 1, "b": {"d": 3}}  # a shallow merge: b is replaced
    assert 10 <= out["random"] <= 20
    assert out["sum"] == -2
    assert out["split"] == ["a", "b", "c"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["uuid"]
    )
    assert out["nested"] == 2


async def test_an_intrinsic_in_task_parameters_reaches_the_function(
    flows: sh.Workflows, echo: str
) -> None:
    state = sh.task(
        echo,
        Parameters={"greeting.$": "States.Format('order {} for {}', $.id, $$.Execution.Name)"},
    )
    machine_arn = await flows.machine(sh.single(state))

    finished = await flows.finished(await flows.start(machine_arn, {"id": 4}, name="greet"))

    assert finished.output == {"greeting": "order 4 for greet"}


# -- what goes wrong, by its AWS error name -------------------------------------------------


@pytest.mark.parametrize(
    ("state", "given", "error"),
    [
        pytest.param(
            {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "End": True},
            {"present": 1},
            "States.ParameterPathFailure",
            id="parameters-path-missing",
        ),
        pytest.param(
            {"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"}, "End": True},
            {"a": [1]},
            "States.IntrinsicFailure",
            id="intrinsic-index-out-of-range",
        ),
        pytest.param(
            {"Type": "Pass", "Parameters": {"x.$": "States.StringToJson($.s)"}, "End": True},
            {"s": "{not json"},
            "States.IntrinsicFailure",
            id="intrinsic-bad-json",
        ),
        pytest.param(
            {"Type": "Pass", "Result": 1, "ResultPath": "$.name.first", "End": True},
            {"name": "plain text"},
            "States.ResultPathMatchFailure",
            id="result-path-into-a-string",
        ),
        pytest.param(
            {"Type": "Pass", "InputPath": "$.missing", "End": True},
            {"present": 1},
            "States.Runtime",
            id="input-path-missing",
        ),
        pytest.param(
            {"Type": "Pass", "OutputPath": "$.missing", "End": True},
            {"present": 1},
            "States.Runtime",
            id="output-path-missing",
        ),
    ],
)
async def test_a_state_that_cannot_process_its_data_fails_the_execution(
    flows: sh.Workflows, state: dict[str, Any], given: Any, error: str
) -> None:
    finished = await flows.run(sh.single(state), given)

    assert (finished.status, finished.error) == ("FAILED", error)
    assert finished.types[-1] == "ExecutionFailed"


async def test_a_task_catches_its_parameter_path_failure(flows: sh.Workflows, echo: str) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": sh.task(
                echo,
                Parameters={"x.$": "$.missing"},
                Catch=[
                    {
                        "ErrorEquals": ["States.ParameterPathFailure"],
                        "ResultPath": "$.problem",
                        "Next": "Handled",
                    }
                ],
            ),
            "Handled": {"Type": "Pass", "End": True},
        },
    }

    finished = await flows.run(definition, {"present": 1})

    assert finished.output["present"] == 1
    assert finished.output["problem"]["Error"] == "States.ParameterPathFailure"
    assert "$.missing" in finished.output["problem"]["Cause"]
    assert not finished.of_type("LambdaFunctionScheduled")  # the function never ran


async def test_states_all_does_not_catch_a_runtime_error(flows: sh.Workflows, echo: str) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": sh.task(
                echo,
                OutputPath="$.missing",
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
            ),
            "Handled": {"Type": "Succeed"},
        },
    }

    finished = await flows.run(definition, {"present": 1})

    assert (finished.status, finished.error) == ("FAILED", "States.Runtime")
    assert "SucceedStateEntered" not in finished.types
