"""Map iterations: items, selectors with $$.Map.Item, batching by count and bytes,
concurrency and tolerated failures at their boundaries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubefn.asl import map_items
from kubefn.asl.errors import RUNTIME, StatesError

CONTEXT = {"Execution": {"Id": "arn:exec", "Name": "run-1"}, "State": {"Name": "Each"}}
DATA = {
    "orders": [{"id": "a", "qty": 1}, {"id": "b", "qty": 2}, {"id": "c", "qty": 3}],
    "customer": "ann",
    "letters": ["x", "y", "z", "w", "v"],
    "limits": {"items": 2, "bytes": 40, "concurrency": 4, "count": 1, "pct": 50},
}


def map_state(**fields: Any) -> dict[str, Any]:
    processor = {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}
    return {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}


def inputs(data: Any = DATA, **fields: Any) -> list[Any]:
    return map_items.iteration_inputs(map_state(**fields), data, context=CONTEXT)


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def test_items_path_default_is_the_input() -> None:
    assert inputs([1, "two", {"three": 3}, None]) == [1, "two", {"three": 3}, None]


def test_items_path_picks_the_array() -> None:
    assert inputs(ItemsPath="$.letters") == ["x", "y", "z", "w", "v"]


def test_empty_array_gives_no_iterations() -> None:
    assert inputs({"none": []}, ItemsPath="$.none") == []


def test_inputs_are_copies() -> None:
    data = {"items": [{"n": 1}]}
    result = inputs(data, ItemsPath="$.items")
    result[0]["n"] = 2
    assert data == {"items": [{"n": 1}]}


@pytest.mark.parametrize(
    ("data", "path", "named"),
    [
        pytest.param({"items": {"a": 1}}, "$.items", '{"a":1}', id="object"),
        pytest.param({"items": "abc"}, "$.items", '"abc"', id="string"),
        pytest.param({"items": None}, "$.items", "null", id="null"),
        pytest.param({"a": 1}, "$", '{"a":1}', id="input-not-array"),
        pytest.param({}, "$.items", "could not be found", id="missing"),
    ],
)
def test_items_path_must_be_an_array(data: Any, path: str, named: str) -> None:
    with pytest.raises(StatesError) as raised:
        inputs(data, ItemsPath=path)
    assert raised.value.error == RUNTIME
    assert "ItemsPath" in raised.value.cause and named in raised.value.cause


@pytest.mark.parametrize("field", ["ItemSelector", "Parameters"])
def test_selector_sees_item_index_and_state_input(field: str) -> None:
    selector = {
        "index.$": "$$.Map.Item.Index",
        "order.$": "$$.Map.Item.Value.id",
        "who.$": "$.customer",
        "run.$": "$$.Execution.Name",
        "fixed": {"kind": "order"},
    }
    assert inputs(ItemsPath="$.orders", **{field: selector}) == [
        {"index": i, "order": o, "who": "ann", "run": "run-1", "fixed": {"kind": "order"}}
        for i, o in enumerate("abc")
    ]


def test_selector_whole_item_value() -> None:
    assert inputs(ItemsPath="$.letters", ItemSelector={"v.$": "$$.Map.Item.Value"})[:2] == [
        {"v": "x"},
        {"v": "y"},
    ]


def test_selector_does_not_leak_map_into_the_callers_context() -> None:
    inputs(ItemsPath="$.letters", ItemSelector={"v.$": "$$.Map.Item.Value"})
    assert "Map" not in CONTEXT


@pytest.mark.parametrize(
    ("batcher", "expected"),
    [
        pytest.param(
            {"MaxItemsPerBatch": 2},
            [{"Items": ["x", "y"]}, {"Items": ["z", "w"]}, {"Items": ["v"]}],
            id="by-count-with-remainder",
        ),
        pytest.param(
            {"MaxItemsPerBatch": 5}, [{"Items": ["x", "y", "z", "w", "v"]}], id="count-exact"
        ),
        pytest.param(
            {"MaxItemsPerBatch": 1},
            [{"Items": [letter]} for letter in "xyzwv"],
            id="count-one",
        ),
        pytest.param(
            {"MaxItemsPerBatch": 100}, [{"Items": ["x", "y", "z", "w", "v"]}], id="count-large"
        ),
        pytest.param(
            {"MaxItemsPerBatchPath": "$.limits.items"},
            [{"Items": ["x", "y"]}, {"Items": ["z", "w"]}, {"Items": ["v"]}],
            id="count-from-path",
        ),
        pytest.param(
            {"MaxItemsPerBatch": 3, "BatchInput": {"who.$": "$.customer", "fixed": 1}},
            [
                {"BatchInput": {"who": "ann", "fixed": 1}, "Items": ["x", "y", "z"]},
                {"BatchInput": {"who": "ann", "fixed": 1}, "Items": ["w", "v"]},
            ],
            id="batch-input-evaluated",
        ),
        pytest.param(
            # {"Items":["x","y"]} is 19 bytes; a third item would make 23.
            {"MaxInputBytesPerBatch": 19},
            [{"Items": ["x", "y"]}, {"Items": ["z", "w"]}, {"Items": ["v"]}],
            id="by-bytes-exact-fit",
        ),
        pytest.param(
            {"MaxInputBytesPerBatch": 18},
            [{"Items": [letter]} for letter in "xyzwv"],
            id="by-bytes-one-short",
        ),
        pytest.param(
            {"MaxInputBytesPerBatch": 23},
            [{"Items": ["x", "y", "z"]}, {"Items": ["w", "v"]}],
            id="by-bytes-three",
        ),
        pytest.param(
            {"MaxInputBytesPerBatch": 23, "MaxItemsPerBatch": 2},
            [{"Items": ["x", "y"]}, {"Items": ["z", "w"]}, {"Items": ["v"]}],
            id="count-tighter-than-bytes",
        ),
        pytest.param(
            {"MaxInputBytesPerBatch": 19, "MaxItemsPerBatch": 4},
            [{"Items": ["x", "y"]}, {"Items": ["z", "w"]}, {"Items": ["v"]}],
            id="bytes-tighter-than-count",
        ),
    ],
)
def test_batches(batcher: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert inputs(ItemsPath="$.letters", ItemBatcher=batcher) == expected


def test_byte_limit_counts_batch_input_and_utf8() -> None:
    data = {"words": ["é", "é", "é"]}
    two = {"BatchInput": {"k": "v"}, "Items": ["é", "é"]}
    batcher = {"MaxInputBytesPerBatch": size(two), "BatchInput": {"k": "v"}}
    result = inputs(data, ItemsPath="$.words", ItemBatcher=batcher)
    assert result == [two, {"BatchInput": {"k": "v"}, "Items": ["é"]}]
    assert all(size(batch) <= size(two) for batch in result)


def test_batches_hold_selected_items() -> None:
    result = inputs(
        ItemsPath="$.orders",
        ItemSelector={"id.$": "$$.Map.Item.Value.id"},
        ItemBatcher={"MaxItemsPerBatch": 2},
    )
    assert result == [{"Items": [{"id": "a"}, {"id": "b"}]}, {"Items": [{"id": "c"}]}]


def test_batch_bytes_default_to_the_payload_limit() -> None:
    big = "x" * 100_000
    result = inputs({"blobs": [big, big, big]}, ItemsPath="$.blobs", ItemBatcher={"BatchInput": {}})
    assert [len(batch["Items"]) for batch in result] == [2, 1]
    assert all(size(batch) <= 262144 for batch in result)


def test_no_batches_for_no_items() -> None:
    assert inputs({"none": []}, ItemsPath="$.none", ItemBatcher={"MaxItemsPerBatch": 2}) == []


def test_item_larger_than_the_byte_limit_is_refused() -> None:
    with pytest.raises(StatesError) as raised:
        inputs(
            {"words": ["ok", "far-too-long-for-the-batch"]},
            ItemsPath="$.words",
            ItemBatcher={"MaxInputBytesPerBatch": 20},
        )
    assert raised.value.error == RUNTIME
    assert "Item 1" in raised.value.cause and "MaxInputBytesPerBatch" in raised.value.cause


@pytest.mark.parametrize(
    ("batcher", "data", "named"),
    [
        pytest.param({"MaxItemsPerBatchPath": "$.n"}, {"n": 0}, "MaxItemsPerBatchPath", id="zero"),
        pytest.param({"MaxItemsPerBatchPath": "$.n"}, {"n": 1.5}, "1.5", id="fraction"),
        pytest.param({"MaxItemsPerBatchPath": "$.n"}, {}, "could not be found", id="missing"),
        pytest.param(
            {"MaxInputBytesPerBatchPath": "$.n"}, {"n": 262145}, "262145", id="bytes-over-256k"
        ),
        pytest.param(
            {"MaxInputBytesPerBatchPath": "$.n"}, {"n": "100"}, '"100"', id="bytes-string"
        ),
    ],
)
def test_batcher_bad_paths(batcher: dict[str, Any], data: dict[str, Any], named: str) -> None:
    with pytest.raises(StatesError) as raised:
        inputs({**data, "items": [1, 2]}, ItemsPath="$.items", ItemBatcher=batcher)
    assert raised.value.error == RUNTIME
    assert named in raised.value.cause


def test_item_reader_is_refused_cleanly() -> None:
    reader = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}}
    with pytest.raises(StatesError) as raised:
        inputs(ItemReader=reader, ItemProcessor={"ProcessorConfig": {"Mode": "DISTRIBUTED"}})
    assert raised.value.error == RUNTIME
    assert "ItemReader" in raised.value.cause


def test_distributed_mode_with_inline_items_runs_like_inline() -> None:
    state = map_state(ItemsPath="$.letters", Label="Each", ToleratedFailurePercentage=10)
    state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert map_items.iteration_inputs(state, DATA, context=CONTEXT) == DATA["letters"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, 0, id="default-unlimited"),
        pytest.param({"MaxConcurrency": 0}, 0, id="zero-unlimited"),
        pytest.param({"MaxConcurrency": 1}, 1, id="one-at-a-time"),
        pytest.param({"MaxConcurrency": 50}, 50, id="fifty"),
        pytest.param({"MaxConcurrencyPath": "$.limits.concurrency"}, 4, id="from-path"),
        pytest.param({"MaxConcurrencyPath": "$.zero"}, 0, id="path-zero"),
    ],
)
def test_max_concurrency(fields: dict[str, Any], expected: int) -> None:
    data = {**DATA, "zero": 0}
    assert map_items.max_concurrency(map_state(**fields), data, context=CONTEXT) == expected


@pytest.mark.parametrize(
    ("data", "named"),
    [
        pytest.param({"c": -1}, "-1", id="negative"),
        pytest.param({"c": "4"}, '"4"', id="string"),
        pytest.param({"c": True}, "true", id="boolean"),
        pytest.param({}, "could not be found", id="missing"),
    ],
)
def test_max_concurrency_bad_path(data: dict[str, Any], named: str) -> None:
    with pytest.raises(StatesError) as raised:
        map_items.max_concurrency(map_state(MaxConcurrencyPath="$.c"), data, context=CONTEXT)
    assert raised.value.error == RUNTIME
    assert "MaxConcurrencyPath" in raised.value.cause and named in raised.value.cause


@pytest.mark.parametrize(
    ("fields", "failed", "total", "expected"),
    [
        pytest.param({}, 0, 10, False, id="default-no-failure"),
        pytest.param({}, 1, 10, True, id="default-one-failure"),
        pytest.param({"ToleratedFailureCount": 0}, 1, 10, True, id="count-0-one-failure"),
        pytest.param({"ToleratedFailureCount": 2}, 2, 10, False, id="count-at-boundary"),
        pytest.param({"ToleratedFailureCount": 2}, 3, 10, True, id="count-past-boundary"),
        pytest.param({"ToleratedFailurePercentage": 20}, 2, 10, False, id="pct-at-boundary"),
        pytest.param({"ToleratedFailurePercentage": 20}, 3, 10, True, id="pct-past-boundary"),
        pytest.param({"ToleratedFailurePercentage": 0}, 1, 1000, True, id="pct-0"),
        pytest.param({"ToleratedFailurePercentage": 100}, 10, 10, False, id="pct-100-all-fail"),
        pytest.param({"ToleratedFailurePercentage": 33.3}, 1, 3, True, id="pct-fraction-over"),
        pytest.param({"ToleratedFailurePercentage": 33.4}, 1, 3, False, id="pct-fraction-under"),
        pytest.param({"ToleratedFailurePercentage": 50}, 0, 0, False, id="pct-no-items"),
        pytest.param(
            {"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10},
            2,
            10,
            True,
            id="both-percentage-exceeded",
        ),
        pytest.param(
            {"ToleratedFailureCount": 1, "ToleratedFailurePercentage": 50},
            2,
            10,
            True,
            id="both-count-exceeded",
        ),
        pytest.param(
            {"ToleratedFailureCount": 2, "ToleratedFailurePercentage": 20},
            2,
            10,
            False,
            id="both-at-boundary",
        ),
        pytest.param(
            {"ToleratedFailureCountPath": "$.limits.count"}, 1, 10, False, id="count-path-at"
        ),
        pytest.param(
            {"ToleratedFailureCountPath": "$.limits.count"}, 2, 10, True, id="count-path-past"
        ),
        pytest.param(
            {"ToleratedFailurePercentagePath": "$.limits.pct"}, 5, 10, False, id="pct-path-at"
        ),
        pytest.param(
            {"ToleratedFailurePercentagePath": "$.limits.pct"}, 6, 10, True, id="pct-path-past"
        ),
    ],
)
def test_tolerance_exceeded(
    fields: dict[str, Any], failed: int, total: int, expected: bool
) -> None:
    state = map_state(**fields)
    result = map_items.tolerance_exceeded(state, DATA, context=CONTEXT, failed=failed, total=total)
    assert result is expected


@pytest.mark.parametrize(
    ("fields", "data", "named"),
    [
        pytest.param({"ToleratedFailureCountPath": "$.v"}, {"v": -1}, "-1", id="count-negative"),
        pytest.param({"ToleratedFailureCountPath": "$.v"}, {"v": 0.5}, "0.5", id="count-fraction"),
        pytest.param(
            {"ToleratedFailurePercentagePath": "$.v"}, {"v": 101}, "101", id="pct-over-100"
        ),
        pytest.param(
            {"ToleratedFailurePercentagePath": "$.v"}, {"v": "50"}, '"50"', id="pct-string"
        ),
        pytest.param(
            {"ToleratedFailurePercentagePath": "$.v"}, {}, "could not be found", id="pct-missing"
        ),
    ],
)
def test_tolerance_bad_paths(fields: dict[str, Any], data: dict[str, Any], named: str) -> None:
    with pytest.raises(StatesError) as raised:
        map_items.tolerance_exceeded(map_state(**fields), data, context=CONTEXT, failed=1, total=2)
    assert raised.value.error == RUNTIME
    assert named in raised.value.cause
