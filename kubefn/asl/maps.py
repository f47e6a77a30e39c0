"""The Map state's own fields: concurrency, tolerated failures, batching, reader, writer.

The item processor's states are a sub-machine the caller checks; here only its
ProcessorConfig and the fields around it.
"""

from __future__ import annotations

from typing import Any

from kubefn.asl.fields import (
    exclusive,
    integer,
    is_jsonata,
    join,
    number,
    one_of,
    string,
    template,
    unknown,
)
from kubefn.schema import Problem, show

BATCH_BYTES_MAX = 262144
"""MaxInputBytesPerBatch's limit: 256 KiB, the state payload limit."""

_BATCHER = (
    "MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath", "BatchInput",
)  # fmt: skip


def processor_fields(processor: Any, path: str) -> list[Problem]:
    """ProcessorConfig: Mode INLINE|DISTRIBUTED, ExecutionType STANDARD|EXPRESS."""
    if not isinstance(processor, dict) or "ProcessorConfig" not in processor:
        return []
    config, where = processor["ProcessorConfig"], join(path, "ProcessorConfig")
    if not isinstance(config, dict):
        return [Problem(where, f"must be an object (got {show(config)})")]
    found = unknown(config, where, ("Mode", "ExecutionType"), "ProcessorConfig")
    if "Mode" in config:
        found += one_of(config["Mode"], join(where, "Mode"), ("INLINE", "DISTRIBUTED"))
    if "ExecutionType" in config:
        found += one_of(
            config["ExecutionType"], join(where, "ExecutionType"), ("STANDARD", "EXPRESS")
        )
        if config.get("Mode", "INLINE") == "INLINE":
            found.append(Problem(join(where, "ExecutionType"), "is only for Mode DISTRIBUTED"))
    return found


def check_map(state: dict[str, Any], path: str, *, jsonata: bool) -> list[Problem]:
    """Every problem of a Map state's fields other than its processor's states."""
    found: list[Problem] = []
    for a, b in (
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
        ("ItemSelector", "Parameters"),
    ):
        found += exclusive(state, path, (a, b))
    for name in ("MaxConcurrency", "ToleratedFailureCount"):
        if name in state and not (jsonata and is_jsonata(state[name])):
            found += integer(state[name], join(path, name), low=0)
    name = "ToleratedFailurePercentage"
    if name in state and not (jsonata and is_jsonata(state[name])):
        found += number(state[name], join(path, name), low=0, high=100)
    if "Label" in state:
        found += string(state["Label"], join(path, "Label"))
        if isinstance(state["Label"], str) and len(state["Label"]) > 40:
            found.append(
                Problem(
                    join(path, "Label"),
                    f"must be at most 40 characters (got {len(state['Label'])})",
                )
            )
    if "ItemBatcher" in state:
        found += _batcher(state["ItemBatcher"], join(path, "ItemBatcher"))
    for name in ("ItemReader", "ResultWriter"):
        if name in state:
            found += _resource_part(state[name], join(path, name))
    return found


def _batcher(batcher: Any, path: str) -> list[Problem]:
    if not isinstance(batcher, dict):
        return [Problem(path, f"must be an object (got {show(batcher)})")]
    found = unknown(batcher, path, _BATCHER, "ItemBatcher")
    found += exclusive(batcher, path, ("MaxItemsPerBatch", "MaxItemsPerBatchPath"))
    found += exclusive(batcher, path, ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"))
    if not any(name in batcher for name in _BATCHER[:4]):
        found.append(
            Problem(
                path, "must have MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)"
            )
        )
    if "MaxItemsPerBatch" in batcher:
        found += integer(batcher["MaxItemsPerBatch"], join(path, "MaxItemsPerBatch"), low=1)
    if "MaxInputBytesPerBatch" in batcher:
        found += integer(
            batcher["MaxInputBytesPerBatch"],
            join(path, "MaxInputBytesPerBatch"),
            low=1,
            high=BATCH_BYTES_MAX,
        )
    if "BatchInput" in batcher:
        if not isinstance(batcher["BatchInput"], dict):
            found.append(
                Problem(
                    join(path, "BatchInput"),
                    f"must be an object (got {show(batcher['BatchInput'])})",
                )
            )
        found += template(batcher["BatchInput"], join(path, "BatchInput"))
    return found


def _resource_part(part: Any, path: str) -> list[Problem]:
    """ItemReader / ResultWriter: a Resource with its Parameters (opaque here)."""
    if not isinstance(part, dict):
        return [Problem(path, f"must be an object (got {show(part)})")]
    allowed = ("Resource", "Parameters", "Arguments", "ReaderConfig", "WriterConfig")
    found = unknown(part, path, allowed, path.rsplit(".", 1)[-1])
    if "Resource" not in part:
        found.append(Problem(path, "must have Resource"))
    else:
        found += string(part["Resource"], join(path, "Resource"))
    if "Parameters" in part:
        found += template(part["Parameters"], join(path, "Parameters"))
    return found
