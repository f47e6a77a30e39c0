"""A real gateway on a free loopback port, with the LocalProvider and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from kubefn import config
from kubefn.function import compile_function
from kubefn.redisserver import EmbeddedRedis
from kubefn_gateway.app import PLATFORM, Platform, create_app
from kubefn_gateway.settings import GatewaySettings
from tests.conftest import aws_client

T = TypeVar("T")


@dataclass
class Gateway:
    url: str
    platform: Platform
    redis: aioredis.Redis

    def lambda_client(self, *, read_timeout: int = 60) -> Any:
        return aws_client("lambda", self.url, read_timeout=read_timeout)

    def client(self, service: str, *, read_timeout: int = 60) -> Any:
        """A boto3 client of `service` (dynamodb, dynamodbstreams, ...) for this gateway."""
        return aws_client(service, self.url, read_timeout=read_timeout)

    async def deploy(
        self, name: str, *, files: dict[str, str], namespace: str = "default", **spec: Any
    ) -> int:
        """Publish a Function with inline code; return once this gateway serves its revision."""
        manifest = {
            "apiVersion": "kubefn.io/v1alpha1",
            "kind": "Function",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "runtime": "python3.11",
                "handler": "app.handler",
                **spec,
                "code": {"inline": files},
            },
        }
        compiled = compile_function(manifest)
        result = await config.publish_compiled(self.redis, compiled)
        await self.until(
            lambda: (
                (served := self.platform.catalog.get(compiled.key)) is not None
                and served.version.revision == result.revision
            )
        )
        return result.revision

    async def until(self, condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
        """Poll a condition of the running gateway (bounded; fails loudly on timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.01)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking client call (boto3) off the loop that serves the gateway."""
        return await asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
def gateway_settings(redis_server: EmbeddedRedis, tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        redis_url=redis_server.url,
        state_dir=tmp_path / "state",
        config_poll_seconds=0.2,
        report_seconds=0.1,
        idle_seconds=600,
    )


@pytest.fixture
async def gateway(
    gateway_settings: GatewaySettings, redis_client: aioredis.Redis
) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings, redis_client) as gateway:
        yield gateway


@contextlib.asynccontextmanager
async def running_gateway(
    settings: GatewaySettings, redis_client: aioredis.Redis
) -> AsyncIterator[Gateway]:
    """A gateway serving on a free loopback port until the block ends."""
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    platform = app[PLATFORM]
    await platform.catalog.loaded.wait()
    try:
        yield Gateway(url=f"http://{host}:{port}", platform=platform, redis=redis_client)
    finally:
        await runner.cleanup()
