"""Query and Scan: pages of items in key order, as DynamoDB pages them.

A page stops after `Limit` items were read or 1 MB of them, whichever comes
first; the filter runs on what was read, so Count <= ScannedCount, and
LastEvaluatedKey tells the client where the next page starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from kubefn_gateway.dynamodb import capacity, requests
from kubefn_gateway.dynamodb.errors import ValidationError
from kubefn_gateway.dynamodb.expressions import (
    Condition,
    ExpressionContext,
    KeyCondition,
    Projection,
    nodes,
    parse_condition,
    parse_key_condition,
    parse_projection,
)
from kubefn_gateway.dynamodb.operations import Operation, TableOperations
from kubefn_gateway.dynamodb.store import SEP, Entry, members, segment_of
from kubefn_gateway.dynamodb.tables import Index, KeySchema, Table
from kubefn_gateway.dynamodb.values import item_size, key_member, validate_item

PAGE_BYTES_MAX = 1024 * 1024
CHUNK = 128
"""Items fetched from Redis per round trip while filling a page."""

SELECTS = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT")
TOTAL_SEGMENTS_MAX = 1_000_000


@dataclass(frozen=True)
class Reading:
    """What a Query or Scan asked for, checked."""

    table: Table
    index: Index | None
    filter: Condition | None
    projection: Projection | None
    select: str
    limit: int | None
    consistent: bool


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    more: bool
    size: int
    """The entries' size as DynamoDB counts it (what the read costs)."""


class ReadsApi(TableOperations):
    def operations(self) -> dict[str, Operation]:
        return {"Query": self.query, "Scan": self.scan}

    async def query(self, body: dict[str, Any]) -> dict[str, Any]:
        requests.refuse_legacy(body)
        table = self.table(body.get("TableName"))
        index = requests.find_index(table, body.get("IndexName"))
        schema = index.key if index else table.key
        ctx = _context(body)
        if "KeyConditionExpression" not in body:
            raise ValidationError(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified "
                "in the request."
            )
        condition = parse_key_condition(
            body["KeyConditionExpression"],
            ctx,
            hash_key=schema.hash_key,
            range_key=schema.range_key,
        )
        reading = _reading(body, ctx, table, index)
        _check_key_types(condition, schema)
        _refuse_key_filter(reading.filter, schema)
        forward = body.get("ScanIndexForward", True)
        if not isinstance(forward, bool):
            raise ValidationError("ScanIndexForward must be a boolean")
        partition = key_member(condition.hash_value)
        low, high = _bounds(condition)
        start = _start(body, reading)
        if start is not None:
            _check_start_in_query(start, partition, condition, schema)
            if forward:
                low = max(low, b"(" + start.member, key=_bound_order)
            else:
                high = min(high, b"(" + start.member, key=_bound_order)
        await self._meter.before_read(table, index)

        async def fetch(after: Entry | None, count: int) -> list[Entry]:
            nonlocal low, high
            if after is not None:
                if forward:
                    low = b"(" + after.member
                else:
                    high = b"(" + after.member
            entries = await self._store.range(
                table, index, partition=partition, low=low, high=high,
                reverse=not forward, count=count,
            )  # fmt: skip
            return _as_read(entries, reading)

        page = await _fill(fetch, reading.limit)
        return await self._answer(body, reading, page)

    async def scan(self, body: dict[str, Any]) -> dict[str, Any]:
        requests.refuse_legacy(body)
        table = self.table(body.get("TableName"))
        index = requests.find_index(table, body.get("IndexName"))
        ctx = _context(body)
        reading = _reading(body, ctx, table, index)
        segment, total = _segments(body)
        start = _start(body, reading)
        if start is not None and segment_of(start.partition, total) != segment:
            raise ValidationError(
                _BAD_START + "Invalid ExclusiveStartKey. Please use ExclusiveStartKey with "
                f"correct Segment. TotalSegments: {total} "
                f"Segment: {segment_of(start.partition, total)}"
            )
        await self._meter.before_read(table, index)

        async def fetch(after: Entry | None, count: int) -> list[Entry]:
            if after is not None:
                position: tuple[bytes, bytes] | None = (after.partition, after.member)
            else:
                position = (start.partition, start.member) if start is not None else None
            entries = await self._store.scan(
                table, index, start=position, count=count, segment=segment, total_segments=total
            )
            return _as_read(entries, reading)

        page = await _fill(fetch, reading.limit)
        return await self._answer(body, reading, page)

    async def _answer(
        self, body: Mapping[str, Any], reading: Reading, page: Page
    ) -> dict[str, Any]:
        table, index = reading.table, reading.index
        items = [entry.item for entry in page.entries]
        units = capacity.read_units_of(page.size, consistent=reading.consistent)
        # reading an index spends the index's units (a global one's own, when it has them)
        spent = {index.name: (units, 0.0)} if index is not None else {}
        table_units = 0.0 if index is not None else units
        if table.provisioned is not None:
            await self._meter.charge(table, read=table_units, indexes=spent)
        if reading.filter is not None:
            items = [item for item in items if reading.filter.evaluate(item)]
        result: dict[str, Any] = {"Count": len(items), "ScannedCount": len(page.entries)}
        if reading.select != "COUNT":
            result["Items"] = [_shape(item, reading) for item in items]
        if page.more and page.entries:
            result["LastEvaluatedKey"] = _last_key(page.entries[-1].item, table, index)
        return capacity.report(body, table, result, read=table_units, indexes=spent)


