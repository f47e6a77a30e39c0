"""The 18 intrinsic functions: AWS's documented examples, their edges and their refusals."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from kubefn.asl import errors
from kubefn.asl.intrinsic_functions import evaluate, evaluate_text
from kubefn.asl.intrinsics import Call, Literal, PathArg

INPUT: dict[str, Any] = {
    "name": "Arnav",
    "template": "Hello, my name is {}.",
    "escapedJsonString": '{"foo": "bar"}',
    "unescapedJson": {"foo": "bar"},
    "Id": 123456,
    "inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9],
    "partition": [1, 2, 3, 4, 5, 6, 7],
    "lookingFor": 5,
    "index": 5,
    "duplicates": [1, 2, 3, 3, 3, 3, 3, 3, 4],
    "input": "Data to encode",
    "base64": "RGF0YSB0byBlbmNvZGU=",
    "Data": "input data",
    "Algorithm": "SHA-1",
    "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
    "json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
    "start": 1,
    "end": 999,
    "value1": 111,
    "step": -1,
    "inputString": "This.is+a,test=string",
    "splitter": ".+,=",
    "csv": "1,2,3,4,5",
    "big": "x" * 10_001,
    "object": {"a": 1, "b": [1, "two"]},
    "mixed": [1, 1.0, "1", True, {"a": 1, "b": 2}, {"b": 2, "a": 1}, None, None],
}
CONTEXT = {"Execution": {"Id": "arn:exec:1", "Input": {"who": "me"}}, "Map": {"Item": {"Index": 2}}}


def run(text: str, data: Any = None) -> Any:
    return evaluate_text(
        text,
        INPUT if data is None else data,
        context=CONTEXT,
        random=lambda start, end: start,
        uuid4=lambda: "00000000-0000-4000-8000-000000000000",
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        # the AWS developer guide's examples
        pytest.param(
            "States.Format('Hello, my name is {}.', $.name)",
            "Hello, my name is Arnav.",
            id="format-doc-literal",
        ),
        pytest.param(
            "States.Format($.template, $.name)", "Hello, my name is Arnav.", id="format-doc-path"
        ),
        pytest.param(
            "States.StringToJson($.escapedJsonString)", {"foo": "bar"}, id="string-to-json"
        ),
        pytest.param("States.JsonToString($.unescapedJson)", '{"foo":"bar"}', id="json-to-string"),
        pytest.param("States.Array($.Id)", [123456], id="array-doc"),
        pytest.param(
            "States.ArrayPartition($.partition, 4)", [[1, 2, 3, 4], [5, 6, 7]], id="partition-doc"
        ),
        pytest.param("States.ArrayContains($.inputArray, $.lookingFor)", True, id="contains-doc"),
        pytest.param("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9], id="range-doc"),
        pytest.param("States.ArrayGetItem($.inputArray, $.index)", 6, id="get-item-doc"),
        pytest.param("States.ArrayLength($.inputArray)", 9, id="length-doc"),
        pytest.param("States.ArrayUnique($.duplicates)", [1, 2, 3, 4], id="unique-doc"),
        pytest.param(
            "States.Base64Encode($.input)", "RGF0YSB0byBlbmNvZGU=", id="base64-encode-doc"
        ),
        pytest.param("States.Base64Decode($.base64)", "Data to encode", id="base64-decode-doc"),
        pytest.param(
            "States.Hash($.Data, $.Algorithm)",
            "aaff4a450a104cd177d28d18d74485e8cae074b7",
            id="hash-doc",
        ),
        pytest.param(
            "States.JsonMerge($.json1, $.json2, false)",
            {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
            id="merge-doc-shallow",
        ),
        pytest.param("States.MathAdd($.value1, $.step)", 110, id="add-doc"),
        pytest.param(
            "States.StringSplit($.inputString, $.splitter)",
            ["This", "is", "a", "test", "string"],
            id="split-doc-any-delimiter",
        ),
        pytest.param("States.StringSplit($.csv, ',')", ["1", "2", "3", "4", "5"], id="split-csv"),
        # edges
        pytest.param("States.Format('no holes')", "no holes", id="format-no-placeholders"),
        pytest.param(
            "States.Format('{} {} {} {}', 1, 2.5, true, null)",
            "1 2.5 true null",
            id="format-scalars-as-json",
        ),
        pytest.param("States.Format('\\{\\} and {}', 'x')", "{} and x", id="format-escaped-braces"),
        pytest.param(
            "States.Format('it\\'s {}', $$.Execution.Id)", "it's arn:exec:1", id="format-context"
        ),
        pytest.param("States.Format('{}', $.object)", "{a=1, b=[1, two]}", id="format-object"),
        pytest.param("States.StringToJson('[1, 2]')", [1, 2], id="string-to-json-array"),
        pytest.param("States.StringToJson('null')", None, id="string-to-json-null"),
        pytest.param("States.JsonToString('é')", '"é"', id="json-to-string-unicode-kept"),
        pytest.param("States.Array()", [], id="array-empty"),
        pytest.param(
            "States.Array('a', 1, true, null, $.unescapedJson)",
            ["a", 1, True, None, {"foo": "bar"}],
            id="array-mixed",
        ),
        pytest.param(
            "States.ArrayPartition($.partition, 10)", [[1, 2, 3, 4, 5, 6, 7]], id="partition-big"
        ),
        pytest.param("States.ArrayPartition(States.Array(), 2)", [], id="partition-empty"),
        pytest.param("States.ArrayContains($.inputArray, 10)", False, id="contains-missing"),
        pytest.param("States.ArrayContains($.mixed, $.unescapedJson)", False, id="contains-object"),
        pytest.param("States.ArrayContains($.mixed, 'x')", False, id="contains-string-no"),
        pytest.param("States.ArrayRange(0, 0, 1)", [0], id="range-single"),
        pytest.param("States.ArrayRange(5, 1, 1)", [], id="range-empty"),
        pytest.param("States.ArrayRange(1, 10, 4)", [1, 5, 9], id="range-end-not-hit"),
        pytest.param("States.ArrayRange(1.4, 2.5, 1)", [1, 2, 3], id="range-rounds-like-java"),
        pytest.param("States.ArrayRange(1, 1000, 1)", list(range(1, 1001)), id="range-at-1000"),
        pytest.param("States.ArrayGetItem($.inputArray, 0)", 1, id="get-item-first"),
        pytest.param(
            "States.ArrayUnique($.mixed)",
            [1, "1", True, {"a": 1, "b": 2}, None],
            id="unique-by-json-value",
        ),
        pytest.param("States.ArrayLength(States.Array())", 0, id="length-empty"),
        pytest.param("States.Base64Encode('ünï')", "w7xuw68=", id="base64-utf8"),
        pytest.param("States.Base64Decode('w7xuw68=')", "ünï", id="base64-decode-utf8"),
        pytest.param(
            "States.Hash('', 'MD5')", "d41d8cd98f00b204e9800998ecf8427e", id="hash-md5-empty"
        ),
        pytest.param(
            "States.JsonMerge($.json1, States.StringToJson('{}'), false)",
            {"a": {"a1": 1, "a2": 2}, "b": 2},
            id="merge-with-empty",
        ),
        pytest.param("States.MathAdd(1.5, -1.5)", 1, id="add-rounds-halves-up"),
        pytest.param("States.MathAdd(-2147483648, 2147483647)", -1, id="add-integers"),
        pytest.param("States.MathRandom(5, 10)", 5, id="random-uses-the-source"),
        pytest.param("States.StringSplit(',,a,,b,', ',')", ["a", "b"], id="split-drops-empties"),
        pytest.param("States.StringSplit('abc', '')", ["abc"], id="split-no-delimiter"),
        pytest.param("States.StringSplit('', ',')", [], id="split-empty"),
        pytest.param(
            "States.UUID()", "00000000-0000-4000-8000-000000000000", id="uuid-from-the-source"
        ),
        pytest.param(
            "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
            "States.StringSplit('arn:aws:imagebuilder:r:1:image-recipe/my.recipe/1.0.0', '/'),"
            " 1), '.'), 1)",
            "recipe",
            id="nested-inside-out",
        ),
        pytest.param(
            "States.Format('{}-{}', States.MathAdd($$.Map.Item.Index, 1), $.name)",
            "3-Arnav",
            id="nested-with-context",
        ),
    ],
)
def test_an_intrinsic_evaluates_as_step_functions_does(text: str, expected: Any) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    "algorithm, name",
    [
        pytest.param("MD5", "md5", id="md5"),
        pytest.param("SHA-1", "sha1", id="sha1"),
        pytest.param("SHA-256", "sha256", id="sha256"),
        pytest.param("SHA-384", "sha384", id="sha384"),
        pytest.param("SHA-512", "sha512", id="sha512"),
    ],
)
def test_hash_gives_the_lowercase_hex_digest(algorithm: str, name: str) -> None:
    expected = hashlib.new(name, b"input data").hexdigest()
    assert run(f"States.Hash($.Data, '{algorithm}')") == expected


@pytest.mark.parametrize(
    "text, function, detail",
    [
        pytest.param("States.Format('{} {}', 1)", "Format", "2 '{}' placeholder(s)", id="fmt-few"),
        pytest.param("States.Format('{}', 1, 2)", "Format", "but 2 value(s)", id="fmt-many"),
        pytest.param("States.Format($.Id)", "Format", "123456", id="fmt-template-not-string"),
        pytest.param("States.StringToJson('{nope')", "StringToJson", "{nope", id="not-json"),
        pytest.param("States.StringToJson($.Id)", "StringToJson", "123456", id="s2j-not-string"),
        pytest.param("States.ArrayPartition($.name, 2)", "ArrayPartition", "Arnav", id="part-arr"),
        pytest.param("States.ArrayPartition($.partition, 0)", "ArrayPartition", "0", id="part-0"),
        pytest.param(
            "States.ArrayPartition($.partition, -1)", "ArrayPartition", "-1", id="part-neg"
        ),
        pytest.param(
            "States.ArrayPartition($.partition, 'a')", "ArrayPartition", "a", id="part-str"
        ),
        pytest.param("States.ArrayContains($.name, 1)", "ArrayContains", "Arnav", id="contains"),
        pytest.param("States.ArrayRange(1, 1001, 1)", "ArrayRange", "1001 items", id="range-1001"),
        pytest.param("States.ArrayRange(1, 9, 0)", "ArrayRange", "step", id="range-step-0"),
        pytest.param("States.ArrayRange(9, 1, -1)", "ArrayRange", "step", id="range-step-neg"),
        pytest.param("States.ArrayRange('1', 9, 1)", "ArrayRange", "start", id="range-str"),
        pytest.param("States.ArrayRange(true, 9, 1)", "ArrayRange", "true", id="range-bool"),
        pytest.param("States.ArrayGetItem($.inputArray, 9)", "ArrayGetItem", "9", id="item-past"),
        pytest.param("States.ArrayGetItem($.inputArray, -1)", "ArrayGetItem", "-1", id="item-neg"),
        pytest.param("States.ArrayGetItem($.name, 0)", "ArrayGetItem", "Arnav", id="item-not-arr"),
        pytest.param("States.ArrayLength($.name)", "ArrayLength", "Arnav", id="length-not-arr"),
        pytest.param("States.ArrayUnique($.Id)", "ArrayUnique", "123456", id="unique-not-arr"),
        pytest.param("States.Base64Encode($.big)", "Base64Encode", "10001", id="b64-too-long"),
        pytest.param("States.Base64Encode($.Id)", "Base64Encode", "123456", id="b64-not-string"),
        pytest.param("States.Base64Decode('!!!')", "Base64Decode", "!!!", id="b64-not-base64"),
        pytest.param("States.Base64Decode('/w==')", "Base64Decode", "/w==", id="b64-not-utf8"),
        pytest.param("States.Hash($.big, 'MD5')", "Hash", "10001", id="hash-too-long"),
        pytest.param("States.Hash($.Data, 'SHA-3')", "Hash", "SHA-3", id="hash-unknown"),
        pytest.param("States.Hash($.Data, $.json1)", "Hash", '"a1":1', id="hash-algo-object"),
        pytest.param("States.JsonMerge($.json1, $.json2, true)", "JsonMerge", "true", id="deep"),
        pytest.param("States.JsonMerge($.json1, $.Id, false)", "JsonMerge", "123456", id="merge"),
        pytest.param("States.JsonMerge($.name, $.json2, false)", "JsonMerge", "Arnav", id="m-1st"),
        pytest.param("States.MathRandom(5, 5)", "MathRandom", "5", id="random-empty-range"),
        pytest.param("States.MathRandom('a', 5)", "MathRandom", "a", id="random-not-number"),
        pytest.param("States.MathAdd($.name, 1)", "MathAdd", "Arnav", id="add-not-number"),
        pytest.param("States.StringSplit($.Id, ',')", "StringSplit", "123456", id="split-number"),
        pytest.param("States.StringSplit($.csv, 1)", "StringSplit", "1", id="split-delim-number"),
        pytest.param("States.Nope()", "Nope", "no intrinsic", id="unknown-function"),
        pytest.param("States.ArrayLength()", "ArrayLength", "0 argument", id="arity"),
    ],
)
def test_a_refused_call_fails_with_intrinsic_failure_naming_function_and_value(
    text: str, function: str, detail: str
) -> None:
    with pytest.raises(errors.StatesError) as caught:
        run(text)
    assert caught.value.error == errors.INTRINSIC_FAILURE
    assert f"States.{function}" in caught.value.cause
    assert detail in caught.value.cause


def test_a_call_that_does_not_parse_fails_with_intrinsic_failure() -> None:
    with pytest.raises(errors.StatesError) as caught:
        run("States.Format('unterminated)")
    assert caught.value.error == errors.INTRINSIC_FAILURE
    assert "unterminated string" in caught.value.cause


@pytest.mark.parametrize(
    "text, path",
    [
        pytest.param("States.Format('{}', $.missing)", "$.missing", id="input-path"),
        pytest.param("States.Array($$.Execution.Nope)", "$$.Execution.Nope", id="context-path"),
        pytest.param(
            "States.ArrayLength(States.Array($.gone))", "$.gone", id="inside-a-nested-call"
        ),
    ],
)
def test_a_path_argument_that_matches_nothing_is_a_parameter_path_failure(
    text: str, path: str
) -> None:
    with pytest.raises(errors.StatesError) as caught:
        run(text)
    assert caught.value.error == errors.PARAMETER_PATH_FAILURE
    assert f"'{path}'" in caught.value.cause


def test_an_indefinite_path_argument_gives_the_list_of_matches() -> None:
    data = {"items": [{"n": 1}, {"n": 2}, {"n": 1}]}
    assert run("States.ArrayUnique($.items[*].n)", data) == [1, 2]


def test_a_variable_path_argument_reads_the_variable() -> None:
    call = Call("MathAdd", (PathArg("$counter"), Literal(1)))
    assert evaluate(call, {}, context=None, variables={"counter": 41}) == 42


def test_math_random_stays_within_start_inclusive_and_end_exclusive() -> None:
    seen = {
        evaluate_text("States.MathRandom(1, 4)", {}, context=None, random=None) for _ in range(300)
    }
    assert seen == {1, 2, 3}


def test_a_seeded_math_random_is_the_same_every_time() -> None:
    first = run("States.MathRandom(1, 1000000, 7)")
    assert 1 <= first < 1000000
    assert all(run("States.MathRandom(1, 1000000, 7)") == first for _ in range(5))
    assert run("States.MathRandom(1, 1000000, 8)") != first


def test_uuid_by_default_is_a_fresh_version_4_uuid() -> None:
    first = evaluate(Call("UUID", ()), {}, context=None)
    second = evaluate(Call("UUID", ()), {}, context=None)
    assert uuid.UUID(first).version == 4
    assert first != second


def test_evaluation_never_changes_the_input() -> None:
    data = {"json1": {"a": 1}, "json2": {"b": 2}, "list": [3, 1, 3]}
    merged = run("States.JsonMerge($.json1, $.json2, false)", data)
    merged["c"] = 3
    run("States.ArrayUnique($.list)", data)
    assert data == {"json1": {"a": 1}, "json2": {"b": 2}, "list": [3, 1, 3]}
