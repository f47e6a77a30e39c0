"""`python -m kubefn_gateway` — one gateway replica (the chart's gateway Deployment)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from kubefn_gateway.app import create_app
from kubefn_gateway.providers import PROVIDERS
from kubefn_gateway.settings import GatewaySettings


def parse(argv: Sequence[str] | None = None) -> tuple[GatewaySettings, str, int]:
    """The settings, host and port that the arguments and environment give."""
    parser = argparse.ArgumentParser(prog="kubefn-gateway", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("KUBEFN_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KUBEFN_PORT", "8080")))
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--state-dir", type=Path, default=Path(os.environ.get("KUBEFN_STATE_DIR", "/tmp/kubefn"))
    )
    parser.add_argument("--namespace", default=os.environ.get("KUBEFN_NAMESPACE", "default"))
    parser.add_argument("--idle-seconds", type=float, default=600.0)
    parser.add_argument(
        "--ttl-sweep-seconds",
        type=float,
        default=5.0,
        help="how often items whose Time to Live expired are deleted",
    )
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=os.environ.get("KUBEFN_PROVIDER", "local"),
        help="what instances are: local processes, or pods of each function's Deployment",
    )
    parser.add_argument(
        "--kubernetes-api",
        default=os.environ.get("KUBEFN_KUBERNETES_API") or None,
        help="the API server's URL (default: in-cluster, then the kubeconfig)",
    )
    parser.add_argument(
        "--states-time-scale",
        type=float,
        default=float(os.environ.get("KUBEFN_STATES_TIME_SCALE", "1")),
        help="run workflow durations (Wait, Retry, timeouts) this many times faster",
    )
    parser.add_argument(
        "--states-lease-seconds",
        type=float,
        default=float(os.environ.get("KUBEFN_STATES_LEASE_SECONDS", "30")),
        help="how soon another replica resumes a workflow step whose replica died",
    )
    parser.add_argument(
        "--states-workers",
        type=int,
        default=int(os.environ.get("KUBEFN_STATES_WORKERS", "64")),
        help="workflow steps this replica drives at once",
    )
    parser.add_argument(
        "--states-poll-seconds",
        type=float,
        default=float(os.environ.get("KUBEFN_STATES_POLL_SECONDS", "0.05")),
        help="how often idle workflow workers look for steps other replicas made due",
    )
    args = parser.parse_args(argv)
    settings = GatewaySettings(
        redis_url=args.redis_url,
        state_dir=args.state_dir,
        namespace=args.namespace,
        idle_seconds=args.idle_seconds,
        ttl_sweep_seconds=args.ttl_sweep_seconds,
        provider=args.provider,
        kubernetes_api=args.kubernetes_api,
        states_time_scale=args.states_time_scale,
        states_lease_seconds=args.states_lease_seconds,
        states_workers=args.states_workers,
        states_poll_seconds=args.states_poll_seconds,
    )
    return settings, args.host, args.port


def main() -> None:
    settings, host, port = parse()
    logging.basicConfig(level=os.environ.get("KUBEFN_LOG_LEVEL", "INFO"))
    web.run_app(create_app(settings), host=host, port=port, access_log=None)


if __name__ == "__main__":
    main()
