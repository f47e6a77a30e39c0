"""The gateway's configuration, frozen before it serves (as aiohttp freezes its app)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kubefn import limits


@dataclass(frozen=True)
class GatewaySettings:
    redis_url: str
    state_dir: Path
    """Where the LocalProvider unpacks code bundles."""
    namespace: str = "default"
    """Namespace of function names given without one."""
    region: str = "us-east-1"
    account_id: str = "000000000000"
    idle_seconds: float = 600.0
    """An instance idle this long is stopped (scale to zero)."""
    max_instances_per_function: int = 100
    """Bound on one function's instances when it has no reserved concurrency."""
    account_concurrency: int = limits.ACCOUNT_CONCURRENCY
    config_poll_seconds: float = 2.0
    report_seconds: float = 5.0
    """How often this replica reports what it observes (instances, cold starts) to Redis."""
    replica: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    start_timeout_seconds: float = 60.0
    """How long a cold start (process start + init) may take before it fails."""
    provider: str = "local"
    """What instances are: "local" processes, or "kubernetes" pods of each function."""
    capacity_burst_seconds: float = 300.0
    """Unused provisioned capacity a table may save up, as DynamoDB's burst capacity."""
    item_collection_bytes_max: int = 10 * 1024**3
    """DynamoDB's limit on one partition key's items in a table with a local secondary index."""
    ttl_sweep_seconds: float = 5.0
    """How often expired items are deleted (DynamoDB TTL); one replica sweeps each table."""
    states_time_scale: float = 1.0
    """Durations in workflows (Wait, Retry intervals, timeouts) pass this many times faster."""
    states_lease_seconds: float = 30.0
    """How long a replica's claim on a workflow step lasts unrenewed (crash recovery time)."""
    states_poll_seconds: float = 0.05
    """How often idle workers look for due workflow steps another replica made."""
    states_workers: int = 64
    """Workflow steps this replica drives at once."""
    states_history_max: int = 25_000
    """Step Functions' limit on one execution's history events (lower only for tests)."""
    kubernetes_api: str | None = None
    """The Kubernetes API server's URL; None finds it as kubectl does (in-cluster, kubeconfig)."""

    @property
    def reap_interval(self) -> float:
        return max(0.05, min(self.idle_seconds / 4, 5.0))
