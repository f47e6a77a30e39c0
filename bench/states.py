"""Step Functions: state transitions per second through kubefn's gateway, against
moto's server and against floors under the engine, all in one run.

A state transition is counted as Step Functions counts them: one per state
entered (a 100-state Pass chain makes 100; a Map over 1,000 items whose
iteration is one Task makes 1,001). The counts are checked against the history.

The processes (bench/stateservers.py): an embedded Redis, the gateway as the
chart runs it with its default workflow settings (under cProfile when
KUBEFN_BENCH_PROFILE names an output file), and moto's server.

The 100-state Pass chain runs on each target one execution at a time, then in
bursts of N executions started at once (bench/statetargets.py): kubefn Standard
(StartExecution, DescribeExecution until closed), kubefn Express
(StartSyncExecution), moto Standard, and raw Redis doing only the storage work
of each transition, one commit per transition and one per 64 (the engine's
batch). Rounds rotate the target order, so drifting load falls on all alike.
Two floors run the same states in this process: the engine's interpreter
building every plan without committing any, and kubefn.asl.payload alone.

Then a Map over 1,000 items (MaxConcurrency 50, each iteration a Task invoking
a Python function), Standard and Express, against the same 1,000 invocations
sent straight to the gateway's Invoke API, 50 at a time.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import procs, stats
from bench.stateservers import FUNCTION, LOOPBACK, Servers, running
from bench.statetargets import (
    Burst,
    ExpressTarget,
    RawRedisTarget,
    StandardTarget,
    Target,
    history_counts,
    interpreter_floor,
    invoke_all,
    pure_floor,
    sfn_client,
)
from bench.workspace import Workspace

ROLE = "arn:aws:iam::000000000000:role/kubefn-bench"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION}"
CHAIN_INPUT = json.dumps({"order": 7, "customer": "c-0042", "lines": [1, 2, 3]})
STANDARD_TARGET = 2000.0
"""The issue's target: Standard state transitions per second on this 2-core machine."""
CHAIN_POLL_S = 0.005
MAP_POLL_S = 0.02

Progress = Callable[[str], None]


def chain_definition(states: int) -> dict[str, Any]:
    """`states` Pass states one after the other, each recording its name in the document."""
    names = [f"S{i:03d}" for i in range(states)]
    machine: dict[str, Any] = {}
    for here, after in zip(names, [*names[1:], None], strict=True):
        machine[here] = {"Type": "Pass", "Result": here, "ResultPath": "$.last"}
        machine[here].update({"Next": after} if after else {"End": True})
    return {"Comment": f"{states} Pass states", "StartAt": names[0], "States": machine}


def map_definition(concurrency: int) -> dict[str, Any]:
    """A Map whose every iteration is one Task invoking FUNCTION (by its Lambda ARN)."""
    square = {"Type": "Task", "Resource": FUNCTION_ARN, "End": True}
    processor = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Square",
        "States": {"Square": square},
    }
    each = {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency, "End": True}
    return {"StartAt": "Each", "States": {"Each": {**each, "ItemProcessor": processor}}}


@dataclass(frozen=True)
class Sizes:
    states: int
    singles: int
    """Executions one at a time, per target."""
    concurrencies: tuple[int, ...]
    """Burst sizes: executions started at once."""
    rounds: int
    """Bursts per target and burst size."""
    map_items: int
    map_concurrency: int
    map_runs: int
    """Measured Map runs per target, after a first one that starts the instances."""
    pure_runs: int
    idle_seconds: float


FULL = Sizes(
    states=100, singles=30, concurrencies=(8, 32), rounds=4,
    map_items=1000, map_concurrency=50, map_runs=3, pure_runs=300, idle_seconds=3.0,
)  # fmt: skip
QUICK = Sizes(
    states=100, singles=6, concurrencies=(8, 32), rounds=1,
    map_items=1000, map_concurrency=50, map_runs=1, pure_runs=50, idle_seconds=1.0,
)  # fmt: skip


