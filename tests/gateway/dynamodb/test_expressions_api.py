"""DynamoDB expressions through boto3 against the running gateway.

Every condition case runs four ways on one stored item — a Scan filter, a Query
filter, a conditional UpdateItem and a conditional PutItem (rewriting the same
item) — and all four must agree with the expected truth value. Each table runs
inside one test (one gateway), collecting every disagreement, so a failure lists
all the cases that broke.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from tests.gateway.dynamodb.conftest import Dynamo, n, s

TABLE = "exprs"

ITEM: dict[str, Any] = {
    "pk": s("x"),
    "n": n(10),
    "neg": n("-2.5"),
    "frac": n("0.05"),
    "big": n("12345678901234567890123456789012345678"),
    "s": s("apple"),
    "caps": s("Zebra"),
    "b": {"B": b"\x01\xff"},
    "t": {"BOOL": True},
    "nul": {"NULL": True},
    "ss": {"SS": ["a", "b", "c"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x00", b"\x01"]},
    "l": {"L": [s("a"), n(1), {"M": {"k": s("v")}}]},
    "a": {"M": {"b": {"L": [n(0), n(1), {"M": {"c": s("deep")}}]}}},
    "dotted.name": s("dot"),
    "year": n(2020),
}


def b(raw: bytes) -> dict[str, bytes]:
    return {"B": raw}


class Case(NamedTuple):
    expression: str
    values: dict[str, Any]
    expected: bool
    names: dict[str, str] | None = None


def case(
    expression: str, expected: bool, names: dict[str, str] | None = None, **values: Any
) -> Case:
    return Case(expression, {f":{k}": v for k, v in values.items()}, expected, names)


COMPARISONS = [
    # N: numeric order, not text order; 38 digits exact; negatives and decimals
    case("n = :v", True, v=n(10)),
    case("n = :v", True, v=n("10.00")),
    case("n = :v", True, v=n("1E1")),
    case("n <> :v", True, v=n(9)),
    case("n <> :v", False, v=n(10)),
    case("n < :v", False, v=n(9)),  # "10" < "9" as text
    case("n < :v", True, v=n(100)),
    case("n <= :v", True, v=n(10)),
    case("n <= :v", False, v=n("9.99")),
    case("n > :v", True, v=n(9)),
    case("n > :v", False, v=n(10)),
    case("n >= :v", True, v=n(10)),
    case("n >= :v", False, v=n(11)),
    case("neg < :v", True, v=n(-2)),
    case("neg < :v", False, v=n("-2.6")),
    case("neg > :v", True, v=n(-10)),
    case("neg >= :v", True, v=n("-2.50")),
    case("frac < :v", True, v=n("0.5")),
    case("frac > :v", True, v=n("0.049")),
    case("frac > :v", False, v=n("0.050000000000000000000000000000000001")),
    case("big = :v", True, v=n("12345678901234567890123456789012345678")),
    case("big > :v", True, v=n("12345678901234567890123456789012345677")),
    case("big < :v", True, v=n("12345678901234567890123456789012345679")),
    case("big < :v", False, v=n("1.2345678901234567890123456789012345678E+37")),
    case("big <= :v", True, v=n("1.2345678901234567890123456789012345678E+37")),
    # S: by UTF-8 bytes (caps case sorts before lower case)
    case("s = :v", True, v=s("apple")),
    case("s <> :v", True, v=s("Apple")),
    case("s < :v", True, v=s("banana")),
    case("s < :v", True, v=s("apple pie")),
    case("s > :v", True, v=s("Zebra")),
    case("caps < :v", True, v=s("apple")),
    case("s <= :v", True, v=s("apple")),
    case("s >= :v", False, v=s("b")),
    # B: unsigned bytes
    case("b = :v", True, v=b(b"\x01\xff")),
    case("b <> :v", True, v=b(b"\x01")),
    case("b > :v", True, v=b(b"\x01\x7f")),
    case("b < :v", True, v=b(b"\x02")),
    case("b >= :v", False, v=b(b"\x01\xff\x00")),
    case("b <= :v", True, v=b(b"\x01\xff")),
    # different types: never equal, never ordered
    case("s = :v", False, v=n(1)),
    case("s <> :v", True, v=n(1)),
    case("n < :v", False, v=s("99")),
    case("n >= :v", False, v=s("1")),
    # a absent attribute: only <> holds
    case("absent = :v", False, v=n(1)),
    case("absent <> :v", True, v=n(1)),
    case("absent < :v", False, v=n(1)),
    case("absent >= :v", False, v=n(1)),
    # comparing two paths
    case("n > neg", True),
    case("s = caps", False),
    # documents and sets compare whole
    case("ss = :v", True, v={"SS": ["c", "a", "b"]}),
    case("ns = :v", True, v={"NS": ["2.50", "1"]}),
    case("l = :v", True, v={"L": [s("a"), n(1), {"M": {"k": s("v")}}]}),
    case("l = :v", False, v={"L": [n(1), s("a"), {"M": {"k": s("v")}}]}),
    case("t = :v", True, v={"BOOL": True}),
    case("nul = :v", True, v={"NULL": True}),
]

RANGES = [
    case("n BETWEEN :lo AND :hi", True, lo=n(9), hi=n(11)),
    case("n BETWEEN :lo AND :hi", True, lo=n(10), hi=n(10)),
    case("n BETWEEN :lo AND :hi", False, lo=n(11), hi=n(12)),
    case("n BETWEEN :lo AND :hi", True, lo=n(9), hi=n(100)),  # numerically, not as text
    case("neg BETWEEN :lo AND :hi", True, lo=n(-3), hi=n(-2)),
    case("s BETWEEN :lo AND :hi", True, lo=s("a"), hi=s("b")),
    case("s BETWEEN :lo AND :hi", False, lo=s("b"), hi=s("c")),
    case("b BETWEEN :lo AND :hi", True, lo=b(b"\x01"), hi=b(b"\x02")),
    case("n BETWEEN :lo AND :hi", False, lo=s("1"), hi=s("2")),
    case("absent BETWEEN :lo AND :hi", False, lo=n(1), hi=n(2)),
    case("n IN (:a, :b)", True, a=n(9), b=n(10)),
    case("n IN (:a)", True, a=n("10.000")),
    case("n IN (:a, :b)", False, a=n(9), b=s("10")),
    case("s IN (:a, :b, :c)", True, a=s("x"), b=s("y"), c=s("apple")),
    case("s IN (:a, :b)", False, a=s("x"), b=s("y")),
    case("ss IN (:a)", True, a={"SS": ["b", "c", "a"]}),
    case("absent IN (:a)", False, a=n(1)),
]

LOGIC = [
    # AND binds tighter than OR: T OR (F AND F)
    case("n = :ten OR n = :nine AND s = :nope", True, ten=n(10), nine=n(9), nope=s("no")),
    case("(n = :ten OR n = :nine) AND s = :nope", False, ten=n(10), nine=n(9), nope=s("no")),
    case("s = :nope AND n = :nine OR n = :ten", True, ten=n(10), nine=n(9), nope=s("no")),
    case("s = :nope AND (n = :nine OR n = :ten)", False, ten=n(10), nine=n(9), nope=s("no")),
    # NOT binds tighter than AND: (NOT T) AND F, not NOT (T AND F)
    case("NOT n = :ten AND s = :nope", False, ten=n(10), nope=s("no")),
    case("NOT (n = :ten AND s = :nope)", True, ten=n(10), nope=s("no")),
    case("NOT n = :nine OR s = :nope", True, nine=n(9), nope=s("no")),
    case("NOT NOT n = :ten", True, ten=n(10)),
    case("((n = :ten))", True, ten=n(10)),
    case("n = :nine OR s = :nope OR attribute_exists(t)", True, nine=n(9), nope=s("no")),
    case("n = :ten and s = :apple", True, ten=n(10), apple=s("apple")),  # any case
    case("NOT attribute_exists(absent) AND NOT contains(s, :z)", True, z=s("z")),
]

TYPE_OF_ATTRIBUTE = {
    "s": "S", "n": "N", "b": "B", "t": "BOOL", "nul": "NULL",
    "ss": "SS", "ns": "NS", "bs": "BS", "l": "L", "a": "M",
}  # fmt: skip

FUNCTIONS = [
    case("attribute_exists(n)", True),
    case("attribute_exists(absent)", False),
    case("attribute_not_exists(absent)", True),
    case("attribute_not_exists(pk)", False),
    case("attribute_exists(a.b[2].c)", True),
    case("attribute_exists(a.b[5])", False),
    case("attribute_exists(a.x)", False),
    case("attribute_not_exists(a.b[2].c)", False),
    case("attribute_exists(s.x)", False),  # a string has no members
    *(
        case("attribute_type(#p, :t)", True, {"#p": path}, t=s(kind))
        for path, kind in TYPE_OF_ATTRIBUTE.items()
    ),
    case("attribute_type(n, :t)", False, t=s("S")),
    case("attribute_type(ss, :t)", False, t=s("L")),
    case("attribute_type(absent, :t)", False, t=s("S")),
    case("begins_with(s, :p)", True, p=s("app")),
    case("begins_with(s, :p)", True, p=s("apple")),
    case("begins_with(s, :p)", False, p=s("App")),
    case("begins_with(s, :p)", False, p=s("apples")),
    case("begins_with(b, :p)", True, p=b(b"\x01")),
    case("begins_with(b, :p)", False, p=b(b"\xff")),
    case("begins_with(n, :p)", False, p=s("1")),
    case("begins_with(a.b[2].c, :p)", True, p=s("de")),
    case("contains(s, :v)", True, v=s("ppl")),
    case("contains(s, :v)", False, v=s("xyz")),
    case("contains(ss, :v)", True, v=s("b")),
    case("contains(ss, :v)", False, v=s("z")),
    case("contains(ss, :v)", False, v=n(1)),
    case("contains(ns, :v)", True, v=n("2.50")),
    case("contains(ns, :v)", False, v=n(3)),
    case("contains(bs, :v)", True, v=b(b"\x01")),
    case("contains(bs, :v)", False, v=b(b"\x02")),
    case("contains(l, :v)", True, v=s("a")),
    case("contains(l, :v)", True, v=n("1.0")),
    case("contains(l, :v)", True, v={"M": {"k": s("v")}}),
    case("contains(l, :v)", False, v=s("v")),
    case("contains(absent, :v)", False, v=s("a")),
    case("contains(b, :v)", True, v=b(b"\xff")),
    case("size(s) = :v", True, v=n(5)),
    case("size(b) = :v", True, v=n(2)),
    case("size(ss) = :v", True, v=n(3)),
    case("size(ns) = :v", True, v=n(2)),
    case("size(bs) = :v", True, v=n(2)),
    case("size(l) = :v", True, v=n(3)),
    case("size(a) = :v", True, v=n(1)),
    case("size(a.b) > :v", True, v=n(2)),
    case("size(a.b) BETWEEN :lo AND :hi", True, lo=n(3), hi=n(3)),
    case("size(s) IN (:a, :b)", True, a=n(4), b=n(5)),
    case("size(s) < size(l)", False),
    case("size(l) = size(ss)", True),
    case("size(absent) = :v", False, v=n(0)),
    case("size(absent) <> :v", True, v=n(0)),
]

PATHS = [
    case("a.b[2].c = :v", True, v=s("deep")),
    case("#a.#b[2].#c = :v", True, {"#a": "a", "#b": "b", "#c": "c"}, v=s("deep")),
    case("a.b[0] = :v", True, v=n(0)),
    case("a.b[1] < :v", True, v=n(2)),
    case("a.b[3] = :v", False, v=n(0)),
    case("l[2].k = :v", True, v=s("v")),
    case("l[0] = :v", True, v=s("a")),
    case("#d = :v", True, {"#d": "dotted.name"}, v=s("dot")),
    case("#d.#n = :v", False, {"#d": "dotted", "#n": "name"}, v=s("dot")),
    case("#y = :v", True, {"#y": "year"}, v=n(2020)),
    case("#y > :v AND #y < :w", True, {"#y": "year"}, v=n(2019), w=n(2021)),
]


@pytest.fixture
async def exprs(dynamo: Dynamo) -> Dynamo:
    await dynamo.table(TABLE)
    await dynamo("put_item", TableName=TABLE, Item=ITEM)
    return dynamo


def _params(case: Case) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if case.values:
        params["ExpressionAttributeValues"] = dict(case.values)
    if case.names:
        params["ExpressionAttributeNames"] = dict(case.names)
    return params


async def _outcomes(dynamo: Dynamo, case: Case) -> dict[str, bool]:
    """What each of the four ways says about the case's expression on ITEM."""
    outcomes: dict[str, bool] = {}
    scan = await dynamo("scan", TableName=TABLE, FilterExpression=case.expression, **_params(case))
    outcomes["scan"] = scan["Count"] == 1
    query_params = _params(case)
    query_params.setdefault("ExpressionAttributeNames", {})["#key"] = "pk"
    query_params.setdefault("ExpressionAttributeValues", {})[":key"] = s("x")
    if "pk" not in case.expression:  # a Query's filter may not name its key (DynamoDB refuses)
        query = await dynamo(
            "query",
            TableName=TABLE,
            KeyConditionExpression="#key = :key",
            FilterExpression=case.expression,
            **query_params,
        )
        outcomes["query"] = query["Count"] == 1
    for operation, target in (
        ("update_item", {"Key": {"pk": s("x")}}),
        ("put_item", {"Item": ITEM}),
    ):
        try:
            await dynamo(
                operation,
                TableName=TABLE,
                ConditionExpression=case.expression,
                **target,
                **_params(case),
            )
            outcomes[operation] = True
        except dynamo.client.exceptions.ConditionalCheckFailedException:
            outcomes[operation] = False
    return outcomes


