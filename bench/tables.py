"""Tables: DynamoDB's API through kubefn's gateway, against moto's server (the
usual local stand-in for DynamoDB) and against raw redis-py calls doing the same
storage work on kubefn's layout, all in one run.

Started here, each on a free loopback port and polled until it answers:
- an embedded Redis (kubefn.redisserver.EmbeddedRedis, append-only file on, as
  `kubefn dev` runs it);
- the gateway as the chart runs it, `python -m kubefn_gateway`, in a process of
  its own, on that Redis;
- `python -m moto.server`, in a process of its own.

The workload (bench/tableclients.py), per target after an untimed warm-up:
CreateTable (hash S + range N); PutItem of ~200-byte items, 120 per partition;
GetItem of random ones; Query of 100 items from one partition; UpdateItem
`SET v = v + :one` with `ConditionExpression: attribute_exists(pk)`. Sequential
calls from one client, each timed, in rounds whose target order rotates, so
drifting machine load falls on every target alike. Then the same operations
from N client processes at once for a few seconds each (throughput).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs, stats, tableclients
from bench.tableclients import OPERATIONS, Boto3Client, Job, RawRedisClient, Target, call
from bench.workspace import Workspace
from kubefn.redisserver import EmbeddedRedis, free_port

LOOPBACK = "127.0.0.1"
TABLE = "bench"
NAMESPACE = "default"
PER_PARTITION = 120
TARGETS = ("kubefn", "moto", "redis")
LABELS = {
    "kubefn": "kubefn gateway (boto3)",
    "moto": "moto server (boto3)",
    "redis": "raw Redis (redis-py)",
}
METHOD = {
    "kubefn": "boto3 dynamodb client -> `python -m kubefn_gateway` (one process) -> embedded "
    "Redis; per operation the gateway does: put = HMGET (version) + EVALSHA commit; get = "
    "HMGET; query = EVALSHA range script (ZRANGEBYLEX + an HGET per item); update = HMGET + "
    "EVALSHA commit guarded by the version",
    "moto": "boto3 dynamodb client -> `python -m moto.server` (werkzeug, threaded, in memory)",
    "redis": "redis-py (sync, one connection) on kubefn's layout against the same Redis, "
    "items as DynamoDB JSON encoded/decoded by the client: put = one MULTI/EXEC of HSET "
    "item + ZADD partition + ZADD parts + HINCRBY meta items and bytes (no prior read); "
    "get = HMGET; query = one script: ZRANGEBYLEX LIMIT 100 + an HGET per item; update = "
    "HMGET, +1 in the client, then a script that writes only if the version did not move",
}


@dataclass
class Servers:
    redis: EmbeddedRedis
    gateway: subprocess.Popen[bytes]
    gateway_port: int
    moto: subprocess.Popen[bytes]
    moto_port: int

    def target(self, name: str) -> Target:
        if name == "kubefn":
            return Target("boto3", f"http://{LOOPBACK}:{self.gateway_port}", TABLE)
        if name == "moto":
            return Target("boto3", f"http://{LOOPBACK}:{self.moto_port}", TABLE)
        return Target("redis", self.redis.url, f"{NAMESPACE}/raw-{TABLE}")

    def server_pids(self, name: str) -> dict[str, list[int]]:
        """Server processes whose CPU time is read around each measurement."""
        assert self.redis.process is not None
        redis = [self.redis.process.pid]
        if name == "kubefn":
            return {"gateway": [self.gateway.pid], "redis": redis}
        if name == "moto":
            return {"moto": [self.moto.pid]}
        return {"redis": redis}

    def stop(self) -> None:
        procs.terminate(self.gateway, self.moto)
        self.redis.stop()


def start(ws: Workspace) -> Servers:
    redis = EmbeddedRedis(ws.root / "tables-redis")
    redis.start()
    gateway_port, moto_port = free_port(), free_port()
    env = {**os.environ, "KUBEFN_LOG_LEVEL": "WARNING"}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "kubefn_gateway", "--host", LOOPBACK,
         "--port", str(gateway_port), "--redis-url", redis.url,
         "--state-dir", str(ws.root / "tables-gateway")],
        stdin=subprocess.DEVNULL, stdout=ws.log, stderr=ws.log, env=env,
    )  # fmt: skip
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(moto_port)],
        stdin=subprocess.DEVNULL, stdout=ws.log, stderr=ws.log,
    )  # fmt: skip
    servers = Servers(redis, gateway, gateway_port, moto, moto_port)
    try:
        procs.wait_http(gateway, f"http://{LOOPBACK}:{gateway_port}/healthz")
        procs.wait_http(moto, f"http://{LOOPBACK}:{moto_port}/moto-api/")
    except BaseException:
        servers.stop()
        raise
    return servers


@dataclass(frozen=True)
class Keys:
    """The keys each phase uses: puts fill partitions of PER_PARTITION items."""

    puts: list[tuple[str, int]]
    gets: list[tuple[str, int]]
    queries: list[tuple[str, int]]
    updates: list[tuple[str, int]]

    @classmethod
    def make(cls, *, items: int, gets: int, queries: int, updates: int) -> Keys:
        partitions = max(1, items // PER_PARTITION)
        puts = [(f"p{i % partitions:04d}", i) for i in range(items)]
        rng = random.Random(7)
        return cls(
            puts=puts,
            gets=[rng.choice(puts) for _ in range(gets)],
            queries=[(f"p{j % partitions:04d}", 0) for j in range(queries)],
            updates=[rng.choice(puts) for _ in range(updates)],
        )

    def of(self, op: str) -> list[tuple[str, int]]:
        return {"put": self.puts, "get": self.gets, "query": self.queries}.get(op, self.updates)


def _warm_up(client: Any) -> None:
    """Connections open, code paths warm: every operation on a partition of its own."""
    keys = [("warm", n) for n in range(110)]
    for key in keys:
        call(client, "put", key)
    for op in ("get", "query", "update"):
        for key in keys[:20]:
            call(client, op, key)


@dataclass
class _Chunk:
    latencies: list[float]
    elapsed_s: float
    client_cpu_ns: int
    server_cpu_ns: dict[str, int]


def _cpu_ns(pids: list[int]) -> int:
    """CPU time of these processes, exited threads included (moto's server runs each
    request on a thread of its own that is gone before schedstat could be read)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total * 1_000_000_000 // _TICKS


