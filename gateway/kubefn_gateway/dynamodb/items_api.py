"""PutItem, GetItem, UpdateItem and DeleteItem.

Each write reads the item, decides (condition, update), and commits guarded by
the version it read; when another writer got there first it decides again on
what that writer left, so conditions always hold against the stored item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubefn_gateway.dynamodb import capacity, requests
from kubefn_gateway.dynamodb.errors import ConditionalCheckFailed, InternalServerError
from kubefn_gateway.dynamodb.expressions import (
    Condition,
    ExpressionContext,
    parse_condition,
    parse_projection,
    parse_update,
    project_paths,
)
from kubefn_gateway.dynamodb.operations import Operation, TableOperations
from kubefn_gateway.dynamodb.store import Change, Stored
from kubefn_gateway.dynamodb.tables import Table

ATTEMPTS_MAX = 100
"""Re-decisions after losing a race before a write gives up (never reached in practice)."""

RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
ON_CONDITION_FAILURE = ("NONE", "ALL_OLD")


@dataclass(frozen=True)
class Decision:
    """What a write does to the item it read."""

    after: dict[str, Any] | None
    result: dict[str, Any]


Decide = Callable[[Stored | None], Decision]


class ItemsApi(TableOperations):
    def operations(self) -> dict[str, Operation]:
        return {
            "PutItem": self.put_item,
            "GetItem": self.get_item,
            "UpdateItem": self.update_item,
            "DeleteItem": self.delete_item,
        }

    async def get_item(self, body: dict[str, Any]) -> dict[str, Any]:
        requests.refuse_legacy(body)
        table = self.table(body.get("TableName"))
        key = requests.check_key(table, body.get("Key"))
        ctx = ExpressionContext(body.get("ExpressionAttributeNames"), None)
        projection = (
            parse_projection(body["ProjectionExpression"], ctx)
            if "ProjectionExpression" in body
            else None
        )
        ctx.check_all_used()
        consistent = bool(body.get("ConsistentRead", False))
        await self._meter.before_read(table)
        stored = await self._store.get(table, key)
        result: dict[str, Any] = {}
        if stored is not None:
            result["Item"] = projection.apply(stored.item) if projection else stored.item
        if not capacity.counted(body, table):
            return result
        units = capacity.read_units([stored.item] if stored else [], consistent=consistent)
        await self._meter.charge(table, read=units)
        return capacity.report(body, table, result, read=units)

    async def put_item(self, body: dict[str, Any]) -> dict[str, Any]:
        requests.refuse_legacy(body)
        table = self.table(body.get("TableName"))
        item = requests.check_item(table, body.get("Item"))
        return await self._replace(body, table, _key(table, item), item)  # checked with the item

    async def delete_item(self, body: dict[str, Any]) -> dict[str, Any]:
        requests.refuse_legacy(body)
        table = self.table(body.get("TableName"))
        return await self._replace(body, table, requests.check_key(table, body.get("Key")), None)

    async def _replace(
        self,
        body: Mapping[str, Any],
        table: Table,
        key: dict[str, Any],
        item: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """PutItem and DeleteItem: the whole item becomes `item` (None: gone)."""
        returns = requests.choice(body, "ReturnValues", ("NONE", "ALL_OLD"), "NONE")
        condition, ctx = _condition(body)
        ctx.check_all_used()

        def decide(stored: Stored | None) -> Decision:
            _check(condition, stored, body)
            result = {"Attributes": stored.item} if returns == "ALL_OLD" and stored else {}
            return Decision(after=item, result=result)

        return await self.write(table, key, decide, body)

    async def update_item(self, body: dict[str, Any]) -> dict[str, Any]:
        requests.refuse_legacy(body)
        table = self.table(body.get("TableName"))
        key = requests.check_key(table, body.get("Key"))
        returns = requests.choice(body, "ReturnValues", RETURN_VALUES, "NONE")
        condition, ctx = _condition(body)
        update = parse_update(body["UpdateExpression"], ctx) if "UpdateExpression" in body else None
        ctx.check_all_used()
        if update is not None:
            for name in sorted(update.top_level_names & set(table.key.names)):
                raise requests.ValidationError(
                    f"One or more parameter values were invalid: Cannot update attribute {name}. "
                    "This attribute is part of the key"
                )

        def decide(stored: Stored | None) -> Decision:
            _check(condition, stored, body)
            before = stored.item if stored else None
            after = dict(before) if before else dict(key)
            if update is not None:
                after = update.apply(after)
            requests.check_index_keys(table, after)
            requests.check_size(after)
            result: dict[str, Any] = {}
            if returns == "ALL_OLD" and before:
                result["Attributes"] = before
            elif returns == "ALL_NEW":
                result["Attributes"] = after
            elif returns in ("UPDATED_OLD", "UPDATED_NEW") and update is not None:
                source = before if returns == "UPDATED_OLD" else after
                changed = project_paths(source or {}, update.paths)
                if changed:
                    result["Attributes"] = changed
            return Decision(after=after, result=result)

        return await self.write(table, key, decide, body)

    async def write(
        self, table: Table, key: dict[str, Any], decide: Decide, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Decide against the stored item and commit, re-deciding after a lost race."""
        await self._meter.before_write(table)
        for _ in range(ATTEMPTS_MAX):
            stored = await self._store.get(table, key)
            try:
                decision = decide(stored)
            except ConditionalCheckFailed:  # DynamoDB charges a failed condition's write too
                if table.provisioned is not None:
                    units = capacity.write_units([stored.item if stored else None])
                    await self._meter.charge(table, write=units)
                raise
            before = stored.item if stored else None
            indexes: dict[str, tuple[float, float]] = {}
            if table.indexes and capacity.counted(body, table):
                indexes = capacity.index_writes(table, before, decision.after)
                # an index out of write capacity throttles the table's writes that touch it
                await self._meter.before_index_writes(table, indexes)
            if stored is None and decision.after is None:
                failed = None  # deleting nothing
            else:
                failed = await self._store.commit(
                    [Change(table=table, key=key, before=stored, after=decision.after)]
                )
            if failed is None:
                result = decision.result
                if metrics_wanted(body, table):
                    size = await self._store.collection_size(table, key)
                    result["ItemCollectionMetrics"] = collection_metrics(table, key, size)
                if not capacity.counted(body, table):
                    return result
                units = capacity.write_units([before, decision.after])
                await self._meter.charge(table, write=units, indexes=indexes)
                return capacity.report(body, table, result, write=units, indexes=indexes)
        raise InternalServerError("The item kept changing under this write; try again")


