"""Wiring: the operator's configuration, Kopf's settings, the log-in, and `operate`,
the one way to run it (`python -m kubefn_operator` and the tests both call it).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kopf
import redis.asyncio as aioredis

from kubefn.resources import GROUP
from kubefn_operator import cluster, objects
from kubefn_operator import handlers as handlers  # importing it registers the handlers
from kubefn_operator import observer as observer  # and the status observer
from kubefn_operator import statemachines as statemachines  # and the StateMachines'
from kubefn_operator import tables as tables  # and the Tables' handlers

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
_VERSION = importlib.metadata.version("kubefn")


@dataclass(frozen=True, kw_only=True)
class Config:
    """What the operator needs beyond Kopf: the installation it builds pods for."""

    installation: objects.Installation
    retry_seconds: float = 10.0
    """How soon to retry what may heal by itself: a ConfigMap not created yet, Redis down."""
    observe_seconds: float = 10.0
    """How often each Function's and Table's status takes in what the data plane observes."""
    connection: kopf.ConnectionInfo | None = None
    """Where the API server is; None logs in as kubectl does (in-cluster, then kubeconfig)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        def get(name: str, default: str) -> str:
            return environ.get(name) or default

        return cls(
            installation=objects.Installation(
                redis_url=get("REDIS_URL", DEFAULT_REDIS_URL),
                runtime_image=get("KUBEFN_RUNTIME_IMAGE", f"kubefn-runtime:{_VERSION}"),
                loader_image=get("KUBEFN_LOADER_IMAGE", f"kubefn-operator:{_VERSION}"),
                pull_policy=get("KUBEFN_IMAGE_PULL_POLICY", "IfNotPresent"),
                region=get("KUBEFN_REGION", "us-east-1"),
                account_id=get("KUBEFN_ACCOUNT_ID", "000000000000"),
            ),
            retry_seconds=float(get("KUBEFN_RETRY_SECONDS", "10")),
            observe_seconds=float(get("KUBEFN_OBSERVE_SECONDS", "10")),
        )


def configure(settings: kopf.OperatorSettings) -> None:
    """Kopf's settings for kubefn: its own finalizer and annotations.

    Progress lives in annotations only, so `status` holds just what users read.
    Only warnings become Kubernetes events; the handlers post their own on changes.
    """
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "kubefn-operator"


@kopf.on.login()
def login(
    *, memo: kopf.Memo, settings: kopf.OperatorSettings, logger: kopf.Logger, **_: Any
) -> kopf.ConnectionInfo | None:
    """Kopf's credentials, handed to the Kubernetes client too."""
    config: Config = memo.config
    info = config.connection or kopf.login_via_client(logger=logger, settings=settings)
    if info is not None:
        memo.cluster.connect(info)
    return info


async def operate(
    *,
    config: Config,
    namespaces: Sequence[str] = (),
    settings: kopf.OperatorSettings | None = None,
    liveness_endpoint: str | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """Run the operator until stopped: cluster-wide, or in `namespaces` only.

    One replica runs at a time (the chart's Deployment recreates rather than
    rolls), so Kopf's peering is off and needs no RBAC of its own.
    """
    settings = settings if settings is not None else kopf.OperatorSettings()
    configure(settings)
    redis = aioredis.Redis.from_url(config.installation.redis_url)
    api = cluster.Cluster()
    try:
        await kopf.operator(
            settings=settings,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness_endpoint,
            memo=kopf.Memo(config=config, redis=redis, cluster=api, tables={}),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        api.close()
        await redis.aclose()
