"""DynamoDB's API (2012-08-10) on the gateway: every operation, under one target prefix."""

from __future__ import annotations

import redis.asyncio as aioredis

from kubefn_gateway.awsjson import JsonProtocol
from kubefn_gateway.dynamodb.batch_api import BatchApi
from kubefn_gateway.dynamodb.capacity import Meter
from kubefn_gateway.dynamodb.errors import InternalServerError
from kubefn_gateway.dynamodb.items_api import ItemsApi
from kubefn_gateway.dynamodb.reads_api import ReadsApi
from kubefn_gateway.dynamodb.store import Store
from kubefn_gateway.dynamodb.tables import TableCatalog
from kubefn_gateway.dynamodb.tables_api import TablesApi
from kubefn_gateway.settings import GatewaySettings

TARGET_PREFIX = "DynamoDB_20120810"


def register(
    protocol: JsonProtocol,
    *,
    settings: GatewaySettings,
    redis: aioredis.Redis,
    tables: TableCatalog,
) -> Store:
    """Serve DynamoDB's operations through `protocol`; returns the item store they share."""
    store = Store(redis, collection_bytes_max=settings.item_collection_bytes_max)
    meter = Meter(redis, burst_seconds=settings.capacity_burst_seconds)
    namespace = settings.namespace
    operations = {
        **TablesApi(
            tables=tables,
            store=store,
            namespace=namespace,
            redis=redis,
            region=settings.region,
            account_id=settings.account_id,
        ).operations(),
        **ItemsApi(tables=tables, store=store, namespace=namespace, meter=meter).operations(),
        **ReadsApi(tables=tables, store=store, namespace=namespace, meter=meter).operations(),
        **BatchApi(tables=tables, store=store, namespace=namespace, meter=meter).operations(),
    }
    protocol.register(TARGET_PREFIX, operations, internal_error=InternalServerError)
    return store
