"""What bench/states.py measures: bursts of executions on each target, and the floors.

Every target runs `n` executions started at once from threads of this process
and returns a `Burst`: each execution's duration by the target's own clock
(stopDate - startDate, where it reports one), as the client saw it, and the span
from the first start to the last stop. The floors do the same work with less:
raw Redis does only the storage of each transition, the interpreter floor runs
the engine's interpreter in this process without committing its plans, and the
pure floor only the input and output processing (kubefn.asl.payload).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
import redis
from botocore.config import Config

from bench import stats
from bench.workspace import gateway_invoke_path
from kubefn.asl import payload
from kubefn_gateway.stepfunctions.engine import definitions
from kubefn_gateway.stepfunctions.engine.clock import Clock
from kubefn_gateway.stepfunctions.engine.interpreter import Interpreter
from kubefn_gateway.stepfunctions.engine.runs import TOP, Run
from kubefn_gateway.stepfunctions.engine.store import Execution, Loaded


def sfn_client(url: str) -> Any:
    """boto3's stepfunctions client: no retries, a connection for every thread, and no
    `sync-` host prefix (StartSyncExecution's endpoint), which a loopback address lacks."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            max_pool_connections=64,
            inject_host_prefix=False,
            read_timeout=300,
        ),
    )


@dataclass
class Burst:
    """`n` executions started at once and waited for."""

    durations_ms: list[float]
    """Each execution's start to stop by the target's clock (the client's for raw Redis)."""
    client_ms: list[float]
    """Each execution as the client saw it: its start call to seeing it closed."""
    span_ms: float
    """First start to last stop, by the target's clock."""
    client_span_ms: float


class Target(Protocol):
    def burst(self, n: int, pool: concurrent.futures.Executor) -> Burst: ...


def _ms(value: Any) -> float:
    return float(value.timestamp() * 1000)


def _burst(starts: list[float], stops: list[float], client_ms: list[float], began: float) -> Burst:
    return Burst(
        durations_ms=[stop - start for start, stop in zip(starts, stops, strict=True)],
        client_ms=client_ms,
        span_ms=max(stops) - min(starts),
        client_span_ms=(time.perf_counter() - began) * 1000,
    )


@dataclass
class StandardTarget:
    """StartExecution, then DescribeExecution of each execution until it has closed.

    Each execution is named (moto's interpreter names every unnamed one "None")."""

    client: Any
    machine_arn: str
    input: str
    poll_s: float
    """Pause after a DescribeExecution that found the execution running."""
    last_arn: str = ""

    def burst(self, n: int, pool: concurrent.futures.Executor) -> Burst:
        began = time.perf_counter()

        def start_one(_: int) -> tuple[str, float]:
            t0 = time.perf_counter()
            reply = self.client.start_execution(
                stateMachineArn=self.machine_arn, name=uuid.uuid4().hex, input=self.input
            )
            return reply["executionArn"], t0

        started = list(pool.map(start_one, range(n)))
        # One DescribeExecution at a time, oldest execution first: the waiting client adds
        # one request per poll interval to the gateway's load, whatever the burst's size.
        pending = [arn for arn, _ in started]
        seen: dict[str, tuple[dict[str, Any], float]] = {}
        while pending:
            described = self.client.describe_execution(executionArn=pending[0])
            if described["status"] != "RUNNING":
                seen[pending.pop(0)] = (described, time.perf_counter())
            else:
                time.sleep(self.poll_s)  # poll interval of the client's wait
        for arn, (described, _) in seen.items():
            if described["status"] != "SUCCEEDED":
                raise RuntimeError(f"{arn} ended {described['status']}: {described}")
        self.last_arn = started[-1][0]
        return _burst(
            [_ms(seen[arn][0]["startDate"]) for arn, _ in started],
            [_ms(seen[arn][0]["stopDate"]) for arn, _ in started],
            [(seen[arn][1] - t0) * 1000 for arn, t0 in started],
            began,
        )


