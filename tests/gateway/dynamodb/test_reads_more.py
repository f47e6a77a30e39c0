"""Query and Scan at DynamoDB's edges: what an index projects, sparse and hash-only
indexes, pages in both directions on tables and indexes, the order of every key
type, Limit before FilterExpression, and the starting keys DynamoDB refuses."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.gateway.dynamodb.conftest import Dynamo, n, s

CUSTOMERS = ("c1", "c2", "c3")
ORDERS = range(1, 7)


def _item(customer: str, order: int) -> dict[str, Any]:
    item = {
        "customer": s(customer),
        "order": n(order),
        "status": s("open" if order % 2 else "shipped"),
        "total": n(order * 10 + int(customer[1:])),
        "note": s(f"note {customer}/{order}"),
        "secret": s("x"),
    }
    if order <= 3:
        item["region"] = s("eu")  # sparse: orders 4..6 are in no region
    return item


async def _put(dynamo: Dynamo, table: str, items: list[dict[str, Any]]) -> None:
    for i in range(0, len(items), 25):
        writes = [{"PutRequest": {"Item": item}} for item in items[i : i + 25]]
        result = await dynamo("batch_write_item", RequestItems={table: writes})
        assert result["UnprocessedItems"] == {}


@pytest.fixture
async def orders(dynamo: Dynamo) -> Dynamo:
    """(customer, order) with an INCLUDE GSI, a hash-only sparse KEYS_ONLY GSI and a
    KEYS_ONLY LSI."""
    await dynamo.table(
        "orders",
        hash_key=("customer", "S"),
        range_key=("order", "N"),
        definitions={"status": "S", "total": "N", "region": "S"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byStatus",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "total", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
            },
            {
                "IndexName": "byRegion",
                "KeySchema": [{"AttributeName": "region", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byTotal",
                "KeySchema": [
                    {"AttributeName": "customer", "KeyType": "HASH"},
                    {"AttributeName": "total", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    await _put(dynamo, "orders", [_item(c, o) for c in CUSTOMERS for o in ORDERS])
    return dynamo


async def _pages(dynamo: Dynamo, operation: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a Query or Scan, following LastEvaluatedKey."""
    results = []
    while True:
        result = await dynamo(operation, **params)
        results.append(result)
        if "LastEvaluatedKey" not in result:
            return results
        params["ExclusiveStartKey"] = result["LastEvaluatedKey"]


def _keys(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(item["customer"]["S"], int(item["order"]["N"])) for item in items]


def _all_items(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for result in results for item in result["Items"]]


OPEN = {
    "IndexName": "byStatus",
    "KeyConditionExpression": "#s = :s",
    "ExpressionAttributeNames": {"#s": "status"},
    "ExpressionAttributeValues": {":s": s("open")},
}


# -- what an index projects


async def test_include_index_returns_keys_and_included_attributes(orders: Dynamo) -> None:
    default = await orders("query", TableName="orders", **OPEN)
    projected = await orders("query", TableName="orders", Select="ALL_PROJECTED_ATTRIBUTES", **OPEN)
    assert default["Items"] == projected["Items"]
    assert default["Count"] == 9
    names = {"customer", "order", "status", "total", "note"}
    assert all(set(item) == names for item in default["Items"])
    assert [int(i["total"]["N"]) for i in default["Items"]] == sorted(
        10 * o + c for o in (1, 3, 5) for c in (1, 2, 3)
    )


async def test_global_index_projection_expression_sees_only_projected_attributes(
    orders: Dynamo,
) -> None:
    """A GSI is a table of its own: what it does not project is not there to return."""
    params = {**OPEN, "ExpressionAttributeNames": {"#s": "status", "#n": "note"}}
    result = await orders(
        "query", TableName="orders", ProjectionExpression="#n, secret, customer", **params
    )
    assert result["Count"] == 9
    assert all(set(item) == {"note", "customer"} for item in result["Items"])


async def test_global_index_filter_sees_only_projected_attributes(orders: Dynamo) -> None:
    result = await orders(
        "query", TableName="orders", FilterExpression="attribute_exists(secret)", **OPEN
    )
    assert (result["Count"], result["ScannedCount"]) == (0, 9)
    scanned = await orders(
        "scan", TableName="orders", IndexName="byStatus", FilterExpression="secret = :x",
        ExpressionAttributeValues={":x": s("x")},
    )  # fmt: skip
    assert (scanned["Count"], scanned["ScannedCount"]) == (0, 18)