@pytest.mark.parametrize(
    "cases",
    [
        pytest.param(COMPARISONS, id="comparisons"),
        pytest.param(RANGES, id="between-and-in"),
        pytest.param(LOGIC, id="and-or-not"),
        pytest.param(FUNCTIONS, id="functions"),
        pytest.param(PATHS, id="paths-and-names"),
    ],
)
async def test_conditions_and_filters_agree_with_dynamodb(exprs: Dynamo, cases: list[Case]) -> None:
    wrong = []
    for case in cases:
        outcomes = await _outcomes(exprs, case)
        if set(outcomes.values()) != {case.expected}:
            wrong.append((case.expression, case.values, outcomes))
    assert wrong == []
    stored = await exprs("get_item", TableName=TABLE, Key={"pk": s("x")})
    assert stored["Item"] == ITEM  # conditions and rewrites changed nothing


async def test_a_failed_delete_condition_keeps_the_item_and_returns_it(exprs: Dynamo) -> None:
    error = await exprs.error(
        "delete_item",
        TableName=TABLE,
        Key={"pk": s("x")},
        ConditionExpression="size(a.b) > :v OR #d <> :dot",
        ExpressionAttributeNames={"#d": "dotted.name"},
        ExpressionAttributeValues={":v": n(3), ":dot": s("dot")},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert error["Code"] == "ConditionalCheckFailedException"
    assert error["response"]["Item"] == ITEM
    deleted = await exprs(
        "delete_item",
        TableName=TABLE,
        Key={"pk": s("x")},
        ConditionExpression="contains(ss, :a) AND n BETWEEN :lo AND :hi",
        ExpressionAttributeValues={":a": s("a"), ":lo": n(1), ":hi": n(10)},
        ReturnValues="ALL_OLD",
    )
    assert deleted["Attributes"] == ITEM
    assert "Item" not in await exprs("get_item", TableName=TABLE, Key={"pk": s("x")})


async def test_conditions_on_a_missing_item(exprs: Dynamo) -> None:
    """No item: attribute_not_exists holds, comparisons fail, and nothing is written."""
    await exprs(
        "put_item",
        TableName=TABLE,
        Item={"pk": s("new")},
        ConditionExpression="attribute_not_exists(pk) AND absent <> :v",
        ExpressionAttributeValues={":v": n(1)},
    )
    error = await exprs.error(
        "update_item",
        TableName=TABLE,
        Key={"pk": s("none")},
        UpdateExpression="SET v = :v",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":v": n(1)},
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    assert error["Code"] == "ConditionalCheckFailedException"
    assert "Item" not in error["response"]
    assert "Item" not in await exprs("get_item", TableName=TABLE, Key={"pk": s("none")})


# -- projections


async def test_projections_with_nested_paths_and_names(exprs: Dynamo) -> None:
    projection = {
        "ProjectionExpression": "a.b[2].c, #d, l[0], l[2].k, #y, absent, a.b[9]",
        "ExpressionAttributeNames": {"#d": "dotted.name", "#y": "year"},
    }
    expected = {
        "a": {"M": {"b": {"L": [{"M": {"c": s("deep")}}]}}},
        "dotted.name": s("dot"),
        "l": {"L": [s("a"), {"M": {"k": s("v")}}]},
        "year": n(2020),
    }
    got = await exprs("get_item", TableName=TABLE, Key={"pk": s("x")}, **projection)
    assert got["Item"] == expected
    scanned = await exprs("scan", TableName=TABLE, **projection)
    assert scanned["Items"] == [expected]
    queried = await exprs(
        "query",
        TableName=TABLE,
        KeyConditionExpression="pk = :x",
        ExpressionAttributeValues={":x": s("x")},
        **projection,
    )
    assert queried["Items"] == [expected]
    batch = await exprs(
        "batch_get_item", RequestItems={TABLE: {"Keys": [{"pk": s("x")}], **projection}}
    )
    assert batch["Responses"][TABLE] == [expected]
    transact = await exprs(
        "transact_get_items",
        TransactItems=[{"Get": {"TableName": TABLE, "Key": {"pk": s("x")}, **projection}}],
    )
    assert transact["Responses"] == [{"Item": expected}]


# -- updates


async def _update(dynamo: Dynamo, expression: str, **params: Any) -> dict[str, Any]:
    """Apply an update to ITEM's copy and return the whole new item."""
    result = await dynamo(
        "update_item",
        TableName=TABLE,
        Key={"pk": s("x")},
        UpdateExpression=expression,
        ReturnValues="ALL_NEW",
        **params,
    )
    return dict(result["Attributes"])


async def test_set_arithmetic_and_if_not_exists(exprs: Dynamo) -> None:
    item = await _update(
        exprs,
        "SET n = n + :one, neg = neg - :half, fresh = if_not_exists(fresh, :zero) + :one, "
        "kept = if_not_exists(s, :zero), calc = :one + :half, big = big - :one, "
        "a.b[0] = a.b[1] + :one",
        ExpressionAttributeValues={":one": n(1), ":half": n("0.5"), ":zero": n(0)},
    )
    assert item["n"] == n(11)
    assert item["neg"] == n(-3)
    assert item["fresh"] == n(1)
    assert item["kept"] == s("apple")
    assert item["calc"] == n("1.5")
    assert item["big"] == n("12345678901234567890123456789012345677")
    assert item["a"]["M"]["b"]["L"][0] == n(2)
    again = await _update(
        exprs,
        "SET fresh = if_not_exists(fresh, :zero) + :one",
        ExpressionAttributeValues={":one": n(1), ":zero": n(0)},
    )
    assert again["fresh"] == n(2)


async def test_set_swaps_using_the_old_values(exprs: Dynamo) -> None:
    item = await _update(exprs, "SET s = caps, caps = s")
    assert (item["s"], item["caps"]) == (s("Zebra"), s("apple"))


async def test_list_append_in_both_orders(exprs: Dynamo) -> None:
    item = await _update(
        exprs,
        "SET l = list_append(l, :tail), a.b = list_append(:head, a.b), "
        "fresh = list_append(if_not_exists(fresh, :empty), :tail)",
        ExpressionAttributeValues={
            ":tail": {"L": [s("end")]},
            ":head": {"L": [s("start")]},
            ":empty": {"L": []},
        },
    )
    assert item["l"]["L"] == [s("a"), n(1), {"M": {"k": s("v")}}, s("end")]
    assert item["a"]["M"]["b"]["L"] == [s("start"), n(0), n(1), {"M": {"c": s("deep")}}]
    assert item["fresh"] == {"L": [s("end")]}


async def test_set_list_index_past_the_end_appends(exprs: Dynamo) -> None:
    item = await _update(exprs, "SET l[10] = :v", ExpressionAttributeValues={":v": s("z")})
    assert item["l"]["L"][-1] == s("z") and len(item["l"]["L"]) == 4


async def test_remove_attributes_list_elements_and_map_members(exprs: Dynamo) -> None:
    item = await _update(
        exprs,
        "REMOVE l[0], l[2], a.b[2].c, #d, absent, s",
        ExpressionAttributeNames={"#d": "dotted.name"},
    )
    assert item["l"] == {"L": [n(1)]}  # indexes name the original elements
    assert item["a"]["M"]["b"]["L"][2] == {"M": {}}
    assert "dotted.name" not in item and "s" not in item


async def test_add_numbers_and_every_set_type(exprs: Dynamo) -> None:
    item = await _update(
        exprs,
        "ADD n :five, tally :five, ss :ss, ns :ns, bs :bs, newset :ss",
        ExpressionAttributeValues={
            ":five": n(5),
            ":ss": {"SS": ["c", "d"]},
            ":ns": {"NS": ["2.50", "3"]},
            ":bs": {"BS": [b"\x01", b"\x02"]},
        },
    )
    assert item["n"] == n(15)
    assert item["tally"] == n(5)
    assert sorted(item["ss"]["SS"]) == ["a", "b", "c", "d"]
    assert sorted(item["ns"]["NS"], key=float) == ["1", "2.5", "3"]
    assert sorted(item["bs"]["BS"]) == [b"\x00", b"\x01", b"\x02"]
    assert sorted(item["newset"]["SS"]) == ["c", "d"]


async def test_delete_from_sets_and_an_emptied_set_goes(exprs: Dynamo) -> None:
    item = await _update(
        exprs,
        "DELETE ss :ss, ns :ns, bs :bs, nothing :ss",
        ExpressionAttributeValues={
            ":ss": {"SS": ["a", "z"]},
            ":ns": {"NS": ["1", "2.50"]},
            ":bs": {"BS": [b"\x00"]},
        },
    )
    assert sorted(item["ss"]["SS"]) == ["b", "c"]
    assert "ns" not in item  # every member deleted: the attribute is removed
    assert item["bs"] == {"BS": [b"\x01"]}
    assert "nothing" not in item


async def test_all_four_clauses_in_one_update(exprs: Dynamo) -> None:
    item = await _update(
        exprs,
        "set #c = :v remove caps add n :one delete ss :a",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":v": s("set"), ":one": n(1), ":a": {"SS": ["a"]}},
    )
    assert item["count"] == s("set") and "caps" not in item
    assert item["n"] == n(11) and sorted(item["ss"]["SS"]) == ["b", "c"]


