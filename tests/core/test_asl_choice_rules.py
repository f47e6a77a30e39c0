"""Choice rules evaluated as Step Functions evaluates them: every operator, Path forms,
type mismatches, missing variables, nesting, StringMatches escapes, timestamp offsets."""

from __future__ import annotations

from typing import Any

import pytest

from kubefn.asl import choice_rules
from kubefn.asl.choice import OPERATORS
from kubefn.asl.errors import NO_CHOICE_MATCHED, RUNTIME, StatesError

DATA: dict[str, Any] = {
    "n": 5,
    "f": 5.0,
    "half": 2.5,
    "big": 10,
    "neg": -3,
    "s": "banana",
    "apple": "apple",
    "cherry": "cherry",
    "empty": "",
    "t": True,
    "false": False,
    "one": 1,
    "zero": 0,
    "null": None,
    "list": [1, 2],
    "obj": {"k": "v"},
    "ts": "2024-03-14T01:59:00Z",
    "ts_offset": "2024-03-14T03:59:00+02:00",
    "ts_later": "2024-03-14T01:59:00.500Z",
    "ts_bad": "2024-03-14 01:59:00",
    "ts_lower": "2024-03-14t01:59:00z",
    "star": "a*b",
    "slash": "a\\b",
    "file": "log-2024.txt",
    "multi": "line1\nline2",
    "astral": "\U0001f600",
    "bmp_high": "\uff5e",
}
CONTEXT = {"Execution": {"Name": "banana", "StartTime": "2024-03-14T01:59:00Z"}}


def holds(**rule: Any) -> bool:
    return choice_rules.evaluate(rule, DATA, context=CONTEXT)


def test_every_operator_is_covered() -> None:
    covered = {key for case in CASES for key in case.values[0] if key != "Variable"}
    assert covered >= set(OPERATORS)


