"""Invoking a function in process: the one path the Invoke API, stream triggers and
workflows share, so each invocation is throttled, run and counted the same way.

Callers get Lambda's errors (`awserrors`): the Invoke API answers them as they
are, background callers treat them as a failed attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping

from kubefn import limits
from kubefn_gateway import awserrors
from kubefn_gateway.catalog import Catalog, Served
from kubefn_gateway.instance import InstanceLost, InvokeResult
from kubefn_gateway.metrics import FunctionSeries, Metrics
from kubefn_gateway.pool import AtCapacity
from kubefn_gateway.providers.template import TemplateError
from kubefn_gateway.settings import GatewaySettings
from kubefn_runtime import protocol

log = logging.getLogger(__name__)


class Invoker:
    def __init__(self, *, catalog: Catalog, settings: GatewaySettings, metrics: Metrics) -> None:
        self._catalog = catalog
        self._settings = settings
        self._metrics = metrics

    def resolve(self, name: str, *, qualifier: str | None = None) -> Served:
        return resolve(self._catalog, self._settings, name=name, qualifier=qualifier)

    async def invoke(
        self,
        target: Served | str,
        *,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> InvokeResult:
        """Run one synchronous invocation of `target` (a served version or a FunctionName).

        The result carries the agent's headers: X-Amz-Function-Error marks a function
        error, X-Kubefn-Request-Id the request id (made here when `headers` has none).
        """
        served = self.resolve(target) if isinstance(target, str) else target
        sent = dict(headers or {})
        sent.setdefault(protocol.REQUEST_ID, str(uuid.uuid4()))
        version, pool = served.version, served.pool
        series = self._metrics.function(namespace=version.namespace, name=version.name)
        wait = self._settings.start_timeout_seconds + version.timeout_seconds
        try:
            instance = await pool.acquire(timeout=wait)
        except AtCapacity:
            series.invocations("throttled").inc()
            reserved = version.spec.get("reservedConcurrency") is not None
            raise awserrors.TooManyRequests(
                "Rate Exceeded.",
                reason="ReservedFunctionConcurrentInvocationLimitExceeded"
                if reserved
                else "ConcurrentInvocationLimitExceeded",
            ) from None
        except TimeoutError:
            series.invocations("throttled").inc()
            raise awserrors.TooManyRequests(
                f"No instance of {version.name} became free within {wait:.0f} seconds",
                reason="ConcurrentInvocationLimitExceeded",
            ) from None
        except TemplateError as exc:
            raise awserrors.InstanceFailed(f"Could not start an instance: {exc}") from None
        healthy = False
        try:
            result = await instance.invoke(payload=payload, headers=sent, timeout=wait)
            healthy = True
        except InstanceLost as exc:
            series.invocations("crash").inc()
            log.warning("%s: %s", version.key, exc)
            raise awserrors.InstanceFailed(
                f"The instance running {version.name} stopped during the invocation"
            ) from None
        except asyncio.CancelledError:
            # The caller went away mid-invocation: the instance is still busy; replace it.
            raise
        finally:
            pool.release(instance, healthy=healthy)
        self._record(result, key=version.key, series=series, memory_mb=version.memory_mb)
        return result

    def _record(
        self, result: InvokeResult, *, key: str, series: FunctionSeries, memory_mb: int
    ) -> None:
        series.invocations(result.outcome).inc()
        duration_ms = result.number(protocol.DURATION_MS)
        if duration_ms is not None:
            series.duration.observe(duration_ms / 1000)
        billed_ms = result.number(protocol.BILLED_DURATION_MS)
        if billed_ms is not None:
            series.billed_gb_seconds.inc(
                limits.gb_seconds(billed_ms=billed_ms, memory_mb=memory_mb)
            )
        init_ms = result.number(protocol.INIT_DURATION_MS)
        if init_ms is not None:
            self._catalog.cold_started(key, at=time.time())
            series.cold_starts.inc()
            series.init_duration.observe(init_ms / 1000)


def resolve(
    catalog: Catalog, settings: GatewaySettings, *, name: str, qualifier: str | None
) -> Served:
    """The served version a FunctionName (and Qualifier) means, or Lambda's 404."""
    key, qualifier = function_key(name, qualifier, default_namespace=settings.namespace)
    served = catalog.get(key)
    if served is None or qualifier not in (None, "$LATEST"):
        raise awserrors.ResourceNotFound(
            f"Function not found: {function_arn(settings, key)}"
            + (f":{qualifier}" if served is not None else "")
        )
    return served


def function_arn(settings: GatewaySettings, key: str) -> str:
    """A function key ("namespace/name") as the ARN Lambda would give it."""
    return f"arn:aws:lambda:{settings.region}:{settings.account_id}:function:{key.split('/', 1)[1]}"


def function_key(
    name: str, qualifier: str | None, *, default_namespace: str
) -> tuple[str, str | None]:
    """'name', 'name:qualifier', a function ARN, or 'namespace/name' -> (key, qualifier)."""
    if name.startswith("arn:"):
        parts = name.split(":")
        if len(parts) < 7 or parts[5] != "function":
            raise awserrors.InvalidParameterValue(
                f"FunctionName is not a function ARN (got {name!r})"
            )
        name = parts[6]
        if len(parts) > 7:
            qualifier = qualifier or parts[7]
    elif ":" in name:
        name, _, embedded = name.partition(":")
        qualifier = qualifier or embedded
    namespace, _, short = name.rpartition("/")
    return f"{namespace or default_namespace}/{short}", qualifier
