"""CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable and TTL.

A table made through the API is published exactly as a Table manifest would be
(compiled by kubefn.table), so every gateway replica serves it and the control
plane sees it; this replica serves it at once, without waiting for the follower.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from kubefn import config, tabledata
from kubefn import table as tablespec
from kubefn_gateway.dynamodb import requests
from kubefn_gateway.dynamodb import store as storage
from kubefn_gateway.dynamodb.errors import (
    LimitExceeded,
    ResourceInUse,
    ResourceNotFound,
    ValidationError,
)
from kubefn_gateway.dynamodb.store import Store
from kubefn_gateway.dynamodb.tables import Table, TableCatalog

log = logging.getLogger(__name__)

LIST_LIMIT_MAX = 100
TAGS_MAX = 50


class TablesApi:
    def __init__(
        self,
        *,
        tables: TableCatalog,
        store: Store,
        redis: aioredis.Redis,
        namespace: str,
        region: str,
        account_id: str,
    ) -> None:
        self._tables = tables
        self._store = store
        self._redis = redis
        self._namespace = namespace
        self._region = region
        self._account_id = account_id
        self._changing: dict[str, asyncio.Lock] = {}

    def operations(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {
            "CreateTable": self.create_table,
            "DescribeTable": self.describe_table,
            "ListTables": self.list_tables,
            "DeleteTable": self.delete_table,
            "UpdateTable": self.update_table,
            "UpdateTimeToLive": self.update_time_to_live,
            "DescribeTimeToLive": self.describe_time_to_live,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsOfResource": self.list_tags_of_resource,
        }

    def _find(self, body: Mapping[str, Any]) -> Table:
        return requests.find_table(self._tables, self._namespace, requests.table_name(body))

    async def create_table(self, body: dict[str, Any]) -> dict[str, Any]:
        name = requests.table_name(body)
        spec = _spec_of_request(body)
        key = tabledata.table_id(self._namespace, name)
        tags = _tags(body.get("Tags", []), field="tags") if "Tags" in body else {}
        async with self._lock(key):
            if self._tables.get(key) is not None or await _published(self._redis, key):
                raise ResourceInUse(f"Table already exists: {name}")
            table = await self._publish(name, spec)
            if tags:
                await self._redis.hset(tabledata.tags_key(table.id), mapping=dict[Any, Any](tags))
        return {"TableDescription": await self._describe(table, status="ACTIVE")}

    async def describe_table(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"Table": await self._describe(self._find(body))}

    async def list_tables(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = requests.positive_int(body, "Limit", maximum=LIST_LIMIT_MAX) or LIST_LIMIT_MAX
        start = body.get("ExclusiveStartTableName")
        names = sorted(t.name for t in self._tables.all() if t.namespace == self._namespace)
        if start is not None:
            names = [n for n in names if n > str(start)]
        page = names[:limit]
        result: dict[str, Any] = {"TableNames": page}
        if len(names) > limit:
            result["LastEvaluatedTableName"] = page[-1]
        return result

    async def delete_table(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._find(body)
        async with self._lock(table.id):
            if table.spec.get("deletionProtectionEnabled"):
                raise ValidationError(
                    f"1 validation error detected: Table '{table.name}' can't be deleted while "
                    "DeletionProtectionEnabled is set to True"
                )
            description = await self._describe(table, status="DELETING")
            await config.remove(self._redis, kind=tablespec.KIND, key=table.id)
            await self._tables.forget(table.id)
            await tabledata.delete_data(self._redis, table.id)
        return {"TableDescription": description}

    async def update_table(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._find(body)
        async with self._lock(table.id):
            table = self._find(body)
            spec = copy.deepcopy(dict(table.spec))
            changed = _apply_table_update(spec, body)
            if not changed:
                raise ValidationError(
                    "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                    "GlobalSecondaryIndexUpdates, DeletionProtectionEnabled or SSESpecification "
                    "or ReplicaUpdates is required"
                )
            dropped = {i for i in table.indexes if not table.indexes[i].local} - {
                i["indexName"] for i in spec.get("globalSecondaryIndexes", [])
            }
            updated = await self._publish(table.name, spec, previous=table)
            for index in sorted(dropped):
                await storage.drop_index(self._redis, updated, index)
            added = frozenset(updated.indexes) - frozenset(table.indexes)
            if added:
                await storage.backfill(self._store, self._redis, updated, indexes=added)
        return {"TableDescription": await self._describe(updated)}

    async def update_time_to_live(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._find(body)
        ttl = body.get("TimeToLiveSpecification")
        if not isinstance(ttl, dict) or not isinstance(ttl.get("Enabled"), bool):
            raise ValidationError(
                "1 validation error detected: Value null at 'timeToLiveSpecification' failed to "
                "satisfy constraint: Member must not be null"
            )
        attribute = ttl.get("AttributeName")
        if not isinstance(attribute, str) or not 1 <= len(attribute) <= 255:
            raise ValidationError(
                "1 validation error detected: Value at 'timeToLiveSpecification.attributeName' "
                "failed to satisfy constraint: Member must have length between 1 and 255"
            )
        async with self._lock(table.id):
            table = self._find(body)
            current = table.ttl_attribute
            if ttl["Enabled"] and current is not None:
                raise ValidationError("TimeToLive is already enabled")
            if not ttl["Enabled"] and current is None:
                raise ValidationError("TimeToLive is already disabled")
            if not ttl["Enabled"] and current != attribute:
                raise ValidationError(
                    f"TimeToLive is enabled on attribute {current}, not {attribute}"
                )
            spec = copy.deepcopy(dict(table.spec))
            if ttl["Enabled"]:
                spec["ttl"] = {"attributeName": attribute}
            else:
                spec.pop("ttl", None)
            updated = await self._publish(table.name, spec, previous=table)
            if ttl["Enabled"]:
                await storage.backfill(self._store, self._redis, updated, ttl=True)
            else:
                await self._redis.unlink(tabledata.ttl_key(table.id))
        return {"TimeToLiveSpecification": {"Enabled": ttl["Enabled"], "AttributeName": attribute}}

    async def describe_time_to_live(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._find(body)
        if table.ttl_attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": table.ttl_attribute,
            }
        }

    async def tag_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._resource(body)
        tags = _tags(body.get("Tags"), field="tags")
        async with self._lock(table.id):
            key = tabledata.tags_key(table.id)
            total = len({_text(k) for k in await self._redis.hkeys(key)} | set(tags))
            if total > TAGS_MAX:
                raise LimitExceeded(
                    f"The number of tags on a resource may not exceed {TAGS_MAX}; "
                    f"this request would make {total}"
                )
            await self._redis.hset(key, mapping=dict[Any, Any](tags))
        return {}

    async def untag_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._resource(body)
        keys = body.get("TagKeys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValidationError(
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy "
                "constraint: Member must not be null"
            )
        if keys:
            await self._redis.hdel(tabledata.tags_key(table.id), *keys)
        return {}

    async def list_tags_of_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        table = self._resource(body)
        raw = await self._redis.hgetall(tabledata.tags_key(table.id))
        tags = sorted((_text(k), _text(v)) for k, v in raw.items())
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags]}

    def _resource(self, body: Mapping[str, Any]) -> Table:
        """The table a ResourceArn names (tags belong to tables; index ARNs are refused)."""
        arn = body.get("ResourceArn")
        prefix = f"arn:aws:dynamodb:{self._region}:{self._account_id}:table/"
        if not isinstance(arn, str) or not arn.startswith(prefix) or "/" in arn[len(prefix) :]:
            raise ValidationError(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
        table = self._tables.get(tabledata.table_id(self._namespace, arn[len(prefix) :]))
        if table is None:
            raise ResourceNotFound(f"Requested resource not found: ResourceArn: {arn} not found")
        return table

    async def _publish(
        self, name: str, spec: dict[str, Any], *, previous: Table | None = None
    ) -> Table:
        spec = {**spec, "tableName": name}
        try:
            compiled = tablespec.compile_spec(self._namespace, name, spec)
        except tablespec.InvalidTable as exc:
            raise ValidationError(
                "One or more parameter values were invalid: "
                + "; ".join(str(p).removeprefix("spec.") for p in exc.problems)
            ) from None
        if previous is not None:
            problems = tablespec.check_change(previous.spec, compiled.spec)
            if problems:
                raise ValidationError("; ".join(str(p) for p in problems))
        result = await config.publish_compiled(self._redis, compiled)
        published = config.Published(
            kind=tablespec.KIND,
            key=compiled.key,
            revision=result.revision,
            digest=compiled.digest,
            spec=compiled.spec,
        )
        return await self._tables.put(published)

    async def _describe(self, table: Table, *, status: str = "ACTIVE") -> dict[str, Any]:
        stats = await tabledata.stats(self._redis, table.id)
        arn = table.arn(region=self._region, account_id=self._account_id)
        spec = table.spec
        description: dict[str, Any] = {
            "TableName": table.name,
            "TableArn": arn,
            "TableId": _table_id(table.id, stats.created),
            "TableStatus": status,
            "CreationDateTime": stats.created or self._tables.created(table.id),
            "KeySchema": table.key.describe(),
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t}
                for n, t in sorted(table.attribute_types.items())
            ],
            "ItemCount": stats.items,
            "TableSizeBytes": stats.bytes,
            "BillingModeSummary": {"BillingMode": spec.get("billingMode", "PAY_PER_REQUEST")},
            "ProvisionedThroughput": _throughput(spec.get("provisionedThroughput")),
            "TableClassSummary": {"TableClass": spec.get("tableClass", "STANDARD")},
            "DeletionProtectionEnabled": bool(spec.get("deletionProtectionEnabled", False)),
        }
        stream = spec.get("stream") or {}
        if stream.get("enabled"):
            description["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["viewType"],
            }
        if stats.stream_label and stream.get("enabled"):
            description["LatestStreamLabel"] = stats.stream_label
            description["LatestStreamArn"] = f"{arn}/stream/{stats.stream_label}"
        gsis = [i for i in table.indexes.values() if not i.local]
        lsis = [i for i in table.indexes.values() if i.local]
        for field, indexes in (("GlobalSecondaryIndexes", gsis), ("LocalSecondaryIndexes", lsis)):
            if not indexes:
                continue
            described = []
            for index in indexes:
                entry: dict[str, Any] = {
                    "IndexName": index.name,
                    "KeySchema": index.key.describe(),
                    "Projection": _projection(index.projection_type, index.non_key_attributes),
                    "IndexSizeBytes": stats.indexes.get(index.name, (0, 0))[1],
                    "ItemCount": stats.indexes.get(index.name, (0, 0))[0],
                    "IndexArn": f"{arn}/index/{index.name}",
                }
                if not index.local:
                    entry["IndexStatus"] = "ACTIVE"
                    entry["ProvisionedThroughput"] = _throughput(
                        {"readCapacityUnits": index.provisioned[0],
                         "writeCapacityUnits": index.provisioned[1]}
                        if index.provisioned else None
                    )  # fmt: skip
                described.append(entry)
            description[field] = described
        return description

    def _lock(self, key: str) -> asyncio.Lock:
        return self._changing.setdefault(key, asyncio.Lock())


async def _published(redis: aioredis.Redis, key: str) -> bool:
    return bool(await redis.hexists(config.kind_key(tablespec.KIND), key))


def _table_id(key: str, created: float | None) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kubefn:{key}:{created}"))


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _tags(raw: Any, *, field: str) -> dict[str, str]:
    """Tags as DynamoDB takes them: [{Key, Value}], keys 1-128 and values 0-256 characters."""
    if not isinstance(raw, list):
        raise ValidationError(
            f"1 validation error detected: Value null at '{field}' failed to satisfy "
            "constraint: Member must not be null"
        )
    tags: dict[str, str] = {}
    for tag in raw:
        key = tag.get("Key") if isinstance(tag, dict) else None
        value = tag.get("Value") if isinstance(tag, dict) else None
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise ValidationError(
                f"1 validation error detected: Value '{key}' at '{field}.member.key' failed to "
                "satisfy constraint: Member must have length between 1 and 128"
            )
        if not isinstance(value, str) or len(value) > 256:
            raise ValidationError(
                f"1 validation error detected: Value at '{field}.member.value' of tag {key!r} "
                "failed to satisfy constraint: Member must have length less than or equal to 256"
            )
        tags[key] = value
    if len(tags) > TAGS_MAX:
        raise LimitExceeded(f"The number of tags on a resource may not exceed {TAGS_MAX}")
    return tags


def _throughput(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    return {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": int(raw.get("readCapacityUnits", 0)),
        "WriteCapacityUnits": int(raw.get("writeCapacityUnits", 0)),
    }


def _projection(kind: str, non_key: tuple[str, ...]) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": kind}
    if non_key:
        projection["NonKeyAttributes"] = list(non_key)
    return projection


def _definitions(body: Mapping[str, Any]) -> dict[str, str]:
    raw = body.get("AttributeDefinitions")
    if not isinstance(raw, list) or not raw:
        raise ValidationError(
            "1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy "
            "constraint: Member must not be null"
        )
    definitions: dict[str, str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("AttributeName"), str):
            raise ValidationError(
                "AttributeDefinitions entries need AttributeName and AttributeType"
            )
        if entry["AttributeName"] in definitions:
            raise ValidationError(
                "Cannot have two attributes with the same name in AttributeDefinitions: "
                + entry["AttributeName"]
            )
        definitions[entry["AttributeName"]] = str(entry.get("AttributeType"))
    return definitions


def _key_schema(
    raw: Any, definitions: Mapping[str, str], *, field: str, typed: bool
) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError(
            f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: "
            "Member must not be null"
        )
    schema = []
    for element in raw:
        if not isinstance(element, dict):
            raise ValidationError(f"Invalid {field} element: {element!r}")
        name = element.get("AttributeName")
        if name not in definitions:
            raise ValidationError(
                "One or more parameter values were invalid: Some index key attributes are not "
                f"defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: "
                f"[{', '.join(definitions)}]"
            )
        entry = {"attributeName": name, "keyType": element.get("KeyType")}
        if typed:
            entry["attributeType"] = definitions[str(name)]
        schema.append(entry)
    return schema


def _index_spec(raw: Any, definitions: Mapping[str, str], *, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError(f"Invalid {field} entry: {raw!r}")
    projection = raw.get("Projection") or {}
    spec: dict[str, Any] = {
        "indexName": raw.get("IndexName"),
        "keySchema": _key_schema(
            raw.get("KeySchema"), definitions, field=f"{field}.keySchema", typed=False
        ),
        "projection": {"projectionType": projection.get("ProjectionType", "ALL")},
    }
    if "NonKeyAttributes" in projection:
        spec["projection"]["nonKeyAttributes"] = projection["NonKeyAttributes"]
    if "ProvisionedThroughput" in raw:
        spec["provisionedThroughput"] = _throughput_spec(raw["ProvisionedThroughput"])
    return spec


def _throughput_spec(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError(
            "ProvisionedThroughput must have ReadCapacityUnits and WriteCapacityUnits"
        )
    return {
        "readCapacityUnits": raw.get("ReadCapacityUnits"),
        "writeCapacityUnits": raw.get("WriteCapacityUnits"),
    }


def _spec_of_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Table spec from a CreateTable request (kubefn.table then checks every rule)."""
    definitions = _definitions(body)
    spec: dict[str, Any] = {
        "keySchema": _key_schema(body.get("KeySchema"), definitions, field="keySchema", typed=True)
    }
    key_names = {e["attributeName"] for e in spec["keySchema"]}
    extra = [
        {"attributeName": n, "attributeType": t}
        for n, t in definitions.items()
        if n not in key_names
    ]
    if extra:
        spec["attributeDefinitions"] = extra
    mode = body.get("BillingMode", "PROVISIONED")
    spec["billingMode"] = mode
    if "ProvisionedThroughput" in body:
        spec["provisionedThroughput"] = _throughput_spec(body["ProvisionedThroughput"])
    elif mode == "PROVISIONED":
        raise ValidationError(
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
            "must both be specified when BillingMode is PROVISIONED"
        )
    stream = body.get("StreamSpecification")
    if isinstance(stream, dict) and stream.get("StreamEnabled"):
        spec["stream"] = {"enabled": True, "viewType": stream.get("StreamViewType")}
    for field, spec_field in (
        ("GlobalSecondaryIndexes", "globalSecondaryIndexes"),
        ("LocalSecondaryIndexes", "localSecondaryIndexes"),
    ):
        if field in body:
            if not isinstance(body[field], list) or not body[field]:
                raise ValidationError(
                    f"One or more parameter values were invalid: List of {field} is empty"
                )
            spec[spec_field] = [_index_spec(i, definitions, field=spec_field) for i in body[field]]
    if "TableClass" in body:
        spec["tableClass"] = body["TableClass"]
    if "DeletionProtectionEnabled" in body:
        spec["deletionProtectionEnabled"] = body["DeletionProtectionEnabled"]
    spec["deletionPolicy"] = "Delete"
    return spec