CASES = [
    # Boolean
    pytest.param({"Variable": "$.t", "BooleanEquals": True}, True, id="bool-eq"),
    pytest.param({"Variable": "$.false", "BooleanEquals": True}, False, id="bool-ne"),
    pytest.param({"Variable": "$.one", "BooleanEquals": True}, False, id="bool-1-is-not-true"),
    pytest.param({"Variable": "$.zero", "BooleanEquals": False}, False, id="bool-0-not-false"),
    pytest.param({"Variable": "$.s", "BooleanEquals": True}, False, id="bool-on-string"),
    pytest.param({"Variable": "$.t", "BooleanEqualsPath": "$.t"}, True, id="bool-path-eq"),
    pytest.param({"Variable": "$.t", "BooleanEqualsPath": "$.false"}, False, id="bool-path-ne"),
    pytest.param({"Variable": "$.t", "BooleanEqualsPath": "$.one"}, False, id="bool-path-to-1"),
    # Numeric
    pytest.param({"Variable": "$.n", "NumericEquals": 5}, True, id="num-eq"),
    pytest.param({"Variable": "$.f", "NumericEquals": 5}, True, id="num-eq-float-int"),
    pytest.param({"Variable": "$.n", "NumericEquals": 6}, False, id="num-eq-false"),
    pytest.param({"Variable": "$.s", "NumericEquals": 5}, False, id="num-on-string"),
    pytest.param({"Variable": "$.t", "NumericEquals": 1}, False, id="num-true-is-not-1"),
    pytest.param({"Variable": "$.null", "NumericEquals": 0}, False, id="num-on-null"),
    pytest.param({"Variable": "$.list", "NumericEquals": 2}, False, id="num-on-array"),
    pytest.param({"Variable": "$.n", "NumericLessThan": 6}, True, id="num-lt"),
    pytest.param({"Variable": "$.n", "NumericLessThan": 5}, False, id="num-lt-equal"),
    pytest.param({"Variable": "$.neg", "NumericLessThan": 0}, True, id="num-lt-negative"),
    pytest.param({"Variable": "$.n", "NumericGreaterThan": 4.5}, True, id="num-gt"),
    pytest.param({"Variable": "$.n", "NumericGreaterThan": 5}, False, id="num-gt-equal"),
    pytest.param({"Variable": "$.n", "NumericLessThanEquals": 5}, True, id="num-le-equal"),
    pytest.param({"Variable": "$.n", "NumericLessThanEquals": 4}, False, id="num-le-false"),
    pytest.param({"Variable": "$.n", "NumericGreaterThanEquals": 5}, True, id="num-ge-equal"),
    pytest.param({"Variable": "$.half", "NumericGreaterThanEquals": 3}, False, id="num-ge-false"),
    pytest.param({"Variable": "$.n", "NumericEqualsPath": "$.f"}, True, id="num-eq-path"),
    pytest.param({"Variable": "$.n", "NumericEqualsPath": "$.s"}, False, id="num-eq-path-str"),
    pytest.param({"Variable": "$.s", "NumericEqualsPath": "$.n"}, False, id="num-path-var-str"),
    pytest.param({"Variable": "$.n", "NumericLessThanPath": "$.big"}, True, id="num-lt-path"),
    pytest.param({"Variable": "$.n", "NumericGreaterThanPath": "$.big"}, False, id="num-gt-path"),
    pytest.param(
        {"Variable": "$.n", "NumericLessThanEqualsPath": "$.n"}, True, id="num-le-path-self"
    ),
    pytest.param(
        {"Variable": "$.big", "NumericGreaterThanEqualsPath": "$.n"}, True, id="num-ge-path"
    ),
    pytest.param({"Variable": "$.one", "NumericEqualsPath": "$.t"}, False, id="num-path-to-true"),
    # String
    pytest.param({"Variable": "$.s", "StringEquals": "banana"}, True, id="str-eq"),
    pytest.param({"Variable": "$.s", "StringEquals": "Banana"}, False, id="str-eq-case"),
    pytest.param({"Variable": "$.n", "StringEquals": "5"}, False, id="str-on-number"),
    pytest.param({"Variable": "$.empty", "StringEquals": ""}, True, id="str-eq-empty"),
    pytest.param({"Variable": "$.s", "StringLessThan": "cherry"}, True, id="str-lt"),
    pytest.param({"Variable": "$.s", "StringLessThan": "apple"}, False, id="str-lt-false"),
    pytest.param({"Variable": "$.s", "StringLessThan": "bananas"}, True, id="str-lt-prefix"),
    pytest.param({"Variable": "$.s", "StringGreaterThan": "apple"}, True, id="str-gt"),
    pytest.param({"Variable": "$.s", "StringGreaterThan": "Zebra"}, True, id="str-gt-upper-first"),
    pytest.param({"Variable": "$.s", "StringLessThanEquals": "banana"}, True, id="str-le-equal"),
    pytest.param({"Variable": "$.s", "StringGreaterThanEquals": "banana"}, True, id="str-ge-eq"),
    pytest.param({"Variable": "$.s", "StringGreaterThanEquals": "c"}, False, id="str-ge-false"),
    pytest.param(
        {"Variable": "$.astral", "StringLessThan": "\uff5e"},
        True,
        id="str-utf16-order-astral-before-high-bmp",
    ),
    pytest.param({"Variable": "$.s", "StringEqualsPath": "$$.Execution.Name"}, True, id="str-ctx"),
    pytest.param({"Variable": "$.s", "StringEqualsPath": "$.apple"}, False, id="str-eq-path"),
    pytest.param({"Variable": "$.s", "StringEqualsPath": "$.n"}, False, id="str-eq-path-number"),
    pytest.param({"Variable": "$.s", "StringLessThanPath": "$.cherry"}, True, id="str-lt-path"),
    pytest.param({"Variable": "$.s", "StringGreaterThanPath": "$.apple"}, True, id="str-gt-path"),
    pytest.param({"Variable": "$.s", "StringLessThanEqualsPath": "$.s"}, True, id="str-le-path"),
    pytest.param(
        {"Variable": "$.apple", "StringGreaterThanEqualsPath": "$.s"}, False, id="str-ge-path"
    ),
    pytest.param(
        {"Variable": "$.n", "StringGreaterThanPath": "$.apple"}, False, id="str-gt-path-var-num"
    ),
    # StringMatches
    pytest.param({"Variable": "$.file", "StringMatches": "log-*.txt"}, True, id="match-star"),
    pytest.param({"Variable": "$.file", "StringMatches": "*"}, True, id="match-only-star"),
    pytest.param({"Variable": "$.empty", "StringMatches": "*"}, True, id="match-star-empty"),
    pytest.param({"Variable": "$.file", "StringMatches": "log-*"}, True, id="match-prefix"),
    pytest.param({"Variable": "$.file", "StringMatches": "*.csv"}, False, id="match-suffix-no"),
    pytest.param({"Variable": "$.file", "StringMatches": "log"}, False, id="match-whole-string"),
    pytest.param({"Variable": "$.file", "StringMatches": "log-2024.txt"}, True, id="match-exact"),
    pytest.param({"Variable": "$.file", "StringMatches": "log-2024?txt"}, False, id="match-no-?"),
    pytest.param({"Variable": "$.file", "StringMatches": "log-2024xtxt"}, False, id="match-dot"),
    pytest.param({"Variable": "$.file", "StringMatches": "l[o]g*"}, False, id="match-no-class"),
    pytest.param({"Variable": "$.star", "StringMatches": "a\\*b"}, True, id="match-escaped-star"),
    pytest.param({"Variable": "$.file", "StringMatches": "l\\*"}, False, id="match-escaped-lit"),
    pytest.param({"Variable": "$.slash", "StringMatches": "a\\\\b"}, True, id="match-escaped-bs"),
    pytest.param({"Variable": "$.slash", "StringMatches": "a\\b"}, True, id="match-lone-bs"),
    pytest.param({"Variable": "$.multi", "StringMatches": "line1*2"}, True, id="match-newline"),
    pytest.param({"Variable": "$.n", "StringMatches": "*"}, False, id="match-on-number"),
    # Timestamp
    pytest.param({"Variable": "$.ts", "TimestampEquals": "2024-03-14T01:59:00Z"}, True, id="ts-eq"),
    pytest.param(
        {"Variable": "$.ts_offset", "TimestampEquals": "2024-03-14T01:59:00Z"},
        True,
        id="ts-eq-same-instant-other-offset",
    ),
    pytest.param(
        {"Variable": "$.ts_later", "TimestampEquals": "2024-03-14T01:59:00Z"},
        False,
        id="ts-eq-fraction-counts",
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampLessThan": "2024-03-14T01:59:00.001Z"}, True, id="ts-lt"
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampLessThan": "2024-03-14T02:59:00+02:00"},
        False,
        id="ts-lt-offset-is-earlier-instant",
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampGreaterThan": "2024-03-14T01:58:59Z"}, True, id="ts-gt"
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampLessThanEquals": "2024-03-14T01:59:00Z"}, True, id="ts-le"
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampGreaterThanEquals": "2024-03-15T00:00:00Z"},
        False,
        id="ts-ge-false",
    ),
    pytest.param(
        {"Variable": "$.ts_bad", "TimestampEquals": "2024-03-14T01:59:00Z"},
        False,
        id="ts-var-not-rfc3339",
    ),
    pytest.param(
        {"Variable": "$.ts_lower", "TimestampEquals": "2024-03-14T01:59:00Z"},
        False,
        id="ts-var-lowercase",
    ),
    pytest.param(
        {"Variable": "$.n", "TimestampEquals": "2024-03-14T01:59:00Z"}, False, id="ts-num"
    ),
    pytest.param({"Variable": "$.ts", "TimestampEqualsPath": "$.ts_offset"}, True, id="ts-eq-path"),
    pytest.param({"Variable": "$.ts", "TimestampEqualsPath": "$.ts_bad"}, False, id="ts-path-bad"),
    pytest.param(
        {"Variable": "$.ts", "TimestampLessThanPath": "$.ts_later"}, True, id="ts-lt-path"
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampGreaterThanPath": "$.ts_later"}, False, id="ts-gt-path"
    ),
    pytest.param(
        {"Variable": "$.ts", "TimestampLessThanEqualsPath": "$$.Execution.StartTime"},
        True,
        id="ts-le-context-path",
    ),
    pytest.param(
        {"Variable": "$.ts_later", "TimestampGreaterThanEqualsPath": "$.ts"},
        True,
        id="ts-ge-path",
    ),
    # Type tests
    pytest.param({"Variable": "$.null", "IsNull": True}, True, id="is-null"),
    pytest.param({"Variable": "$.empty", "IsNull": True}, False, id="is-null-empty-string"),
    pytest.param({"Variable": "$.n", "IsNull": False}, True, id="is-null-false"),
    pytest.param({"Variable": "$.n", "IsNumeric": True}, True, id="is-numeric"),
    pytest.param({"Variable": "$.half", "IsNumeric": True}, True, id="is-numeric-float"),
    pytest.param({"Variable": "$.t", "IsNumeric": True}, False, id="is-numeric-bool"),
    pytest.param({"Variable": "$.s", "IsNumeric": False}, True, id="is-numeric-false"),
    pytest.param({"Variable": "$.s", "IsString": True}, True, id="is-string"),
    pytest.param({"Variable": "$.null", "IsString": True}, False, id="is-string-null"),
    pytest.param({"Variable": "$.t", "IsBoolean": True}, True, id="is-boolean"),
    pytest.param({"Variable": "$.one", "IsBoolean": True}, False, id="is-boolean-one"),
    pytest.param({"Variable": "$.ts", "IsTimestamp": True}, True, id="is-timestamp"),
    pytest.param({"Variable": "$.ts_offset", "IsTimestamp": True}, True, id="is-ts-offset"),
    pytest.param({"Variable": "$.ts_bad", "IsTimestamp": True}, False, id="is-ts-no-t"),
    pytest.param({"Variable": "$.ts_lower", "IsTimestamp": False}, True, id="is-ts-lowercase"),
    pytest.param({"Variable": "$.s", "IsTimestamp": True}, False, id="is-ts-word"),
    pytest.param({"Variable": "$.obj", "IsString": False}, True, id="is-string-object"),
    pytest.param({"Variable": "$.n", "IsPresent": True}, True, id="is-present"),
    pytest.param({"Variable": "$.null", "IsPresent": True}, True, id="is-present-null-value"),
    pytest.param({"Variable": "$.missing", "IsPresent": True}, False, id="is-present-missing"),
    pytest.param({"Variable": "$.missing", "IsPresent": False}, True, id="is-absent"),
    pytest.param({"Variable": "$.obj.k.deep", "IsPresent": False}, True, id="is-absent-deep"),
    pytest.param({"Variable": "$.list[5]", "IsPresent": True}, False, id="is-present-index"),
    pytest.param({"Variable": "$.list[1]", "IsPresent": True}, True, id="is-present-index-ok"),
    pytest.param({"Variable": "$$.Execution.Name", "IsPresent": True}, True, id="is-present-ctx"),
    pytest.param({"Variable": "$$.Map.Item", "IsPresent": True}, False, id="is-present-ctx-no"),
    # Boolean logic
    pytest.param(
        {
            "And": [
                {"Variable": "$.n", "NumericGreaterThan": 1},
                {"Variable": "$.s", "StringEquals": "banana"},
            ]
        },
        True,
        id="and-true",
    ),
    pytest.param(
        {
            "And": [
                {"Variable": "$.n", "NumericGreaterThan": 1},
                {"Variable": "$.s", "StringEquals": "apple"},
            ]
        },
        False,
        id="and-false",
    ),
    pytest.param(
        {
            "Or": [
                {"Variable": "$.n", "NumericGreaterThan": 100},
                {"Variable": "$.s", "StringEquals": "banana"},
            ]
        },
        True,
        id="or-true",
    ),
    pytest.param(
        {
            "Or": [
                {"Variable": "$.n", "NumericGreaterThan": 100},
                {"Variable": "$.t", "BooleanEquals": False},
            ]
        },
        False,
        id="or-false",
    ),
    pytest.param({"Not": {"Variable": "$.t", "BooleanEquals": True}}, False, id="not"),
    pytest.param({"Not": {"Variable": "$.missing", "IsPresent": True}}, True, id="not-present"),
    pytest.param(
        {
            "And": [
                {"Variable": "$.missing", "IsPresent": True},
                {"Variable": "$.missing", "NumericEquals": 1},
            ]
        },
        False,
        id="and-guards-a-missing-variable",
    ),
    pytest.param(
        {
            "Or": [
                {"Not": {"Variable": "$.obj", "IsPresent": True}},
                {
                    "And": [
                        {"Variable": "$.obj.k", "StringEquals": "v"},
                        {"Not": {"Variable": "$.n", "NumericEquals": 6}},
                    ]
                },
            ]
        },
        True,
        id="nested-or-and-not",
    ),
    pytest.param(
        {"Not": {"Not": {"Or": [{"Variable": "$.null", "IsNull": True}]}}},
        True,
        id="double-not",
    ),
]