async def test_all_attributes_on_a_global_index_that_projects_less_is_refused(
    orders: Dynamo,
) -> None:
    error = await orders.error("query", TableName="orders", Select="ALL_ATTRIBUTES", **OPEN)
    assert error["Code"] == "ValidationException"
    assert (
        "Select type ALL_ATTRIBUTES is not supported for global secondary index byStatus"
        in (error["Message"])
    )


async def test_local_keys_only_index_fetches_the_rest_from_the_table(orders: Dynamo) -> None:
    async def query(**extra: Any) -> list[dict[str, Any]]:
        names = {"#t": "total", **extra.pop("names", {})}
        values = {":c": s("c2"), ":t": n(40), **extra.pop("values", {})}
        result = await orders(
            "query", TableName="orders", IndexName="byTotal",
            KeyConditionExpression="customer = :c AND #t > :t",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values, **extra,
        )  # fmt: skip
        return list(result["Items"])

    assert [set(item) for item in await query()] == [{"customer", "order", "total"}] * 3
    everything = await query(Select="ALL_ATTRIBUTES", ConsistentRead=True)
    assert everything == [_item("c2", o) for o in (4, 5, 6)]
    specific = await query(ProjectionExpression="secret, #o", names={"#o": "order"})
    assert specific == [{"secret": s("x"), "order": n(o)} for o in (4, 5, 6)]
    filtered = await query(
        FilterExpression="#n = :n", names={"#n": "note"}, values={":n": s("note c2/5")}
    )
    assert _keys(filtered) == [("c2", 5)]


# -- sparse and hash-only indexes


async def test_sparse_index_holds_only_items_with_its_key(orders: Dynamo) -> None:
    eu = await orders(
        "query", TableName="orders", IndexName="byRegion",
        KeyConditionExpression="#r = :r", ExpressionAttributeNames={"#r": "region"},
        ExpressionAttributeValues={":r": s("eu")},
    )  # fmt: skip
    assert sorted(_keys(eu["Items"])) == [(c, o) for c in CUSTOMERS for o in (1, 2, 3)]
    assert all(set(item) == {"customer", "order", "region"} for item in eu["Items"])
    scanned = _all_items(
        await _pages(orders, "scan", TableName="orders", IndexName="byRegion", Limit=4)
    )
    assert sorted(_keys(scanned)) == sorted(_keys(eu["Items"]))
    table = (await orders("describe_table", TableName="orders"))["Table"]
    counts = {i["IndexName"]: i["ItemCount"] for i in table["GlobalSecondaryIndexes"]}
    assert counts == {"byStatus": 18, "byRegion": 9}


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("region", n(1)), ("status", n(1)), ("total", s("ten"))],
)
async def test_an_index_key_of_the_wrong_type_is_refused(
    orders: Dynamo, attribute: str, value: dict[str, str]
) -> None:
    error = await orders.error(
        "put_item", TableName="orders", Item={**_item("c9", 1), attribute: value}
    )
    assert error["Code"] == "ValidationException"
    assert "Type mismatch for Index Key" in error["Message"]
    update = await orders.error(
        "update_item", TableName="orders", Key={"customer": s("c1"), "order": n(1)},
        UpdateExpression="SET #a = :v", ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": value},
    )  # fmt: skip
    assert update["Code"] == "ValidationException"
    stored = await orders("get_item", TableName="orders", Key={"customer": s("c1"), "order": n(1)})
    assert stored["Item"] == _item("c1", 1)


async def test_hash_only_index_pages_one_item_at_a_time(orders: Dynamo) -> None:
    params = {
        "TableName": "orders",
        "IndexName": "byRegion",
        "KeyConditionExpression": "#r = :r",
        "ExpressionAttributeNames": {"#r": "region"},
        "ExpressionAttributeValues": {":r": s("eu")},
    }
    whole = _keys((await orders("query", **params))["Items"])
    for forward in (True, False):
        results = await _pages(orders, "query", Limit=1, ScanIndexForward=forward, **params)
        paged = _keys(_all_items(results))
        assert paged == (whole if forward else whole[::-1])
        assert len(set(paged)) == 9
        assert set(results[0]["LastEvaluatedKey"]) == {"customer", "order", "region"}


