"""A plan: everything one step of a run changes, committed atomically or not at all.

The interpreter builds plans; a store applies them (Redis in one Lua script,
memory in one synchronous call), so both stores share one meaning of each op:

- `put` a run record (and count a new sequence number for it), `drop` one;
- `due`/`undue`: when the run is next driven (or never, until woken);
- `fork`: a Parallel/Map parent's counters, its children stored already;
- `finish`: a child's result into its parent's slot; the next pending child is
  started, and the parent woken when all are done or too many failed;
- `close`: the execution's final status.

Every plan carries the run's expected sequence number: a plan computed from a
stale record (another replica, a callback, a child waking its parent) is
refused, so no step is ever committed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubefn_gateway.stepfunctions.engine.runs import Run


class Outcome:
    COMMITTED = 1
    STALE = 0
    """The run moved on (or is gone) since it was read; the plan was dropped."""
    CLOSED = -1
    """The execution is no longer running (stopped, failed, timed out)."""
    HISTORY_FULL = -2


@dataclass
class Plan:
    run_id: str
    seq: int | None
    """The run's sequence number when it was read; None for a new execution."""
    events: list[tuple[str, str]] = field(default_factory=list)
    """(run whose thread the event continues, the event's JSON without its closing brace)."""
    ops: list[tuple[str, ...]] = field(default_factory=list)

    def event(self, run_id: str, text: str) -> None:
        self.events.append((run_id, text))

    def put(self, run: Run) -> None:
        """Store the run; its task token (if it has one) is what callbacks must present."""
        self.ops.append(
            (
                "put",
                run.id,
                run.encode(),
                run.token or "",
                "" if run.heartbeat_ms is None else str(run.heartbeat_ms),
                "" if run.deadline_ms is None else str(run.deadline_ms),
                run.phase,
            )
        )

    def drop(self, run_id: str) -> None:
        self.ops.append(("drop", run_id))

    def due(self, run_id: str, at_ms: int) -> None:
        self.ops.append(("due", run_id, str(at_ms)))

    def undue(self, run_id: str) -> None:
        self.ops.append(("undue", run_id))

    def chain(self, child_id: str, parent_id: str) -> None:
        """The child's first event follows the parent's latest one."""
        self.ops.append(("chain", child_id, parent_id))

    def fork(self, parent_id: str, *, total: int, tolerated: int, started: int) -> None:
        self.ops.append(("fork", parent_id, str(total), str(tolerated), str(started)))

    def finish(self, parent_id: str, *, index: int, ok: bool, value: str) -> None:
        self.ops.append(("finish", parent_id, str(index), "1" if ok else "0", value))

    def unfork(self, parent_id: str, *, total: int) -> None:
        """Forget a fork: its counters, results and every child still pending or running."""
        self.ops.append(("unfork", parent_id, str(total)))

    def close(
        self, status: str, *, stop_ms: int, output: str = "", error: str = "", cause: str = ""
    ) -> None:
        self.ops.append(("close", status, str(stop_ms), output, error, cause))


def fork_fields(parent_id: str) -> tuple[str, str, str, str, str]:
    """The fields of a fork's counters: total, tolerated failures, next child, done, failed."""
    return (
        f"total:{parent_id}",
        f"tol:{parent_id}",
        f"next:{parent_id}",
        f"done:{parent_id}",
        f"failed:{parent_id}",
    )


def result_field(parent_id: str, index: int) -> str:
    return f"out:{parent_id}:{index}"