@pytest.mark.parametrize(("rule", "expected"), CASES)
def test_evaluate(rule: dict[str, Any], expected: bool) -> None:
    assert holds(**rule) is expected


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        pytest.param({"Variable": "$.x", "NumericEquals": 1}, "$.x", id="numeric"),
        pytest.param({"Variable": "$.x", "IsNull": True}, "$.x", id="is-null"),
        pytest.param({"Variable": "$.x", "IsString": False}, "$.x", id="is-string"),
        pytest.param({"Variable": "$.obj.nope", "StringEquals": "v"}, "$.obj.nope", id="nested"),
        pytest.param({"Variable": "$.list[9]", "NumericEquals": 1}, "$.list[9]", id="index"),
        pytest.param({"Variable": "$$.Nope", "StringEquals": "v"}, "$$.Nope", id="context"),
        pytest.param({"Variable": "$.n", "NumericEqualsPath": "$.y"}, "$.y", id="path-operand"),
        pytest.param(
            {"Variable": "$.ts", "TimestampLessThanPath": "$.when"}, "$.when", id="ts-path-operand"
        ),
        pytest.param({"Not": {"Variable": "$.x", "BooleanEquals": True}}, "$.x", id="inside-not"),
        pytest.param(
            {
                "Or": [
                    {"Variable": "$.n", "NumericEquals": 0},
                    {"Variable": "$.x", "NumericEquals": 0},
                ]
            },
            "$.x",
            id="reached-inside-or",
        ),
    ],
)
def test_missing_variable_is_a_runtime_error(rule: dict[str, Any], path: str) -> None:
    with pytest.raises(StatesError) as raised:
        holds(**rule)
    assert raised.value.error == RUNTIME
    assert raised.value.cause == (
        f"Invalid path '{path}': The choice state's condition path references an invalid value."
    )