# -- pages


@pytest.mark.parametrize("index", [None, "byStatus", "byRegion", "byTotal"])
@pytest.mark.parametrize("limit", [1, 4])
async def test_scan_pages_visit_each_entry_once(
    orders: Dynamo, index: str | None, limit: int
) -> None:
    params: dict[str, Any] = {"TableName": "orders", "Limit": limit}
    if index is not None:
        params["IndexName"] = index
    results = await _pages(orders, "scan", **params)
    seen = _keys(_all_items(results))
    expected = 9 if index == "byRegion" else 18
    assert len(seen) == len(set(seen)) == expected
    assert all(r["ScannedCount"] <= limit for r in results)


async def test_parallel_scan_of_an_index_pages_within_its_segment(orders: Dynamo) -> None:
    seen: list[tuple[str, int]] = []
    for segment in range(3):
        results = await _pages(
            orders, "scan", TableName="orders", IndexName="byStatus", Limit=2,
            Segment=segment, TotalSegments=3,
        )  # fmt: skip
        seen += _keys(_all_items(results))
    assert sorted(seen) == [(c, o) for c in CUSTOMERS for o in ORDERS]


@pytest.mark.parametrize("operation", ["scan", "query"])
async def test_limit_counts_what_was_read_before_the_filter(orders: Dynamo, operation: str) -> None:
    params: dict[str, Any] = {
        "TableName": "orders",
        "Limit": 3,
        "FilterExpression": "#n = :none",
        "ExpressionAttributeNames": {"#n": "note"},
        "ExpressionAttributeValues": {":none": s("nothing")},
    }
    if operation == "query":
        params["KeyConditionExpression"] = "customer = :c"
        params["ExpressionAttributeValues"][":c"] = s("c1")
    result = await orders(operation, **params)
    assert (result["Count"], result["ScannedCount"], result["Items"]) == (0, 3, [])
    assert "LastEvaluatedKey" in result
    results = await _pages(orders, operation, **params)
    assert sum(r["ScannedCount"] for r in results) == (6 if operation == "query" else 18)