def _apply_table_update(spec: dict[str, Any], body: Mapping[str, Any]) -> bool:
    """Change `spec` as an UpdateTable request asks; False when it asks for nothing."""
    changed = False
    definitions = {
        d["attributeName"]: d["attributeType"] for d in spec.get("attributeDefinitions", [])
    }
    if "AttributeDefinitions" in body:
        definitions.update(_definitions(body))
    if "BillingMode" in body:
        spec["billingMode"] = body["BillingMode"]
        if body["BillingMode"] == "PAY_PER_REQUEST":
            spec.pop("provisionedThroughput", None)
            for index in spec.get("globalSecondaryIndexes", []):
                index.pop("provisionedThroughput", None)
        changed = True
    if "ProvisionedThroughput" in body:
        spec["provisionedThroughput"] = _throughput_spec(body["ProvisionedThroughput"])
        changed = True
    if "StreamSpecification" in body:
        stream = body["StreamSpecification"] or {}
        enabled = bool(stream.get("StreamEnabled"))
        current = (spec.get("stream") or {}).get("enabled", False)
        if enabled and current:
            raise ValidationError(f"Table already has an enabled stream: {spec.get('tableName')}")
        if not enabled and not current:
            raise ValidationError(f"Table already has no stream: {spec.get('tableName')}")
        spec["stream"] = (
            {"enabled": True, "viewType": stream.get("StreamViewType")}
            if enabled
            else {"enabled": False}
        )
        changed = True
    if "TableClass" in body:
        spec["tableClass"] = body["TableClass"]
        changed = True
    if "DeletionProtectionEnabled" in body:
        spec["deletionProtectionEnabled"] = body["DeletionProtectionEnabled"]
        changed = True
    updates = body.get("GlobalSecondaryIndexUpdates")
    if updates is not None:
        if not isinstance(updates, list) or not updates:
            raise ValidationError("GlobalSecondaryIndexUpdates must not be empty")
        gsis = spec.setdefault("globalSecondaryIndexes", [])
        for update in updates:
            if not isinstance(update, dict) or len(update) != 1:
                raise ValidationError(
                    "Each GlobalSecondaryIndexUpdate holds one of Create, Update or Delete"
                )
            ((action, detail),) = update.items()
            name = (detail or {}).get("IndexName")
            existing = next((i for i in gsis if i["indexName"] == name), None)
            if action == "Create":
                if existing is not None:
                    raise ValidationError(
                        f"Attempting to create an index which already exists: {name}"
                    )
                all_types = {
                    **definitions,
                    **{k["attributeName"]: k["attributeType"] for k in spec["keySchema"]},
                }
                gsis.append(_index_spec(detail, all_types, field="globalSecondaryIndexes"))
                used = {k["attributeName"] for k in gsis[-1]["keySchema"]}
                for name_ in used - set(all_types):
                    raise ValidationError(
                        f"Attribute {name_} is not defined in AttributeDefinitions"
                    )
                for attribute in sorted(used):
                    if (
                        attribute in definitions
                        and attribute not in {k["attributeName"] for k in spec["keySchema"]}
                        and attribute
                        not in {d["attributeName"] for d in spec.get("attributeDefinitions", [])}
                    ):
                        spec.setdefault("attributeDefinitions", []).append(
                            {"attributeName": attribute, "attributeType": definitions[attribute]}
                        )
            elif action == "Delete":
                if existing is None:
                    raise ResourceNotFound(f"Requested resource not found: Index: {name} not found")
                gsis.remove(existing)
            elif action == "Update":
                if existing is None:
                    raise ResourceNotFound(f"Requested resource not found: Index: {name} not found")
                existing["provisionedThroughput"] = _throughput_spec(
                    detail.get("ProvisionedThroughput")
                )
            else:
                raise ValidationError(f"Unknown GlobalSecondaryIndexUpdate action: {action}")
        if len(gsis) > tablespec.GSI_MAX:
            raise LimitExceeded(
                f"A table can have at most {tablespec.GSI_MAX} global secondary indexes"
            )
        _prune_unused_definitions(spec)
        changed = True
    return changed


def _prune_unused_definitions(spec: dict[str, Any]) -> None:
    """Drop attribute definitions no key or index uses any more (DynamoDB refuses them)."""
    used = {k["attributeName"] for k in spec["keySchema"]}
    for field in ("globalSecondaryIndexes", "localSecondaryIndexes"):
        for index in spec.get(field, []):
            used.update(k["attributeName"] for k in index["keySchema"])
    spec["attributeDefinitions"] = [
        d for d in spec.get("attributeDefinitions", []) if d["attributeName"] in used
    ]
