"""Where executions live in Redis.

Executions are spread over a fixed number of shards; every key of an execution
and its shard's ready queue carry the shard's hash tag, so each commit is one
Lua script on one slot (on Redis Cluster too). Per shard:

- `...:ready` sorted set: `<execution id>|<run id>` scored by when the run is
  next due (ms); a claimed run's score is pushed a lease ahead, so a replica
  that dies mid-step simply lets it come due again;
- `...:x:<execution id>` hash: the execution (status, input, output, definition...);
- `...:x:<execution id>:h` list: the history events (JSON, id = position + 1);
- `...:x:<execution id>:r` hash: the runs (`<run id>` -> record) and their
  fields (`seq:`, `last:`, `tok:`, `cb:`, `hb:`...), fork counters and results.

An execution's id is `<machine key>:<name>`, so its name is unique per machine
by construction. A machine's executions are listed from a sorted set by start
time under the machine's own tag.
"""

from __future__ import annotations

import binascii
from typing import NamedTuple

SHARDS = 8
"""Fixed for the life of an installation: an execution's shard is derived from its id."""

PREFIX = "kubefn:sfn"
RUN_SEPARATOR = "|"
TIMEOUT_RUN = "!timeout"
"""The pseudo-run whose due time is the execution's own TimeoutSeconds."""


class ExecutionKeys(NamedTuple):
    meta: str
    history: str
    runs: str
    ready: str


def shard_of(execution_id: str) -> int:
    return binascii.crc32(execution_id.encode()) % SHARDS


def ready_key(shard: int) -> str:
    return f"{PREFIX}:{{s{shard}}}:ready"


def execution_keys(execution_id: str) -> ExecutionKeys:
    shard = shard_of(execution_id)
    base = f"{PREFIX}:{{s{shard}}}:x:{execution_id}"
    return ExecutionKeys(meta=base, history=f"{base}:h", runs=f"{base}:r", ready=ready_key(shard))


def listing_key(machine_key: str) -> str:
    return f"{PREFIX}:{{m:{machine_key}}}:executions"


def execution_id(machine_key: str, name: str) -> str:
    return f"{machine_key}:{name}"


def member(execution: str, run_id: str) -> str:
    return f"{execution}{RUN_SEPARATOR}{run_id}"


def split_member(text: str) -> tuple[str, str]:
    execution, _, run_id = text.rpartition(RUN_SEPARATOR)
    return execution, run_id
