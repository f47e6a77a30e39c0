"""What every DynamoDB operation checks the same way: tables, keys, items, options.

Messages follow DynamoDB's wording, so code that matches on them keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubefn_gateway.dynamodb.errors import ResourceNotFound, ValidationError
from kubefn_gateway.dynamodb.tables import Index, Table, TableCatalog
from kubefn_gateway.dynamodb.values import item_size, normalize_item, validate_item

ITEM_SIZE_MAX = 400 * 1024
KEY_HASH_BYTES_MAX = 2048
KEY_RANGE_BYTES_MAX = 1024

LEGACY_PARAMETERS = {
    "Expected": "ConditionExpression",
    "AttributeUpdates": "UpdateExpression",
    "AttributesToGet": "ProjectionExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "ConditionalOperator": "ConditionExpression",
}


def table_name(body: Mapping[str, Any], *, field: str = "TableName") -> str:
    """A TableName parameter (a name or a table ARN), checked as DynamoDB checks it."""
    name = body.get(field)
    if not isinstance(name, str) or not name:
        raise ValidationError(
            f"1 validation error detected: Value null at '{_camel(field)}' failed to satisfy "
            "constraint: Member must not be null"
        )
    if name.startswith("arn:"):
        _, _, resource = name.partition(":table/")
        name = resource.split("/", 1)[0]
    if not 1 <= len(name) <= 1024:
        raise ValidationError(
            f"1 validation error detected: Value '{name[:64]}' at '{_camel(field)}' failed to "
            "satisfy constraint: Member must have length between 1 and 1024"
        )
    return name


def find_table(tables: TableCatalog, namespace: str, name: str) -> Table:
    table = tables.get(f"{namespace}/{name}")
    if table is None:
        raise ResourceNotFound(f"Requested resource not found: Table: {name} not found")
    return table


def find_index(table: Table, name: Any) -> Index | None:
    if name is None:
        return None
    index = table.indexes.get(str(name))
    if index is None:
        raise ValidationError(f"The table does not have the specified index: {name}")
    return index


def refuse_legacy(body: Mapping[str, Any]) -> None:
    for legacy, modern in LEGACY_PARAMETERS.items():
        if legacy in body:
            raise ValidationError(
                f"The legacy parameter {legacy} is not supported here; use {modern} instead"
            )


def check_key(table: Table, key: Any, *, field: str = "Key") -> dict[str, Any]:
    """A primary key: exactly the key schema's attributes, of its types."""
    if not isinstance(key, dict) or not key:
        raise ValidationError(
            f"1 validation error detected: Value null at '{_camel(field)}' failed to satisfy "
            "constraint: Member must not be null"
        )
    validate_item(key, field=field)
    if set(key) != set(table.key.names):
        raise ValidationError("The provided key element does not match the schema")
    for name, expected in _key_types(table):
        (actual,) = key[name]
        if actual != expected:
            raise ValidationError("The provided key element does not match the schema")
        _check_key_value(name, key[name], table)
    return normalize_item(key)


def check_item(table: Table, item: Any, *, field: str = "Item") -> dict[str, Any]:
    """An item to store: valid values, the key present and typed, index keys typed, <= 400 KB."""
    if not isinstance(item, dict):
        raise ValidationError(
            f"1 validation error detected: Value null at '{_camel(field)}' failed to satisfy "
            "constraint: Member must not be null"
        )
    validate_item(item, field=field)
    for name, expected in _key_types(table):
        if name not in item:
            raise ValidationError(
                f"One or more parameter values were invalid: Missing the key {name} in the item"
            )
        (actual,) = item[name]
        if actual != expected:
            raise ValidationError(
                "One or more parameter values were invalid: Type mismatch for key "
                f"{name} expected: {expected} actual: {actual}"
            )
        _check_key_value(name, item[name], table)
    check_index_keys(table, item)
    item = normalize_item(item)
    check_size(item)
    return item


def check_index_keys(table: Table, item: Mapping[str, Any]) -> None:
    for index in table.indexes.values():
        types = (index.key.hash_type, index.key.range_type)
        for name, expected in zip(index.key.names, types, strict=False):
            if name not in item:
                continue
            (actual,) = item[name]
            if actual != expected:
                raise ValidationError(
                    "One or more parameter values were invalid: Type mismatch for Index Key "
                    f"{name} Expected: {expected} Actual: {actual} IndexName: {index.name}"
                )
            value = item[name][actual]
            if value == "":
                raise ValidationError(
                    "One or more parameter values are not valid. A value specified for a "
                    "secondary index key is not supported. The AttributeValue for a key "
                    f"attribute cannot contain an empty string value. IndexName: {index.name}, "
                    f"IndexKey: {name}"
                )


def check_size(item: Mapping[str, Any]) -> int:
    size = item_size(dict(item))
    if size > ITEM_SIZE_MAX:
        raise ValidationError("Item size has exceeded the maximum allowed size")
    return size


def choice(body: Mapping[str, Any], field: str, allowed: Iterable[str], default: str) -> str:
    value = body.get(field, default)
    options = tuple(allowed)
    if value not in options:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{_camel(field)}' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(options)}]"
        )
    return str(value)


def positive_int(body: Mapping[str, Any], field: str, *, maximum: int | None = None) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{_camel(field)}' failed to "
            "satisfy constraint: Member must have value greater than or equal to 1"
        )
    if maximum is not None and value > maximum:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{_camel(field)}' failed to "
            f"satisfy constraint: Member must have value less than or equal to {maximum}"
        )
    return value


def _key_types(table: Table) -> list[tuple[str, str]]:
    types = [(table.key.hash_key, table.key.hash_type)]
    if table.key.range_key is not None and table.key.range_type is not None:
        types.append((table.key.range_key, table.key.range_type))
    return types


def _check_key_value(name: str, value: Mapping[str, Any], table: Table) -> None:
    (kind,) = value
    raw = value[kind]
    if kind in ("S", "B") and raw == "":
        raise ValidationError(
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            f"cannot contain an empty {'string' if kind == 'S' else 'binary'} value. Key: {name}"
        )
    limit = KEY_HASH_BYTES_MAX if name == table.key.hash_key else KEY_RANGE_BYTES_MAX
    size = item_size({"": dict(value)})
    if size > limit:
        role = "partition" if name == table.key.hash_key else "sort"
        raise ValidationError(
            f"One or more parameter values were invalid: Size of {role} key {name} "
            f"is {size} bytes, above the limit of {limit} bytes"
        )


def _camel(field: str) -> str:
    return field[:1].lower() + field[1:]
