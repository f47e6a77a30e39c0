"""Intrinsic calls: the AST the interpreter will evaluate, and every problem of a bad call."""

from __future__ import annotations

import pytest

from kubefn.asl import paths
from kubefn.asl.intrinsics import Call, IntrinsicError, Literal, PathArg, parse, problems


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("States.UUID()", Call("UUID", ()), id="no-args"),
        pytest.param(
            "States.Format('Hi {}, it\\'s {}', $.name, $$.State.EnteredTime)",
            Call(
                "Format",
                (
                    Literal("Hi {}, it's {}"),
                    PathArg("$.name"),
                    PathArg("$$.State.EnteredTime"),
                ),
            ),
            id="format-escape-quote",
        ),
        pytest.param(
            "States.Format('\\{\\} {}', $.a)",
            Call("Format", (Literal("\\{\\} {}"), PathArg("$.a"))),
            id="escaped-braces-kept",
        ),
        pytest.param(
            "States.Array(1, -2.5, 1e3, true, false, null)",
            Call(
                "Array",
                tuple(Literal(v) for v in (1, -2.5, 1000.0, True, False, None)),
            ),
            id="literals",
        ),
        pytest.param(
            "States.ArrayLength(States.StringSplit($.csv, ','))",
            Call("ArrayLength", (Call("StringSplit", (PathArg("$.csv"), Literal(","))),)),
            id="nested",
        ),
        pytest.param(
            "States.ArrayGetItem($.a[?(@.x, 1)], $.i)",
            Call("ArrayGetItem", (PathArg("$.a[?(@.x, 1)]"), PathArg("$.i"))),
            id="path-with-comma-in-filter",
        ),
        pytest.param(
            "States.JsonMerge($.a, $myVar.b, false)",
            Call("JsonMerge", (PathArg("$.a"), PathArg("$myVar.b"), Literal(False))),
            id="variable-path",
        ),
    ],
)
def test_a_call_parses_into_its_ast(text: str, expected: Call) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("States.Foo(1)", ["calls an unknown intrinsic function States.Foo"]),
        ("States.MathAdd(1)", ["States.MathAdd takes 2 argument(s) (got 1)"]),
        ("States.MathRandom(1)", ["States.MathRandom takes 2 to 3 argument(s) (got 1)"]),
        ("States.UUID(1)", ["States.UUID takes 0 argument(s) (got 1)"]),
        ("States.Format()", ["States.Format takes at least 1 argument(s) (got 0)"]),
        (
            "States.Format('{} {}', $.a)",
            ["States.Format template has 2 '{}' placeholder(s) but 1 value(s) follow"],
        ),
        (
            "States.Hash($.a, 'SHA-2')",
            [
                "States.Hash algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512 "
                "(got 'SHA-2')"
            ],
        ),
        (
            "States.JsonMerge($.a, $.b, true)",
            ["States.JsonMerge supports only a shallow merge: false (got True)"],
        ),
        (
            "States.Array(States.Nope(), States.MathAdd())",
            [
                "calls an unknown intrinsic function States.Nope",
                "States.MathAdd takes 2 argument(s) (got 0)",
            ],
        ),
        ("States.Array(1,", ["needs an argument (got the end)"]),
        ("States.Array(1 2)", ["needs ',' or ')' after an argument (got '2' at offset 15)"]),
        ("States.Format('abc)", ["has an unterminated string starting at offset 14"]),
        ("States.Format('\\n')", ["has an invalid escape \\n at offset 15"]),
        ("States.Array() x", ["has unexpected text after the call at offset 15"]),
        ("States.Array(@)", ["needs an argument (got '@' at offset 13)"]),
        ("Format('x')", ["needs a call States.Name(...) at offset 0"]),
        ("States.Array($..a[)", ["argument '$..a[)' has an unterminated '[' at offset 4"]),
    ],
)
def test_a_bad_call_is_reported(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_parse_raises_on_a_syntax_error() -> None:
    with pytest.raises(IntrinsicError):
        parse("States.Array(")


@pytest.mark.parametrize(
    "text",
    ["$", "$.a", "$.a.b[0]", "$['a b'][\"c\"]", "$$.Execution.Id", "$var", "$var.x[-1]"],
)
def test_reference_paths_that_name_one_node(text: str) -> None:
    assert paths.reference_path_problem(text) is None


@pytest.mark.parametrize(
    "text",
    ["$.a[*]", "$..a", "$.a[0:2]", "$.a[1,2]", "$.a[?(@.x > 1)]", "$.*", "$.a[(@.length-1)]"],
)
def test_jsonpaths_that_are_no_reference_paths(text: str) -> None:
    assert paths.path_problem(text) is None
    assert paths.reference_path_problem(text) is not None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a", "must start with $"),
        ("$.", "needs a field name after '.' at offset 2"),
        ("$a b", "has an unexpected ' ' at offset 2"),
        ("$.a[x]", "has an invalid subscript [x] at offset 3"),
        ("$.a['b]", "has an unterminated ['...'] at offset 3"),
        ("$.a[?(@.b]", "has an unterminated filter at offset 3"),
    ],
)
def test_a_broken_path_says_why(text: str, expected: str) -> None:
    assert paths.path_problem(text) == expected
