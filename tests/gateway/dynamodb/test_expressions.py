"""DynamoDB expressions: parsing, DynamoDB's error messages, evaluation, updates, projections."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubefn_gateway.dynamodb.errors import ValidationError
from kubefn_gateway.dynamodb.expressions import (
    RESERVED_WORDS,
    ExpressionContext,
    is_reserved,
    parse_condition,
    parse_key_condition,
    parse_projection,
    parse_update,
    project_paths,
)
from kubefn_gateway.dynamodb.expressions import parser as expression_parser

S, N = "S", "N"

VALUES: dict[str, dict[str, Any]] = {
    ":one": {"N": "1"},
    ":two": {"N": "2"},
    ":ten": {"N": "10"},
    ":onepointoh": {"N": "1.0"},
    ":a": {"S": "a"},
    ":b": {"S": "b"},
    ":ab": {"S": "ab"},
    ":x": {"S": "x"},
    ":empty": {"S": ""},
    ":bin": {"B": "AAE="},  # 00 01
    ":binprefix": {"B": "AA=="},  # 00
    ":true": {"BOOL": True},
    ":null": {"NULL": True},
    ":ss": {"SS": ["a", "b"]},
    ":ns": {"NS": ["2", "1"]},
    ":list": {"L": [{"S": "a"}, {"N": "1"}]},
    ":map": {"M": {"k": {"S": "v"}}},
    ":tS": {"S": "S"},
    ":tN": {"S": "N"},
    ":tSS": {"S": "SS"},
    ":tL": {"S": "L"},
    ":tM": {"S": "M"},
    ":tNULL": {"S": "NULL"},
}

ITEM: dict[str, dict[str, Any]] = {
    "id": {"S": "a"},
    "n": {"N": "1"},
    "s": {"S": "abc"},
    "e": {"S": ""},
    "b": {"B": "AAEC"},  # 00 01 02
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": ["AA==", "AQ=="]},
    "l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"x": {"S": "deep"}}}]},
    "m": {"M": {"k": {"S": "v"}, "nest": {"M": {"n": {"N": "5"}}}, "l": {"L": [{"N": "7"}]}}},
    "status": {"S": "on"},
    "dotted.name": {"S": "dot"},
}


def context(names: dict[str, str] | None = None) -> ExpressionContext:
    return ExpressionContext(names, VALUES)


def error_of(call: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message


# -- conditions: evaluation


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("n = :one", True, id="eq-number"),
        pytest.param("n = :onepointoh", True, id="eq-number-numerically"),
        pytest.param("n = :a", False, id="eq-mismatched-type"),
        pytest.param("n <> :two", True, id="ne"),
        pytest.param("n <> :a", True, id="ne-mismatched-type"),
        pytest.param("absent = :one", False, id="eq-absent"),
        pytest.param("absent <> :one", True, id="ne-absent"),
        pytest.param("n < :two", True, id="lt"),
        pytest.param("n < :one", False, id="lt-equal"),
        pytest.param("n <= :one", True, id="le"),
        pytest.param("n > :one", False, id="gt"),
        pytest.param("n >= :one", True, id="ge"),
        pytest.param(":ten > n", True, id="value-on-left"),
        pytest.param("n < :a", False, id="lt-mismatched-type-is-false"),
        pytest.param("absent < :one", False, id="lt-absent"),
        pytest.param("s > :ab", True, id="string-order"),
        pytest.param("s < :b", True, id="string-order-2"),
        pytest.param("b > :bin", True, id="binary-order"),
        pytest.param("t = :true", True, id="bool-eq"),
        pytest.param("t < :true", False, id="bool-not-orderable"),
        pytest.param("z = :null", True, id="null-eq"),
        pytest.param("ss = :ss", True, id="set-eq"),
        pytest.param("ns = :ns", True, id="set-eq-unordered"),
        pytest.param("l = :list", False, id="list-eq-length"),
        pytest.param("m.k = :x", False, id="nested-map"),
        pytest.param("m.nest.n > :two", True, id="nested-map-deep"),
        pytest.param("l[0] = :a", True, id="list-index"),
        pytest.param("l[1] = :one", True, id="list-index-number"),
        pytest.param("l[2].x > :a", True, id="list-index-then-map"),
        pytest.param("l[9] = :a", False, id="list-index-out-of-range"),
        pytest.param("m.l[0] > :one", True, id="map-then-list"),
        pytest.param("s[0] = :a", False, id="index-into-string"),
        pytest.param("n BETWEEN :one AND :two", True, id="between-low-edge"),
        pytest.param("n BETWEEN :two AND :ten", False, id="between-below"),
        pytest.param("s BETWEEN :a AND :b", True, id="between-strings"),
        pytest.param("s BETWEEN :one AND :two", False, id="between-mismatched-type"),
        pytest.param("n IN (:two, :one)", True, id="in"),
        pytest.param("n IN (:two, :ten)", False, id="in-absent"),
        pytest.param("n IN (:a)", False, id="in-mismatched-type"),
        pytest.param("absent IN (:one)", False, id="in-absent-attribute"),
        pytest.param("attribute_exists(n)", True, id="exists"),
        pytest.param("attribute_exists(absent)", False, id="exists-absent"),
        pytest.param("attribute_exists(m.nest.n)", True, id="exists-nested"),
        pytest.param("attribute_exists(m.nope.n)", False, id="exists-nested-absent"),
        pytest.param("attribute_not_exists(absent)", True, id="not-exists"),
        pytest.param("attribute_not_exists(e)", False, id="not-exists-empty-string"),
        pytest.param("attribute_type(n, :tN)", True, id="type-N"),
        pytest.param("attribute_type(n, :tS)", False, id="type-wrong"),
        pytest.param("attribute_type(ss, :tSS)", True, id="type-SS"),
        pytest.param("attribute_type(l, :tL)", True, id="type-L"),
        pytest.param("attribute_type(z, :tNULL)", True, id="type-NULL"),
        pytest.param("attribute_type(absent, :tS)", False, id="type-absent"),
        pytest.param("begins_with(s, :ab)", True, id="begins-with"),
        pytest.param("begins_with(s, :b)", False, id="begins-with-not"),
        pytest.param("begins_with(s, :empty)", True, id="begins-with-empty"),
        pytest.param("begins_with(b, :binprefix)", True, id="begins-with-binary"),
        pytest.param("begins_with(n, :a)", False, id="begins-with-number-attribute"),
        pytest.param("contains(s, :b)", True, id="contains-substring"),
        pytest.param("contains(s, :x)", False, id="contains-substring-not"),
        pytest.param("contains(ss, :a)", True, id="contains-set-member"),
        pytest.param("contains(ss, :ab)", False, id="contains-set-not"),
        pytest.param("contains(ns, :onepointoh)", True, id="contains-number-set-numerically"),
        pytest.param("contains(l, :a)", True, id="contains-list"),
        pytest.param("contains(l, :x)", False, id="contains-list-not"),
        pytest.param("contains(n, :one)", False, id="contains-number"),
        pytest.param("contains(b, :bin)", True, id="contains-binary"),
        pytest.param("size(s) = :two", False, id="size-string"),
        pytest.param("size(ss) = :two", True, id="size-set"),
        pytest.param("size(l) > :two", True, id="size-list"),
        pytest.param("size(m) <= :two", False, id="size-map"),
        pytest.param("size(b) > :two", True, id="size-binary"),
        pytest.param("size(absent) >= :one", False, id="size-absent"),
        pytest.param("size(n) = :one", False, id="size-of-number"),
        pytest.param("n = :one AND s = :x", False, id="and"),
        pytest.param("n = :two OR s > :a", True, id="or"),
        pytest.param("NOT n = :two", True, id="not"),
        pytest.param("NOT NOT n = :two", False, id="not-not"),
        pytest.param("n = :two AND s = :x OR n = :one", True, id="and-binds-tighter-than-or"),
        pytest.param("n = :one OR n = :two AND s = :x", True, id="and-binds-tighter-than-or-2"),
        pytest.param("(n = :one OR n = :two) AND s = :x", False, id="parentheses"),
        pytest.param("NOT n = :one AND n = :two", False, id="not-binds-tighter-than-and"),
        pytest.param("NOT (n = :two AND s = :x)", True, id="not-parenthesised"),
        pytest.param("((n = :one))", True, id="nested-parentheses"),
        pytest.param("n = :one and s > :a", True, id="keywords-case-insensitive"),
        pytest.param("n between :one and :two", True, id="between-lowercase"),
        pytest.param("#st = :x", False, id="name-placeholder"),
        pytest.param("#dot = :x", False, id="dotted-name-placeholder"),
        pytest.param("#m.#k > :a", True, id="placeholders-in-path"),
        pytest.param("n=:one", True, id="no-spaces"),
        pytest.param("  n \n=\t:one  ", True, id="whitespace"),
    ],
)
def test_condition_evaluates(expression: str, expected: bool) -> None:
    names = {"#st": "status", "#dot": "dotted.name", "#m": "m", "#k": "k"}
    used = {name: value for name, value in names.items() if name in expression}
    condition = parse_condition(expression, context(used or None))
    assert condition.evaluate(ITEM) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("attribute_not_exists(id)", True, id="not-exists"),
        pytest.param("attribute_exists(id)", False, id="exists"),
        pytest.param("id = :a", False, id="eq"),
        pytest.param("id <> :a", True, id="ne"),
        pytest.param("NOT contains(ss, :a)", True, id="not-contains"),
    ],
)
@pytest.mark.parametrize("item", [None, {}], ids=["none", "empty"])
def test_condition_on_no_item(expression: str, expected: bool, item: Any) -> None:
    assert parse_condition(expression, context()).evaluate(item) is expected


def test_condition_placeholder_resolves_to_the_name_not_a_path() -> None:
    condition = parse_condition(
        "#d = :x", ExpressionContext({"#d": "dotted.name"}, {":x": {"S": "dot"}})
    )
    assert condition.evaluate(ITEM) is True


# -- conditions: refused


def syntax(token: str, near: str, position: int, field: str = "ConditionExpression") -> str:
    return f'Invalid {field}: Syntax error; token: "{token}", near: "{near}", position: {position}'


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            "", "Invalid ConditionExpression: The expression can not be empty;", id="empty"
        ),
        pytest.param(
            "   ", "Invalid ConditionExpression: The expression can not be empty;", id="blank"
        ),
        pytest.param("n = AND", syntax("AND", "= AND", 4), id="keyword-as-operand"),
        pytest.param("n =", syntax("<EOF>", "=", 3), id="eof"),
        pytest.param("n = :one AND", syntax("<EOF>", "AND", 12), id="dangling-and"),
        pytest.param("(n = :one", syntax("<EOF>", ":one", 9), id="unclosed-parenthesis"),
        pytest.param("n = :one)", syntax(")", ":one)", 8), id="extra-parenthesis"),
        pytest.param("n $ :one", syntax("$", "n $", 2), id="bad-character"),
        pytest.param("n == :one", syntax("=", "== :one", 3), id="double-equals"),
        pytest.param("n = :one n", syntax("n", ":one n", 9), id="trailing-operand"),
        pytest.param("n", syntax("<EOF>", "n", 1), id="bare-path"),
        pytest.param("l[x] = :one", syntax("x", "[x]", 2), id="index-not-a-number"),
        pytest.param("l[-1] = :one", syntax("-", "[-1", 2), id="negative-index"),
        pytest.param("n BETWEEN :one", syntax("<EOF>", ":one", 14), id="between-without-and"),
        pytest.param("n IN ()", syntax(")", "()", 6), id="empty-in"),
        pytest.param("a.b. = :one", syntax("=", ". = :one", 5), id="dangling-dot"),
        pytest.param("1 = :one", syntax("1", "1 =", 0), id="number-literal"),
        pytest.param(
            "status = :x",
            "Invalid ConditionExpression: Attribute name is a reserved keyword; "
            "reserved keyword: status",
            id="reserved-word",
        ),
        pytest.param(
            "m.Data = :x",
            "Invalid ConditionExpression: Attribute name is a reserved keyword; "
            "reserved keyword: Data",
            id="reserved-word-nested",
        ),
        pytest.param(
            "n = :absent",
            "Invalid ConditionExpression: An expression attribute value used in expression is "
            "not defined; attribute value: :absent",
            id="undefined-value",
        ),
        pytest.param(
            "#absent = :one",
            "Invalid ConditionExpression: An expression attribute name used in the document "
            "path is not defined; attribute name: #absent",
            id="undefined-name",
        ),
        pytest.param(
            "foo(n)",
            "Invalid ConditionExpression: Invalid function name; function: foo",
            id="unknown-function",
        ),
        pytest.param(
            "Attribute_Exists(n)",
            "Invalid ConditionExpression: Invalid function name; function: Attribute_Exists",
            id="function-names-are-case-sensitive",
        ),
        pytest.param(
            "attribute_exists(n) = :one",
            syntax("=", ") = :one", 20),
            id="boolean-function-compared",
        ),
        pytest.param(
            "n = attribute_exists(s)",
            "Invalid ConditionExpression: The function is not allowed to be used this way in an "
            "expression; function: attribute_exists",
            id="boolean-function-as-operand",
        ),
        pytest.param(
            "if_not_exists(n, :one) = :one",
            "Invalid ConditionExpression: The function is not allowed in a condition "
            "expression; function: if_not_exists",
            id="update-function-in-condition",
        ),
        pytest.param(
            "attribute_exists(n, s)",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
            "operator or function: attribute_exists, number of operands: 2",
            id="arity",
        ),
        pytest.param(
            "attribute_exists(:one)",
            "Invalid ConditionExpression: Operator or function requires a document path; "
            "operator or function: attribute_exists",
            id="exists-needs-path",
        ),
        pytest.param(
            "size(:a) = :one",
            "Invalid ConditionExpression: Operator or function requires a document path; "
            "operator or function: size",
            id="size-needs-path",
        ),
        pytest.param(
            "attribute_type(n, :one)",
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: attribute_type, operand type: N",
            id="attribute-type-not-string",
        ),
        pytest.param(
            "attribute_type(n, :x)",
            "Invalid ConditionExpression: Invalid attribute type name found; type: x, "
            "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
            id="attribute-type-unknown",
        ),
        pytest.param(
            "begins_with(s, :one)",
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N",
            id="begins-with-number",
        ),
        pytest.param(
            "n BETWEEN :two AND :one",
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
            "than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper "
            "bound operand: AttributeValue: {N:1}",
            id="between-reversed",
        ),
    ],
)
def test_condition_refused(expression: str, message: str) -> None:
    assert error_of(lambda: parse_condition(expression, context())) == message


def test_filter_expression_errors_name_the_field() -> None:
    message = error_of(lambda: parse_condition("n =", context(), field="FilterExpression"))
    assert message == syntax("<EOF>", "=", 3, field="FilterExpression")


def test_in_takes_at_most_100_operands() -> None:
    many = {f":v{i}": {"N": str(i)} for i in range(101)}
    ctx = ExpressionContext(None, many)
    assert parse_condition(f"n IN ({', '.join(list(many)[:100])})", ctx).evaluate(ITEM)
    message = error_of(lambda: parse_condition(f"n IN ({', '.join(many)})", ctx))
    assert message == (
        "Invalid ConditionExpression: The IN operator is provided with too many operands; "
        "number of operands: 101"
    )


def test_path_depth_is_limited_to_32() -> None:
    assert parse_condition("attribute_exists(" + ".".join(["a"] * 32) + ")", context())
    message = error_of(
        lambda: parse_condition("attribute_exists(" + ".".join(["a"] * 33) + ")", context())
    )
    assert message == (
        "Invalid ConditionExpression: The document path has too many nesting levels; "
        "nesting levels: 33"
    )


def test_expression_size_is_limited_to_4kb() -> None:
    text = "n = :one OR " * 341 + "n = :one"
    assert len(text) > 4096
    assert "Expression size has exceeded" in error_of(lambda: parse_condition(text, context()))


def test_parsed_trees_are_cached_by_text_and_bound_per_request() -> None:
    text = "n = :cached_value"
    first = parse_condition(text, ExpressionContext(None, {":cached_value": {"N": "1"}}))
    second = parse_condition(text, ExpressionContext(None, {":cached_value": {"N": "2"}}))
    assert expression_parser.condition_tree(text, "ConditionExpression") is (
        expression_parser.condition_tree(text, "ConditionExpression")
    )
    assert first.evaluate(ITEM) and not second.evaluate(ITEM)


# -- ExpressionContext


@pytest.mark.parametrize(
    ("names", "values", "message"),
    [
        pytest.param({}, None, "ExpressionAttributeNames must not be empty", id="empty-names"),
        pytest.param(None, {}, "ExpressionAttributeValues must not be empty", id="empty-values"),
        pytest.param(
            {"n": "x"},
            None,
            'ExpressionAttributeNames contains invalid key: Syntax error; key: "n"',
            id="name-key-without-hash",
        ),
        pytest.param(
            None,
            {"v": {"S": "x"}},
            'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"',
            id="value-key-without-colon",
        ),
        pytest.param(
            None,
            {":v": {"SS": []}},
            "ExpressionAttributeValues contains invalid value: One or more parameter values were "
            "invalid: An string set  may not be empty for key :v",
            id="invalid-value",
        ),
        pytest.param(
            None,
            {":v": {}},
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, "
            "must contain exactly one of the supported datatypes for key :v",
            id="empty-value",
        ),
    ],
)
def test_context_refuses(names: Any, values: Any, message: str) -> None:
    assert error_of(lambda: ExpressionContext(names, values)) == message


def test_context_refuses_unused_values_then_names() -> None:
    ctx = ExpressionContext({"#a": "a", "#b": "b"}, {":x": {"S": "x"}, ":y": {"S": "y"}})
    parse_condition("#a = :x", ctx)
    assert error_of(ctx.check_all_used) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
    )
    parse_condition("a = :y", ctx)
    assert error_of(ctx.check_all_used) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    )
    parse_projection("#b", ctx)
    ctx.check_all_used()


def test_context_lists_every_unused_value() -> None:
    ctx = ExpressionContext(None, {":b": {"S": "x"}, ":a": {"S": "y"}})
    assert error_of(ctx.check_all_used) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b}"
    )


def test_context_normalises_numbers() -> None:
    condition = parse_condition("n = :v", ExpressionContext(None, {":v": {"N": "1.000"}}))
    assert condition.evaluate({"n": {"N": "1"}})


# -- reserved words


def test_reserved_words_are_dynamodbs_whole_list() -> None:
    assert len(RESERVED_WORDS) == 573
    assert {"ABORT", "STATUS", "DATA", "NAME", "ZONE", "FLATTERN"} <= RESERVED_WORDS


@pytest.mark.parametrize(
    ("word", "reserved"),
    [
        ("status", True),
        ("Status", True),
        ("NAME", True),
        ("ttl", True),
        ("id", False),
        ("n", False),
    ],
)
def test_is_reserved(word: str, reserved: bool) -> None:
    assert is_reserved(word) is reserved


# -- projections


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("id", {"id": {"S": "a"}}, id="one"),
        pytest.param("id, n", {"id": {"S": "a"}, "n": {"N": "1"}}, id="two"),
        pytest.param("absent", {}, id="absent"),
        pytest.param("m.k", {"m": {"M": {"k": {"S": "v"}}}}, id="nested"),
        pytest.param("m.nope", {}, id="nested-absent-drops-parent"),
        pytest.param(
            "m.k, m.nest.n",
            {"m": {"M": {"k": {"S": "v"}, "nest": {"M": {"n": {"N": "5"}}}}}},
            id="two-nested-merge",
        ),
        pytest.param("l[1]", {"l": {"L": [{"N": "1"}]}}, id="list-element"),
        pytest.param(
            "l[2], l[0]",
            {"l": {"L": [{"S": "a"}, {"M": {"x": {"S": "deep"}}}]}},
            id="list-elements-in-index-order",
        ),
        pytest.param("l[7]", {}, id="list-element-absent"),
        pytest.param("l[2].x", {"l": {"L": [{"M": {"x": {"S": "deep"}}}]}}, id="list-then-map"),
        pytest.param("l[0].x", {}, id="map-step-into-string"),
        pytest.param("s.x", {}, id="map-step-into-scalar"),
        pytest.param("m.l[0]", {"m": {"M": {"l": {"L": [{"N": "7"}]}}}}, id="map-then-list"),
        pytest.param("#s", {"status": {"S": "on"}}, id="placeholder"),
        pytest.param("#d", {"dotted.name": {"S": "dot"}}, id="placeholder-with-dot"),
    ],
)
def test_projection_applies(expression: str, expected: dict[str, Any]) -> None:
    names = {"#s": "status", "#d": "dotted.name"}
    used = {name: value for name, value in names.items() if name in expression}
    projection = parse_projection(expression, ExpressionContext(used or None, None))
    assert projection.apply(ITEM) == expected


def test_projection_copies_values() -> None:
    item = copy.deepcopy(ITEM)
    projected = parse_projection("l", ExpressionContext(None, None)).apply(item)
    projected["l"]["L"].append({"S": "new"})
    assert item == ITEM


def test_projection_exposes_its_resolved_paths() -> None:
    projection = parse_projection("#s, l[2].x", ExpressionContext({"#s": "status"}, None))
    assert projection.paths == (("status",), ("l", 2, "x"))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            "a, a.b",
            "Invalid ProjectionExpression: Two document paths overlap with each other; must "
            "remove or rewrite one of these paths; path one: [a], path two: [a, b]",
            id="overlap",
        ),
        pytest.param(
            "a.b, a",
            "Invalid ProjectionExpression: Two document paths overlap with each other; must "
            "remove or rewrite one of these paths; path one: [a, b], path two: [a]",
            id="overlap-reversed",
        ),
        pytest.param(
            "a, a",
            "Invalid ProjectionExpression: Two document paths overlap with each other; must "
            "remove or rewrite one of these paths; path one: [a], path two: [a]",
            id="duplicate",
        ),
        pytest.param(
            "a[0], a.b",
            "Invalid ProjectionExpression: Two document paths conflict with each other; must "
            "remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]",
            id="conflict",
        ),
        pytest.param(
            "a,",
            'Invalid ProjectionExpression: Syntax error; token: "<EOF>", near: ",", position: 2',
            id="trailing-comma",
        ),
        pytest.param(
            "name",
            "Invalid ProjectionExpression: Attribute name is a reserved keyword; "
            "reserved keyword: name",
            id="reserved",
        ),
        pytest.param(
            "", "Invalid ProjectionExpression: The expression can not be empty;", id="empty"
        ),
    ],
)
def test_projection_refused(expression: str, message: str) -> None:
    assert error_of(lambda: parse_projection(expression, ExpressionContext(None, None))) == message


def test_projection_overlap_is_checked_after_resolving_names() -> None:
    message = error_of(lambda: parse_projection("a, #a", ExpressionContext({"#a": "a"}, None)))
    assert "Two document paths overlap" in message


# -- updates: application

BASE: dict[str, dict[str, Any]] = {
    "id": {"S": "k"},
    "n": {"N": "5"},
    "s": {"S": "text"},
    "l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}]},
    "m": {"M": {"x": {"N": "1"}, "nest": {"M": {}}}},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": ["AA=="]},
}


def with_(**changes: Any) -> dict[str, dict[str, Any]]:
    """BASE with attributes replaced (None removes one)."""
    item = copy.deepcopy(BASE)
    for name, value in changes.items():
        if value is None:
            item.pop(name)
        else:
            item[name] = value
    return item


UPDATE_VALUES: dict[str, dict[str, Any]] = {
    ":one": {"N": "1"},
    ":half": {"N": "0.5"},
    ":x": {"S": "x"},
    ":l": {"L": [{"S": "z"}]},
    ":empty": {"L": []},
    ":m": {"M": {"k": {"S": "v"}}},
    ":ss": {"SS": ["b", "c"]},
    ":ssall": {"SS": ["a", "b", "z"]},
    ":ns": {"NS": ["2.0", "3"]},
    ":bs": {"BS": ["AA==", "AQ=="]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("SET s = :x", with_(s={"S": "x"}), id="set"),
        pytest.param("SET fresh = :x", {**with_(), "fresh": {"S": "x"}}, id="set-new"),
        pytest.param("set s = :x", with_(s={"S": "x"}), id="lowercase-keyword"),
        pytest.param("SET s = :x, n = :one", with_(s={"S": "x"}, n={"N": "1"}), id="two-sets"),
        pytest.param("SET n = n + :one", with_(n={"N": "6"}), id="increment"),
        pytest.param("SET n = n - :half", with_(n={"N": "4.5"}), id="decrement"),
        pytest.param("SET n = :one - n", with_(n={"N": "-4"}), id="value-minus-path"),
        pytest.param("SET c = n + n", {**with_(), "c": {"N": "10"}}, id="path-plus-path"),
        pytest.param("SET n = s, s = n", with_(n={"S": "text"}, s={"N": "5"}), id="swap-reads-old"),
        pytest.param(
            "SET c = if_not_exists(c, :one)",
            {**with_(), "c": {"N": "1"}},
            id="if-not-exists-absent",
        ),
        pytest.param("SET n = if_not_exists(n, :one)", with_(), id="if-not-exists-present"),
        pytest.param(
            "SET c = if_not_exists(c, :one) + :one",
            {**with_(), "c": {"N": "2"}},
            id="if-not-exists-plus",
        ),
        pytest.param(
            "SET l = list_append(l, :l)",
            with_(l={"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "z"}]}),
            id="list-append",
        ),
        pytest.param(
            "SET l = list_append(:l, l)",
            with_(l={"L": [{"S": "z"}, {"S": "a"}, {"S": "b"}, {"S": "c"}]}),
            id="list-prepend",
        ),
        pytest.param(
            "SET c = list_append(if_not_exists(c, :empty), :l)",
            {**with_(), "c": {"L": [{"S": "z"}]}},
            id="list-append-to-absent",
        ),
        pytest.param(
            "SET m.x = :x", with_(m={"M": {"x": {"S": "x"}, "nest": {"M": {}}}}), id="nested-set"
        ),
        pytest.param(
            "SET m.nest.deep = :one",
            with_(m={"M": {"x": {"N": "1"}, "nest": {"M": {"deep": {"N": "1"}}}}}),
            id="nested-deep-new",
        ),
        pytest.param(
            "SET l[1] = :x", with_(l={"L": [{"S": "a"}, {"S": "x"}, {"S": "c"}]}), id="list-index"
        ),
        pytest.param(
            "SET l[10] = :x",
            with_(l={"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "x"}]}),
            id="list-index-past-end-appends",
        ),
        pytest.param(
            "SET l[11] = :x, l[10] = :one",
            with_(l={"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"N": "1"}, {"S": "x"}]}),
            id="appends-in-index-order",
        ),
        pytest.param("SET #n = :one", with_(n={"N": "1"}), id="name-placeholder"),
        pytest.param("REMOVE s", with_(s=None), id="remove"),
        pytest.param("REMOVE s, n", with_(s=None, n=None), id="remove-two"),
        pytest.param("REMOVE absent", with_(), id="remove-absent"),
        pytest.param("REMOVE m.x", with_(m={"M": {"nest": {"M": {}}}}), id="remove-nested"),
        pytest.param("REMOVE m.nope.deep", with_(), id="remove-under-absent"),
        pytest.param(
            "REMOVE l[0]", with_(l={"L": [{"S": "b"}, {"S": "c"}]}), id="remove-index-shifts"
        ),
        pytest.param(
            "REMOVE l[0], l[2]", with_(l={"L": [{"S": "b"}]}), id="remove-original-indexes"
        ),
        pytest.param(
            "REMOVE l[2], l[0]", with_(l={"L": [{"S": "b"}]}), id="remove-indexes-any-order"
        ),
        pytest.param("REMOVE l[5]", with_(), id="remove-index-past-end"),
        pytest.param("ADD n :one", with_(n={"N": "6"}), id="add-number"),
        pytest.param("ADD c :one", {**with_(), "c": {"N": "1"}}, id="add-number-creates"),
        pytest.param("ADD ss :ss", with_(ss={"SS": ["a", "b", "c"]}), id="add-set-union"),
        pytest.param(
            "ADD ns :ns", with_(ns={"NS": ["1", "2", "3"]}), id="add-number-set-numerically"
        ),
        pytest.param("ADD c :ss", {**with_(), "c": {"SS": ["b", "c"]}}, id="add-set-creates"),
        pytest.param(
            "ADD m.c :one",
            with_(m={"M": {"x": {"N": "1"}, "nest": {"M": {}}, "c": {"N": "1"}}}),
            id="add-nested",
        ),
        pytest.param("DELETE ss :ss", with_(ss={"SS": ["a"]}), id="delete-from-set"),
        pytest.param("DELETE ss :ssall", with_(ss=None), id="delete-empties-removes"),
        pytest.param("DELETE ns :ns", with_(ns={"NS": ["1"]}), id="delete-numerically"),
        pytest.param("DELETE bs :bs", with_(bs=None), id="delete-binary"),
        pytest.param("DELETE c :ss", with_(), id="delete-from-absent"),
        pytest.param(
            "SET s = :x REMOVE n ADD ss :ss DELETE ns :ns",
            with_(s={"S": "x"}, n=None, ss={"SS": ["a", "b", "c"]}, ns={"NS": ["1"]}),
            id="all-clauses",
        ),
        pytest.param(
            "REMOVE n SET s = :x",
            with_(s={"S": "x"}, n=None),
            id="clauses-any-order",
        ),
        pytest.param(
            "SET n = n + :one, s = :x", with_(n={"N": "6"}, s={"S": "x"}), id="arithmetic-then-more"
        ),
    ],
)
def test_update_applies(expression: str, expected: dict[str, Any]) -> None:
    names = {"#n": "n"} if "#n" in expression else None
    values = {key: value for key, value in UPDATE_VALUES.items() if key in expression}
    item = copy.deepcopy(BASE)
    assert (
        parse_update(expression, ExpressionContext(names, values or None)).apply(item) == expected
    )
    assert item == BASE  # the input is not changed


def test_update_of_no_item_starts_empty() -> None:
    ctx = ExpressionContext(None, {":one": {"N": "1"}})
    assert parse_update("ADD c :one", ctx).apply(None) == {"c": {"N": "1"}}


def test_update_result_does_not_share_values() -> None:
    values = {":l": {"L": [{"S": "z"}]}}
    update = parse_update("SET a = :l", ExpressionContext(None, values))
    first = update.apply({})
    first["a"]["L"].append({"S": "changed"})
    assert update.apply({}) == {"a": {"L": [{"S": "z"}]}}


def test_update_arithmetic_is_exact_decimal() -> None:
    ctx = ExpressionContext(None, {":a": {"N": "0.1"}, ":b": {"N": "0.2"}})
    assert parse_update("SET c = :a + :b", ctx).apply({}) == {"c": {"N": "0.3"}}


def test_update_exposes_paths_and_top_level_names() -> None:
    ctx = ExpressionContext({"#k": "id"}, {":x": {"S": "x"}, ":one": {"N": "1"}})
    update = parse_update("SET m.x = :x, #k = :x REMOVE l[1] ADD n :one", ctx)
    assert update.paths == (("m", "x"), ("id",), ("l", 1), ("n",))
    assert update.top_level_names == {"m", "id", "l", "n"}


def test_project_paths_gives_updated_old_and_new() -> None:
    ctx = ExpressionContext(None, {":x": {"S": "x"}})
    update = parse_update("SET m.x = :x REMOVE s", ctx)
    after = update.apply(BASE)
    assert project_paths(BASE, update.paths) == {"m": {"M": {"x": {"N": "1"}}}, "s": {"S": "text"}}
    assert project_paths(after, update.paths) == {"m": {"M": {"x": {"S": "x"}}}}


# -- updates: refused when parsed


def update_error(field_detail: str) -> str:
    return f"Invalid UpdateExpression: {field_detail}"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("", update_error("The expression can not be empty;"), id="empty"),
        pytest.param(
            "SET a = :x SET b = :x",
            update_error('The "SET" section can only be used once in an update expression;'),
            id="set-twice",
        ),
        pytest.param(
            "REMOVE a remove b",
            update_error('The "REMOVE" section can only be used once in an update expression;'),
            id="remove-twice-any-case",
        ),
        pytest.param(
            "SET a = :x, a = :one",
            update_error(
                "Two document paths overlap with each other; must remove or rewrite one of these "
                "paths; path one: [a], path two: [a]"
            ),
            id="same-path",
        ),
        pytest.param(
            "SET a = :x REMOVE a.b",
            update_error(
                "Two document paths overlap with each other; must remove or rewrite one of these "
                "paths; path one: [a], path two: [a, b]"
            ),
            id="overlap-across-clauses",
        ),
        pytest.param(
            "SET a[0] = :x, a.b = :x",
            update_error(
                "Two document paths conflict with each other; must remove or rewrite one of these "
                "paths; path one: [a, [0]], path two: [a, b]"
            ),
            id="conflict",
        ),
        pytest.param(
            "SET #a = :x, a = :one",
            update_error(
                "Two document paths overlap with each other; must remove or rewrite one of these "
                "paths; path one: [a], path two: [a]"
            ),
            id="overlap-after-resolving",
        ),
        pytest.param(
            "ADD a :x",
            update_error(
                "Incorrect operand type for operator or function; operator: ADD, "
                "operand type: STRING"
            ),
            id="add-string",
        ),
        pytest.param(
            "ADD a :l",
            update_error(
                "Incorrect operand type for operator or function; operator: ADD, operand type: LIST"
            ),
            id="add-list",
        ),
        pytest.param(
            "DELETE a :one",
            update_error(
                "Incorrect operand type for operator or function; operator: DELETE, "
                "operand type: NUMBER"
            ),
            id="delete-number",
        ),
        pytest.param(
            "SET a = :x + :one",
            update_error(
                "Incorrect operand type for operator or function; operator: +, operand type: STRING"
            ),
            id="plus-string",
        ),
        pytest.param(
            "SET a = list_append(:m, :l)",
            update_error(
                "Incorrect operand type for operator or function; operator or function: "
                "list_append, operand type: M"
            ),
            id="list-append-map",
        ),
        pytest.param(
            "SET a = list_append(:l)",
            update_error(
                "Incorrect number of operands for operator or function; operator or function: "
                "list_append, number of operands: 1"
            ),
            id="list-append-arity",
        ),
        pytest.param(
            "SET a = if_not_exists(:x, :x)",
            update_error(
                "Operator or function requires a document path; operator or function: if_not_exists"
            ),
            id="if-not-exists-needs-path",
        ),
        pytest.param(
            "SET a = size(b)",
            update_error("The function is not allowed in an update expression; function: size"),
            id="size-in-update",
        ),
        pytest.param(
            "SET a = nope(b)",
            update_error("Invalid function name; function: nope"),
            id="unknown-function",
        ),
        pytest.param(
            "SET status = :x",
            update_error("Attribute name is a reserved keyword; reserved keyword: status"),
            id="reserved",
        ),
        pytest.param(
            "SET a = :nope",
            update_error(
                "An expression attribute value used in expression is not defined; "
                "attribute value: :nope"
            ),
            id="undefined-value",
        ),
        pytest.param(
            "SET a :x",
            syntax(":x", "a :x", 6, "UpdateExpression"),
            id="absent-equals",
        ),
        pytest.param("a = :x", syntax("a", "a =", 0, "UpdateExpression"), id="no-clause"),
        pytest.param(
            "SET",
            syntax("<EOF>", "SET", 3, "UpdateExpression"),
            id="empty-clause",
        ),
        pytest.param(
            "SET a = :x,",
            syntax("<EOF>", ",", 11, "UpdateExpression"),
            id="trailing-comma",
        ),
        pytest.param(
            "ADD a b",
            syntax("b", "a b", 6, "UpdateExpression"),
            id="add-path-operand",
        ),
        pytest.param(
            "REMOVE a = :x",
            syntax("=", "a = :x", 9, "UpdateExpression"),
            id="remove-value",
        ),
        pytest.param(
            "SET a = :one + :one + :one",
            syntax("+", ":one + :one", 20, "UpdateExpression"),
            id="two-operators",
        ),
        pytest.param(
            "UPDATE a = :x",
            syntax("UPDATE", "UPDATE a", 0, "UpdateExpression"),
            id="unknown-clause",
        ),
    ],
)
def test_update_refused(expression: str, message: str) -> None:
    ctx = ExpressionContext({"#a": "a"}, UPDATE_VALUES)
    assert error_of(lambda: parse_update(expression, ctx)) == message


# -- updates: refused when applied

MISSING = "The provided expression refers to an attribute that does not exist in the item"
WRONG_TYPE = "An operand in the update expression has an incorrect data type"
BAD_PATH = "The document path provided in the update expression is invalid for update"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("SET a = absent", MISSING, id="copy-absent"),
        pytest.param("SET a = absent + :one", MISSING, id="arithmetic-absent"),
        pytest.param("SET a = list_append(absent, :l)", MISSING, id="list-append-absent"),
        pytest.param("SET n = s + :one", WRONG_TYPE, id="arithmetic-on-string"),
        pytest.param("SET a = list_append(s, :l)", WRONG_TYPE, id="list-append-string"),
        pytest.param("SET nope.x = :x", BAD_PATH, id="parent-absent"),
        pytest.param("SET s.x = :x", BAD_PATH, id="parent-not-a-map"),
        pytest.param("SET s[0] = :x", BAD_PATH, id="index-into-string"),
        pytest.param("SET m[0] = :x", BAD_PATH, id="index-into-map"),
        pytest.param("SET l.x = :x", BAD_PATH, id="name-into-list"),
        pytest.param("ADD s :one", WRONG_TYPE, id="add-to-string"),
        pytest.param("ADD ss :ns", WRONG_TYPE, id="add-mismatched-set"),
        pytest.param("ADD n :ss", WRONG_TYPE, id="add-set-to-number"),
        pytest.param("DELETE ss :ns", WRONG_TYPE, id="delete-mismatched-set"),
        pytest.param("DELETE s :ss", WRONG_TYPE, id="delete-from-string"),
        pytest.param("ADD nope.c :one", BAD_PATH, id="add-under-absent"),
    ],
)
def test_update_refused_when_applied(expression: str, message: str) -> None:
    values = {key: value for key, value in UPDATE_VALUES.items() if key in expression}
    update = parse_update(expression, ExpressionContext(None, values or None))
    assert error_of(lambda: update.apply(copy.deepcopy(BASE))) == message


def test_update_arithmetic_overflow_is_refused() -> None:
    big = "9.9999999999999999999999999999999999999E+125"
    ctx = ExpressionContext(None, {":big": {"N": big}})
    message = error_of(lambda: parse_update("SET a = :big + :big", ctx).apply({}))
    assert message.startswith("Number overflow")


# -- key conditions


@pytest.mark.parametrize(
    ("expression", "range_op", "range_values"),
    [
        pytest.param("id = :h", None, (), id="hash-only"),
        pytest.param("id = :h AND sk = :r", "=", ({"N": "1"},), id="eq"),
        pytest.param("sk = :r AND id = :h", "=", ({"N": "1"},), id="either-order"),
        pytest.param("id = :h AND sk < :r", "<", ({"N": "1"},), id="lt"),
        pytest.param("id = :h AND sk <= :r", "<=", ({"N": "1"},), id="le"),
        pytest.param("id = :h AND sk > :r", ">", ({"N": "1"},), id="gt"),
        pytest.param("id = :h AND sk >= :r", ">=", ({"N": "1"},), id="ge"),
        pytest.param("id = :h AND :r < sk", ">", ({"N": "1"},), id="value-on-left-flips"),
        pytest.param(
            "id = :h AND sk BETWEEN :r AND :r2", "BETWEEN", ({"N": "1"}, {"N": "5"}), id="between"
        ),
        pytest.param(
            "id = :h AND begins_with(sk, :p)", "begins_with", ({"S": "pre"},), id="begins"
        ),
        pytest.param("(id = :h) AND (sk = :r)", "=", ({"N": "1"},), id="parentheses"),
        pytest.param("#h = :h and #r > :r", ">", ({"N": "1"},), id="placeholders"),
    ],
)
def test_key_condition(
    expression: str, range_op: str | None, range_values: tuple[Any, ...]
) -> None:
    names = {"#h": "id", "#r": "sk"} if "#" in expression else None
    values = {":h": {"S": "a"}, ":r": {"N": "1"}, ":r2": {"N": "5"}, ":p": {"S": "pre"}}
    used = {key: value for key, value in values.items() if key in expression}
    condition = parse_key_condition(
        expression, ExpressionContext(names, used), hash_key="id", range_key="sk"
    )
    assert condition.hash_value == {"S": "a"}
    assert condition.range_op == range_op
    assert condition.range_values == range_values


KEY_FIELD = "Invalid KeyConditionExpression: "


@pytest.mark.parametrize(
    ("expression", "range_key", "message"),
    [
        pytest.param(
            "sk = :r", "sk", "Query condition missed key schema element: id", id="no-hash"
        ),
        pytest.param("id > :h", "sk", "Query key condition not supported", id="hash-not-eq"),
        pytest.param(
            "id = :h OR sk = :r",
            "sk",
            KEY_FIELD + "Invalid operator used in KeyConditionExpression: OR",
            id="or",
        ),
        pytest.param(
            "NOT id = :h",
            "sk",
            KEY_FIELD + "Invalid operator used in KeyConditionExpression: NOT",
            id="not",
        ),
        pytest.param(
            "id IN (:h)",
            "sk",
            KEY_FIELD + "Invalid operator used in KeyConditionExpression: IN",
            id="in",
        ),
        pytest.param(
            "id = :h AND sk <> :r",
            "sk",
            KEY_FIELD + "Invalid operator used in KeyConditionExpression: <>",
            id="ne",
        ),
        pytest.param(
            "id = :h AND attribute_exists(sk)",
            "sk",
            KEY_FIELD + "Invalid operator used in KeyConditionExpression: attribute_exists",
            id="function",
        ),
        pytest.param(
            "id = :h AND colour = :r",
            "sk",
            "Query condition missed key schema element: sk",
            id="non-key-attribute",
        ),
        pytest.param(
            "id = :h AND sk = :r", None, "Query key condition not supported", id="no-range-key"
        ),
        pytest.param(
            "id = :h AND id = :h",
            "sk",
            KEY_FIELD + "KeyConditionExpressions must only contain one condition per key",
            id="hash-twice",
        ),
        pytest.param(
            "id = :h AND sk > :r AND sk < :r",
            "sk",
            KEY_FIELD + "KeyConditionExpressions must only contain one condition per key",
            id="range-twice",
        ),
        pytest.param(
            "id.x = :h",
            "sk",
            KEY_FIELD + "KeyConditionExpressions cannot have conditions on nested attributes",
            id="nested",
        ),
        pytest.param(
            "id = :h AND begins_with(sk, :r)",
            "sk",
            KEY_FIELD + "Incorrect operand type for operator or function; operator or function: "
            "begins_with, operand type: N",
            id="begins-with-number",
        ),
        pytest.param(
            "id = :h AND",
            "sk",
            KEY_FIELD + 'Syntax error; token: "<EOF>", near: "AND", position: 11',
            id="syntax",
        ),
    ],
)
def test_key_condition_refused(expression: str, range_key: str | None, message: str) -> None:
    ctx = ExpressionContext(None, {":h": {"S": "a"}, ":r": {"N": "1"}})
    assert (
        error_of(lambda: parse_key_condition(expression, ctx, hash_key="id", range_key=range_key))
        == message
    )


@pytest.mark.parametrize(
    ("text", "names", "operator", "first"),
    [
        ("a = a", None, "=", "[a]"),
        ("#n <> a", {"#n": "a"}, "<>", "[a]"),
        ("a.b[1] < a.b[1]", None, "<", "[a, b, 1]"),
        ("size(a) >= size(a)", None, ">=", "size([a])"),
        ("a BETWEEN :v AND a", None, "BETWEEN", "[a]"),
        ("a IN (:v, a)", None, "IN", "[a]"),
        ("contains(a, a)", None, "contains", "[a]"),
        ("begins_with(a, #n)", {"#n": "a"}, "begins_with", "[a]"),
        (":v = :v", None, "=", ":v"),
    ],
)
def test_operands_must_be_distinct(
    text: str, names: dict[str, str] | None, operator: str, first: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_condition(text, ExpressionContext(names, {":v": {"S": "x"}}))
    assert refused.value.message == (
        "Invalid ConditionExpression: The first operand must be distinct from the remaining "
        f"operands for this operator or function; operator: {operator}, first operand: {first}"
    )


def test_equal_values_under_different_names_are_distinct_operands() -> None:
    ctx = ExpressionContext(None, {":a": {"S": "x"}, ":b": {"S": "x"}})
    assert parse_condition(":a = :b", ctx).evaluate({})
