"""BatchGetItem, BatchWriteItem, TransactGetItems and TransactWriteItems.

Transactions read every item they touch, check every condition, and commit all
changes in one guarded script: all or nothing, and re-decided if another writer
changed one of the items in between. A ClientRequestToken is remembered for ten
minutes (in the same commit), so a retried transaction applies once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubefn import tabledata
from kubefn_gateway.dynamodb import capacity, requests
from kubefn_gateway.dynamodb.errors import (
    ConditionalCheckFailed,
    DynamoDbError,
    IdempotentParameterMismatch,
    ItemCollectionSizeLimitExceeded,
    TransactionCanceled,
    ValidationError,
)
from kubefn_gateway.dynamodb.expressions import (
    ExpressionContext,
    parse_condition,
    parse_projection,
    parse_update,
)
from kubefn_gateway.dynamodb.items_api import ATTEMPTS_MAX
from kubefn_gateway.dynamodb.operations import Operation, TableOperations
from kubefn_gateway.dynamodb.store import Change, Stored
from kubefn_gateway.dynamodb.tables import Table

BATCH_GET_KEYS_MAX = 100
BATCH_WRITE_REQUESTS_MAX = 25
TRANSACT_ACTIONS_MAX = 100
BATCH_GET_BYTES_MAX = 16 * 1024 * 1024
TRANSACTION_BYTES_MAX = 4 * 1024 * 1024
TOKEN_SECONDS = 600

Decide = Callable[[Stored | None], dict[str, Any] | None]


@dataclass
class Action:
    """One action of a transaction: which item, and what it does to it."""

    kind: str
    name: str  # as the request gave it: a table's name or ARN
    table: Table
    key: dict[str, Any]
    decide: Decide  # raises ConditionalCheckFailed/ValidationError; returns the new item
    writes: bool


class BatchApi(TableOperations):
    def operations(self) -> dict[str, Operation]:
        return {
            "BatchGetItem": self.batch_get_item,
            "BatchWriteItem": self.batch_write_item,
            "TransactGetItems": self.transact_get_items,
            "TransactWriteItems": self.transact_write_items,
        }

    async def batch_get_item(self, body: dict[str, Any]) -> dict[str, Any]:
        request_items = _request_items(body)
        # Each table as the request names it (a name or an ARN), which the response echoes.
        wanted: list[tuple[str, Table, dict[str, Any], Mapping[str, Any]]] = []
        for name, spec in request_items.items():
            table = self.table(name)
            if (
                not isinstance(spec, dict)
                or not isinstance(spec.get("Keys"), list)
                or not spec["Keys"]
            ):
                raise ValidationError(
                    f"1 validation error detected: Value null at 'requestItems.{name}.member.keys' "
                    "failed to satisfy constraint: Member must not be null"
                )
            requests.refuse_legacy(spec)
            seen: set[str] = set()
            for raw in spec["Keys"]:
                key = requests.check_key(table, raw, field="Keys")
                canonical = json.dumps(key, sort_keys=True)
                if canonical in seen:
                    raise ValidationError("Provided list of item keys contains duplicates")
                seen.add(canonical)
                wanted.append((name, table, key, spec))
        if len(wanted) > BATCH_GET_KEYS_MAX:
            raise ValidationError("Too many items requested for the BatchGetItem call")
        projections = {}
        for name, spec in request_items.items():
            ctx = ExpressionContext(spec.get("ExpressionAttributeNames"), None)
            projections[name] = (
                parse_projection(spec["ProjectionExpression"], ctx)
                if "ProjectionExpression" in spec
                else None
            )
            ctx.check_all_used()
        found = await self._store.get_many([(table, key) for _, table, key, _ in wanted])
        responses: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _, _ in wanted}
        unprocessed: dict[str, dict[str, Any]] = {}
        usage: dict[str, tuple[Table, capacity.Usage]] = {}
        size = 0
        for (name, table, key, spec), stored in zip(wanted, found, strict=True):
            if size >= BATCH_GET_BYTES_MAX or not await self._meter.has_capacity(table, "read"):
                entry = unprocessed.setdefault(name, {k: v for k, v in spec.items() if k != "Keys"})
                entry.setdefault("Keys", []).append(key)
                continue
            # A key that finds no item is read (and paid for) all the same.
            units = capacity.read_units(
                [stored.item if stored else None], consistent=bool(spec.get("ConsistentRead"))
            )
            await self._meter.charge(table, read=units)
            _add_usage(usage, name, table, capacity.Usage(read=units))
            if stored is None:
                continue
            size += requests.item_size(stored.item)
            projection = projections[name]
            responses[name].append(projection.apply(stored.item) if projection else stored.item)
        if not usage:
            # Not one key could be read for want of throughput (DynamoDB's rule for batches).
            raise self._meter.refuse()
        result = {"Responses": responses, "UnprocessedKeys": unprocessed}
        return capacity.report_each(body, result, usage)

    async def batch_write_item(self, body: dict[str, Any]) -> dict[str, Any]:
        request_items = _request_items(body)
        planned: list[
            tuple[str, Table, dict[str, Any], dict[str, Any] | None, Mapping[str, Any]]
        ] = []
        seen: set[tuple[str, str]] = set()
        for name, writes in request_items.items():
            table = self.table(name)
            if not isinstance(writes, list) or not writes:
                raise ValidationError(
                    f"1 validation error detected: Value '{writes}' at 'requestItems' failed to "
                    "satisfy constraint: Map value must satisfy constraint: [Member must have "
                    "length less than or equal to 25, Member must have length greater than or "
                    "equal to 1]"
                )
            for write in writes:
                if (
                    not isinstance(write, dict)
                    or len(write) != 1
                    or not ({"PutRequest", "DeleteRequest"} & set(write))
                ):
                    raise ValidationError(
                        "Supplied AttributeValue has more than one datatypes set, must contain "
                        "exactly one of the supported datatypes"
                        if isinstance(write, dict) and len(write) > 1
                        else "A WriteRequest must hold exactly one of PutRequest or DeleteRequest"
                    )
                if "PutRequest" in write:
                    item = requests.check_item(table, (write["PutRequest"] or {}).get("Item"))
                    key = {k: item[k] for k in table.key.names}
                    after: dict[str, Any] | None = item
                else:
                    key = requests.check_key(table, (write["DeleteRequest"] or {}).get("Key"))
                    after = None
                identity = (table.id, json.dumps(key, sort_keys=True))
                if identity in seen:
                    raise ValidationError("Provided list of item keys contains duplicates")
                seen.add(identity)
                planned.append((name, table, key, after, write))
        if len(planned) > BATCH_WRITE_REQUESTS_MAX:
            raise ValidationError(
                f"1 validation error detected: Value at 'requestItems' failed to satisfy "
                f"constraint: Map value must satisfy constraint: [Member must have length less "
                f"than or equal to {BATCH_WRITE_REQUESTS_MAX}]"
            )
        # The items as they are now: what each write changes in its table's indexes, and so
        # whether an index out of capacity holds it back, depends on what it replaces.
        found = await self._store.get_many([(t, k) for _, t, k, _, _ in planned])
        accepted = []
        read: list[Stored | None] = []  # what each accepted write found
        unprocessed: dict[str, list[Mapping[str, Any]]] = {}
        # Each table's (and each index's of its own) capacity is taken as the batch goes, so a
        # batch larger than what is left is processed in part and the rest comes back
        # unprocessed.
        left: dict[tuple[str, str], float | None] = {}
        for (name, table, key, after, write), stored in zip(planned, found, strict=True):
            before = stored.item if stored else None
            costs = {"": capacity.write_units([after])}  # "": the table itself
            metered = capacity.metered_indexes(table)
            if metered:
                touched = capacity.index_writes(table, before, after)
                costs.update((i.name, touched[i.name][1]) for i in metered if i.name in touched)
            for index_name in costs:
                if (table.id, index_name) not in left:
                    left[table.id, index_name] = await self._meter.available(
                        table, "write", table.indexes.get(index_name)
                    )
            remaining = {n: left[table.id, n] for n in costs}
            if any(units is not None and units <= 0 for units in remaining.values()):
                unprocessed.setdefault(name, []).append(write)
                continue
            accepted.append((name, table, key, after))
            read.append(stored)
            for index_name, units in remaining.items():
                if units is not None:
                    left[table.id, index_name] = units - costs[index_name]
        if not accepted:
            # None of the items could be written for want of throughput.
            raise self._meter.refuse()
        found = read
        for attempt in range(ATTEMPTS_MAX):
            if attempt:
                found = await self._store.get_many([(t, k) for _, t, k, _ in accepted])
            changes = [
                Change(table=t, key=k, before=s, after=a)
                for (_, t, k, a), s in zip(accepted, found, strict=True)
                if not (s is None and a is None)
            ]
            if await self._store.commit(changes) is None:
                usage: dict[str, tuple[Table, capacity.Usage]] = {}
                for (name, table, key, after), stored in zip(accepted, found, strict=True):
                    # deleting an absent item costs a unit too
                    change = Change(table=table, key=key, before=stored, after=after)
                    _add_usage(usage, name, table, _spent(body, change))
                for table, spent in usage.values():
                    await self._meter.charge(
                        table, read=spent.read, write=spent.write, indexes=spent.indexes
                    )
                return capacity.report_each(body, {"UnprocessedItems": unprocessed}, usage)
        for name, requests_ in _as_requests(accepted).items():
            unprocessed.setdefault(name, []).extend(requests_)
        return {"UnprocessedItems": unprocessed}

    async def transact_get_items(self, body: dict[str, Any]) -> dict[str, Any]:
        actions = body.get("TransactItems")
        if not isinstance(actions, list) or not 1 <= len(actions) <= TRANSACT_ACTIONS_MAX:
            raise ValidationError(
                "1 validation error detected: Value at 'transactItems' failed to satisfy "
                f"constraint: Member must have length less than or equal to {TRANSACT_ACTIONS_MAX}"
                " and greater than or equal to 1"
            )
        wanted = []
        for action in actions:
            get = action.get("Get") if isinstance(action, dict) else None
            if not isinstance(get, dict):
                raise ValidationError("TransactGetItems accepts only Get actions")
            name = get.get("TableName")
            table = self.table(name)
            key = requests.check_key(table, get.get("Key"))
            ctx = ExpressionContext(get.get("ExpressionAttributeNames"), None)
            projection = (
                parse_projection(get["ProjectionExpression"], ctx)
                if "ProjectionExpression" in get
                else None
            )
            ctx.check_all_used()
            wanted.append((str(name), table, key, projection))
        _refuse_repeats([(t, k) for _, t, k, _ in wanted])
        found = await self._store.get_many([(t, k) for _, t, k, _ in wanted], atomically=True)
        responses: list[dict[str, Any]] = []
        usage: dict[str, tuple[Table, capacity.Usage]] = {}
        for (name, table, _key, projection), stored in zip(wanted, found, strict=True):
            units = 2 * capacity.read_units([stored.item if stored else None], consistent=True)
            await self._meter.charge(table, read=units)
            _add_usage(usage, name, table, capacity.Usage(read=units))
            if stored is None:
                responses.append({})
            else:
                responses.append(
                    {"Item": projection.apply(stored.item) if projection else stored.item}
                )
        return capacity.report_each(body, {"Responses": responses}, usage)

    async def transact_write_items(self, body: dict[str, Any]) -> dict[str, Any]:
        raw_actions = body.get("TransactItems")
        if not isinstance(raw_actions, list) or not 1 <= len(raw_actions) <= TRANSACT_ACTIONS_MAX:
            raise ValidationError(
                "1 validation error detected: Value at 'transactItems' failed to satisfy "
                f"constraint: Member must have length less than or equal to {TRANSACT_ACTIONS_MAX}"
                " and greater than or equal to 1"
            )
        actions = [self._action(raw) for raw in raw_actions]
        _refuse_repeats([(a.table, a.key) for a in actions])
        token = body.get("ClientRequestToken")
        fingerprint = hashlib.sha256(json.dumps(raw_actions, sort_keys=True).encode()).hexdigest()
        if token is not None and not (isinstance(token, str) and 1 <= len(token) <= 36):
            raise ValidationError(
                "1 validation error detected: Value at 'clientRequestToken' failed to satisfy "
                "constraint: Member must have length less than or equal to 36"
            )
        token_key = tabledata.token_key(actions[0].table.id, token) if token is not None else None
        for action in actions:
            if action.writes:
                await self._meter.before_write(action.table)
        for _ in range(ATTEMPTS_MAX):
            if token_key is not None:
                seen = await self._store.token(token_key)
                if seen is not None:
                    if seen != fingerprint:
                        raise IdempotentParameterMismatch(
                            "Request token has been used with different parameters"
                        )
                    return {}
            found = await self._store.get_many([(a.table, a.key) for a in actions])
            reasons: list[dict[str, Any]] = []
            changes: list[Change] = []
            acting: list[int] = []  # which action each change comes from
            for position, (action, stored) in enumerate(zip(actions, found, strict=True)):
                try:
                    after = action.decide(stored)
                except ConditionalCheckFailed as exc:
                    reasons.append(
                        {"Code": "ConditionalCheckFailed", "Message": exc.message, **exc.extra}
                    )
                    continue
                except DynamoDbError as exc:
                    reasons.append(
                        {"Code": exc.code.removesuffix("Exception"), "Message": exc.message}
                    )
                    continue
                reasons.append({"Code": "None"})
                if action.writes and not (stored is None and after is None):
                    changes.append(
                        Change(table=action.table, key=action.key, before=stored, after=after)
                    )
                    acting.append(position)
            if any(r["Code"] != "None" for r in reasons):
                raise _canceled(reasons)
            size = sum(requests.item_size(c.after) for c in changes if c.after)
            if size > TRANSACTION_BYTES_MAX:
                raise ValidationError("Transaction request exceeds the maximum size of 4 MB")
            # transactions cost double, on indexes too; an index out of capacity throttles
            spent = [_spent(body, change).scaled(2) for change in changes]
            for change, change_units in zip(changes, spent, strict=True):
                await self._meter.before_index_writes(change.table, change_units.indexes)
            extra = None
            if token_key is not None:
                extra = (token_key, fingerprint, TOKEN_SECONDS)
            try:
                committed = await self._store.commit(changes, token=extra) is None
            except ItemCollectionSizeLimitExceeded as exc:
                reasons[acting[exc.position]] = {
                    "Code": "ItemCollectionSizeLimitExceeded",
                    "Message": exc.message,
                }
                raise _canceled(reasons) from None
            if committed:
                usage: dict[str, tuple[Table, capacity.Usage]] = {}
                for action, stored in zip(actions, found, strict=True):
                    if not action.writes:  # a ConditionCheck reads its item
                        units = 2 * capacity.read_units(
                            [stored.item if stored else None], consistent=True
                        )
                        _add_usage(usage, action.name, action.table, capacity.Usage(read=units))
                for position, change_units in zip(acting, spent, strict=True):
                    action = actions[position]
                    _add_usage(usage, action.name, action.table, change_units)
                for table, units_spent in usage.values():
                    await self._meter.charge(
                        table,
                        read=units_spent.read,
                        write=units_spent.write,
                        indexes=units_spent.indexes,
                    )
                return capacity.report_each(body, {}, usage)
        raise TransactionCanceled(
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{', '.join('TransactionConflict' for _ in actions)}]",
            CancellationReasons=[
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                for _ in actions
            ],
        )

    def _action(self, raw: Any) -> Action:
        if not isinstance(raw, dict) or len(raw) != 1:
            raise ValidationError(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
        ((kind, spec),) = raw.items()
        if kind not in ("ConditionCheck", "Put", "Update", "Delete") or not isinstance(spec, dict):
            raise ValidationError(
                f"TransactItems can only contain one of Check, Put, Update or Delete (got {kind})"
            )
        requests.refuse_legacy(spec)
        name = spec.get("TableName")
        table = self.table(name)
        ctx = ExpressionContext(
            spec.get("ExpressionAttributeNames"), spec.get("ExpressionAttributeValues")
        )
        condition = (
            parse_condition(spec["ConditionExpression"], ctx)
            if "ConditionExpression" in spec
            else None
        )
        on_failure = requests.choice(
            spec, "ReturnValuesOnConditionCheckFailure", ("NONE", "ALL_OLD"), "NONE"
        )
        if kind == "Put":
            item = requests.check_item(table, spec.get("Item"))
            key = {k: item[k] for k in table.key.names}
        else:
            key = requests.check_key(table, spec.get("Key"))
        update = None
        if kind == "Update":
            if "UpdateExpression" not in spec:
                raise ValidationError("UpdateExpression is required for an Update action")
            update = parse_update(spec["UpdateExpression"], ctx)
            for name in sorted(update.top_level_names & set(table.key.names)):
                raise ValidationError(
                    f"One or more parameter values were invalid: Cannot update attribute {name}. "
                    "This attribute is part of the key"
                )
        if kind == "ConditionCheck" and condition is None:
            raise ValidationError("ConditionExpression is required for a ConditionCheck action")
        ctx.check_all_used()

        def decide(stored: Stored | None) -> dict[str, Any] | None:
            current = stored.item if stored else None
            if condition is not None and not condition.evaluate(current):
                extra = {"Item": current} if on_failure == "ALL_OLD" and current else {}
                raise ConditionalCheckFailed("The conditional request failed", **extra)
            if kind == "Put":
                return item
            if kind == "Delete":
                return None
            if kind == "Update":
                assert update is not None
                after = update.apply(dict(current) if current else dict(key))
                requests.check_index_keys(table, after)
                requests.check_size(after)
                return after
            return current

        return Action(
            kind=kind,
            name=str(name),
            table=table,
            key=key,
            decide=decide,
            writes=kind != "ConditionCheck",
        )


def _canceled(reasons: list[dict[str, Any]]) -> TransactionCanceled:
    codes = ", ".join(r["Code"] for r in reasons)
    return TransactionCanceled(
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        CancellationReasons=reasons,
    )


def _request_items(body: Mapping[str, Any]) -> dict[str, Any]:
    items = body.get("RequestItems")
    if not isinstance(items, dict) or not items:
        raise ValidationError(
            "1 validation error detected: Value null at 'requestItems' failed to satisfy "
            "constraint: Member must not be null"
        )
    return items


def _refuse_repeats(targets: list[tuple[Table, dict[str, Any]]]) -> None:
    seen: set[tuple[str, str]] = set()
    for table, key in targets:
        identity = (table.id, json.dumps(key, sort_keys=True))
        if identity in seen:
            raise ValidationError(
                "Transaction request cannot include multiple operations on one item"
            )
        seen.add(identity)


def _as_requests(
    accepted: list[tuple[str, Table, dict[str, Any], dict[str, Any] | None]],
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, _table, key, after in accepted:
        request = {"PutRequest": {"Item": after}} if after else {"DeleteRequest": {"Key": key}}
        out.setdefault(name, []).append(request)
    return out


def _spent(body: Mapping[str, Any], change: Change) -> capacity.Usage:
    """Units a change spends: on its table and, when they count, on its indexes."""
    before = change.before.item if change.before else None
    indexes = (
        capacity.index_writes(change.table, before, change.after)
        if change.table.indexes and capacity.counted(body, change.table)
        else {}
    )
    return capacity.Usage(write=capacity.write_units([before, change.after]), indexes=indexes)


def _add_usage(
    usage: dict[str, tuple[Table, capacity.Usage]],
    name: str,
    table: Table,
    spent: capacity.Usage,
) -> None:
    """Units spent on a table, under the name (or ARN) the request gave it."""
    _, so_far = usage.get(name, (table, capacity.Usage()))
    usage[name] = (table, so_far + spent)