@dataclass
class ExpressTarget:
    """StartSyncExecution: the call returns once the execution has closed."""

    client: Any
    machine_arn: str
    input: str

    def burst(self, n: int, pool: concurrent.futures.Executor) -> Burst:
        began = time.perf_counter()

        def run_one(_: int) -> tuple[dict[str, Any], float]:
            t0 = time.perf_counter()
            done = self.client.start_sync_execution(
                stateMachineArn=self.machine_arn, input=self.input
            )
            if done["status"] != "SUCCEEDED":
                raise RuntimeError(f"express execution ended {done['status']}: {done}")
            return done, (time.perf_counter() - t0) * 1000

        results = list(pool.map(run_one, range(n)))
        return _burst(
            [_ms(done["startDate"]) for done, _ in results],
            [_ms(done["stopDate"]) for done, _ in results],
            [ms for _, ms in results],
            began,
        )


def history_counts(client: Any, arn: str) -> dict[str, int]:
    """An execution's events, and its state transitions (states entered) as AWS counts them."""
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.get_execution_history(
            executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    return {"events": len(events), "states_entered": entered}


# One transition of a run as the engine commits it, reduced to its storage work: the
# execution must still run and the run's sequence number be unchanged; the events go
# to the history list, each linked to the thread's previous one; the run's record,
# sequence number and due time move on.
# KEYS: meta, history, runs, ready. ARGV: member, seq, run record, due, events...
FLOOR_COMMIT = """
if redis.call('HGET', KEYS[1], 'status') ~= 'RUNNING' then return -1 end
if redis.call('HGET', KEYS[3], 'seq') ~= ARGV[2] then return 0 end
local length = redis.call('LLEN', KEYS[2])
for i = 5, #ARGV do
  length = length + 1
  local previous = redis.call('HGET', KEYS[3], 'last') or '0'
  redis.call('RPUSH', KEYS[2], ARGV[i] .. ',"id":' .. length .. ',"previousEventId":' ..
    previous .. '}')
  redis.call('HSET', KEYS[3], 'last', length)
end
redis.call('HSET', KEYS[1], 'events', length)
redis.call('HSET', KEYS[3], 'run', ARGV[3])
redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return 1
"""


def chain_events(states: int, first_input: str) -> list[tuple[str, str]]:
    """Each Pass state's two history events as the engine writes them (ids appended later)."""
    out = []
    document: dict[str, Any] = json.loads(first_input)
    for i in range(states):
        name = f"S{i:03d}"
        details = {
            "name": name,
            "input": json.dumps(document),
            "inputDetails": {"truncated": False},
        }
        entered = {
            "timestamp": 1.7e9,
            "type": "PassStateEntered",
            "stateEnteredEventDetails": details,
        }
        document = {**document, "last": name}
        details = {
            "name": name,
            "output": json.dumps(document),
            "outputDetails": {"truncated": False},
        }
        exited = {"timestamp": 1.7e9, "type": "PassStateExited", "stateExitedEventDetails": details}
        out.append((json.dumps(entered)[:-1], json.dumps(exited)[:-1]))
    return out


@dataclass
class RawRedisTarget:
    """The chain's storage work on raw Redis (redis-py, a connection per thread): one
    EVALSHA of FLOOR_COMMIT per `per_commit` transitions, nothing else."""

    url: str
    states: int
    per_commit: int
    first_input: str
    _local: threading.local = field(default_factory=threading.local)
    _ids: Any = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self._events = chain_events(self.states, self.first_input)
        self._sha = redis.Redis.from_url(self.url).script_load(FLOOR_COMMIT)

    def _chain(self, _: int) -> float:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = redis.Redis.from_url(self.url)
        number = next(self._ids)
        tag = f"bench:{{floor{number % 8}}}"
        base = f"{tag}:x{number}"
        keys = (base, f"{base}:h", f"{base}:r", f"{tag}:ready")
        t0 = time.perf_counter()
        client.hset(base, mapping={"status": "RUNNING", "input": self.first_input})
        client.hset(keys[2], mapping={"seq": 0})
        for seq, first in enumerate(range(0, self.states, self.per_commit)):
            texts = [t for pair in self._events[first : first + self.per_commit] for t in pair]
            record = json.dumps({"state": f"S{first:03d}", "input": self.first_input})
            done = client.evalsha(self._sha, 4, *keys, base, seq, record, 0, *texts)
            if done != 1:
                raise RuntimeError(f"floor commit refused: {done}")
        client.hset(base, mapping={"status": "SUCCEEDED"})
        return (time.perf_counter() - t0) * 1000

    def burst(self, n: int, pool: concurrent.futures.Executor) -> Burst:
        began = time.perf_counter()
        durations = list(pool.map(self._chain, range(n)))
        span = (time.perf_counter() - began) * 1000
        return Burst(durations, durations, span, span)


def pure_floor(definition: dict[str, Any], *, first_input: str, runs: int) -> dict[str, Any]:
    """The chain's input and output processing alone (kubefn.asl.payload), in this process."""
    states = definition["States"]
    context: dict[str, Any] = {"Execution": {"Id": "bench"}, "State": {}}
    durations = []
    for _ in range(runs):
        document = json.loads(first_input)
        name: str | None = definition["StartAt"]
        t0 = time.perf_counter()
        while name is not None:
            state = states[name]
            effective = payload.effective_input(state, document, context=context)
            result = payload.pass_result(state, effective)
            document = payload.state_output(state, document, result, context=context)
            name = state.get("Next")
        durations.append((time.perf_counter() - t0) * 1000)
    summary = stats.summarize(durations)
    return {
        "runs": runs,
        "duration_ms": summary,
        "transitions_per_s_at_p50": round(len(states) * 1000 / summary["p50"]),
    }


def interpreter_floor(definition: dict[str, Any], *, first_input: str, runs: int) -> dict[str, Any]:
    """The engine's own interpreter walking the chain in this process: each advance builds
    its plan (history events, size checks, context object), and no plan is committed:
    no Redis, no HTTP, no claims. Pass states never call `functions` or `nested`."""
    text = json.dumps(definition, separators=(",", ":"))
    interpreter = Interpreter(
        functions=None,  # type: ignore[arg-type]
        nested=None,  # type: ignore[arg-type]
        clock=Clock(),
        lease_ms=30_000,
        sync_poll_ms=5_000,
        region="us-east-1",
    )
    execution = Execution(
        id="default/chain:floor",
        arn="arn:aws:states:us-east-1:000000000000:execution:chain:floor",
        name="floor",
        machine_key="default/chain",
        machine_arn="arn:aws:states:us-east-1:000000000000:stateMachine:chain",
        type="STANDARD",
        status="RUNNING",
        input=first_input,
        definition=text,
        start_ms=int(time.time() * 1000),
    )

    async def walk() -> int:
        parsed = definitions.parse(execution.definition)
        run = Run(id=TOP, scope=(), state=parsed.start_at(()), input=json.loads(first_input))
        loaded = Loaded(run=run, seq=0, callback=None, last_heartbeat_ms=None)
        plans = 0
        while True:
            step = await interpreter.advance(execution, parsed, loaded, fork=_no_fork)
            plans += 1
            if step.next_run is None:
                return plans
            loaded = Loaded(
                run=step.next_run, seq=loaded.seq + 1, callback=None, last_heartbeat_ms=None
            )

    async def timed() -> tuple[list[float], int]:
        for _ in range(max(3, runs // 10)):  # warm-up
            await walk()
        durations, plans = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            plans = await walk()
            durations.append((time.perf_counter() - t0) * 1000)
        return durations, plans

    durations, plans = asyncio.run(timed())
    summary = stats.summarize(durations)
    return {
        "runs": runs,
        "plans_per_execution": plans,
        "duration_ms": summary,
        "transitions_per_s_at_p50": round(len(definition["States"]) * 1000 / summary["p50"]),
    }


async def _no_fork() -> Any:
    raise AssertionError("a Pass chain has no fork")


def invoke_all(
    *, host: str, port: int, function: str, items: list[Any], pool: concurrent.futures.Executor
) -> float:
    """Invoke `function` once per item through the gateway's Lambda Invoke API, as many at
    once as `pool` has threads (a kept-alive connection each); the wall time in ms."""
    local = threading.local()
    path = gateway_invoke_path(function)

    def one(item: Any) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.request("POST", path, body=json.dumps(item).encode())
        reply = connection.getresponse()
        body = reply.read()
        if reply.status != 200 or reply.getheader("X-Amz-Function-Error"):
            raise RuntimeError(f"invoke failed: {reply.status} {body[:200]!r}")

    began = time.perf_counter()
    list(pool.map(one, items))
    return (time.perf_counter() - began) * 1000
