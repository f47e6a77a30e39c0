"""JSONPath as Step Functions reads it, and ResultPath writes that never touch the input."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubefn.asl import errors, jsonpath

STORE: dict[str, Any] = {
    "store": {
        "book": [
            {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
            {
                "category": "fiction",
                "author": "Herman Melville",
                "title": "Moby Dick",
                "isbn": "0-553-21311-3",
                "price": 8.99,
            },
            {
                "category": "fiction",
                "author": "J. R. R. Tolkien",
                "title": "The Lord of the Rings",
                "isbn": "0-395-19395-8",
                "price": 22.99,
            },
        ],
        "bicycle": {"color": "red", "price": 19.95},
    },
    "expensive": 10,
    "odd keys": {"a b": 1, "x.y": 2, "it's": 3},
    "flags": [True, 1, 1.0, None, "1"],
}
TITLES = ["Sayings", "Sword", "Moby Dick", "The Lord of the Rings"]


@pytest.mark.parametrize(
    "path, expected",
    [
        pytest.param("$", STORE, id="root"),
        pytest.param("$.expensive", 10, id="dot-name"),
        pytest.param("$.store.bicycle.color", "red", id="dot-names"),
        pytest.param("$['store']['bicycle']['color']", "red", id="bracket-names"),
        pytest.param('$["store"]["bicycle"].color', "red", id="double-quoted-bracket"),
        pytest.param("$['odd keys']['a b']", 1, id="bracket-name-with-space"),
        pytest.param("$['odd keys']['x.y']", 2, id="bracket-name-with-dot"),
        pytest.param("$['odd keys']['it\\'s']", 3, id="bracket-name-escaped-quote"),
        pytest.param("$.store.book[0].title", "Sayings", id="index"),
        pytest.param("$.store.book[-1].title", "The Lord of the Rings", id="negative-index"),
        pytest.param("$.store.book[ 2 ].author", "Herman Melville", id="index-with-spaces"),
        pytest.param("$.flags[3]", None, id="null-value-is-found"),
    ],
)
def test_a_definite_path_reads_its_one_value(path: str, expected: Any) -> None:
    assert jsonpath.read(path, STORE) == expected


@pytest.mark.parametrize(
    "path, expected",
    [
        pytest.param("$.store.book[*].title", TITLES, id="bracket-wildcard"),
        pytest.param("$.store.bicycle.*", ["red", 19.95], id="dot-wildcard-on-object"),
        pytest.param("$..author", [b["author"] for b in STORE["store"]["book"]], id="deep-name"),
        pytest.param("$.store..price", [8.95, 12.99, 8.99, 22.99, 19.95], id="deep-under-a-node"),
        pytest.param("$..book[2].title", ["Moby Dick"], id="deep-then-index"),
        pytest.param("$.store.book[1:3].title", ["Sword", "Moby Dick"], id="slice"),
        pytest.param("$.store.book[:2].title", ["Sayings", "Sword"], id="slice-open-start"),
        pytest.param("$.store.book[-2:].title", TITLES[2:], id="slice-negative-start"),
        pytest.param("$.store.book[::2].title", ["Sayings", "Moby Dick"], id="slice-step"),
        pytest.param("$.store.book[0,3].title", [TITLES[0], TITLES[3]], id="index-union"),
        pytest.param("$.store.bicycle['color','price']", ["red", 19.95], id="name-union"),
        pytest.param("$.store.book[0,9].title", ["Sayings"], id="union-skips-missing"),
        pytest.param("$.store.book[?(@.isbn)].title", TITLES[2:], id="filter-exists"),
        pytest.param("$.store.book[?(!@.isbn)].title", TITLES[:2], id="filter-not-exists"),
        pytest.param(
            "$.store.book[?(@.price < 10)].title", ["Sayings", "Moby Dick"], id="filter-lt"
        ),
        pytest.param(
            "$.store.book[?(@.price<=8.99)].title", ["Sayings", "Moby Dick"], id="filter-le"
        ),
        pytest.param(
            "$.store.book[?(@.price > 20)].title", ["The Lord of the Rings"], id="filter-gt"
        ),
        pytest.param("$.store.book[?(@.price >= 12.99)].title", TITLES[1::2], id="filter-ge"),
        pytest.param(
            "$.store.book[?(@.category == 'reference')].title", ["Sayings"], id="filter-eq-string"
        ),
        pytest.param(
            '$.store.book[?(@.category != "reference")].title', TITLES[1:], id="filter-ne"
        ),
        pytest.param(
            "$.store.book[?(@.category == 'fiction' && @.price < 10)].title",
            ["Moby Dick"],
            id="filter-and",
        ),
        pytest.param(
            "$.store.book[?(@.price < 9 || @.price > 20)].title",
            ["Sayings", "Moby Dick", "The Lord of the Rings"],
            id="filter-or",
        ),
        pytest.param(
            "$.store.book[?(@.category == 'fiction' && (@.price < 9 || @.price > 20))].title",
            ["Moby Dick", "The Lord of the Rings"],
            id="filter-grouping",
        ),
        pytest.param(
            "$.store.book[?(@.price < $.expensive)].title",
            ["Sayings", "Moby Dick"],
            id="filter-root-path",
        ),
        pytest.param("$.store.book[?(@.isbn == '0-395-19395-8')].price", [22.99], id="filter-eq"),
        pytest.param(
            "$.store.book[?(@.isbn != '0-395-19395-8')].title",
            TITLES[:3],
            id="filter-ne-keeps-missing-operands",
        ),
        pytest.param("$.store.book[?(@.isbn < 'z')].title", TITLES[2:], id="filter-lt-strings"),
        pytest.param("$.store.book[?(@.price < 'z')].title", [], id="filter-lt-mixed-types"),
        pytest.param("$.flags[?(@ == 1)]", [1, 1.0], id="filter-one-is-no-true-nor-string"),
        pytest.param("$.flags[?(@ == true)]", [True], id="filter-true-is-no-one"),
        pytest.param("$.flags[?(@ == null)]", [None], id="filter-null"),
        pytest.param(
            "$.store.bicycle[?(@.color == 'red')].price", [19.95], id="filter-on-object-keeps-it"
        ),
        pytest.param("$..[?(@.price > 20)].title", ["The Lord of the Rings"], id="deep-filter"),
        pytest.param("$.store.book[*].isbn", ["0-553-21311-3", "0-395-19395-8"], id="skips-misses"),
        pytest.param("$.nothing[*]", [], id="wildcard-on-missing-is-empty"),
        pytest.param("$.expensive.*", [], id="wildcard-on-scalar-is-empty"),
        pytest.param("$.store.book[?(@.price > 100)]", [], id="filter-no-match-is-empty"),
    ],
)
def test_an_indefinite_path_reads_the_list_of_its_matches(path: str, expected: Any) -> None:
    assert jsonpath.read(path, STORE) == expected


def test_a_deep_wildcard_reaches_every_value_below_the_root() -> None:
    data = {"a": {"b": [1, {"c": 2}]}}
    assert jsonpath.read("$..*", data) == [{"b": [1, {"c": 2}]}, [1, {"c": 2}], 1, {"c": 2}, 2]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("$.missing", id="missing-name"),
        pytest.param("$.store.bicycle.gears", id="missing-nested-name"),
        pytest.param("$.store.book[9]", id="index-past-the-end"),
        pytest.param("$.store.book[-9]", id="negative-index-before-the-start"),
        pytest.param("$.store.book.title", id="name-on-an-array"),
        pytest.param("$.store[0]", id="index-on-an-object"),
        pytest.param("$.expensive.value", id="name-on-a-number"),
    ],
)
def test_a_definite_path_that_names_nothing_raises_path_not_found(path: str) -> None:
    with pytest.raises(jsonpath.PathNotFound) as caught:
        jsonpath.read(path, STORE)
    assert caught.value.path == path


@pytest.mark.parametrize(
    "path, expected",
    [
        pytest.param("$$.Execution.Input.a", 1, id="execution-input"),
        pytest.param("$$.Map.Item.Value", {"id": 7}, id="map-item-value"),
        pytest.param("$$.Map.Item.Index", 3, id="map-item-index"),
        pytest.param("$$.Task.Token", "tok-1", id="task-token"),
        pytest.param("$$", None, id="whole-context"),
    ],
)
def test_a_double_dollar_path_reads_the_context_object(path: str, expected: Any) -> None:
    context = {
        "Execution": {"Input": {"a": 1}},
        "Map": {"Item": {"Value": {"id": 7}, "Index": 3}},
        "Task": {"Token": "tok-1"},
    }
    found = jsonpath.read(path, {"a": "not this"}, context=context)
    assert found == (context if expected is None else expected)


def test_a_context_path_without_a_context_is_not_found() -> None:
    with pytest.raises(jsonpath.PathNotFound):
        jsonpath.read("$$.Execution.Id", {})


def test_a_variable_path_reads_the_variable() -> None:
    assert jsonpath.read("$total.count", {}, variables={"total": {"count": 4}}) == 4
    with pytest.raises(jsonpath.PathNotFound):
        jsonpath.read("$other", {}, variables={"total": 1})


@pytest.mark.parametrize(
    "path, definite",
    [
        pytest.param("$", True, id="root"),
        pytest.param("$.a['b'][0]", True, id="names-and-indexes"),
        pytest.param("$.a[*]", False, id="wildcard"),
        pytest.param("$..a", False, id="deep"),
        pytest.param("$.a[0:1]", False, id="slice"),
        pytest.param("$.a[0,1]", False, id="union"),
        pytest.param("$.a[?(@.b)]", False, id="filter"),
    ],
)
def test_definite_paths_are_names_and_indexes_only(path: str, definite: bool) -> None:
    assert jsonpath.is_definite(path) is definite


@pytest.mark.parametrize(
    "path, why",
    [
        pytest.param("a.b", "a path starts with $", id="no-root"),
        pytest.param("$.a[(@.length-1)]", "script expressions", id="script"),
        pytest.param("$.a[?(@.b =~ /x/)]", "filter: unexpected text", id="regex-filter"),
        pytest.param("$.a[?(@.b == )]", "filter: an operand", id="filter-missing-operand"),
        pytest.param("$.a[?(@.b]", "unterminated filter", id="filter-unterminated"),
        pytest.param("$.a[::0]", "slice step cannot be 0", id="zero-step"),
        pytest.param("$.a[x]", "invalid subscript", id="bare-word-subscript"),
        pytest.param("$.a['b", "unterminated string", id="unterminated-quote"),
        pytest.param("$.", "a field name must follow", id="dangling-dot"),
    ],
)
def test_a_path_that_cannot_be_evaluated_says_why(path: str, why: str) -> None:
    problem = jsonpath.problem(path)
    assert problem is not None and why in problem
    with pytest.raises(errors.StatesError) as caught:
        jsonpath.read(path, {"a": [1]})
    assert caught.value.error == errors.RUNTIME
    assert path in caught.value.cause


def test_a_path_that_parses_has_no_problem() -> None:
    assert jsonpath.problem("$.store.book[?(@.price < 10 && @.isbn)].title") is None


@pytest.mark.parametrize(
    "data, path, value, expected",
    [
        pytest.param({"a": 1}, "$", {"r": 2}, {"r": 2}, id="root-replaces-everything"),
        pytest.param({"a": 1}, "$", "text", "text", id="root-takes-a-scalar"),
        pytest.param({"a": 1}, "$.r", 2, {"a": 1, "r": 2}, id="adds-a-field"),
        pytest.param({"a": 1}, "$.a", [1], {"a": [1]}, id="replaces-a-field"),
        pytest.param(
            {"a": 1}, "$.x.y.z", True, {"a": 1, "x": {"y": {"z": True}}}, id="creates-objects"
        ),
        pytest.param(
            {"data": {"v": 1}},
            "$.data.result",
            "ok",
            {"data": {"v": 1, "result": "ok"}},
            id="into-an-existing-object",
        ),
        pytest.param({}, "$['a b']", 1, {"a b": 1}, id="bracket-name"),
        pytest.param({"a": "s"}, "$.a", None, {"a": None}, id="null-result"),
    ],
)
def test_write_places_the_value_at_the_reference_path(
    data: Any, path: str, value: Any, expected: Any
) -> None:
    assert jsonpath.write(data, path, value) == expected


@pytest.mark.parametrize(
    "data, path",
    [
        pytest.param({"a": "text"}, "$.a.b", id="through-a-string"),
        pytest.param({"a": 5}, "$.a.b", id="through-a-number"),
        pytest.param({"a": None}, "$.a.b", id="through-null"),
        pytest.param({"a": [1, 2]}, "$.a.b", id="through-an-array"),
        pytest.param({"a": [1, 2]}, "$.a[0]", id="an-array-index"),
        pytest.param("hello", "$.a", id="into-a-string-input"),
        pytest.param([1], "$.a", id="into-an-array-input"),
        pytest.param({"a": 1}, "$..a", id="deep-scan"),
        pytest.param({"a": 1}, "$$.a", id="context-root"),
    ],
)
def test_write_through_anything_but_objects_is_a_result_path_match_failure(
    data: Any, path: str
) -> None:
    with pytest.raises(errors.StatesError) as caught:
        jsonpath.write(data, path, "result")
    assert caught.value.error == errors.RESULT_PATH_MATCH_FAILURE
    assert path in caught.value.cause
    assert errors.encoded(data) in caught.value.cause


def test_write_never_changes_its_input_nor_shares_objects_with_the_output() -> None:
    data = {"keep": {"inner": [1, 2]}, "data": {"v": 1}}
    value = {"nested": {"list": [3]}}
    before, value_before = copy.deepcopy(data), copy.deepcopy(value)
    output = jsonpath.write(data, "$.data.result", value)
    output["keep"]["inner"].append(99)
    output["data"]["result"]["nested"]["list"].append(99)
    assert data == before
    assert value == value_before


def test_write_at_the_root_copies_the_value() -> None:
    value = {"a": [1]}
    output = jsonpath.write({"x": 1}, "$", value)
    output["a"].append(2)
    assert value == {"a": [1]}


def test_read_never_changes_the_data() -> None:
    data = copy.deepcopy(STORE)
    for path in ("$..*", "$.store.book[?(@.price < 10)]", "$.store.book[::2]"):
        jsonpath.read(path, data)
    assert data == STORE