async def _fill(
    fetch: Callable[[Entry | None, int], Awaitable[list[Entry]]], limit: int | None
) -> Page:
    """Read entries until `limit`, 1 MB, or the end; `more` when a next page may exist."""
    entries: list[Entry] = []
    size = 0
    after: Entry | None = None
    while True:
        want = CHUNK if limit is None else min(CHUNK, limit - len(entries))
        chunk = await fetch(after, want)
        for entry in chunk:
            entries.append(entry)
            size += entry.size
            if size >= PAGE_BYTES_MAX or (limit is not None and len(entries) >= limit):
                return Page(entries, more=True, size=size)
        if len(chunk) < want:
            return Page(entries, more=False, size=size)
        after = chunk[-1]


def _as_read(entries: list[Entry], reading: Reading) -> list[Entry]:
    """Entries as the read sees them: a global secondary index holds only what it
    projects, so its filter, projection, page size and capacity see no more.

    A local secondary index fetches what it does not project from the table (as
    DynamoDB does), so its entries keep the whole item.
    """
    index = reading.index
    if index is None or index.local:
        return entries
    names = reading.table.projected_names(index)
    if names is None:
        return entries
    viewed = []
    for entry in entries:
        item = {k: v for k, v in entry.item.items() if k in names}
        viewed.append(dataclasses.replace(entry, item=item, size=item_size(item)))
    return viewed


def _refuse_key_filter(filter_: Condition | None, schema: KeySchema) -> None:
    """A Query's FilterExpression may not name the partition or sort key it reads by."""
    if filter_ is None:
        return
    named = _attribute_names(filter_.tree)
    for name in schema.names:
        if name in named:
            raise ValidationError(
                "Filter Expression can only contain non-primary key attributes: "
                f"Primary key attribute: {name}"
            )


def _attribute_names(node: object) -> set[str]:
    """The top-level attribute names an expression tree reads."""
    if isinstance(node, nodes.Path):
        return {str(node.elements[0])}
    if isinstance(node, tuple):
        return set().union(*(_attribute_names(element) for element in node))
    if dataclasses.is_dataclass(node) and not isinstance(node, nodes.Literal):
        fields = dataclasses.fields(node)
        return set().union(*(_attribute_names(getattr(node, f.name)) for f in fields))
    return set()


def _context(body: Mapping[str, Any]) -> ExpressionContext:
    return ExpressionContext(
        body.get("ExpressionAttributeNames"), body.get("ExpressionAttributeValues")
    )


