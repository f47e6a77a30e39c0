"""A Map state's iterations: their inputs, how many run at once, how many may fail.

Items come from ItemsPath (default `$`) of the Map state's input. Each item goes
through ItemSelector (or the older Parameters) with `$$.Map.Item` set to its
index and value, then ItemBatcher groups the selected items into batches of
`{"BatchInput": ..., "Items": [...]}`, as a Distributed Map hands them to its
child executions. Reading items from S3 (ItemReader) is not supported: such a
state fails with States.Runtime instead of running on other items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubefn.asl import jsonpath
from kubefn.asl.errors import RUNTIME, StatesError, encoded
from kubefn.asl.maps import BATCH_BYTES_MAX
from kubefn.asl.payload import apply_template
from kubefn.asl.waits import read_field

COUNT_MAX = 2**31 - 1
"""The largest count a *Path field may give (a 32-bit integer, as AWS takes it)."""


def iteration_inputs(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> list[Any]:
    """The input of every iteration, in order; `data` is the Map state's effective input."""
    if "ItemReader" in state:
        raise StatesError(
            RUNTIME, "ItemReader is not supported: give the Map state its items with ItemsPath"
        )
    path = state.get("ItemsPath", "$")
    items = read_field(path, data, context=context, variables=variables, field="ItemsPath")
    if not isinstance(items, list):
        raise StatesError(
            RUNTIME,
            f"The ItemsPath '{path}' must reference an array, but found {encoded(items)}",
        )
    selector_field = "ItemSelector" if "ItemSelector" in state else "Parameters"
    if selector_field in state:
        selected = [
            apply_template(
                state[selector_field],
                data,
                context=item_context(context, index=index, value=item),
                field=selector_field,
                variables=variables,
            )
            for index, item in enumerate(items)
        ]
    else:
        selected = [jsonpath.copied(item) for item in items]
    if "ItemBatcher" not in state:
        return selected
    return _batches(state["ItemBatcher"], selected, data, context=context, variables=variables)


def item_context(context: Mapping[str, Any], *, index: int, value: Any) -> dict[str, Any]:
    """The context object seen while selecting one item: `Map.Item.Index` and `.Value`."""
    return {**context, "Map": {"Item": {"Index": index, "Value": value}}}


def max_concurrency(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> int:
    """MaxConcurrency or MaxConcurrencyPath: how many iterations run at once; 0 is no limit."""
    found = _count(state, "MaxConcurrency", data, context=context, variables=variables, low=0)
    return 0 if found is None else found


def tolerance_exceeded(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
    failed: int,
    total: int,
) -> bool:
    """Whether `failed` of `total` iterations is more than the Map state tolerates.

    ToleratedFailureCount is exceeded by more failures than it names, and
    ToleratedFailurePercentage by a larger share; either exceeded fails the Map.
    With neither given, no failure is tolerated.
    """
    count = _count(
        state, "ToleratedFailureCount", data, context=context, variables=variables, low=0
    )
    percentage = _percentage(state, data, context=context, variables=variables)
    if count is None and percentage is None:
        return failed > 0
    if count is not None and failed > count:
        return True
    return percentage is not None and total > 0 and failed * 100 > percentage * total


def _batches(
    batcher: Mapping[str, Any],
    items: list[Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """Items grouped in order: as many per batch as both limits allow, at least one."""
    per_batch = _count(
        batcher, "MaxItemsPerBatch", data, context=context, variables=variables, low=1
    )
    max_bytes = _count(
        batcher,
        "MaxInputBytesPerBatch",
        data,
        context=context,
        variables=variables,
        low=1,
        high=BATCH_BYTES_MAX,
    )
    limit = BATCH_BYTES_MAX if max_bytes is None else max_bytes
    shell: dict[str, Any] = {}
    if "BatchInput" in batcher:
        shell["BatchInput"] = apply_template(
            batcher["BatchInput"],
            data,
            context=context,
            field="ItemBatcher.BatchInput",
            variables=variables,
        )
    empty_size = _size({**shell, "Items": []})
    batches: list[dict[str, Any]] = []
    current: list[Any] = []
    size = empty_size
    for index, item in enumerate(items):
        item_size = _size(item)
        grown = size + item_size + (1 if current else 0)
        full = per_batch is not None and len(current) >= per_batch
        if current and (full or grown > limit):
            batches.append({**shell, "Items": current})
            current, grown = [], empty_size + item_size
        if grown > limit:
            raise StatesError(
                RUNTIME,
                f"Item {index} takes {item_size} bytes, so no batch that holds it stays within "
                f"MaxInputBytesPerBatch ({limit} bytes)",
            )
        current.append(item)
        size = grown
    if current:
        batches.append({**shell, "Items": current})
    return batches


def _size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON, the way payload sizes are counted."""
    return len(encoded(value).encode("utf-8"))


def _count(
    where: Mapping[str, Any],
    field: str,
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
    low: int,
    high: int = COUNT_MAX,
) -> int | None:
    """An integer field or its *Path form (checked at run time); None when neither is given."""
    if field in where:
        return int(where[field])
    path_field = f"{field}Path"
    if path_field not in where:
        return None
    path = where[path_field]
    value = read_field(path, data, context=context, variables=variables, field=path_field)
    if not (isinstance(value, int) and not isinstance(value, bool)) or not low <= value <= high:
        raise StatesError(
            RUNTIME,
            f"The {path_field} '{path}' must reference an integer from {low} to {high}, "
            f"but found {encoded(value)}",
        )
    return value


def _percentage(
    state: Mapping[str, Any],
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
) -> float | None:
    field = "ToleratedFailurePercentage"
    if field in state:
        return float(state[field])
    path_field = f"{field}Path"
    if path_field not in state:
        return None
    path = state[path_field]
    value = read_field(path, data, context=context, variables=variables, field=path_field)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not 0 <= value <= 100:
        raise StatesError(
            RUNTIME,
            f"The {path_field} '{path}' must reference a number from 0 to 100, "
            f"but found {encoded(value)}",
        )
    return float(value)
