"""The processes bench/states.py measures: an embedded Redis, the gateway as the chart
runs it (`python -m kubefn_gateway`) with a Python Function published to it before it
starts, and moto's server with its state machine interpreter switched on.

Each on a free loopback port, polled until it answers; stopped by pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from bench import procs
from bench.workspace import REPO, Workspace
from kubefn import config
from kubefn.function import compile_function
from kubefn.redisserver import EmbeddedRedis, free_port

LOOPBACK = "127.0.0.1"
FUNCTION = "square"
"""The function a Map's iterations invoke."""
FUNCTION_CODE = (
    "def handler(event, context):\n    return {'n': event['n'], 'square': event['n'] ** 2}\n"
)


@dataclass
class Servers:
    redis: EmbeddedRedis
    gateway: subprocess.Popen[bytes]
    gateway_port: int
    moto: subprocess.Popen[bytes]
    moto_port: int

    @property
    def gateway_url(self) -> str:
        return f"http://{LOOPBACK}:{self.gateway_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{LOOPBACK}:{self.moto_port}"

    def pids(self) -> dict[str, list[int]]:
        """Server processes whose CPU time is read around each measurement."""
        assert self.redis.process is not None
        return {
            "gateway": [self.gateway.pid],
            "functions": procs.descendants(self.gateway.pid),
            "redis": [self.redis.process.pid],
            "moto": [self.moto.pid],
        }

    def stop(self) -> None:
        procs.terminate(self.gateway, self.moto, grace=30.0)
        self.redis.stop()


async def _publish_function(url: str) -> None:
    manifest = {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Function",
        "metadata": {"name": FUNCTION, "namespace": "default"},
        "spec": {
            "runtime": "python3.11",
            "handler": "app.handler",
            "code": {"inline": {"app.py": FUNCTION_CODE}},
        },
    }
    client = redis.asyncio.Redis.from_url(url)
    try:
        await config.publish_compiled(client, compile_function(manifest))
    finally:
        await client.aclose()


def start(ws: Workspace, *, profile: Path | None = None) -> Servers:
    """Start everything; the gateway under cProfile (output to `profile`) when given."""
    store = EmbeddedRedis(ws.root / "states-redis")
    store.start()
    asyncio.run(_publish_function(store.url))
    gateway_port, moto_port = free_port(), free_port()
    env = {**os.environ, "KUBEFN_LOG_LEVEL": "WARNING"}
    python = [sys.executable, *(["-m", "cProfile", "-o", str(profile)] if profile else [])]
    gateway = subprocess.Popen(
        [*python, "-m", "kubefn_gateway", "--host", LOOPBACK, "--port", str(gateway_port),
         "--redis-url", store.url, "--state-dir", str(ws.root / "states-gateway")],
        stdin=subprocess.DEVNULL, stdout=ws.log, stderr=ws.log, env=env, cwd=REPO,
    )  # fmt: skip
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(moto_port)],
        stdin=subprocess.DEVNULL, stdout=ws.log, stderr=ws.log,
    )  # fmt: skip
    servers = Servers(store, gateway, gateway_port, moto, moto_port)
    try:
        procs.wait_http(gateway, f"{servers.gateway_url}/healthz")
        procs.wait_http(moto, f"{servers.moto_url}/moto-api/")
        switch = urllib.request.Request(
            f"{servers.moto_url}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(switch, timeout=10).close()
    except BaseException:
        servers.stop()
        raise
    return servers


@contextlib.contextmanager
def running(ws: Workspace, profile: Path | None) -> Iterator[Servers]:
    servers = start(ws, profile=profile)
    try:
        yield servers
    finally:
        servers.stop()