_TICKS = os.sysconf("SC_CLK_TCK")


def _timed(client: Any, op: str, keys: list[tuple[str, int]], pids: dict[str, list[int]]) -> _Chunk:
    clock = time.perf_counter_ns
    latencies = []
    before = {g: _cpu_ns(p) for g, p in pids.items()}
    cpu_before = time.process_time_ns()
    began = clock()
    for key in keys:
        t0 = clock()
        call(client, op, key)
        latencies.append((clock() - t0) / 1e6)
    elapsed = (clock() - began) / 1e9
    client_cpu = time.process_time_ns() - cpu_before
    used = {g: _cpu_ns(p) - before[g] for g, p in pids.items()}
    return _Chunk(latencies, elapsed, client_cpu, used)


def _summary(chunks: list[_Chunk], *, load_cores: float) -> dict[str, Any]:
    latencies = [x for c in chunks for x in c.latencies]
    count = len(latencies)
    cpu: dict[str, float] = {"client": sum(c.client_cpu_ns for c in chunks) / 1e6 / count}
    for group in chunks[0].server_cpu_ns:
        cpu[group] = sum(c.server_cpu_ns[group] for c in chunks) / 1e6 / count
    return {
        "latency_ms": stats.summarize(latencies),
        "ops_per_s": round(count / sum(c.elapsed_s for c in chunks), 1),
        "cpu_ms_per_op": {k: round(v, 4) for k, v in cpu.items()},
        "machine_busy_cores": load_cores,
    }