def metrics_wanted(body: Mapping[str, Any], table: Table) -> bool:
    """ReturnItemCollectionMetrics=SIZE on a table that has item collections (an LSI)."""
    wanted = requests.choice(body, "ReturnItemCollectionMetrics", ("NONE", "SIZE"), "NONE")
    return wanted == "SIZE" and any(index.local for index in table.indexes.values())


def collection_metrics(table: Table, key: Mapping[str, Any], size: int) -> dict[str, Any]:
    """DynamoDB's ItemCollectionMetrics: the collection's key and its size in GB, as a range."""
    gigabytes = size / 1024**3
    return {
        "ItemCollectionKey": {table.key.hash_key: key[table.key.hash_key]},
        "SizeEstimateRangeGB": [float(int(gigabytes)), float(int(gigabytes) + 1)],
    }


def _key(table: Table, item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in table.key.names}


def _condition(body: Mapping[str, Any]) -> tuple[Condition | None, ExpressionContext]:
    requests.choice(body, "ReturnValuesOnConditionCheckFailure", ON_CONDITION_FAILURE, "NONE")
    ctx = ExpressionContext(
        body.get("ExpressionAttributeNames"), body.get("ExpressionAttributeValues")
    )
    if "ConditionExpression" not in body:
        return None, ctx
    return parse_condition(body["ConditionExpression"], ctx), ctx


def _check(condition: Condition | None, stored: Stored | None, body: Mapping[str, Any]) -> None:
    if condition is None or condition.evaluate(stored.item if stored else None):
        return
    on_failure = requests.choice(
        body, "ReturnValuesOnConditionCheckFailure", ON_CONDITION_FAILURE, "NONE"
    )
    extra = {"Item": stored.item} if on_failure == "ALL_OLD" and stored else {}
    raise ConditionalCheckFailed("The conditional request failed", **extra)