async def test_update_return_values(exprs: Dynamo) -> None:
    before = {"pk": s("r"), "keep": n(1), "change": n(1), "gone": n(1)}
    expected = {
        "NONE": None,
        "ALL_OLD": before,
        "UPDATED_OLD": {"change": n(1), "gone": n(1)},
        "ALL_NEW": {"pk": s("r"), "keep": n(1), "change": n(2), "added": n(3)},
        "UPDATED_NEW": {"change": n(2), "added": n(3)},
    }
    got = {}
    for returns in expected:
        await exprs("put_item", TableName=TABLE, Item=before)
        result = await exprs(
            "update_item",
            TableName=TABLE,
            Key={"pk": s("r")},
            UpdateExpression="SET change = :two, added = :three REMOVE gone",
            ExpressionAttributeValues={":two": n(2), ":three": n(3)},
            ReturnValues=returns,
        )
        got[returns] = result.get("Attributes")
    assert got == expected
    refused = await exprs.error(
        "put_item", TableName=TABLE, Item=before, ReturnValues="UPDATED_NEW"
    )
    assert refused["Code"] == "ValidationException"


async def test_updated_values_of_nested_paths(exprs: Dynamo) -> None:
    result = await exprs(
        "update_item",
        TableName=TABLE,
        Key={"pk": s("x")},
        UpdateExpression="SET a.b[1] = :v, l[2].k = :w",
        ExpressionAttributeValues={":v": s("one"), ":w": s("w")},
        ReturnValues="UPDATED_NEW",
    )
    assert result["Attributes"] == {
        "a": {"M": {"b": {"L": [s("one")]}}},
        "l": {"L": [{"M": {"k": s("w")}}]},
    }
    old = await exprs(
        "update_item",
        TableName=TABLE,
        Key={"pk": s("x")},
        UpdateExpression="SET a.b[1] = :v",
        ExpressionAttributeValues={":v": s("two")},
        ReturnValues="UPDATED_OLD",
    )
    assert old["Attributes"] == {"a": {"M": {"b": {"L": [s("one")]}}}}


