"""The gateway application: routes, and the start-up/teardown of what they share.

Everything stateful is set up in one cleanup context, in dependency order, and
torn down in reverse: the provider made ready, the catalog following the config,
the idle reaper and the observation reporter; then pools, provider and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import redis.exceptions
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kubefn import aio, config, limits, observed
from kubefn.function import KIND
from kubefn_gateway import providers
from kubefn_gateway.awsjson import JsonProtocol
from kubefn_gateway.catalog import Catalog
from kubefn_gateway.dynamodb import api as dynamodb_api
from kubefn_gateway.dynamodb import streams_api
from kubefn_gateway.dynamodb.tables import KIND as TABLE_KIND
from kubefn_gateway.dynamodb.tables import TableCatalog
from kubefn_gateway.dynamodb.triggers import TriggerRunner
from kubefn_gateway.dynamodb.ttl import Sweeper
from kubefn_gateway.functions_api import FunctionsApi
from kubefn_gateway.invoke_api import InvokeApi
from kubefn_gateway.invoker import Invoker
from kubefn_gateway.metrics import Metrics
from kubefn_gateway.providers import Provider
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.stepfunctions import api as stepfunctions_api
from kubefn_gateway.stepfunctions.engine.service import Engine, EngineMetrics, EngineSettings
from kubefn_gateway.stepfunctions.executions_api import ExecutionsApi
from kubefn_gateway.stepfunctions.functions import InvokerFunctions
from kubefn_gateway.stepfunctions.machines import KIND as MACHINE_KIND
from kubefn_gateway.stepfunctions.machines import MachineCatalog

log = logging.getLogger(__name__)

KINDS = (KIND, TABLE_KIND, MACHINE_KIND)


class Platform:
    """What the routes share: one Redis client, the provider, the catalog, the metrics."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        # A command that meets a connection a restarted Redis closed is sent once more on
        # a fresh one. It never ran, so this applies it once; a write whose reply alone
        # was lost would find its guards moved and be decided again, as a client's retry
        # of a 500 would be.
        self.redis = aioredis.Redis.from_url(
            settings.redis_url,
            retry=Retry(NoBackoff(), retries=1),
            retry_on_error=[redis.exceptions.ConnectionError],
        )
        self.provider: Provider = providers.create(settings, redis=self.redis)
        self.catalog = Catalog(settings=settings, provider=self.provider)
        self.metrics = Metrics(observations=lambda: self.catalog.observations(now=time.time()))
        self.invoker = Invoker(catalog=self.catalog, settings=settings, metrics=self.metrics)
        self.tables = TableCatalog(self.redis)
        self.aws_json = JsonProtocol()
        self.store = dynamodb_api.register(
            self.aws_json, settings=settings, redis=self.redis, tables=self.tables
        )
        streams_api.register(self.aws_json, redis=self.redis, tables=self.tables, settings=settings)
        self.machines = MachineCatalog(self.redis)
        self.states = Engine(
            redis=self.redis,
            functions=InvokerFunctions(self.invoker),
            arns=stepfunctions_api.arns_of(settings),
            find_machine=self.machines.find,
            settings=EngineSettings(
                time_scale=settings.states_time_scale,
                lease_seconds=settings.states_lease_seconds,
                poll_seconds=settings.states_poll_seconds,
                workers=settings.states_workers,
                history_max=settings.states_history_max,
            ),
            metrics=EngineMetrics(
                started=lambda key, kind: self.metrics.executions_started.labels(
                    *key.split("/", 1), kind
                ).inc(),
                closed=lambda key, status: self.metrics.executions_closed.labels(
                    *key.split("/", 1), status
                ).inc(),
                transitions=lambda key, count: self.metrics.state_transitions.labels(
                    *key.split("/", 1)
                ).inc(count),
            ),
        )
        stepfunctions_api.register(
            self.aws_json,
            settings=settings,
            redis=self.redis,
            machines=self.machines,
            extra=ExecutionsApi(
                engine=self.states,
                machines=self.machines,
                arns=stepfunctions_api.arns_of(settings),
                redis=self.redis,
            ).operations(),
        )
        self.triggers = TriggerRunner(
            redis=self.redis,
            tables=self.tables,
            invoker=self.invoker,
            settings=settings,
            on_batch=lambda trigger, outcome: self.metrics.stream_batches.labels(
                trigger.namespace, trigger.table_name, trigger.function, outcome
            ).inc(),
        )
        self.ttl = Sweeper(
            redis=self.redis,
            store=self.store,
            tables=self.tables,
            replica=settings.replica,
            period=settings.ttl_sweep_seconds,
            on_deleted=lambda table, count: self.metrics.ttl_deletions.labels(
                table.namespace, table.name
            ).inc(count),
        )

    async def _apply(self, snapshot: config.Snapshot) -> None:
        await self.tables.apply(snapshot)
        await self.machines.apply(snapshot)
        await self.catalog.apply(snapshot)

    async def run(self) -> AsyncIterator[None]:
        await self.provider.prepare()
        tasks = [
            asyncio.create_task(
                config.follow(
                    self.redis,
                    kinds=KINDS,
                    on_snapshot=self._apply,
                    poll_seconds=self.settings.config_poll_seconds,
                ),
                name="config-follower",
            ),
            asyncio.create_task(self.catalog.run_reaper(), name="idle-reaper"),
            asyncio.create_task(self._report_observations(), name="observation-reporter"),
            asyncio.create_task(self.triggers.run(), name="stream-triggers"),
            asyncio.create_task(self.ttl.run(), name="ttl-sweeper"),
        ]
        try:
            async with self.states.running():
                yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.catalog.close()
            await self.provider.close()
            await self.redis.aclose()

    async def _report_observations(self) -> None:
        """Tell the control plane what runs here, for the functions' status."""
        while not aio.cancel_requested():
            try:
                await observed.report(
                    self.redis,
                    kind=KIND,
                    replica=self.settings.replica,
                    observations=self.catalog.observations(now=time.time()),
                )
            except (redis.exceptions.RedisError, OSError) as exc:
                if aio.cancel_requested():
                    raise asyncio.CancelledError from exc
                log.warning("cannot report observations: %s", exc)
            await asyncio.sleep(self.settings.report_seconds)  # the report period


PLATFORM: web.AppKey[Platform] = web.AppKey("platform")


def create_app(settings: GatewaySettings) -> web.Application:
    # Room above the largest payload so the Invoke API answers 413 in AWS's shape itself.
    app = web.Application(client_max_size=limits.SYNC_PAYLOAD_BYTES_MAX + (1 << 20))
    platform = Platform(settings)
    app[PLATFORM] = platform
    app.cleanup_ctx.append(lambda _app: platform.run())
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_routes(InvokeApi(platform=platform).routes())
    app.router.add_routes(FunctionsApi(platform=platform).routes())
    app.router.add_routes(platform.aws_json.routes())
    return app


async def _healthz(request: web.Request) -> web.Response:
    catalog = request.app[PLATFORM].catalog
    if not catalog.loaded.is_set():
        return web.json_response({"status": "starting"}, status=503)
    return web.json_response(
        {"status": "ok", "configVersion": catalog.config_version, "functions": catalog.keys()}
    )


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[PLATFORM].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
