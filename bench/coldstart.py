"""Cold starts: the first invocation on a new instance, split into its parts, beside
the floors (a fresh interpreter, a fork) measured in the same run.

Two views:
- template: this process drives the LocalProvider's Template (the zygote client)
  as the gateway does: spawn an agent, wait until it answers /kubefn/healthz
  (process start), then send the first invocation (first request). The agent
  reports the function's init (X-Kubefn-Init-Duration-Ms); it forks the function
  process as it starts, so init overlaps the process start and the first request
  rather than adding to them.
- gateway: `kubefn dev --idle-seconds 0.1`, so the gateway reaps every instance
  between samples; each sample waits until the template has no agent left, then
  times one invocation as a client sees it. The gateway's cold-start counter
  is read afterwards to prove every sample was cold.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from bench import gatewaymetrics, httpload, procs, stats
from bench.agents import Agents, instance_config
from bench.workspace import INVOKE_PATH, Workspace, gateway_invoke_path

LOOPBACK = "127.0.0.1"
HEALTH_PATH = "/kubefn/healthz"
PAYLOAD = b'{"name": "bench"}'


async def _one_cold_start(agents: Agents, config: dict[str, Any]) -> dict[str, float]:
    clock = time.perf_counter_ns
    began = clock()
    pid, port = await agents.spawn(config)
    spawned = clock()
    connection = await httpload.Connection.open(LOOPBACK, port)
    try:
        health = await connection.call(
            httpload.request_bytes(LOOPBACK, port, HEALTH_PATH, b"", method="GET")
        )
        accepting = clock()
        reply = await connection.call(httpload.request_bytes(LOOPBACK, port, INVOKE_PATH, PAYLOAD))
        answered = clock()
    finally:
        connection.close()
    await agents.stop(pid)
    if health.status != 200:
        raise RuntimeError(f"agent health: HTTP {health.status}")
    httpload.check(reply)
    init_ms = float(reply.headers["x-kubefn-init-duration-ms"])
    parts = {
        "spawn_reply_ms": (spawned - began) / 1e6,
        "process_start_ms": (accepting - began) / 1e6,
        "init_ms": init_ms,
        "first_request_ms": (answered - accepting) / 1e6,
        "total_ms": (answered - began) / 1e6,
    }
    user_init = json.loads(reply.body).get("initSeconds")
    if isinstance(user_init, float | int):  # examples/slow-init times its own init
        parts["user_init_ms"] = user_init * 1000
        parts["platform_init_ms"] = init_ms - user_init * 1000
    return parts


async def _template_view(ws: Workspace, samples: dict[str, int]) -> dict[str, Any]:
    folder = ws.functions("cold-functions", tuple(samples))
    agents = Agents(log_fd=ws.log.fileno())
    out: dict[str, Any] = {}
    try:
        out["template_boot_ms"] = round(
            await agents.boot(instance_config("hello", folder / "hello")), 3
        )
        for name, count in samples.items():
            with procs.MachineLoad() as load:
                records = [
                    await _one_cold_start(agents, instance_config(name, folder / name))
                    for _ in range(count)
                ]
            out[name] = {part: stats.summarize([r[part] for r in records]) for part in records[0]}
            out[name]["machine_busy_cores"] = load.cores
    finally:
        await agents.close()
    return out


async def _gateway_view(ws: Workspace, samples: dict[str, int]) -> dict[str, Any]:
    folder = ws.functions("cold-gateway-functions", tuple(samples))
    gateway = await procs.start(
        [str(procs.BIN / "kubefn"), "dev", str(folder), "--port", "0",
         "--state-dir", str(ws.root / "cold-state"), "--idle-seconds", "0.1"],
        log=ws.log,
    )  # fmt: skip
    out: dict[str, Any] = {}
    try:
        connection = await httpload.Connection.open(LOOPBACK, gateway.port)
        for name, count in samples.items():
            request = httpload.request_bytes(
                LOOPBACK, gateway.port, gateway_invoke_path(name), PAYLOAD
            )
            latencies: list[float] = []
            beyond_user_init: list[float] = []
            with procs.MachineLoad() as load:
                for _ in range(count + 1):
                    await _until_no_instances(gateway.pid)
                    began = time.perf_counter_ns()
                    reply = await connection.call(request)
                    latencies.append((time.perf_counter_ns() - began) / 1e6)
                    httpload.check(reply)
                    user_init = json.loads(reply.body).get("initSeconds")
                    if isinstance(user_init, float | int):
                        beyond_user_init.append(latencies[-1] - user_init * 1000)
            first, *rest = latencies
            out[name] = {
                "latency_ms": stats.summarize(rest),
                "invocations": count + 1,
                "machine_busy_cores": load.cores,
            }
            if beyond_user_init:  # what the platform added around the function's own init
                out[name]["latency_minus_user_init_ms"] = stats.summarize(beyond_user_init[1:])
            if "first_invocation_ms" not in out:
                # The very first invocation after the gateway started also boots the template.
                out["first_invocation_ms"] = round(first, 3)
        counted = await gatewaymetrics.cold_starts(gateway.port)
        for name in samples:
            out[name]["cold_starts_counted"] = counted.get(name, 0)
        connection.close()
    finally:
        await gateway.stop()
    return out


async def _until_no_instances(gateway_pid: int, timeout: float = 10.0) -> None:
    """Wait until the gateway's template runs no agent (the reaper stopped them all)."""
    deadline = time.monotonic() + timeout
    while True:
        templates = [
            c for c in procs.children(gateway_pid) if "kubefn_runtime.zygote" in procs.cmdline(c)
        ]
        if not any(procs.children(t) for t in templates):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway did not reap its idle instances")
        await asyncio.sleep(0.002)  # polling /proc for the reaper's work


