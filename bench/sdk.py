"""The figure an AWS SDK user sees: boto3 `lambda.invoke` through the gateway, one
client. Extra information only: boto3 adds ~0.9 ms of its own per call
(notes/floors.md), so the latency comparison uses the raw client instead.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
from botocore.config import Config

from bench import stats

LOOPBACK = "127.0.0.1"


def invoke_loop(port: int, seconds: float) -> dict[str, Any]:
    """boto3 `lambda.invoke` through the gateway: what an SDK user sees, client cost included."""
    client = boto3.client(
        "lambda",
        endpoint_url=f"http://{LOOPBACK}:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )
    for _ in range(20):
        client.invoke(FunctionName="hello", Payload=b'{"name": "bench"}')
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at and len(latencies) < 100_000:
        began = time.perf_counter_ns()
        reply = client.invoke(FunctionName="hello", Payload=b'{"name": "bench"}')
        reply["Payload"].read()
        latencies.append((time.perf_counter_ns() - began) / 1e6)
        if reply.get("FunctionError"):
            raise RuntimeError(f"boto3 invoke failed: {reply}")
    return {
        "latency_ms": stats.summarize(latencies),
        "throughput_rps": round(len(latencies) / seconds, 1),
    }
