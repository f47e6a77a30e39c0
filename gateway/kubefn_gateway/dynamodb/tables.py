"""A published Table as the data plane uses it: keys, indexes, stream, TTL.

Built once per revision from the compiled spec (kubefn/table.py), so request
handling never re-reads the spec's nested lists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from kubefn import config, tabledata

log = logging.getLogger(__name__)

KIND = "Table"


@dataclass(frozen=True)
class KeySchema:
    hash_key: str
    hash_type: str
    range_key: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    def describe(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key is not None:
            schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return schema


@dataclass(frozen=True)
class Index:
    name: str
    local: bool
    key: KeySchema
    projection_type: str  # ALL | KEYS_ONLY | INCLUDE
    non_key_attributes: tuple[str, ...]
    provisioned: tuple[int, int] | None


@dataclass(frozen=True)
class Table:
    namespace: str
    name: str
    revision: int
    spec: Mapping[str, Any]
    key: KeySchema
    indexes: Mapping[str, Index]
    attribute_types: Mapping[str, str]

    @property
    def id(self) -> str:
        return tabledata.table_id(self.namespace, self.name)

    @property
    def stream_view_type(self) -> str | None:
        stream = self.spec.get("stream") or {}
        return str(stream["viewType"]) if stream.get("enabled") else None

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self.spec.get("ttl") or {}
        name = ttl.get("attributeName")
        return str(name) if name else None

    @property
    def provisioned(self) -> tuple[int, int] | None:
        """(read, write) capacity units per second, or None for on-demand."""
        if self.spec.get("billingMode") != "PROVISIONED":
            return None
        throughput = self.spec["provisionedThroughput"]
        return int(throughput["readCapacityUnits"]), int(throughput["writeCapacityUnits"])

    @property
    def triggers(self) -> list[Mapping[str, Any]]:
        return list(self.spec.get("triggers") or [])

    def arn(self, *, region: str, account_id: str) -> str:
        return f"arn:aws:dynamodb:{region}:{account_id}:table/{self.name}"

    def projected_names(self, index: Index) -> frozenset[str] | None:
        """Attribute names an index keeps, or None for all of them."""
        if index.projection_type == "ALL":
            return None
        names = {*self.key.names, *index.key.names}
        if index.projection_type == "INCLUDE":
            names.update(index.non_key_attributes)
        return frozenset(names)

    @classmethod
    def from_published(cls, published: config.Published) -> Table:
        spec = published.spec
        types = {
            d["attributeName"]: d["attributeType"] for d in spec.get("attributeDefinitions", [])
        }
        for element in spec["keySchema"]:
            types[element["attributeName"]] = element["attributeType"]

        def key_schema(elements: list[Mapping[str, Any]]) -> KeySchema:
            hash_key = next(e["attributeName"] for e in elements if e["keyType"] == "HASH")
            range_key = next(
                (e["attributeName"] for e in elements if e["keyType"] == "RANGE"), None
            )
            return KeySchema(
                hash_key=hash_key,
                hash_type=types[hash_key],
                range_key=range_key,
                range_type=types[range_key] if range_key else None,
            )

        indexes: dict[str, Index] = {}
        for local, field in ((False, "globalSecondaryIndexes"), (True, "localSecondaryIndexes")):
            for raw in spec.get(field) or []:
                projection = raw.get("projection") or {"projectionType": "ALL"}
                throughput = raw.get("provisionedThroughput")
                indexes[raw["indexName"]] = Index(
                    name=raw["indexName"],
                    local=local,
                    key=key_schema(raw["keySchema"]),
                    projection_type=projection["projectionType"],
                    non_key_attributes=tuple(projection.get("nonKeyAttributes") or ()),
                    provisioned=(
                        (
                            int(throughput["readCapacityUnits"]),
                            int(throughput["writeCapacityUnits"]),
                        )
                        if throughput
                        else None
                    ),
                )
        return cls(
            namespace=published.namespace,
            name=published.name,
            revision=published.revision,
            spec=spec,
            key=key_schema(spec["keySchema"]),
            indexes=indexes,
            attribute_types=types,
        )


class TableCatalog:
    """The tables this gateway serves, following the published config."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._tables: dict[str, Table] = {}
        self._created: dict[str, float] = {}
        self.changed = asyncio.Event()

    def get(self, key: str) -> Table | None:
        return self._tables.get(key)

    def all(self) -> list[Table]:
        return [self._tables[key] for key in sorted(self._tables)]

    def created(self, key: str) -> float:
        return self._created.get(key, time.time())

    async def apply(self, snapshot: config.Snapshot) -> None:
        published = snapshot.resources.get(KIND, {})
        for key, item in published.items():
            current = self._tables.get(key)
            if current is None or current.revision < item.revision:
                await self.put(item)
        for key in [k for k in self._tables if k not in published]:
            del self._tables[key]
            log.info("no longer serving table %s", key)
            self.changed.set()

    async def forget(self, key: str) -> None:
        """Stop serving a table now (DeleteTable does not wait for the follower)."""
        if self._tables.pop(key, None) is not None:
            self._created.pop(key, None)
            self.changed.set()

    async def put(self, published: config.Published) -> Table:
        """Serve a table revision now (CreateTable does not wait for the follower)."""
        table = Table.from_published(published)
        current = self._tables.get(table.id)
        if current is not None and current.revision >= table.revision:
            return current
        self._created[table.id] = await tabledata.sync_stream(
            self._redis,
            table.id,
            revision=table.revision,
            view_type=table.stream_view_type,
            key_schema=table.key.describe(),
            now=time.time(),
        )
        self._tables[table.id] = table
        log.info("serving table %s revision %d", table.id, table.revision)
        self.changed.set()
        return table