def test_variables_are_read() -> None:
    rule = {"Variable": "$count", "NumericGreaterThanPath": "$limit"}
    assert choice_rules.evaluate(rule, {}, context=CONTEXT, variables={"count": 3, "limit": 2})


STATE = {
    "Type": "Choice",
    "Choices": [
        {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
        {"Variable": "$.n", "NumericGreaterThan": 3, "Next": "Medium"},
        {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Small"},
    ],
    "Default": "Other",
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"n": 11}, "Big", id="first-rule"),
        pytest.param({"n": 5}, "Medium", id="first-matching-rule-wins"),
        pytest.param({"n": 1}, "Small", id="last-rule"),
        pytest.param({"n": 0}, "Other", id="default"),
        pytest.param({"n": "5"}, "Other", id="mismatched-type-falls-to-default"),
    ],
)
def test_choose(data: dict[str, Any], expected: str) -> None:
    assert choice_rules.choose(STATE, data, context=CONTEXT) == expected


def test_choose_without_default_fails_no_choice_matched() -> None:
    state = {key: value for key, value in STATE.items() if key != "Default"}
    with pytest.raises(StatesError) as raised:
        choice_rules.choose(state, {"n": -1}, context=CONTEXT)
    assert raised.value.error == NO_CHOICE_MATCHED
    assert raised.value.cause == choice_rules.NO_MATCH_CAUSE


def test_choose_missing_variable_fails_even_with_default() -> None:
    with pytest.raises(StatesError) as raised:
        choice_rules.choose(STATE, {}, context=CONTEXT)
    assert raised.value.error == RUNTIME


def test_choose_stops_at_the_first_match() -> None:
    state = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.n", "IsPresent": True, "Next": "Found"},
            {"Variable": "$.absent", "NumericEquals": 1, "Next": "Never"},
        ],
    }
    assert choice_rules.choose(state, {"n": 1}, context=CONTEXT) == "Found"
