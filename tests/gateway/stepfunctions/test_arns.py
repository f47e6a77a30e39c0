"""ARNs of machines and executions, and definition problems as Step Functions reports them."""

from __future__ import annotations

import pytest

from kubefn.schema import Problem
from kubefn_gateway.stepfunctions import errors
from kubefn_gateway.stepfunctions.arns import Arns, ExecutionRef

ARNS = Arns(region="us-east-1", account_id="000000000000", namespace="default")
PREFIX = "arn:aws:states:us-east-1:000000000000:"


@pytest.mark.parametrize(
    ("key", "arn"),
    [
        pytest.param("default/hello", f"{PREFIX}stateMachine:hello", id="own-namespace"),
        pytest.param("team-a/hello", f"{PREFIX}stateMachine:team-a/hello", id="other-namespace"),
    ],
)
def test_machine_arn_round_trip(key: str, arn: str) -> None:
    assert ARNS.machine(key) == arn
    assert ARNS.machine_key(arn) == key


def test_the_namespace_may_be_spelled_out_for_the_own_one_too() -> None:
    assert ARNS.machine_key(f"{PREFIX}stateMachine:default/hello") == "default/hello"


@pytest.mark.parametrize(
    ("arn", "ref"),
    [
        pytest.param(
            f"{PREFIX}execution:hello:run-1",
            ExecutionRef("default/hello", "run-1"),
            id="standard",
        ),
        pytest.param(
            f"{PREFIX}execution:team-a/hello:run-1",
            ExecutionRef("team-a/hello", "run-1"),
            id="standard-other-namespace",
        ),
        pytest.param(
            f"{PREFIX}express:hello:run-1:4f3c",
            ExecutionRef("default/hello", "run-1", "4f3c"),
            id="express",
        ),
    ],
)
def test_execution_arn_round_trip(arn: str, ref: ExecutionRef) -> None:
    assert ARNS.execution_ref(arn) == ref
    if ref.express_id is None:
        assert ARNS.execution(ref.machine_key, ref.name) == arn
    else:
        assert ARNS.express_execution(ref.machine_key, ref.name, ref.express_id) == arn


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        pytest.param("hello", "Invalid Arn: 'Invalid ARN prefix: hello'", id="not-an-arn"),
        pytest.param(
            "arn:aws:lambda:us-east-1:000000000000:function:hello",
            "Invalid Arn: 'Invalid ARN prefix: "
            "arn:aws:lambda:us-east-1:000000000000:function:hello'",
            id="other-service",
        ),
        pytest.param(
            f"{PREFIX}execution:hello:run-1",
            "Invalid Arn: 'Resource type not valid in this context: execution'",
            id="execution-for-machine",
        ),
        pytest.param(
            f"{PREFIX}activity:hello",
            "Invalid Arn: 'Resource type not valid in this context: activity'",
            id="activity",
        ),
        pytest.param(
            f"{PREFIX}stateMachine:", f"Invalid Arn: '{PREFIX}stateMachine:'", id="no-name"
        ),
        pytest.param(
            f"{PREFIX}stateMachine:a/b/c", f"Invalid Arn: '{PREFIX}stateMachine:a/b/c'", id="deep"
        ),
        pytest.param(
            f"{PREFIX}stateMachine:/hello",
            f"Invalid Arn: '{PREFIX}stateMachine:/hello'",
            id="empty-namespace",
        ),
        pytest.param(
            f"{PREFIX}stateMachine:hello:1:2",
            f"Invalid Arn: '{PREFIX}stateMachine:hello:1:2'",
            id="too-many-parts",
        ),
    ],
)
def test_malformed_machine_arns_are_invalid(arn: str, message: str) -> None:
    with pytest.raises(errors.InvalidArn) as raised:
        ARNS.machine_key(arn)
    assert raised.value.message == message


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param("arn:aws:states:eu-west-1:000000000000:stateMachine:hello", id="region"),
        pytest.param("arn:aws:states:us-east-1:111111111111:stateMachine:hello", id="account"),
        pytest.param("arn:aws-cn:states:us-east-1:000000000000:stateMachine:hello", id="partition"),
        pytest.param(f"{PREFIX}stateMachine:hello:3", id="version"),
        pytest.param(f"{PREFIX}stateMachine:hello:PROD", id="alias"),
    ],
)
def test_well_formed_machine_arns_of_elsewhere_name_nothing(arn: str) -> None:
    with pytest.raises(errors.StateMachineDoesNotExist) as raised:
        ARNS.machine_key(arn)
    assert raised.value.message == f"State Machine Does Not Exist: '{arn}'"


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(f"{PREFIX}execution:hello", id="no-name"),
        pytest.param(f"{PREFIX}execution:hello:run:extra", id="standard-with-id"),
        pytest.param(f"{PREFIX}express:hello:run-1", id="express-without-id"),
        pytest.param(f"{PREFIX}execution:hello:", id="empty-name"),
    ],
)
def test_malformed_execution_arns_are_invalid(arn: str) -> None:
    with pytest.raises(errors.InvalidArn):
        ARNS.execution_ref(arn)


