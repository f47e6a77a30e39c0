"""The ASL validator: each broken rule yields its path and message, all at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubefn.asl import check_definition, parse_definition_string

ARN = "arn:aws:lambda:us-east-1:123456789012:function:work"


def machine(**states: Any) -> dict[str, Any]:
    """A definition starting at the first state given."""
    return {"StartAt": next(iter(states)), "States": states}


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": ARN, "End": True, **fields}


def choice(*rules: Any, **fields: Any) -> dict[str, Any]:
    return {"Type": "Choice", "Choices": list(rules), **fields}


def rule(**fields: Any) -> dict[str, Any]:
    return {"Variable": "$.x", "Next": "Done", **fields}


DONE = {"Type": "Succeed"}

VALID = {
    "Comment": "every state type",
    "Version": "1.0",
    "TimeoutSeconds": 300,
    "StartAt": "Work",
    "States": {
        "Work": task(
            End=None,
            Next="Check",
            Parameters={"name.$": "$.name", "id.$": "$$.Execution.Id", "fixed": {"a": [1]}},
            ResultSelector={"greeting.$": "States.Format('Hi {}', $.Payload.name)"},
            ResultPath="$.result",
            TimeoutSeconds=60,
            HeartbeatSeconds=10,
            Retry=[
                {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 2, "BackoffRate": 1.5},
                {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0, "JitterStrategy": "FULL"},
            ],
            Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.error"}],
        ),
        "Check": choice(
            rule(NumericGreaterThan=3, Next="Wait"),
            {
                "And": [
                    {"Variable": "$.x", "StringMatches": "a*"},
                    {"Not": {"Variable": "$.y", "IsNull": True}},
                ],
                "Next": "Fan",
            },
            rule(TimestampLessThanEqualsPath="$.when", Next="Items"),
            Default="Done",
        ),
        "Wait": {"Type": "Wait", "Timestamp": "2026-01-01T00:00:00Z", "Next": "Done"},
        "Fan": {
            "Type": "Parallel",
            "Branches": [machine(B1={"Type": "Pass", "Result": {"a": 1}, "End": True})],
            "Next": "Done",
        },
        "Items": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"item.$": "$$.Map.Item.Value"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Each",
                "States": {"Each": task()},
            },
            "MaxConcurrency": 5,
            "ToleratedFailurePercentage": 10.5,
            "ItemBatcher": {"MaxItemsPerBatch": 10},
            "Next": "Done",
        },
        "Failed": {"Type": "Fail", "Error": "Broken", "CausePath": "$.error.Cause"},
        "Done": DONE,
    },
}
del VALID["States"]["Work"]["End"]


def test_a_definition_with_every_state_type_is_valid() -> None:
    assert check_definition(VALID) == []


def test_the_definition_string_parses_and_checks() -> None:
    import json

    definition, problems = parse_definition_string(json.dumps(VALID))
    assert (definition, problems) == (VALID, [])


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("{", "definition: is not valid JSON: Expecting property name", id="json"),
        pytest.param('{"a": 1, "a": 2}', "definition: has the key 'a' twice", id="duplicate"),
    ],
)
def test_a_definition_string_that_is_no_json_is_refused(text: str, expected: str) -> None:
    definition, problems = parse_definition_string(text)
    assert definition is None and str(problems[0]).startswith(expected)


def problems_of(definition: Any) -> list[str]:
    return [str(p) for p in check_definition(definition)]


CASES = [
    # top level
    ("no-start", {"States": {"A": DONE}}, "definition: must have StartAt"),
    ("start-unknown", {"StartAt": "B", "States": {"A": DONE}}, "StartAt: no state named 'B'"),
    ("no-states", {"StartAt": "A"}, "definition: must have States"),
    ("empty-states", {"StartAt": "A", "States": {}}, "States: must be a non-empty object (got {})"),
    ("top-unknown", machine(A=DONE) | {"Foo": 1}, "Foo: is not a field of a state machine"),
    (
        "timeout-type",
        machine(A=DONE) | {"TimeoutSeconds": "9"},
        "TimeoutSeconds: must be an integer (got string '9')",
    ),
    ("comment-type", machine(A=DONE) | {"Comment": 5}, "Comment: must be a string (got number 5)"),
    (
        "query-language",
        machine(A=DONE) | {"QueryLanguage": "XPath"},
        "QueryLanguage: must be one of JSONPath, JSONata (got 'XPath')",
    ),
    ("not-object", [1], "definition: must be a JSON object (got array [1])"),
    # states
    (
        "no-type",
        machine(A={"End": True}),
        "States.A: must have Type, one of Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map",
    ),
    (
        "bad-type",
        machine(A={"Type": "Lambda"}),
        "States.A.Type: must be one of Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map "
        "(got 'Lambda')",
    ),
    ("unknown-field", machine(A=task(Foo=1)), "States.A.Foo: is not a field of a Task state"),
    (
        "pass-resource",
        machine(A={"Type": "Pass", "Resource": ARN, "End": True}),
        "States.A.Resource: is not a field of a Pass state",
    ),
    (
        "next-and-end",
        machine(A=task(Next="B"), B=DONE),
        "States.A: must have exactly one of Next and End (got both)",
    ),
    (
        "neither",
        machine(A={"Type": "Pass"}),
        "States.A: must have exactly one of Next and End (got neither)",
    ),
    (
        "end-false",
        machine(A={"Type": "Pass", "End": False}),
        "States.A.End: must be true (got False)",
    ),
    ("next-unknown", machine(A={"Type": "Pass", "Next": "B"}), "States.A.Next: no state named 'B'"),
    ("unreachable", machine(A=DONE, B=DONE), "States.B: is not reachable from StartAt"),
    (
        "succeed-next",
        machine(A={"Type": "Succeed", "Next": "A"}),
        "States.A.Next: is not a field of a Succeed state",
    ),
    (
        "fail-end",
        machine(A={"Type": "Fail", "End": True}),
        "States.A.End: is not a field of a Fail state",
    ),
    (
        "long-name",
        machine(**{"N" * 81: DONE}),
        f"States.{'N' * 81}: state name must be 1 to 80 characters (got 81)",
    ),
    (
        "odd-name",
        machine(**{"a b": {"Type": "Pass", "Next": "c"}}),
        "States[\"a b\"].Next: no state named 'c'",
    ),
    # Task
    ("no-resource", machine(A={"Type": "Task", "End": True}), "States.A: must have Resource"),
    (
        "bad-resource",
        machine(A=task(Resource="not a name")),
        "States.A.Resource: must be an ARN or a function name (got 'not a name')",
    ),
    (
        "timeout-pair",
        machine(A=task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")),
        "States.A: must have at most one of TimeoutSeconds, TimeoutSecondsPath (got all of them)",
    ),
    (
        "heartbeat-pair",
        machine(A=task(HeartbeatSeconds=5, HeartbeatSecondsPath="$.t")),
        "States.A: must have at most one of HeartbeatSeconds, HeartbeatSecondsPath (got all of "
        "them)",
    ),
    (
        "heartbeat-long",
        machine(A=task(TimeoutSeconds=5, HeartbeatSeconds=5)),
        "States.A.HeartbeatSeconds: must be less than TimeoutSeconds 5 (got 5)",
    ),
    (
        "timeout-zero",
        machine(A=task(TimeoutSeconds=0)),
        "States.A.TimeoutSeconds: must be between 1 and 99999999 (got 0)",
    ),
    (
        "timeout-path",
        machine(A=task(TimeoutSecondsPath="$.a[*]")),
        "States.A.TimeoutSecondsPath: must be a reference path: must not use [*] (a reference "
        "path names one node) (got '$.a[*]')",
    ),
    # paths and templates
    (
        "input-path",
        machine(A=task(InputPath="a.b")),
        "States.A.InputPath: must be a path: must start with $ (got 'a.b')",
    ),
    (
        "result-filter",
        machine(A=task(ResultPath="$.a[?(@.b)]")),
        "States.A.ResultPath: must be a reference path: must not use a filter '[?(...)]' (a "
        "reference path names one node) (got '$.a[?(@.b)]')",
    ),
    (
        "result-deep",
        machine(A=task(ResultPath="$..a")),
        "States.A.ResultPath: must be a reference path: must not use the deep scan '..' (a "
        "reference path names one node) (got '$..a')",
    ),
    (
        "param-path",
        machine(A=task(Parameters={"x": {"y.$": "name"}})),
        "States.A.Parameters.x[\"y.$\"]: must be a path: must start with $ (got 'name')",
    ),
    (
        "param-number",
        machine(A=task(Parameters={"y.$": 3})),
        'States.A.Parameters["y.$"]: must be a path or an intrinsic call (got number 3)',
    ),
    (
        "param-intrinsic",
        machine(A=task(Parameters={"y.$": "States.MathAdd(1)"})),
        'States.A.Parameters["y.$"]: States.MathAdd takes 2 argument(s) (got 1), '
        "in 'States.MathAdd(1)'",
    ),
    (
        "selector-object",
        machine(A=task(ResultSelector=[1])),
        "States.A.ResultSelector: must be an object (got [1])",
    ),
    # Retry / Catch
    (
        "retry-empty",
        machine(A=task(Retry=[{"ErrorEquals": []}])),
        "States.A.Retry[0].ErrorEquals: must be a non-empty array of error names (got [])",
    ),
    ("retry-missing", machine(A=task(Retry=[{}])), "States.A.Retry[0]: must have ErrorEquals"),
    (
        "all-alone",
        machine(A=task(Retry=[{"ErrorEquals": ["States.ALL", "E"]}])),
        "States.A.Retry[0].ErrorEquals: States.ALL must appear alone (got ['States.ALL', 'E'])",
    ),
    (
        "all-last",
        machine(A=task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}])),
        "States.A.Retry[0].ErrorEquals: States.ALL must be in the last handler of its list",
    ),
    (
        "interval",
        machine(A=task(Retry=[{"ErrorEquals": ["E"], "IntervalSeconds": 0}])),
        "States.A.Retry[0].IntervalSeconds: must be between 1 and 99999999 (got 0)",
    ),
    (
        "attempts",
        machine(A=task(Retry=[{"ErrorEquals": ["E"], "MaxAttempts": -1}])),
        "States.A.Retry[0].MaxAttempts: must be between 0 and 99999999 (got -1)",
    ),
    (
        "backoff",
        machine(A=task(Retry=[{"ErrorEquals": ["E"], "BackoffRate": 0.5}])),
        "States.A.Retry[0].BackoffRate: must be at least 1.0 (got 0.5)",
    ),
    (
        "jitter",
        machine(A=task(Retry=[{"ErrorEquals": ["E"], "JitterStrategy": "HALF"}])),
        "States.A.Retry[0].JitterStrategy: must be one of FULL, NONE (got 'HALF')",
    ),
    (
        "retry-unknown",
        machine(A=task(Retry=[{"ErrorEquals": ["E"], "Delay": 1}])),
        "States.A.Retry[0].Delay: is not a field of a retrier",
    ),
    (
        "catch-next",
        machine(A=task(Catch=[{"ErrorEquals": ["E"], "Next": "Z"}])),
        "States.A.Catch[0].Next: no state named 'Z'",
    ),
    (
        "catch-no-next",
        machine(A=task(Catch=[{"ErrorEquals": ["E"]}])),
        "States.A.Catch[0]: must have Next",
    ),
    (
        "catch-result",
        machine(A=task(Catch=[{"ErrorEquals": ["E"], "Next": "A", "ResultPath": "$.*"}])),
        "States.A.Catch[0].ResultPath: must be a reference path: must not use the wildcard '*' (a "
        "reference path names one node) (got '$.*')",
    ),
    # Choice
    (
        "choices-empty",
        machine(A=choice()),
        "States.A.Choices: must be a non-empty array of rules (got array [])",
    ),
    (
        "choice-end",
        machine(A=choice(rule(IsNull=True)) | {"End": True}, Done=DONE),
        "States.A.End: is not a field of a Choice state",
    ),
    (
        "choice-no-next",
        machine(A=choice({"Variable": "$.x", "IsNull": True})),
        "States.A.Choices[0]: must have Next: a top-level Choice rule names a state",
    ),
    (
        "choice-target",
        machine(A=choice(rule(IsNull=True))),
        "States.A.Choices[0].Next: no state named 'Done'",
    ),
    (
        "default-target",
        machine(A=choice(rule(IsNull=True), Default="Z"), Done=DONE),
        "States.A.Default: no state named 'Z'",
    ),
    (
        "two-operators",
        machine(A=choice(rule(IsNull=True, IsString=True)), Done=DONE),
        "States.A.Choices[0]: must have exactly one comparison operator (got IsNull, IsString)",
    ),
    (
        "no-operator",
        machine(A=choice(rule()), Done=DONE),
        "States.A.Choices[0]: must have exactly one comparison operator (got none)",
    ),
    (
        "no-variable",
        machine(A=choice({"StringEquals": "a", "Next": "Done"}), Done=DONE),
        "States.A.Choices[0]: must have Variable for StringEquals",
    ),
    (
        "string-type",
        machine(A=choice(rule(StringEquals=1)), Done=DONE),
        "States.A.Choices[0].StringEquals: must be a string for StringEquals (got number 1)",
    ),
    (
        "numeric-type",
        machine(A=choice(rule(NumericLessThan="1")), Done=DONE),
        "States.A.Choices[0].NumericLessThan: must be a number for NumericLessThan (got string "
        "'1')",
    ),
    (
        "boolean-type",
        machine(A=choice(rule(BooleanEquals="true")), Done=DONE),
        "States.A.Choices[0].BooleanEquals: must be a boolean for BooleanEquals (got string "
        "'true')",
    ),
    (
        "timestamp-type",
        machine(A=choice(rule(TimestampEquals="yesterday")), Done=DONE),
        "States.A.Choices[0].TimestampEquals: must be an RFC 3339 timestamp string for "
        "TimestampEquals (got string 'yesterday')",
    ),
    (
        "is-type",
        machine(A=choice(rule(IsPresent="yes")), Done=DONE),
        "States.A.Choices[0].IsPresent: must be a boolean for IsPresent (got string 'yes')",
    ),
    (
        "path-operand",
        machine(A=choice(rule(StringEqualsPath="x")), Done=DONE),
        "States.A.Choices[0].StringEqualsPath: must be a path: must start with $ (got 'x')",
    ),
    (
        "variable-path",
        machine(A=choice(rule(Variable="x", IsNull=True)), Done=DONE),
        "States.A.Choices[0].Variable: must be a path: must start with $ (got 'x')",
    ),
    (
        "nested-next",
        machine(A=choice({"Not": rule(IsNull=True), "Next": "Done"}), Done=DONE),
        "States.A.Choices[0].Not.Next: is not allowed in a nested Choice rule",
    ),
    (
        "and-empty",
        machine(A=choice({"And": [], "Next": "Done"}), Done=DONE),
        "States.A.Choices[0].And: must be a non-empty array of rules (got array [])",
    ),
    (
        "nested-type",
        machine(
            A=choice({"Or": [{"Variable": "$.a", "NumericEquals": "x"}], "Next": "Done"}), Done=DONE
        ),
        "States.A.Choices[0].Or[0].NumericEquals: must be a number for NumericEquals (got string "
        "'x')",
    ),
    (
        "rule-unknown",
        machine(A=choice(rule(IsNull=True, Foo=1)), Done=DONE),
        "States.A.Choices[0].Foo: is not a field of a Choice rule",
    ),
    # Wait / Fail
    (
        "wait-none",
        machine(A={"Type": "Wait", "End": True}),
        "States.A: must have exactly one of Seconds, Timestamp, SecondsPath, TimestampPath (got "
        "none)",
    ),
    (
        "wait-two",
        machine(A={"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}),
        "States.A: must have exactly one of Seconds, Timestamp, SecondsPath, TimestampPath (got "
        "Seconds, SecondsPath)",
    ),
    (
        "wait-negative",
        machine(A={"Type": "Wait", "Seconds": -1, "End": True}),
        "States.A.Seconds: must be between 0 and 99999999 (got -1)",
    ),
    (
        "wait-timestamp",
        machine(A={"Type": "Wait", "Timestamp": "2026-13-01T00:00:00Z", "End": True}),
        "States.A.Timestamp: must be an RFC 3339 timestamp (got '2026-13-01T00:00:00Z')",
    ),
    (
        "fail-error",
        machine(A={"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
        "States.A: must have at most one of Error, ErrorPath (got all of them)",
    ),
    (
        "fail-cause",
        machine(A={"Type": "Fail", "Cause": "C", "CausePath": "$.c"}),
        "States.A: must have at most one of Cause, CausePath (got all of them)",
    ),
    # Parallel
    ("no-branches", machine(A={"Type": "Parallel", "End": True}), "States.A: must have Branches"),
    (
        "branch-target",
        machine(
            A={
                "Type": "Parallel",
                "End": True,
                "Branches": [machine(X={"Type": "Pass", "Next": "A"})],
            }
        ),
        "States.A.Branches[0].States.X.Next: no state named 'A'",
    ),
    (
        "branch-unknown",
        machine(
            A={"Type": "Parallel", "End": True, "Branches": [machine(X=DONE) | {"Version": "1"}]}
        ),
        "States.A.Branches[0].Version: is not a field of a branch",
    ),
    (
        "branch-unreachable",
        machine(A={"Type": "Parallel", "End": True, "Branches": [machine(X=DONE, Y=DONE)]}),
        "States.A.Branches[0].States.Y: is not reachable from StartAt",
    ),
    (
        "duplicate-name",
        machine(A={"Type": "Parallel", "End": True, "Branches": [machine(A=DONE)]}),
        "States.A.Branches[0].States.A: state name 'A' is already used at States.A",
    ),
    # Map
    (
        "map-no-processor",
        machine(A={"Type": "Map", "End": True}),
        "States.A: must have exactly one of ItemProcessor and Iterator (got neither)",
    ),
    (
        "map-both",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "Iterator": machine(X=DONE),
                "ItemProcessor": machine(Y=DONE),
            }
        ),
        "States.A: must have exactly one of ItemProcessor and Iterator (got ItemProcessor, "
        "Iterator)",
    ),
    (
        "map-inner",
        machine(A={"Type": "Map", "End": True, "ItemProcessor": machine(X={"Type": "Pass"})}),
        "States.A.ItemProcessor.States.X: must have exactly one of Next and End (got neither)",
    ),
    (
        "map-mode",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "ItemProcessor": machine(X=DONE) | {"ProcessorConfig": {"Mode": "FAST"}},
            }
        ),
        "States.A.ItemProcessor.ProcessorConfig.Mode: must be one of INLINE, DISTRIBUTED (got "
        "'FAST')",
    ),
    (
        "map-concurrency",
        machine(A={"Type": "Map", "End": True, "Iterator": machine(X=DONE), "MaxConcurrency": -1}),
        "States.A.MaxConcurrency: must be at least 0 (got -1)",
    ),
    (
        "map-percentage",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "Iterator": machine(X=DONE),
                "ToleratedFailurePercentage": 101,
            }
        ),
        "States.A.ToleratedFailurePercentage: must be between 0 and 100 (got 101)",
    ),
    (
        "map-count",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "Iterator": machine(X=DONE),
                "ToleratedFailureCount": 1.5,
            }
        ),
        "States.A.ToleratedFailureCount: must be an integer (got number 1.5)",
    ),
    (
        "map-items-path",
        machine(
            A={"Type": "Map", "End": True, "Iterator": machine(X=DONE), "ItemsPath": "$.a[0:2]"}
        ),
        "States.A.ItemsPath: must be a reference path: must not use [0:2] (a reference path names "
        "one node) (got '$.a[0:2]')",
    ),
    (
        "map-selector",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "Iterator": machine(X=DONE),
                "ItemSelector": {},
                "Parameters": {},
            }
        ),
        "States.A: must have at most one of ItemSelector, Parameters (got all of them)",
    ),
    (
        "batcher-empty",
        machine(A={"Type": "Map", "End": True, "Iterator": machine(X=DONE), "ItemBatcher": {}}),
        "States.A.ItemBatcher: must have MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path "
        "forms)",
    ),
    (
        "batcher-bytes",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "Iterator": machine(X=DONE),
                "ItemBatcher": {"MaxInputBytesPerBatch": 262145},
            }
        ),
        "States.A.ItemBatcher.MaxInputBytesPerBatch: must be between 1 and 262144 (got 262145)",
    ),
    (
        "batcher-unknown",
        machine(
            A={
                "Type": "Map",
                "End": True,
                "Iterator": machine(X=DONE),
                "ItemBatcher": {"MaxItemsPerBatch": 1, "Size": 2},
            }
        ),
        "States.A.ItemBatcher.Size: is not a field of ItemBatcher",
    ),
    # JSONata
    (
        "jsonata-inputpath",
        machine(A=task(InputPath="$.a")) | {"QueryLanguage": "JSONata"},
        "States.A.InputPath: is not a field of a Task state in JSONata",
    ),
    (
        "jsonata-condition",
        machine(A=choice({"Next": "Done"}), Done=DONE) | {"QueryLanguage": "JSONata"},
        "States.A.Choices[0]: must have Condition (QueryLanguage is JSONata)",
    ),
    (
        "jsonata-state-back",
        machine(A=task(QueryLanguage="JSONPath")) | {"QueryLanguage": "JSONata"},
        "States.A.QueryLanguage: must not be JSONPath in a JSONata state machine",
    ),
]


@pytest.mark.parametrize("definition, expected", [pytest.param(d, e, id=i) for i, d, e in CASES])
def test_a_broken_rule_is_reported_with_its_path(definition: Any, expected: str) -> None:
    assert expected in problems_of(definition)


def test_every_problem_is_reported_at_once() -> None:
    broken = copy.deepcopy(VALID)
    states = broken["States"]
    states["Work"]["Retry"][0]["BackoffRate"] = 0
    states["Check"]["Choices"][0]["Next"] = "Nowhere"
    states["Failed"]["Error"] = 3
    states["Items"]["MaxConcurrency"] = "5"
    assert problems_of(broken) == [
        "States.Work.Retry[0].BackoffRate: must be at least 1.0 (got 0)",
        "States.Check.Choices[0].Next: no state named 'Nowhere'",
        "States.Items.MaxConcurrency: must be an integer (got string '5')",
        "States.Failed.Error: must be a string (got number 3)",
        "States.Wait: is not reachable from StartAt",
    ]


def test_jsonata_fields_are_accepted_in_a_jsonata_machine() -> None:
    definition = machine(
        A=task(Arguments={"x": "{% $states.input.x %}"}, Output="{% $states.result %}",
               TimeoutSeconds="{% $t %}", End=None, Next="B"),
        B=choice({"Condition": "{% $states.input.x > 1 %}", "Next": "C"}, Default="C"),
        C={"Type": "Wait", "Seconds": "{% $s %}", "End": True},
    ) | {"QueryLanguage": "JSONata"}  # fmt: skip
    del definition["States"]["A"]["End"]
    assert problems_of(definition) == []


@pytest.mark.parametrize(
    "resource",
    ["arn:aws:states:::lambda:invoke", ARN, "my-function", "my-function:live"],
)
def test_task_resources_that_name_something_are_accepted(resource: str) -> None:
    assert problems_of(machine(A=task(Resource=resource))) == []


def test_a_state_with_a_broken_type_still_leads_to_its_next() -> None:
    definition = machine(A={"Type": "Lambda", "Next": "B"}, B=DONE)
    assert problems_of(definition) == [
        "States.A.Type: must be one of Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map "
        "(got 'Lambda')"
    ]


@pytest.mark.parametrize(
    "resource",
    ["hello", "hello:$LATEST", "team-a/hello", "arn:aws:lambda:us-east-1:0:function:hello"],
)
def test_a_task_names_a_function_by_name_key_or_arn(resource: str) -> None:
    assert check_definition(machine(A=task(Resource=resource))) == []


@pytest.mark.parametrize("resource", ["Team/hello", "/hello", "a/b/c", "-a/hello"])
def test_a_namespace_must_be_a_dns_label(resource: str) -> None:
    assert [p.path for p in check_definition(machine(A=task(Resource=resource)))] == [
        "States.A.Resource"
    ]