# -- refused expressions


class Refusal(NamedTuple):
    params: dict[str, Any]
    message: str
    id: str


REFUSED = [
    Refusal(
        {"ConditionExpression": "n = = :v", "ExpressionAttributeValues": {":v": n(1)}},
        'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :v", position: 4',
        id="syntax-condition",
    ),
    Refusal(
        {"UpdateExpression": "SET n = :v,", "ExpressionAttributeValues": {":v": n(1)}},
        'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ",", position: 11',
        id="syntax-update-eof",
    ),
    Refusal(
        {"UpdateExpression": "SET n :v", "ExpressionAttributeValues": {":v": n(1)}},
        'Invalid UpdateExpression: Syntax error; token: ":v", near: "n :v", position: 6',
        id="syntax-update-absent-equals",
    ),
    Refusal(
        {"ConditionExpression": "n = :v @", "ExpressionAttributeValues": {":v": n(1)}},
        'Syntax error; token: "@", near: ":v @", position: 7',
        id="syntax-bad-character",
    ),
    Refusal(
        {"ConditionExpression": "n = :nope", "ExpressionAttributeValues": {":v": n(1)}},
        "Invalid ConditionExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :nope",
        id="undefined-value",
    ),
    Refusal(
        {"ConditionExpression": "#nope = :v", "ExpressionAttributeValues": {":v": n(1)}},
        "Invalid ConditionExpression: An expression attribute name used in the document path "
        "is not defined; attribute name: #nope",
        id="undefined-name",
    ),
    Refusal(
        {"UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": n(1), ":w": n(2)}},
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
        id="unused-value",
    ),
    Refusal(
        {
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": n(1)},
            "ExpressionAttributeNames": {"#u": "u"},
        },
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}",
        id="unused-name",
    ),
    Refusal(
        {"UpdateExpression": "SET year = :v", "ExpressionAttributeValues": {":v": n(1)}},
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: year",
        id="reserved-word-update",
    ),
    Refusal(
        {"ConditionExpression": "attribute_exists(name)"},
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name",
        id="reserved-word-condition",
    ),
    Refusal(
        {"UpdateExpression": "SET a.b = :v REMOVE a", "ExpressionAttributeValues": {":v": n(1)}},
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [a, b], path two: [a]",
        id="overlapping-paths",
    ),
    Refusal(
        {
            "UpdateExpression": "SET a.b = :v, a[0] = :v",
            "ExpressionAttributeValues": {":v": n(1)},
        },
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
        "rewrite one of these paths; path one: [a, b], path two: [a, [0]]",
        id="conflicting-paths",
    ),
    Refusal(
        {"UpdateExpression": "SET n = :v REMOVE n", "ExpressionAttributeValues": {":v": n(1)}},
        "Two document paths overlap with each other",
        id="same-path-twice",
    ),
    Refusal(
        {"UpdateExpression": "ADD n :v", "ExpressionAttributeValues": {":v": s("x")}},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: ADD, operand type: STRING",
        id="add-a-string-literal",
    ),
    Refusal(
        {"UpdateExpression": "SET n = n + :v", "ExpressionAttributeValues": {":v": s("x")}},
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: +, operand type: STRING",
        id="arithmetic-on-a-string-literal",
    ),
    Refusal(
        {
            "ConditionExpression": "attribute_type(n, :t)",
            "ExpressionAttributeValues": {":t": s("X")},
        },
        "Invalid ConditionExpression: Invalid attribute type name found; type: X, "
        "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
        id="attribute-type-name",
    ),
    Refusal(
        {"ConditionExpression": "nofunc(n)"},
        "Invalid ConditionExpression: Invalid function name; function: nofunc",
        id="unknown-function",
    ),
    Refusal(
        {"ConditionExpression": "begins_with(s)"},
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
        "operator or function: begins_with, number of operands: 1",
        id="wrong-arity",
    ),
    Refusal(
        {
            "ConditionExpression": "n BETWEEN :hi AND :lo",
            "ExpressionAttributeValues": {":lo": n(1), ":hi": n(2)},
        },
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
        "than or equal to lower bound",
        id="between-bounds",
    ),
    Refusal(
        {"ConditionExpression": ""},
        "Invalid ConditionExpression: The expression can not be empty;",
        id="empty",
    ),
]