@pytest.mark.parametrize(
    ("index", "condition", "values"),
    [
        (None, "customer = :c", {":c": s("c2")}),
        ("byTotal", "customer = :c AND #t >= :t", {":c": s("c2"), ":t": n(22)}),
        ("byStatus", "#s = :s", {":s": s("shipped")}),
        ("byStatus", "#s = :s AND #t BETWEEN :a AND :b",
         {":s": s("open"), ":a": n(12), ":b": n(52)}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("limit", [1, 2])
async def test_backward_pages_resume_where_they_stopped(
    orders: Dynamo, index: str | None, condition: str, values: dict[str, Any], limit: int
) -> None:
    params: dict[str, Any] = {
        "TableName": "orders",
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    names = {"#s": "status", "#t": "total"}
    if "#" in condition:
        params["ExpressionAttributeNames"] = {k: v for k, v in names.items() if k in condition}
    if index is not None:
        params["IndexName"] = index
    whole = _keys((await orders("query", **params))["Items"])
    assert whole
    paged = _keys(_all_items(await _pages(orders, "query", Limit=limit, **params)))
    assert paged == whole
    forward = _keys((await orders("query", **{**params, "ScanIndexForward": True}))["Items"])
    assert forward == whole[::-1]


async def test_count_with_limit_stops_at_the_limit(orders: Dynamo) -> None:
    result = await orders(
        "query", TableName="orders", KeyConditionExpression="customer = :c",
        ExpressionAttributeValues={":c": s("c3")}, Select="COUNT", Limit=4,
    )  # fmt: skip
    assert (result["Count"], result["ScannedCount"]) == (4, 4)
    assert "Items" not in result
    assert result["LastEvaluatedKey"] == {"customer": s("c3"), "order": n(4)}


async def test_specific_attributes(orders: Dynamo) -> None:
    result = await orders(
        "query", TableName="orders", KeyConditionExpression="customer = :c AND #o = :o",
        ExpressionAttributeNames={"#o": "order"},
        ExpressionAttributeValues={":c": s("c3"), ":o": n(2)},
        Select="SPECIFIC_ATTRIBUTES", ProjectionExpression="#o, note",
    )  # fmt: skip
    assert result["Items"] == [{"order": n(2), "note": s("note c3/2")}]
    error = await orders.error(
        "query", TableName="orders", KeyConditionExpression="customer = :c",
        ExpressionAttributeValues={":c": s("c3")}, Select="SPECIFIC_ATTRIBUTES",
    )  # fmt: skip
    assert "ProjectionExpression" in error["Message"]


# -- key conditions and key order


@pytest.fixture
async def keyed(dynamo: Dynamo) -> Dynamo:
    """Three tables whose sort keys are N, S and B."""
    for name, kind in (("nums", "N"), ("strs", "S"), ("bins", "B")):
        await dynamo.table(name, range_key=("sk", kind))
    return dynamo


NUMBERS = ["-1E+125", "-100", "-1.5", "-1", "-0.001", "0", "1E-130", "0.5", "1", "1.5", "2",
           "10", "99.99", "100", "12345678901234567890123456789012345678", "9.9E+125"]  # fmt: skip


async def test_number_sort_keys_order_by_value(keyed: Dynamo) -> None:
    shuffled = NUMBERS[::2] + NUMBERS[1::2]
    await _put(keyed, "nums", [{"pk": s("p"), "sk": {"N": v}} for v in shuffled])
    query = {"TableName": "nums", "KeyConditionExpression": "pk = :p"}
    result = await keyed("query", ExpressionAttributeValues={":p": s("p")}, **query)
    assert [i["sk"]["N"] for i in result["Items"]] == [
        "-1" + "0" * 125, "-100", "-1.5", "-1", "-0.001", "0", "0." + "0" * 129 + "1", "0.5",
        "1", "1.5", "2", "10", "99.99", "100", NUMBERS[-2], "99" + "0" * 124,
    ]  # fmt: skip
    between = await keyed(
        "query", TableName="nums", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": s("p"), ":a": n("-1.5"), ":b": n("0.5")},
    )  # fmt: skip
    tiny = "0." + "0" * 129 + "1"
    assert [i["sk"]["N"] for i in between["Items"]] == ["-1.5", "-1", "-0.001", "0", tiny, "0.5"]


async def test_between_with_equal_bounds_reads_that_key(keyed: Dynamo) -> None:
    await _put(keyed, "nums", [{"pk": s("p"), "sk": n(v)} for v in (1, 2, 3)])
    result = await keyed(
        "query", TableName="nums", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :a",
        ExpressionAttributeValues={":p": s("p"), ":a": n(2)},
    )  # fmt: skip
    assert [i["sk"]["N"] for i in result["Items"]] == ["2"]


@pytest.mark.parametrize(
    ("table", "low", "high"),
    [("nums", n(3), n(2)), ("nums", n("-1"), n("-2")), ("strs", s("b"), s("a")),
     ("bins", {"B": b"\x02"}, {"B": b"\x01"})],
)  # fmt: skip
async def test_between_with_bounds_in_the_wrong_order_is_refused(
    keyed: Dynamo, table: str, low: dict[str, Any], high: dict[str, Any]
) -> None:
    error = await keyed.error(
        "query", TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": s("p"), ":a": low, ":b": high},
    )  # fmt: skip
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be "
        "greater than or equal to lower bound; lower bound operand: AttributeValue: "
        f"{_shown(low)}, upper bound operand: AttributeValue: {_shown(high)}"
    )


def _shown(value: dict[str, Any]) -> str:
    """A value as DynamoDB's messages show it: {N:3}, binaries as base64."""
    ((kind, raw),) = value.items()
    return f"{{{kind}:{base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw}}}"


async def test_string_sort_keys_order_by_utf8_bytes(keyed: Dynamo) -> None:
    # UTF-16 would put U+1D11E (a surrogate pair) before U+E000; UTF-8 puts it after.
    values = ["z", "\u00e9", "\ue000", "\U0001d11e", "A", "a", "\u00e9t\u00e9", "\x7f"]
    await _put(keyed, "strs", [{"pk": s("p"), "sk": s(v)} for v in values])
    result = await keyed(
        "query", TableName="strs", KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p")},
    )  # fmt: skip
    assert [i["sk"]["S"] for i in result["Items"]] == sorted(values, key=str.encode)
    after = await keyed(
        "query", TableName="strs", KeyConditionExpression="pk = :p AND sk > :e",
        ExpressionAttributeValues={":p": s("p"), ":e": s("\u00e9")},
    )  # fmt: skip
    assert [i["sk"]["S"] for i in after["Items"]] == ["\u00e9t\u00e9", "\ue000", "\U0001d11e"]


async def test_binary_sort_keys_order_by_bytes_and_begin_with_prefixes(keyed: Dynamo) -> None:
    raw = [b"\x00", b"\x00\x01", b"\x01", b"\x01\x00", b"\x01\xff", b"\x02", b"\xff", b"\xff\xff"]

    def b(value: bytes) -> dict[str, bytes]:
        return {"B": value}  # boto3 sends bytes as base64 and decodes what comes back

    await _put(keyed, "bins", [{"pk": s("p"), "sk": b(v)} for v in raw[::-1]])
    whole = await keyed(
        "query", TableName="bins", KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": s("p")},
    )  # fmt: skip
    assert [i["sk"]["B"] for i in whole["Items"]] == raw  # boto3 decodes B to bytes
    prefixed = await keyed(
        "query", TableName="bins", KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": s("p"), ":b": b(b"\x01")},
    )  # fmt: skip
    assert [i["sk"]["B"] for i in prefixed["Items"]] == [b"\x01", b"\x01\x00", b"\x01\xff"]
    ff = await keyed(
        "query", TableName="bins", KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
        ExpressionAttributeValues={":p": s("p"), ":b": b(b"\xff")},
    )  # fmt: skip
    assert [i["sk"]["B"] for i in ff["Items"]] == [b"\xff", b"\xff\xff"]


# -- filters on keys


@pytest.mark.parametrize(
    ("index", "condition", "filter_", "attribute"),
    [
        (None, "customer = :c", "#o > :v", "order"),
        (None, "customer = :c", "customer = :c OR #o > :v", "customer"),
        ("byTotal", "customer = :c", "#t > :v", "total"),
        ("byStatus", "#s = :s", "NOT (#t > :v)", "total"),
    ],
)
async def test_query_filter_on_a_key_attribute_is_refused(
    orders: Dynamo, index: str | None, condition: str, filter_: str, attribute: str
) -> None:
    params: dict[str, Any] = {
        "TableName": "orders",
        "KeyConditionExpression": condition,
        "FilterExpression": filter_,
        "ExpressionAttributeNames": {"#o": "order", "#s": "status", "#t": "total"},
        "ExpressionAttributeValues": {":c": s("c1"), ":s": s("open"), ":v": n(1)},
    }
    if index is not None:
        params["IndexName"] = index
    names = params["ExpressionAttributeNames"]
    params["ExpressionAttributeNames"] = {
        k: v for k, v in names.items() if k in condition or k in filter_
    }
    params["ExpressionAttributeValues"] = {
        k: v for k, v in params["ExpressionAttributeValues"].items()
        if k in condition or k in filter_
    }  # fmt: skip
    error = await orders.error("query", **params)
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "Filter Expression can only contain non-primary key attributes: "
        f"Primary key attribute: {attribute}"
    )


async def test_scan_filter_may_use_key_attributes(orders: Dynamo) -> None:
    result = await orders(
        "scan", TableName="orders", FilterExpression="customer = :c AND #o > :o",
        ExpressionAttributeNames={"#o": "order"},
        ExpressionAttributeValues={":c": s("c1"), ":o": n(4)},
    )  # fmt: skip
    assert sorted(_keys(result["Items"])) == [("c1", 5), ("c1", 6)]


# -- starting keys


QUERY_C1 = {
    "TableName": "orders",
    "KeyConditionExpression": "customer = :c",
    "ExpressionAttributeValues": {":c": s("c1")},
}


@pytest.mark.parametrize(
    ("operation", "start"),
    [
        ("query", {"customer": s("c1")}),
        ("query", {"customer": s("c1"), "order": n(1), "extra": s("x")}),
        ("query", {"customer": s("c1"), "order": s("1")}),
        ("query", {"customer": n(1), "order": n(1)}),
        ("scan", {"order": n(1)}),
        ("scan", {"customer": s("c1"), "order": s("one")}),
    ],
)
async def test_a_starting_key_that_does_not_fit_the_schema_is_refused(
    orders: Dynamo, operation: str, start: dict[str, Any]
) -> None:
    params = dict(QUERY_C1) if operation == "query" else {"TableName": "orders"}
    error = await orders.error(operation, ExclusiveStartKey=start, **params)
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("The provided starting key is invalid")


@pytest.mark.parametrize(
    ("index", "start"),
    [
        # an index's starting key holds the table's key and the index's
        ("byStatus", {"customer": s("c1"), "order": n(1)}),
        ("byStatus", {"customer": s("c1"), "order": n(1), "status": s("open"), "total": s("11")}),
        ("byStatus", {"customer": s("c1"), "order": n(1), "status": n(1), "total": n(11)}),
        ("byTotal", {"customer": s("c1"), "order": n(1), "total": s("11")}),
    ],
)
async def test_an_index_starting_key_that_does_not_fit_is_refused(
    orders: Dynamo, index: str, start: dict[str, Any]
) -> None:
    error = await orders.error("scan", TableName="orders", IndexName=index, ExclusiveStartKey=start)
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("The provided starting key is invalid")


async def test_a_starting_key_of_another_partition_is_refused(orders: Dynamo) -> None:
    error = await orders.error(
        "query", ExclusiveStartKey={"customer": s("c2"), "order": n(1)}, **QUERY_C1
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "The provided starting key is outside query boundaries based on provided conditions"
    )
    gsi = await orders.error(
        "query", TableName="orders", ExclusiveStartKey={
            "customer": s("c1"), "order": n(2), "status": s("shipped"), "total": n(21)},
        **OPEN,
    )  # fmt: skip
    assert gsi["Message"] == (
        "The provided starting key is outside query boundaries based on provided conditions"
    )


async def test_a_starting_key_outside_the_sort_key_condition_is_refused(orders: Dynamo) -> None:
    error = await orders.error(
        "query", TableName="orders", KeyConditionExpression="customer = :c AND #o > :o",
        ExpressionAttributeNames={"#o": "order"},
        ExpressionAttributeValues={":c": s("c1"), ":o": n(3)},
        ExclusiveStartKey={"customer": s("c1"), "order": n(2)},
    )  # fmt: skip
    assert error["Code"] == "ValidationException"
    assert error["Message"] == "The provided starting key does not match the range key predicate"


# -- tables without a sort key


async def test_hash_only_table_queries_one_item_and_scans_each_once(dynamo: Dynamo) -> None:
    await dynamo.table("flat", hash_key=("id", "N"))
    await _put(dynamo, "flat", [{"id": n(i), "v": n(i * i)} for i in range(-3, 12)])
    one = await dynamo(
        "query", TableName="flat", KeyConditionExpression="id = :i",
        ExpressionAttributeValues={":i": n(-2)},
    )  # fmt: skip
    assert one["Items"] == [{"id": n(-2), "v": n(4)}]
    assert "LastEvaluatedKey" not in one
    error = await dynamo.error(
        "query", TableName="flat", KeyConditionExpression="id = :i AND v > :v",
        ExpressionAttributeValues={":i": n(1), ":v": n(0)},
    )  # fmt: skip
    assert error["Code"] == "ValidationException"
    for limit in (1, 2, 5):
        results = await _pages(dynamo, "scan", TableName="flat", Limit=limit)
        seen = [int(i["id"]["N"]) for i in _all_items(results)]
        assert sorted(seen) == list(range(-3, 12))
        assert all(set(r.get("LastEvaluatedKey", {"id": 0})) == {"id"} for r in results)


async def test_a_parallel_scan_resumes_only_within_its_segment(orders: Dynamo) -> None:
    first = await orders("scan", TableName="orders", Limit=1, Segment=0, TotalSegments=2)
    if not first["Items"]:  # every customer hashed to segment 1: start from there instead
        first = await orders("scan", TableName="orders", Limit=1, Segment=1, TotalSegments=2)
        own = 1
    else:
        own = 0
    start = first["LastEvaluatedKey"]
    resumed = await orders(
        "scan", TableName="orders", Segment=own, TotalSegments=2, ExclusiveStartKey=start
    )
    whole = await _pages(orders, "scan", TableName="orders", Segment=own, TotalSegments=2)
    assert _keys(first["Items"]) + _keys(resumed["Items"]) == _keys(_all_items(whole))
    error = await orders.error(
        "scan", TableName="orders", Segment=1 - own, TotalSegments=2, ExclusiveStartKey=start
    )
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
        "ExclusiveStartKey with correct Segment."
    )
