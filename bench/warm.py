"""Warm invoke latency and throughput, through the gateway vs. straight to agents.

Every target runs in its own process(es); this process only generates load:
- gateway: `kubefn dev` serving examples/hello, so N clients get N instances;
- direct: N agents forked by the runtime's template from this process, with the
  instance config the gateway would give them; client i -> agent i (an
  instance each, as the gateway gives each concurrent invocation its own);
- floor: an aiohttp constant handler, and one aiohttp proxy hop in front of it;
- bare proxy: the same aiohttp proxy in front of the direct agents (client i ->
  agent i), the least any aiohttp gateway could add: the gateway's overhead
  beyond it is kubefn's own logic;
- raw proxy: the aiohttp server with one raw kept-alive connection per agent
  instead of aiohttp's client, to show what that design change would buy.
Targets are measured in alternating rounds so that drift in the machine's load
hits all of them alike. CPU time per request is read for every process group.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import gatewaymetrics, httpload, idlegap, procs, sdk, stats
from bench.agents import Agents, instance_config
from bench.workspace import INVOKE_PATH, Workspace, gateway_invoke_path

LOOPBACK = "127.0.0.1"


@dataclass
class Run:
    """One measured run against one target."""

    load: httpload.LoadResult
    cpu_ms_per_request: dict[str, float]
    other_processes_cores: float
    """CPU the rest of the machine used meanwhile (other users' work): noise to report."""
    gateway_sockets_opened: int
    """Sockets the gateway opened meanwhile: with reuse, only the clients' connections."""


@dataclass
class Processes:
    gateway: procs.Child
    agents: Agents
    agent_ports: list[int]
    constant: procs.Child
    proxy: procs.Child
    proxy_agents: procs.Child
    raw_proxy_agents: procs.Child

    async def stop(self) -> None:
        await self.agents.close()
        children = (
            self.gateway,
            self.constant,
            self.proxy,
            self.proxy_agents,
            self.raw_proxy_agents,
        )
        await asyncio.gather(*(c.stop() for c in children), return_exceptions=True)


async def _start(ws: Workspace, agent_count: int) -> Processes:
    functions = ws.functions("warm-functions", ("hello",))
    gateway = await procs.start(
        [str(procs.BIN / "kubefn"), "dev", str(functions), "--port", "0",
         "--state-dir", str(ws.root / "warm-state")],
        log=ws.log,
    )  # fmt: skip
    agents = Agents(log_fd=ws.log.fileno())
    ports: list[int] = []
    try:
        config = instance_config("hello", functions / "hello")
        await agents.boot(config)
        for _ in range(agent_count):
            ports.append((await agents.spawn(config))[1])
        constant = await procs.start(_floor("constant"), log=ws.log)
        proxy = await procs.start(_proxy([f"http://{LOOPBACK}:{constant.port}/"]), log=ws.log)
        upstreams = [f"http://{LOOPBACK}:{port}{INVOKE_PATH}" for port in ports]
        proxy_agents = await procs.start(_proxy(upstreams), log=ws.log)
        raw_proxy_agents = await procs.start(_proxy(upstreams, "raw-proxy"), log=ws.log)
    except BaseException:
        await agents.close()
        await gateway.stop()
        raise
    return Processes(gateway, agents, ports, constant, proxy, proxy_agents, raw_proxy_agents)


def _floor(mode: str) -> list[str]:
    return [sys.executable, "-m", "bench.floor_server", mode]


def _proxy(upstreams: list[str], mode: str = "proxy") -> list[str]:
    return [*_floor(mode), *(arg for url in upstreams for arg in ("--upstream", url))]


def _targets(p: Processes, name: str, clients: int) -> list[httpload.Target]:
    if name == "gateway":
        path = gateway_invoke_path("hello")
        return [httpload.Target(LOOPBACK, p.gateway.port, path) for _ in range(clients)]
    if name == "direct":
        return [httpload.Target(LOOPBACK, port, INVOKE_PATH) for port in p.agent_ports[:clients]]
    if name in ("proxy_agents", "raw_proxy_agents"):
        port = p.proxy_agents.port if name == "proxy_agents" else p.raw_proxy_agents.port
        return [httpload.Target(LOOPBACK, port, f"/{i}") for i in range(clients)]
    if name == "floor_proxy":
        return [httpload.Target(LOOPBACK, p.proxy.port, "/0") for _ in range(clients)]
    return [httpload.Target(LOOPBACK, p.constant.port, "/") for _ in range(clients)]


def _cpu_groups(p: Processes, clients: int) -> dict[str, list[int]]:
    """Process groups whose CPU time is read around each measurement."""
    gateway_children = procs.children(p.gateway.pid)
    templates = [c for c in gateway_children if "kubefn_runtime.zygote" in procs.cmdline(c)]
    gateway_agents = [a for t in templates for a in procs.children(t)]
    direct_agents = p.agents.pids[:clients]
    return {
        "gateway": [p.gateway.pid],
        "gateway.agents": gateway_agents,
        "gateway.functions": [f for a in gateway_agents for f in procs.children(a)],
        "redis": [c for c in gateway_children if "redis-server" in procs.cmdline(c)],
        "direct.agents": direct_agents,
        "direct.functions": [f for a in direct_agents for f in procs.children(a)],
        "floor.constant": [p.constant.pid],
        "floor.proxy": [p.proxy.pid],
        "bare_proxy": [p.proxy_agents.pid],
        "raw_proxy": [p.raw_proxy_agents.pid],
    }


def gateway_instances(p: Processes) -> int:
    """How many agents the gateway's template has forked and still runs."""
    gateway_children = procs.children(p.gateway.pid)
    return sum(
        len(procs.children(t))
        for t in gateway_children
        if "kubefn_runtime.zygote" in procs.cmdline(t)
    )


async def _measure(p: Processes, name: str, clients: int, seconds: float) -> Run:
    groups = _cpu_groups(p, clients)
    sockets = procs.socket_inodes(p.gateway.pid)
    before = {g: procs.cpu_ns(pids) for g, pids in groups.items()}
    client_before = time.process_time_ns()
    busy_before = procs.machine_busy_ns()
    result = await httpload.closed_loop(_targets(p, name, clients), seconds=seconds)
    busy_ns = procs.machine_busy_ns() - busy_before
    used = {g: procs.cpu_ns(pids) - before[g] for g, pids in groups.items()}
    used["load_generator"] = time.process_time_ns() - client_before
    count = max(1, len(result.latencies_ms))
    return Run(
        load=result,
        cpu_ms_per_request={
            g: round(ns / 1e6 / count, 4) for g, ns in used.items() if ns / count > 500
        },
        other_processes_cores=round(
            max(0, busy_ns - sum(used.values())) / 1e9 / result.elapsed_s, 2
        ),
        gateway_sockets_opened=len(procs.socket_inodes(p.gateway.pid) - sockets),
    )


TARGETS = (
    "floor_constant",
    "floor_proxy",
    "direct",
    "proxy_agents",
    "raw_proxy_agents",
    "gateway",
)


async def run(
    ws: Workspace,
    *,
    concurrencies: tuple[int, ...],
    seconds: float,
    rounds: int,
    warmup_seconds: float,
    boto3_seconds: float,
) -> dict[str, Any]:
    """Measure every target at every concurrency; returns the JSON-ready results."""
    p = await _start(ws, max(concurrencies))
    try:
        levels = [
            await _level(p, c, seconds=seconds, rounds=rounds, warmup_seconds=warmup_seconds)
            for c in concurrencies
        ]
        extra: dict[str, Any] = {
            "idle_gap": await idlegap.measure(
                p.agents.pids[0],
                p.agent_ports[0],
                INVOKE_PATH,
                gaps_ms=(0.0, 2.0, 10.0),
                requests=200,
            )
        }
        if boto3_seconds > 0:
            extra["boto3_gateway_1_client"] = await asyncio.to_thread(
                sdk.invoke_loop, p.gateway.port, boto3_seconds
            )
        return {
            "method": {
                "client": "raw asyncio HTTP/1.1, one kept-alive connection per client, "
                "closed loop (next request as soon as the reply arrives)",
                "seconds_per_round": seconds,
                "rounds": rounds,
                "warmup_seconds": warmup_seconds,
                "payload": '{"name": "bench"}',
                "function": "examples/hello",
            },
            "levels": levels,
            "extra": extra,
        }
    finally:
        await p.stop()


async def _level(
    p: Processes, clients: int, *, seconds: float, rounds: int, warmup_seconds: float
) -> dict[str, Any]:
    for name in TARGETS:
        await _warm_up(p, name, clients, warmup_seconds)
    instances = gateway_instances(p)
    cold_before = await gatewaymetrics.cold_starts(p.gateway.port)
    runs: dict[str, list[Run]] = {n: [] for n in TARGETS}
    for round_ in range(rounds):
        order = TARGETS[round_ % len(TARGETS) :] + TARGETS[: round_ % len(TARGETS)]
        for name in order:
            run = await _measure(p, name, clients, seconds)
            runs[name].append(run)
            if run.load.errors:
                print(f"  {name} x{clients}: {run.load.errors} errors: {run.load.first_error}")
    cold_after = await gatewaymetrics.cold_starts(p.gateway.port)
    targets = {name: _aggregate(runs[name]) for name in TARGETS}
    return {
        "concurrency": clients,
        "gateway_instances": instances,
        "gateway_cold_starts_while_measuring": cold_after.get("hello", 0)
        - cold_before.get("hello", 0),
        "targets": targets,
        "overhead": _overhead(targets),
    }


async def _warm_up(p: Processes, name: str, clients: int, seconds: float) -> None:
    """Load the target until it has every instance it will use: for the gateway, until
    a whole warm-up period passes without a new instance (the pool grows on demand,
    so N clients do not always need N instances)."""
    for _ in range(8):
        before = gateway_instances(p)
        warm = await httpload.closed_loop(_targets(p, name, clients), seconds=seconds)
        if warm.errors:
            raise RuntimeError(f"warm-up of {name} with {clients} clients: {warm.first_error}")
        if name != "gateway" or gateway_instances(p) == before:
            return


def _aggregate(runs: list[Run]) -> dict[str, Any]:
    latencies = [x for r in runs for x in r.load.latencies_ms]
    cpu = [r.cpu_ms_per_request for r in runs]
    keys = sorted({k for item in cpu for k in item})
    return {
        "latency_ms": stats.summarize(latencies),
        "throughput_rps": round(len(latencies) / sum(r.load.elapsed_s for r in runs), 1),
        "errors": sum(r.load.errors for r in runs),
        # A Nagle/delayed-ACK stall shows as ~40 ms; with one client nothing should come close.
        "samples_over_35ms": sum(1 for x in latencies if x > 35.0),
        "cpu_ms_per_request": {
            k: round(sum(i.get(k, 0.0) for i in cpu) / len(cpu), 4) for k in keys
        },
        "other_processes_cores": round(sum(r.other_processes_cores for r in runs) / len(runs), 2),
        "gateway_sockets_opened_per_run": [r.gateway_sockets_opened for r in runs],
    }


def _overhead(targets: dict[str, Any]) -> dict[str, Any]:
    def compare(slow: str, fast: str) -> dict[str, float]:
        a, b = targets[slow]["latency_ms"], targets[fast]["latency_ms"]
        out: dict[str, float] = {}
        for q in ("p50", "p99"):
            out[f"{q}_ms"] = round(a[q] - b[q], 3)
            out[f"{q}_ratio"] = round(a[q] / b[q], 2)
        out["throughput_ratio"] = round(
            targets[slow]["throughput_rps"] / targets[fast]["throughput_rps"], 2
        )
        return out

    return {
        "gateway_vs_direct": compare("gateway", "direct"),
        "bare_proxy_vs_direct": compare("proxy_agents", "direct"),
        "raw_proxy_vs_direct": compare("raw_proxy_agents", "direct"),
        "gateway_vs_bare_proxy": compare("gateway", "proxy_agents"),
        "floor_proxy_vs_constant": compare("floor_proxy", "floor_constant"),
    }