# -- measuring -------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What one target did at one level, and what it cost each process."""

    bursts: list[Burst] = field(default_factory=list)
    cpu_ns: dict[str, int] = field(default_factory=dict)
    evalsha_calls: int = 0
    evalsha_us: int = 0
    redis_us: int = 0
    busy_ns: int = 0
    elapsed_s: float = 0.0


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ns(pid: int, group: str) -> int:
    """CPU time of a process: from schedstat (nanoseconds) of its live threads, but moto's
    from /proc/PID/stat, which keeps exited threads' time: its server runs each request and
    each execution on a thread of its own, gone before its schedstat could be read (clock
    ticks of 10 ms: only sums over many executions mean much)."""
    if group != "moto":
        return procs.cpu_ns([pid])
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // _TICKS


@dataclass
class _Meter:
    """Reads CPU time of every process, the machine's load and Redis's command stats
    around one burst."""

    servers: Servers
    redis: redis.Redis
    pool: concurrent.futures.Executor

    def measure(self, target: Target, tally: _Tally, *, n: int) -> None:
        self.redis.config_resetstat()
        groups = self.servers.pids()
        before = {pid: _cpu_ns(pid, group) for group, pids in groups.items() for pid in pids}
        client_before, busy_before = procs.cpu_ns([os.getpid()]), procs.machine_busy_ns()
        began = time.monotonic()
        tally.bursts.append(target.burst(n, self.pool))
        tally.elapsed_s += time.monotonic() - began
        tally.busy_ns += procs.machine_busy_ns() - busy_before
        # Read after: a function process started during the burst counts from zero.
        used = {
            group: sum(_cpu_ns(pid, group) - before.get(pid, 0) for pid in pids)
            for group, pids in self.servers.pids().items()
        }
        used["client"] = procs.cpu_ns([os.getpid()]) - client_before
        for group, ns in used.items():
            tally.cpu_ns[group] = tally.cpu_ns.get(group, 0) + ns
        commands = self.redis.info("commandstats")
        evalsha = commands.get("cmdstat_evalsha", {})
        tally.evalsha_calls += int(evalsha.get("calls", 0))
        tally.evalsha_us += int(evalsha.get("usec", 0))
        tally.redis_us += sum(int(c.get("usec", 0)) for c in commands.values())

    def rotate(self, targets: dict[str, Target], *, n: int, repeats: int) -> dict[str, _Tally]:
        """Each target `repeats` times, the order rotating from round to round."""
        names = list(targets)
        tallies = {name: _Tally() for name in names}
        for r in range(repeats):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                self.measure(targets[name], tallies[name], n=n)
        return tallies


def _summary(tally: _Tally, *, transitions_each: int) -> dict[str, Any]:
    durations = [ms for b in tally.bursts for ms in b.durations_ms]
    executions = len(durations)
    transitions = executions * transitions_each
    span_s = sum(b.span_ms for b in tally.bursts) / 1000
    client_span_s = sum(b.client_span_ms for b in tally.bursts) / 1000
    cpu = {g: ns / 1e6 / transitions for g, ns in tally.cpu_ns.items() if ns >= 1_000_000}
    return {
        "executions": executions,
        "transitions": transitions,
        "duration_ms": stats.summarize(durations),
        "client_ms": stats.summarize([ms for b in tally.bursts for ms in b.client_ms]),
        "transitions_per_s": round(transitions / span_s, 1),
        "client_transitions_per_s": round(transitions / client_span_s, 1),
        "cpu_ms_per_transition": {k: round(v, 4) for k, v in sorted(cpu.items())},
        "cores": {
            g: round(ns / 1e9 / tally.elapsed_s, 2)
            for g, ns in sorted(tally.cpu_ns.items())
            if ns >= 1_000_000
        },
        "redis": {
            "evalsha_per_execution": round(tally.evalsha_calls / executions, 2),
            "evalsha_us_per_call": round(tally.evalsha_us / max(1, tally.evalsha_calls), 1),
            "redis_us_per_transition": round(tally.redis_us / transitions, 2),
        },
        "machine_busy_cores": round(tally.busy_ns / 1e9 / max(tally.elapsed_s, 1e-9), 2),
        "others_cores": round(
            max(0, tally.busy_ns - sum(tally.cpu_ns.values())) / 1e9 / max(tally.elapsed_s, 1e-9), 2
        ),
    }


