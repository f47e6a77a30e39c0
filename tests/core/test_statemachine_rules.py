"""Every rule of the StateMachine manifest: a bad manifest and the problems it is refused with,
and what a good one compiles to.

Each expected problem is the whole text, so the field path, the rule and the
offending value are all pinned.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubefn import config, resources, statemachine
from kubefn.schema import Problem

ABSENT = object()
"""Removes a field from the base spec."""

HELLO = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"name": "Ada"}, "Next": "Greet"},
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "hello", "Payload.$": "$"},
            "End": True,
        },
    },
}
CHECK = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.ok", "BooleanEquals": True, "Next": "Yes"},
                {"Variable": "$.ok", "BooleanEquals": False, "Next": "Done"},
            ],
            "Default": "Yes",
        },
        "Yes": {"Type": "Succeed"},
    },
}
"""Its second choice names a state that is not there."""
DNS_HINT = "must be lower-case letters, digits and '-' (a DNS label)"
BOTH = "must have only one of definition and definitionString (got both)"


def _manifest(metadata: Any = ABSENT, **changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"definition": HELLO}
    for key, value in changes.items():
        if value is ABSENT:
            spec.pop(key, None)
        else:
            spec[key] = value
    return {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "StateMachine",
        "metadata": {"name": "hello"} if metadata is ABSENT else metadata,
        "spec": spec,
    }


def _problems(manifest: dict[str, Any]) -> list[str]:
    with pytest.raises(statemachine.InvalidStateMachine) as caught:
        statemachine.compile_statemachine(manifest)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        pytest.param(
            _manifest(definition=CHECK),
            ["spec.definition.States.Check.Choices[1].Next: no state named 'Done'"],
            id="definition-problem-has-its-path",
        ),
        pytest.param(
            _manifest(definition={"States": {"A": {"Type": "Wait", "End": True}}}),
            [
                "spec.definition: must have StartAt",
                "spec.definition.States.A: must have exactly one of Seconds, Timestamp, "
                "SecondsPath, TimestampPath (got none)",
            ],
            id="every-definition-problem",
        ),
        pytest.param(
            _manifest(definition=ABSENT, definitionString=json.dumps(CHECK)),
            ["spec.definitionString.States.Check.Choices[1].Next: no state named 'Done'"],
            id="definition-string-problem-has-its-path",
        ),
        pytest.param(
            _manifest(definition=ABSENT, definitionString='{"StartAt": "A",'),
            [
                "spec.definitionString: is not valid JSON: Expecting property name enclosed "
                "in double quotes at line 1 column 17"
            ],
            id="definition-string-not-json",
        ),
        pytest.param(
            _manifest(definition=ABSENT, definitionString='{"StartAt": "A", "StartAt": "B"}'),
            ["spec.definitionString: has the key 'StartAt' twice"],
            id="definition-string-duplicate-key",
        ),
        pytest.param(
            _manifest(definition=ABSENT, definitionString="[1]"),
            ["spec.definitionString: must be a JSON object (got array [1])"],
            id="definition-string-not-an-object",
        ),
        pytest.param(
            _manifest(definition=ABSENT, definitionString=""),
            ["spec.definitionString: must be at least 1 characters (got '')"],
            id="definition-string-empty",
        ),
        pytest.param(
            _manifest(definition=ABSENT),
            ["spec: must have definition or definitionString"],
            id="neither-definition",
        ),
        pytest.param(
            _manifest(definitionString=json.dumps(HELLO)),
            [f"spec: {BOTH}"],
            id="both-definitions",
        ),
        pytest.param(
            _manifest(definitionString=json.dumps(CHECK)),
            [
                f"spec: {BOTH}",
                "spec.definitionString.States.Check.Choices[1].Next: no state named 'Done'",
            ],
            id="both-definitions-each-checked",
        ),
        pytest.param(
            _manifest(definition=[HELLO]),
            [
                "spec.definition: must be of type object "
                "(got list [{'StartAt': 'Prepare', 'States': {'Prepare': {'Type': 'P...)"
            ],
            id="definition-not-an-object",
        ),
        pytest.param(
            _manifest(type="QUICK"),
            ["spec.type: must be one of STANDARD, EXPRESS (got 'QUICK')"],
            id="type",
        ),
        pytest.param(
            _manifest(logging={"level": "DEBUG"}),
            ["spec.logging.level: must be one of ALL, ERROR, FATAL, OFF (got 'DEBUG')"],
            id="logging-level",
        ),
        pytest.param(
            _manifest(logging={"level": False}),
            ["spec.logging.level: must be of type string (got bool False)"],
            id="logging-level-off-unquoted-in-yaml",
        ),
        pytest.param(
            _manifest(logging={"destinations": []}),
            ["spec.logging.destinations: unknown field (known fields: level)"],
            id="logging-unknown-field",
        ),
        pytest.param(
            _manifest(roleArn="arn:aws:iam::123456789012:role/sfn"),
            [
                "spec.roleArn: unknown field "
                "(known fields: definition, definitionString, logging, type)"
            ],
            id="unknown-field",
        ),
        pytest.param(
            _manifest(metadata={"name": "Hello_World"}),
            [f"metadata.name: {DNS_HINT} (got 'Hello_World')"],
            id="name-dns-label",
        ),
        pytest.param(
            {**_manifest(), "spec": None},
            ["spec: is required"],
            id="no-spec",
        ),
    ],
)
def test_a_bad_manifest_is_refused_with_every_problem(
    manifest: dict[str, Any], expected: list[str]
) -> None:
    assert _problems(manifest) == expected


@pytest.mark.parametrize(
    ("path", "definition"),
    [
        pytest.param("spec.definition.States.A", True, id="in-the-definition"),
        pytest.param("spec.definitionString", True, id="the-definition-string"),
        pytest.param('spec.definition["x y"]', True, id="bracketed"),
        pytest.param("spec.type", False, id="type"),
        pytest.param("spec", False, id="neither-or-both"),
        pytest.param("spec.definitionStringly", False, id="only-a-prefix"),
    ],
)
def test_a_problem_is_the_definitions_by_its_path(path: str, definition: bool) -> None:
    assert statemachine.is_definition_problem(Problem(path, "x")) is definition


def test_a_valid_machine_compiles_with_its_defaults() -> None:
    compiled = statemachine.compile_statemachine(_manifest())
    assert (compiled.kind, compiled.key, compiled.bundle) == ("StateMachine", "default/hello", None)
    assert compiled.spec == {
        "name": "hello",
        "definition": HELLO,
        "type": "STANDARD",
        "logging": {"level": "OFF"},
    }
    assert compiled.digest == config.spec_digest(compiled.spec)


def test_a_definition_string_compiles_to_the_same_object() -> None:
    text = _manifest(definition=ABSENT, definitionString=json.dumps(HELLO))
    compiled = statemachine.compile_statemachine(text)
    assert compiled.spec == statemachine.compile_statemachine(_manifest()).spec


def test_type_and_logging_are_kept() -> None:
    manifest = _manifest(type="EXPRESS", logging={"level": "ALL"})
    manifest["metadata"]["namespace"] = "team"
    compiled = statemachine.compile_statemachine(manifest)
    assert (compiled.key, compiled.spec["type"], compiled.spec["logging"]) == (
        "team/hello",
        "EXPRESS",
        {"level": "ALL"},
    )


def test_null_fields_take_their_defaults() -> None:
    compiled = statemachine.compile_statemachine(_manifest(type=None, logging=None))
    assert (compiled.spec["type"], compiled.spec["logging"]) == ("STANDARD", {"level": "OFF"})


def test_compile_spec_takes_an_api_name() -> None:
    compiled = statemachine.compile_spec("default", "Order_Flow-2", {"definition": HELLO})
    assert (compiled.key, compiled.spec["name"]) == ("default/Order_Flow-2", "Order_Flow-2")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("", "name: is required", id="empty"),
        pytest.param(
            "a b", "name: must be letters, digits, '_' and '-' only (got 'a b')", id="space"
        ),
        pytest.param(
            "a" * 81, "name: must be at most 80 characters (got 81 characters)", id="long"
        ),
    ],
)
def test_compile_spec_refuses_a_bad_name(name: str, expected: str) -> None:
    with pytest.raises(statemachine.InvalidStateMachine) as caught:
        statemachine.compile_spec("default", name, {"definition": HELLO})
    assert [str(p) for p in caught.value.problems] == [expected]


def test_compile_spec_refuses_with_every_problem() -> None:
    with pytest.raises(statemachine.InvalidStateMachine) as caught:
        statemachine.compile_spec("default", "m", {"definition": CHECK, "type": "x"})
    assert [str(p) for p in caught.value.problems] == [
        "spec.type: must be one of STANDARD, EXPRESS (got 'x')",
        "spec.definition.States.Check.Choices[1].Next: no state named 'Done'",
    ]


def test_the_kind_is_registered() -> None:
    kind = resources.KINDS["StateMachine"]
    assert (kind.plural, kind.singular, kind.short_names) == (
        "statemachines",
        "statemachine",
        ("sm",),
    )
    assert [c["name"] for c in kind.printer_columns] == ["Type", "Ready", "Age"]
    compiled = resources.compile_manifest(_manifest())
    assert isinstance(compiled, statemachine.CompiledStateMachine)


WAITING_BRANCH = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Ask",
                    "States": {
                        "Ask": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            "Parameters": {"FunctionName": "ask"},
                            "End": True,
                        }
                    },
                }
            ],
            "Next": "Child",
        },
        "Child": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:0:stateMachine:c"},
            "End": True,
        },
    },
}


@pytest.mark.parametrize("field", ["definition", "definitionString"])
def test_an_express_machine_may_not_wait_for_tasks(field: str) -> None:
    given = WAITING_BRANCH if field == "definition" else json.dumps(WAITING_BRANCH)
    with pytest.raises(statemachine.InvalidStateMachine) as refused:
        statemachine.compile_spec("default", "m", {field: given, "type": "EXPRESS"})
    assert [p.path for p in refused.value.problems] == [
        f"spec.{field}.States.Fan.Branches[0].States.Ask.Resource",
        f"spec.{field}.States.Child.Resource",
    ]
    assert "EXPRESS" in refused.value.problems[0].message


def test_a_standard_machine_may_wait_for_tasks() -> None:
    compiled = statemachine.compile_spec("default", "m", {"definition": WAITING_BRANCH})
    assert compiled.spec["type"] == "STANDARD"
