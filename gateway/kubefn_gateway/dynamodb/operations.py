"""What the item-level operations share: the tables they serve, the store and the meter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kubefn_gateway.dynamodb import capacity, requests
from kubefn_gateway.dynamodb.store import Store
from kubefn_gateway.dynamodb.tables import Table, TableCatalog

Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class TableOperations:
    """Base of the item, read and batch APIs: operations on the tables of one namespace."""

    def __init__(
        self, *, tables: TableCatalog, store: Store, meter: capacity.Meter, namespace: str
    ) -> None:
        self._tables = tables
        self._store = store
        self._meter = meter
        self._namespace = namespace

    def operations(self) -> dict[str, Operation]:
        raise NotImplementedError

    def table(self, name: Any) -> Table:
        """The served table a TableName (or table ARN) means, or ResourceNotFound."""
        return requests.find_table(
            self._tables, self._namespace, requests.table_name({"TableName": name})
        )
