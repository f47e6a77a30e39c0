"""Step Functions' API (2016-11-23) on the gateway, under one target prefix.

The state-machine operations are served here; the execution operations join
them through `extra`, so one prefix answers every AWSStepFunctions.* target.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis.asyncio as aioredis

from kubefn_gateway.awsjson import JsonProtocol, Operation
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.stepfunctions.arns import Arns
from kubefn_gateway.stepfunctions.errors import InternalFailure
from kubefn_gateway.stepfunctions.machines import MachineCatalog
from kubefn_gateway.stepfunctions.machines_api import MachinesApi

TARGET_PREFIX = "AWSStepFunctions"


def arns_of(settings: GatewaySettings) -> Arns:
    """The ARNs this gateway writes and reads."""
    return Arns(
        region=settings.region, account_id=settings.account_id, namespace=settings.namespace
    )


def merged(*providers: Mapping[str, Operation]) -> dict[str, Operation]:
    """One table of operations from several; an operation named twice is a wiring mistake."""
    operations: dict[str, Operation] = {}
    for provider in providers:
        twice = sorted(operations.keys() & provider.keys())
        if twice:
            raise ValueError(f"operations registered twice: {', '.join(twice)}")
        operations.update(provider)
    return operations


def register(
    protocol: JsonProtocol,
    *,
    settings: GatewaySettings,
    redis: aioredis.Redis,
    machines: MachineCatalog,
    extra: Mapping[str, Operation] | None = None,
) -> MachinesApi:
    """Serve Step Functions through `protocol`: the state-machine operations and `extra`
    (the execution operations); returns the state-machine half."""
    api = MachinesApi(machines=machines, redis=redis, arns=arns_of(settings))
    protocol.register(
        TARGET_PREFIX,
        merged(api.operations(), extra or {}),
        internal_error=InternalFailure,
    )
    return api