def _create(client: Any, name: str, definition: dict[str, Any], kind: str) -> str:
    reply = client.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind
    )
    return str(reply["stateMachineArn"])


# -- the parts -------------------------------------------------------------------------------


def _chain(meter: _Meter, sizes: Sizes, progress: Progress) -> dict[str, Any]:
    url = meter.servers.redis.url
    kubefn, moto = sfn_client(meter.servers.gateway_url), sfn_client(meter.servers.moto_url)
    definition = chain_definition(sizes.states)
    standard = StandardTarget(
        kubefn, _create(kubefn, "chain", definition, "STANDARD"), CHAIN_INPUT, CHAIN_POLL_S
    )
    express = ExpressTarget(kubefn, _create(kubefn, "chain-x", definition, "EXPRESS"), CHAIN_INPUT)
    peer = StandardTarget(
        moto, _create(moto, "chain", definition, "STANDARD"), CHAIN_INPUT, CHAIN_POLL_S
    )
    targets: dict[str, Target] = {
        "kubefn_standard": standard,
        "kubefn_express": express,
        "moto_standard": peer,
        "redis_per_transition": RawRedisTarget(url, sizes.states, 1, CHAIN_INPUT),
        "redis_per_64": RawRedisTarget(url, sizes.states, 64, CHAIN_INPUT),
    }
    for target in targets.values():  # untimed: connections open, code paths warm
        for n in (1, 1, 8):
            target.burst(n, meter.pool)
    progress("states: chain targets warm")
    levels = []
    for n in (1, *sizes.concurrencies):
        tallies = meter.rotate(targets, n=n, repeats=sizes.singles if n == 1 else sizes.rounds)
        summaries = {k: _summary(t, transitions_each=sizes.states) for k, t in tallies.items()}
        levels.append({"executions_at_once": n, "targets": summaries})
        progress(f"states: chain, {n} at once: done")
    closed = express.client.start_sync_execution(
        stateMachineArn=express.machine_arn, input=CHAIN_INPUT
    )
    described = kubefn.describe_execution(executionArn=standard.last_arn)
    return {
        "levels": levels,
        "interpreter_floor": interpreter_floor(
            definition, first_input=CHAIN_INPUT, runs=sizes.pure_runs
        ),
        "pure_floor": pure_floor(definition, first_input=CHAIN_INPUT, runs=sizes.pure_runs),
        "checks": {
            "kubefn_standard_history": history_counts(kubefn, standard.last_arn),
            "moto_standard_history": history_counts(moto, peer.last_arn),
            "kubefn_standard_output_last": json.loads(described["output"])["last"],
            "kubefn_express_output_last": json.loads(closed["output"])["last"],
        },
    }


@dataclass
class _InvokeFloor:
    """The Map's function calls alone, through the gateway's Invoke API."""

    port: int
    items: list[Any]
    invokers: concurrent.futures.Executor
    """As many threads as the Map's MaxConcurrency."""

    def burst(self, n: int, pool: concurrent.futures.Executor) -> Burst:
        ms = invoke_all(
            host=LOOPBACK, port=self.port, function=FUNCTION, items=self.items, pool=self.invokers
        )
        return Burst([ms], [ms], ms, ms)