async def test_refused_expressions_name_the_problem(exprs: Dynamo) -> None:
    wrong = []
    for refusal in REFUSED:
        error = await exprs.error(
            "update_item", TableName=TABLE, Key={"pk": s("x")}, **refusal.params
        )
        status = error["response"]["ResponseMetadata"]["HTTPStatusCode"]
        if (error["Code"], status) != ("ValidationException", 400) or (
            refusal.message not in error["Message"]
        ):
            wrong.append((refusal.id, error["Code"], error["Message"]))
    assert wrong == []


WRONG_TYPES = [
    ("SET v = s + :one", {":one": n(1)}),
    ("SET v = :one - ss", {":one": n(1)}),
    ("ADD s :one", {":one": n(1)}),
    ("ADD ss :ns", {":ns": {"NS": ["1"]}}),
    ("DELETE n :ss", {":ss": {"SS": ["1"]}}),
    ("DELETE ss :ns", {":ns": {"NS": ["1"]}}),
    ("SET v = list_append(s, :l)", {":l": {"L": []}}),
    ("SET v = list_append(:l, ss)", {":l": {"L": []}}),
]


async def test_operand_types_checked_against_the_item(exprs: Dynamo) -> None:
    wrong = []
    for expression, values in WRONG_TYPES:
        error = await exprs.error(
            "update_item",
            TableName=TABLE,
            Key={"pk": s("x")},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )
        if (error["Code"], error["Message"]) != (
            "ValidationException",
            "An operand in the update expression has an incorrect data type",
        ):
            wrong.append((expression, error["Message"]))
    assert wrong == []
    stored = await exprs("get_item", TableName=TABLE, Key={"pk": s("x")})
    assert stored["Item"] == ITEM


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param(
            "SET v = absent",
            "The provided expression refers to an attribute that does not exist in the item",
            id="absent-operand",
        ),
        pytest.param(
            "SET nowhere.deep = s",
            "The document path provided in the update expression is invalid for update",
            id="absent-parent-map",
        ),
        pytest.param(
            "SET s[0] = n",
            "The document path provided in the update expression is invalid for update",
            id="index-into-a-string",
        ),
    ],
)
async def test_paths_checked_against_the_item(exprs: Dynamo, expression: str, message: str) -> None:
    error = await exprs.error(
        "update_item", TableName=TABLE, Key={"pk": s("x")}, UpdateExpression=expression
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"] == message


async def test_projection_overlap_and_filters_on_keys_are_refused(exprs: Dynamo) -> None:
    overlap = await exprs.error(
        "get_item", TableName=TABLE, Key={"pk": s("x")}, ProjectionExpression="a, a.b"
    )
    assert (
        "Invalid ProjectionExpression: Two document paths overlap with each other"
        in overlap["Message"]
    )
    filter_syntax = await exprs.error("scan", TableName=TABLE, FilterExpression="n >")
    assert 'Invalid FilterExpression: Syntax error; token: "<EOF>"' in filter_syntax["Message"]


async def test_arithmetic_past_38_digits_is_refused(exprs: Dynamo) -> None:
    error = await exprs.error(
        "update_item",
        TableName=TABLE,
        Key={"pk": s("x")},
        UpdateExpression="SET big = big + :tiny",
        ExpressionAttributeValues={":tiny": n("0.1")},
    )
    assert error["Message"] == "Attempting to store more than 38 significant digits in a Number"
    stored = await exprs("get_item", TableName=TABLE, Key={"pk": s("x")})
    assert stored["Item"]["big"] == ITEM["big"]
