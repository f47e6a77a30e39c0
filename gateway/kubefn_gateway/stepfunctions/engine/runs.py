"""A run's record: where one thread of an execution stands, as stored between steps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

TOP = "0"
"""The id of an execution's top-level run; a child's id is `<parent>/<index>`."""

Scope = tuple[tuple[str, int], ...]
"""Where a run's states live: () for the definition, then (state name, branch) per level."""


CONTINUE, NOW, PARK, END = "continue", "now", "park", "end"
"""What a step leaves its run to: go on in this advance, commit and go on at once,
commit and wait until due (or woken), or nothing more (the run ended)."""


class Phase:
    """What a run does next when it is driven."""

    ENTER = "enter"  # enter `state` with `input`
    SCHEDULE = "schedule"  # (re)schedule the Task: record it, then invoke
    INVOKE = "invoke"  # invoke the Task (recorded as scheduled)
    TOKEN = "token"  # wait for SendTaskSuccess/Failure, a heartbeat or the timeout
    SYNC = "sync"  # wait for a nested execution to finish
    WAIT = "wait"  # a Wait state until `wake`
    RETRY = "retry"  # a Retry's interval until `wake`, then run the state again
    FORK = "fork"  # a Parallel or Map waiting for its children


@dataclass
class Run:
    id: str
    scope: Scope
    state: str
    input: Any
    phase: str = Phase.ENTER
    effective: Any = None
    """The Task's or fork's effective input (after InputPath and Parameters)."""
    attempts: dict[str, int] = field(default_factory=dict)
    """Retrier index (as text) -> retries made for the current state."""
    retries: int = 0
    entered_ms: int = 0
    wake_ms: int | None = None
    deadline_ms: int | None = None
    heartbeat_ms: int | None = None
    """The heartbeat interval of a waiting Task, in real milliseconds."""
    token: str | None = None
    """The nonce of the current Task attempt's task token (and nested execution link)."""
    parent: str | None = None
    index: int = 0
    item: Any = None
    """A Map iteration's item, for `$$.Map.Item.Value`."""
    nested: str | None = None
    """The ARN of the nested execution a `.sync` Task waits for."""

    def encode(self) -> str:
        data = dict(self.__dict__)  # shallow: json.dumps walks the values itself
        data["scope"] = [list(level) for level in self.scope]
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, text: str | bytes) -> Run:
        data = json.loads(text)
        data["scope"] = tuple((name, int(branch)) for name, branch in data["scope"])
        # A record written by another version of the engine may hold fields this one lacks.
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})


def child_id(parent: str, index: int) -> str:
    return f"{parent}/{index}"


_FIELDS = frozenset(f.name for f in fields(Run))