def _map(meter: _Meter, sizes: Sizes, progress: Progress) -> dict[str, Any]:
    kubefn = sfn_client(meter.servers.gateway_url)
    definition = map_definition(sizes.map_concurrency)
    items = [{"n": i} for i in range(sizes.map_items)]
    document = json.dumps({"items": items})
    standard = StandardTarget(
        kubefn, _create(kubefn, "fan-out", definition, "STANDARD"), document, MAP_POLL_S
    )
    express = ExpressTarget(kubefn, _create(kubefn, "fan-out-x", definition, "EXPRESS"), document)
    first = _Tally()
    meter.measure(standard, first, n=1)
    progress("states: first Map done (its instances started on demand)")
    counts = history_counts(kubefn, standard.last_arn)
    each = counts["states_entered"]
    with concurrent.futures.ThreadPoolExecutor(sizes.map_concurrency) as invokers:
        floor = _InvokeFloor(meter.servers.gateway_port, items, invokers)
        targets: dict[str, Target] = {
            "map_standard": standard,
            "map_express": express,
            "invoke_floor": floor,
        }
        tallies = meter.rotate(targets, n=1, repeats=sizes.map_runs)
    progress("states: Map done")
    output = json.loads(kubefn.describe_execution(executionArn=standard.last_arn)["output"])
    return {
        "items": sizes.map_items,
        "max_concurrency": sizes.map_concurrency,
        "first_run": _summary(first, transitions_each=each),
        "targets": {
            name: _summary(t, transitions_each=sizes.map_items if name == "invoke_floor" else each)
            for name, t in tallies.items()
        },
        "checks": {
            "history": counts,
            "output_correct": output == [{"n": i, "square": i * i} for i in range(len(items))],
            "function_instances_after": len(meter.servers.pids()["functions"]),
        },
    }


@dataclass
class _Idle:
    """Nothing to do: what the gateway spends waiting for work (its workers' polls)."""

    seconds: float

    def burst(self, n: int, pool: concurrent.futures.Executor) -> Burst:
        time.sleep(self.seconds)  # the span measured, not a wait for readiness
        ms = self.seconds * 1000
        return Burst([ms], [ms], ms, ms)


def _idle(meter: _Meter, seconds: float) -> dict[str, Any]:
    tally = _Tally()
    meter.measure(_Idle(seconds), tally, n=1)
    return {
        "seconds": seconds,
        "gateway_cores": round(tally.cpu_ns.get("gateway", 0) / 1e9 / seconds, 4),
        "redis_cores": round(tally.cpu_ns.get("redis", 0) / 1e9 / seconds, 4),
        "evalsha_per_s": round(tally.evalsha_calls / seconds, 1),
    }


def _method(sizes: Sizes) -> dict[str, str]:
    bursts = ", ".join(str(n) for n in sizes.concurrencies)
    return {
        "transition": "one per state entered, as Step Functions counts them; checked against "
        "each target's history",
        "chain": f"{sizes.states} Pass states (Result + ResultPath $.last); {sizes.singles} "
        f"executions one at a time per target, then {sizes.rounds} bursts per size of {bursts} "
        "started at once from as many threads; target order rotating",
        "standard_wait": "DescribeExecution of the oldest running execution of the burst, "
        f"{CHAIN_POLL_S * 1000:g} ms after each that found it running ({MAP_POLL_S * 1000:g} "
        "ms for the Map); client-observed times include that polling",
        "duration": "stopDate - startDate as the target reports them (raw Redis: the client)",
        "transitions_per_s": "transitions / (last stop - first start), summed over bursts; "
        "client_transitions_per_s: by the client's clock, first start call to last seen closed",
        "gateway": "python -m kubefn_gateway, default workflow settings (64 workers, 50 ms "
        "poll, 30 s lease)",
        "map": f"Map over {sizes.map_items} items, MaxConcurrency {sizes.map_concurrency}, "
        "INLINE ItemProcessor of one Task naming a Python function by its Lambda ARN; a first "
        "run starts the instances, then rounds rotate Standard, Express and the invocations "
        "alone (Invoke API, as many threads as MaxConcurrency)",
    }


def run(ws: Workspace, *, sizes: Sizes, progress: Progress = lambda _: None) -> dict[str, Any]:
    """Measure every target; returns the JSON-ready results."""
    profile = os.environ.get("KUBEFN_BENCH_PROFILE")
    widest = max(sizes.concurrencies, default=1)
    with (
        running(ws, Path(profile) if profile else None) as servers,
        concurrent.futures.ThreadPoolExecutor(widest) as pool,
    ):
        meter = _Meter(servers, redis.Redis.from_url(servers.redis.url), pool)
        progress("states: servers up")
        idle = _idle(meter, sizes.idle_seconds)
        chain = _chain(meter, sizes, progress)
        fan_out = _map(meter, sizes, progress)
    return {
        "method": _method(sizes),
        "target_transitions_per_s": STANDARD_TARGET,
        "idle_gateway": idle,
        "chain": chain,
        "map": fan_out,
    }