def test_a_machine_arn_is_no_execution_arn() -> None:
    with pytest.raises(errors.InvalidArn) as raised:
        ARNS.execution_ref(f"{PREFIX}stateMachine:hello")
    assert raised.value.message == (
        "Invalid Arn: 'Resource type not valid in this context: stateMachine'"
    )


def test_an_execution_of_another_account_does_not_exist() -> None:
    arn = "arn:aws:states:us-east-1:111111111111:execution:hello:run-1"
    with pytest.raises(errors.ExecutionDoesNotExist) as raised:
        ARNS.execution_ref(arn)
    assert raised.value.message == f"Execution Does Not Exist: '{arn}'"


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        pytest.param(
            None,
            "1 validation error detected: Value at 'stateMachineArn' failed to satisfy "
            "constraint: Member must not be null",
            id="missing",
        ),
        pytest.param(
            PREFIX + "stateMachine:" + "x" * 250,
            f"1 validation error detected: Value '{PREFIX}stateMachine:{'x' * 250}' at "
            "'stateMachineArn' failed to satisfy constraint: Member must have length less "
            "than or equal to 256",
            id="too-long",
        ),
    ],
)
def test_arns_break_the_model_rules(arn: str | None, message: str) -> None:
    with pytest.raises(errors.ValidationException) as raised:
        ARNS.machine_key(arn)
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        pytest.param("States.Check.Choices[1].Next", "/States/Check/Choices/1/Next", id="nested"),
        pytest.param("StartAt", "/StartAt", id="top-level"),
        pytest.param('States["Say hi.now"].Next', "/States/Say hi.now/Next", id="quoted-name"),
        pytest.param("States.a/b~c", "/States/a~1b~0c", id="escaped"),
        pytest.param("", None, id="whole-definition"),
    ],
)
def test_problem_paths_become_json_pointers(path: str, pointer: str | None) -> None:
    assert errors.location(path) == pointer


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        pytest.param(
            Problem("States.A.Next", "no state named 'B'"), "MISSING_TRANSITION_TARGET", id="next"
        ),
        pytest.param(
            Problem("", "is not valid JSON: Expecting value at line 1 column 1"),
            "INVALID_JSON_DESCRIPTION",
            id="json",
        ),
        pytest.param(
            Problem("States.P.Branches[0].States.A", "state name 'A' is already used at States.A"),
            "DUPLICATE_STATE_NAME",
            id="duplicate",
        ),
        pytest.param(
            Problem("States.T.Resource", "must be an ARN or a function name (got '')"),
            "INVALID_RESOURCE",
            id="resource",
        ),
        pytest.param(
            Problem("States.A", "must have Type, one of Task, Pass"),
            "SCHEMA_VALIDATION_FAILED",
            id="schema",
        ),
    ],
)
def test_problems_get_step_functions_codes(problem: Problem, code: str) -> None:
    assert errors.diagnostic(problem).code == code


def test_invalid_definition_lists_every_problem_with_its_location() -> None:
    error = errors.invalid_definition(
        [
            errors.diagnostic(Problem("States.A.Next", "no state named 'B'")),
            errors.diagnostic(Problem("", "must have StartAt")),
        ]
    )
    assert error.message == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: no state named 'B' at "
        "/States/A/Next, SCHEMA_VALIDATION_FAILED: must have StartAt'"
    )