def _reading(
    body: Mapping[str, Any], ctx: ExpressionContext, table: Table, index: Index | None
) -> Reading:
    filter_ = (
        parse_condition(body["FilterExpression"], ctx, field="FilterExpression")
        if "FilterExpression" in body
        else None
    )
    projection = (
        parse_projection(body["ProjectionExpression"], ctx)
        if "ProjectionExpression" in body
        else None
    )
    ctx.check_all_used()
    default = (
        "SPECIFIC_ATTRIBUTES"
        if projection
        else ("ALL_PROJECTED_ATTRIBUTES" if index else "ALL_ATTRIBUTES")
    )
    select = requests.choice(body, "Select", SELECTS, default)
    if projection is not None and select != "SPECIFIC_ATTRIBUTES":
        raise ValidationError(
            f"Cannot specify the ProjectionExpression when choosing to get {select}"
        )
    if select == "SPECIFIC_ATTRIBUTES" and projection is None:
        raise ValidationError(
            "Must specify the ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        )
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise ValidationError(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    if (
        select == "ALL_ATTRIBUTES"
        and index is not None
        and not index.local
        and index.projection_type != "ALL"
    ):
        raise ValidationError(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
            f"supported for global secondary index {index.name} because its projection type "
            f"is not ALL"
        )
    consistent = body.get("ConsistentRead", False)
    if not isinstance(consistent, bool):
        raise ValidationError("ConsistentRead must be a boolean")
    if consistent and index is not None and not index.local:
        raise ValidationError("Consistent reads are not supported on global secondary indexes")
    return Reading(
        table=table,
        index=index,
        filter=filter_,
        projection=projection,
        select=select,
        limit=requests.positive_int(body, "Limit"),
        consistent=consistent,
    )


def _shape(item: dict[str, Any], reading: Reading) -> dict[str, Any]:
    if reading.projection is not None:
        return reading.projection.apply(item)
    if reading.index is not None and reading.select == "ALL_PROJECTED_ATTRIBUTES":
        names = reading.table.projected_names(reading.index)
        if names is not None:
            return {k: v for k, v in item.items() if k in names}
    return item


def _check_key_types(condition: KeyCondition, schema: KeySchema) -> None:
    values = [(condition.hash_value, schema.hash_type)]
    values += [(v, schema.range_type or "") for v in condition.range_values]
    if condition.range_op == "begins_with" and schema.range_type == "N":
        raise ValidationError(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N"
        )
    for value, expected in values:
        if next(iter(value)) != expected:
            raise ValidationError(
                "One or more parameter values were invalid: Condition parameter type does not "
                "match schema type"
            )


def _bounds(condition: KeyCondition) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds for a range condition on members `<key member>[\\0...]`.

    Key members hold no 0x00 or 0xFF and a member that is a prefix of another is
    the smaller value, so `m` sorts before every `m\\0...` and `m\\x01` after them.
    """
    op, values = condition.range_op, [key_member(v) for v in condition.range_values]
    if op is None:
        return b"-", b"+"
    m = values[0]
    if op == "=":
        return b"[" + m, b"(" + m + b"\x01"
    if op == "<":
        return b"-", b"(" + m
    if op == "<=":
        return b"-", b"(" + m + b"\x01"
    if op == ">":
        return b"[" + m + b"\x01", b"+"
    if op == ">=":
        return b"[" + m, b"+"
    if op == "BETWEEN":
        return b"[" + m, b"(" + values[1] + b"\x01"
    if op == "begins_with":
        return b"[" + m, b"(" + m + b"\xff"
    raise ValidationError(f"Query key condition not supported: {op}")


def _bound_order(bound: bytes) -> tuple[int, bytes, int]:
    """Order ZRANGEBYLEX bounds by the position they stand for."""
    if bound == b"-":
        return (0, b"", 0)
    if bound == b"+":
        return (2, b"", 0)
    return (1, bound[1:], 1 if bound[:1] == b"(" else 0)


def _segments(body: Mapping[str, Any]) -> tuple[int, int]:
    segment, total = body.get("Segment"), body.get("TotalSegments")
    if segment is None and total is None:
        return 0, 1
    if segment is None or total is None:
        missing = "Segment" if segment is None else "TotalSegments"
        raise ValidationError(
            f"The {missing} parameter is required but was not present in the request when "
            f"parameter {'TotalSegments' if segment is None else 'Segment'} is present"
        )
    if (
        not isinstance(total, int)
        or isinstance(total, bool)
        or not 1 <= total <= TOTAL_SEGMENTS_MAX
    ):
        raise ValidationError(
            f"1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy "
            f"constraint: Member must have value between 1 and {TOTAL_SEGMENTS_MAX}"
        )
    if not isinstance(segment, int) or isinstance(segment, bool) or not 0 <= segment < total:
        raise ValidationError(
            f"The Segment parameter is zero-based and must be less than parameter "
            f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )
    return segment, total


class _Start(NamedTuple):
    """Where an ExclusiveStartKey points in the table or index read."""

    partition: bytes
    member: bytes
    key: dict[str, Any]
    """The starting key, checked."""


_BAD_START = "The provided starting key is invalid: "


def _start(body: Mapping[str, Any], reading: Reading) -> _Start | None:
    """ExclusiveStartKey as (partition, member) of the table or index, its types checked."""
    raw = body.get("ExclusiveStartKey")
    if raw is None:
        return None
    table, index = reading.table, reading.index
    needed = set(table.key.names) | (set(index.key.names) if index else set())
    if not isinstance(raw, dict) or set(raw) != needed:
        raise ValidationError(_BAD_START + "The provided key element does not match the schema")
    try:
        key = requests.check_key(
            table, {k: raw[k] for k in table.key.names}, field="ExclusiveStartKey"
        )
        if index is not None:
            validate_item(raw, field="ExclusiveStartKey")
            types = (index.key.hash_type, index.key.range_type)
            for name, expected in zip(index.key.names, types, strict=False):
                if next(iter(raw[name])) != expected:
                    raise ValidationError("The provided key element does not match the schema")
    except ValidationError as exc:
        raise ValidationError(_BAD_START + exc.message) from None
    pkm, skm = members(table, key)
    if index is None:
        return _Start(pkm, skm, key)
    ipm = key_member(raw[index.key.hash_key])
    ism = key_member(raw[index.key.range_key]) if index.key.range_key else b""
    key = {**key, **{name: raw[name] for name in index.key.names}}
    if index.local:
        return _Start(pkm, ism + SEP + skm, key)
    return _Start(ipm, ism + SEP + pkm + SEP + skm, key)


def _check_start_in_query(
    start: _Start, partition: bytes, condition: KeyCondition, schema: KeySchema
) -> None:
    """A Query resumes only from a key its key condition could have returned."""
    if start.partition != partition:
        raise ValidationError(
            "The provided starting key is outside query boundaries based on provided conditions"
        )
    if condition.range_op is None or schema.range_key is None:
        return
    value = key_member(start.key[schema.range_key])
    matches = _satisfies(value, condition.range_op, [key_member(v) for v in condition.range_values])
    if not matches:
        raise ValidationError("The provided starting key does not match the range key predicate")


def _satisfies(value: bytes, op: str, bounds: list[bytes]) -> bool:
    """Whether a sort key member meets a key condition (members order as their values)."""
    if op == "=":
        return value == bounds[0]
    if op == "<":
        return value < bounds[0]
    if op == "<=":
        return value <= bounds[0]
    if op == ">":
        return value > bounds[0]
    if op == ">=":
        return value >= bounds[0]
    if op == "BETWEEN":
        return bounds[0] <= value <= bounds[1]
    return value.startswith(bounds[0])  # begins_with: S and B members keep prefixes


def _last_key(item: Mapping[str, Any], table: Table, index: Index | None) -> dict[str, Any]:
    names = list(table.key.names) + (list(index.key.names) if index else [])
    return {name: item[name] for name in names if name in item}