_FORK_LOOP = """
import json, os, sys, time
{imports}
times = []
for _ in range({n}):
    began = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    times.append((time.perf_counter_ns() - began) / 1e6)
print(json.dumps(times))
"""


def _baselines(interpreter_samples: int, fork_samples: int) -> dict[str, Any]:
    """The floors of notes/floors.md: a fresh interpreter, and a fork of a running one.

    The forks run in a fresh interpreter, not in this one: fork time grows with the
    parent's memory, and this process has loaded aiohttp, boto3 and the gateway.
    """

    def spawn(code: str) -> list[float]:
        times = []
        for _ in range(interpreter_samples):
            began = time.perf_counter_ns()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append((time.perf_counter_ns() - began) / 1e6)
        return times

    def forks(imports: str) -> list[float]:
        code = _FORK_LOOP.format(imports=imports, n=fork_samples)
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times: list[float] = json.loads(out.stdout)
        return times

    return {
        "python_import_asyncio_ms": stats.summarize(spawn("import asyncio")),
        "python_import_agent_ms": stats.summarize(spawn("import kubefn_runtime.agent")),
        "fork_exit_wait_ms": stats.summarize(forks("")),
        "fork_exit_wait_agent_loaded_ms": stats.summarize(forks("import kubefn_runtime.agent")),
    }


async def run(
    ws: Workspace,
    *,
    template_samples: dict[str, int],
    gateway_samples: dict[str, int],
    interpreter_samples: int,
    fork_samples: int,
) -> dict[str, Any]:
    return {
        "method": {
            "template": "Template.spawn -> agent answers GET /kubefn/healthz (process start) "
            "-> first POST invocation (first request); init from X-Kubefn-Init-Duration-Ms, "
            "overlapping both",
            "gateway": "kubefn dev --idle-seconds 0.1; each sample waits until no agent is "
            "left, then times one invocation through the gateway",
        },
        "baselines": _baselines(interpreter_samples, fork_samples),
        "template": await _template_view(ws, template_samples),
        "gateway": await _gateway_view(ws, gateway_samples),
    }