def _sequential(
    servers: Servers, clients: dict[str, Any], keys: Keys, rounds: int
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        wanted = keys.of(op)
        size = -(-len(wanted) // rounds)
        chunks: dict[str, list[_Chunk]] = {t: [] for t in TARGETS}
        with procs.MachineLoad() as load:
            for r in range(rounds):
                part = wanted[r * size : (r + 1) * size]
                for name in TARGETS[r % 3 :] + TARGETS[: r % 3]:
                    pids = servers.server_pids(name)
                    chunks[name].append(_timed(clients[name], op, part, pids))
        out[op] = {t: _summary(chunks[t], load_cores=load.cores) for t in TARGETS}
    return out


def _concurrent(
    servers: Servers, keys: Keys, *, clients: int, seconds: float
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")  # no copy of this process's state
    with concurrent.futures.ProcessPoolExecutor(clients, mp_context=context) as pool:
        list(pool.map(tableclients.ready, range(clients)))
        for op in OPERATIONS:
            out[op] = {}
            for name in TARGETS:
                jobs = [
                    Job(
                        target=servers.target(name),
                        op=op,
                        keys=[(f"c{w}-{name}", n) for n in range(20_000)]
                        if op == "put"
                        else keys.of(op),
                        start_at=time.time() + 0.5,
                        seconds=seconds,
                    )
                    for w in range(clients)
                ]
                pids = servers.server_pids(name)
                before = {g: _cpu_ns(p) for g, p in pids.items()}
                with procs.MachineLoad() as load:
                    results = list(pool.map(tableclients.worker, jobs))
                used = {g: _cpu_ns(p) - before[g] for g, p in pids.items()}
                latencies = [x for lat, _ in results for x in lat]
                count = len(latencies)
                cpu = {"clients": sum(c for _, c in results) / 1e6 / count}
                cpu |= {g: ns / 1e6 / count for g, ns in used.items()}
                out[op][name] = {
                    "latency_ms": stats.summarize(latencies),
                    "ops_per_s": round(count / seconds, 1),
                    "cpu_ms_per_op": {k: round(v, 4) for k, v in cpu.items()},
                    "machine_busy_cores": load.cores,
                }
    return out


def _ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for op, by_target in results.items():
        k, m, r = (by_target[t] for t in TARGETS)
        out[op] = {
            "kubefn_vs_moto": _ratio(k, m),
            "kubefn_vs_redis": _ratio(k, r),
            "faster_than_moto": k["latency_ms"]["p50"] < m["latency_ms"]["p50"]
            and k["ops_per_s"] > m["ops_per_s"],
        }
    return out


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    return {
        "p50": round(a["latency_ms"]["p50"] / b["latency_ms"]["p50"], 2),
        "p99": round(a["latency_ms"]["p99"] / b["latency_ms"]["p99"], 2),
        "ops_per_s": round(a["ops_per_s"] / b["ops_per_s"], 2),
    }


@contextlib.contextmanager
def _running(ws: Workspace) -> Iterator[Servers]:
    servers = start(ws)
    try:
        yield servers
    finally:
        servers.stop()


@dataclass(frozen=True)
class Sizes:
    items: int
    gets: int
    queries: int
    updates: int
    rounds: int
    clients: int
    seconds: float
    """per operation and target, in the concurrent part"""


FULL = Sizes(items=2400, gets=2000, queries=300, updates=2000, rounds=4, clients=8, seconds=3.0)
QUICK = Sizes(items=480, gets=200, queries=30, updates=200, rounds=2, clients=8, seconds=1.0)


def run(
    ws: Workspace, *, sizes: Sizes, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Measure every target; returns the JSON-ready results."""
    items, rounds, clients, seconds = sizes.items, sizes.rounds, sizes.clients, sizes.seconds
    gets, queries, updates = sizes.gets, sizes.queries, sizes.updates
    keys = Keys.make(items=items, gets=gets, queries=queries, updates=updates)
    with _running(ws) as servers:
        boto = {t: Boto3Client(servers.target(t).address, TABLE) for t in ("kubefn", "moto")}
        raw = RawRedisClient(servers.redis.url, servers.target("redis").table)
        began = time.perf_counter()
        create_ms = {}
        for name, client in boto.items():
            t0 = time.perf_counter()
            client.create_table()
            create_ms[name] = round((time.perf_counter() - t0) * 1000, 1)
        raw.ensure_table()
        named: dict[str, Any] = {**boto, "redis": raw}
        for client in named.values():
            _warm_up(client)
        checks = {n: c.update_missing_fails() for n, c in boto.items()}
        progress(f"tables: servers up and warm in {time.perf_counter() - began:.1f} s")
        sequential = _sequential(servers, named, keys, rounds)
        progress("tables: sequential part done")
        parallel = (
            _concurrent(servers, keys, clients=clients, seconds=seconds) if clients > 1 else {}
        )
    result: dict[str, Any] = {
        "method": {
            **METHOD,
            "sequential": f"one client, {items} PutItem, {gets} GetItem, {queries} Query "
            f"(Limit 100 of a {PER_PARTITION}-item partition), {updates} UpdateItem, each "
            f"call timed; {rounds} rounds per operation, target order rotating",
            "concurrent": f"{clients} client processes (spawned), each in a closed loop for "
            f"{seconds:g} s per operation and target",
            "item": "~200 bytes (DynamoDB's size): pk S, sk N, v N, owner S, data S",
        },
        "create_table_until_active_ms": create_ms,
        "checks": {"conditional_update_of_missing_item_refused": checks},
        "sequential": sequential,
        "sequential_ratios": _ratios(sequential),
    }
    if parallel:
        result["concurrent_clients"] = clients
        result["concurrent"] = parallel
        result["concurrent_ratios"] = _ratios(parallel)
    return result
