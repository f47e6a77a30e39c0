"""Lambda's Invoke API (2015-03-31), so boto3's `lambda.invoke` and the AWS CLI work unchanged.

POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=]
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from kubefn import limits
from kubefn_gateway import awserrors
from kubefn_gateway.catalog import Catalog, Served
from kubefn_gateway.instance import InstanceLost, InvokeResult
from kubefn_gateway.metrics import FunctionSeries
from kubefn_gateway.pool import AtCapacity
from kubefn_gateway.providers.template import TemplateError
from kubefn_gateway.settings import GatewaySettings
from kubefn_runtime import protocol

if TYPE_CHECKING:
    from kubefn_gateway.app import Platform

log = logging.getLogger(__name__)

ROUTE = "/2015-03-31/functions/{name:.+}/invocations"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
_PASSED_TO_AGENT = (protocol.CLIENT_CONTEXT, protocol.LOG_TYPE)
_RETURNED_FROM_AGENT = (protocol.FUNCTION_ERROR, protocol.LOG_RESULT)


class InvokeApi:
    def __init__(self, *, platform: Platform) -> None:
        self._platform = platform
        self._settings = platform.settings
        self._catalog = platform.catalog
        self._metrics = platform.metrics

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ROUTE, self.invoke)]

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        try:
            return await self._invoke(request, request_id)
        except awserrors.LambdaError as exc:
            return exc.response(request_id=request_id)
        except Exception:
            log.exception("invoke %s failed", request.match_info["name"])
            return awserrors.ServiceError("Internal error").response(request_id=request_id)

    async def _invoke(self, request: web.Request, request_id: str) -> web.StreamResponse:
        served = resolve(
            self._catalog,
            self._settings,
            name=request.match_info["name"],
            qualifier=request.query.get("Qualifier"),
        )
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in INVOCATION_TYPES:
            raise awserrors.InvalidParameterValue(
                f"X-Amz-Invocation-Type must be one of {', '.join(INVOCATION_TYPES)} "
                f"(got {invocation_type!r})"
            )
        log_type = request.headers.get("X-Amz-Log-Type", "None")
        if log_type not in LOG_TYPES:
            raise awserrors.InvalidParameterValue(
                f"X-Amz-Log-Type must be one of {', '.join(LOG_TYPES)} (got {log_type!r})"
            )
        _check_client_context(request.headers.get("X-Amz-Client-Context"))
        payload = await _read_payload(request, limit=limits.SYNC_PAYLOAD_BYTES_MAX)
        if invocation_type == "DryRun":
            return web.Response(status=204, headers={"x-amzn-RequestId": request_id})
        if invocation_type == "Event":
            raise awserrors.InvalidParameterValue(
                "X-Amz-Invocation-Type Event (asynchronous invocation) is not available "
                "on this gateway yet; use RequestResponse"
            )
        headers = {protocol.REQUEST_ID: request_id}
        for name in _PASSED_TO_AGENT:
            if name in request.headers:
                headers[name] = request.headers[name]
        result = await self._run(served, payload=payload, headers=headers)
        response_headers = {
            "X-Amz-Executed-Version": "$LATEST",
            "x-amzn-RequestId": request_id,
        }
        for name in _RETURNED_FROM_AGENT:
            if name in result.headers:
                response_headers[name] = result.headers[name]
        return web.Response(
            status=200, body=result.body, headers=response_headers, content_type="application/json"
        )

    async def _run(
        self, served: Served, *, payload: bytes, headers: dict[str, str]
    ) -> InvokeResult:
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
            result = await instance.invoke(payload=payload, headers=headers, timeout=wait)
            healthy = True
        except InstanceLost as exc:
            series.invocations("crash").inc()
            log.warning("%s: %s", version.key, exc)
            raise awserrors.InstanceFailed(
                f"The instance running {version.name} stopped during the invocation"
            ) from None
        except asyncio.CancelledError:
            # The client went away mid-invocation: the instance is still busy; replace it.
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
        arn = (
            f"arn:aws:lambda:{settings.region}:{settings.account_id}"
            f":function:{key.split('/', 1)[1]}"
        )
        raise awserrors.ResourceNotFound(
            f"Function not found: {arn}" + (f":{qualifier}" if served is not None else "")
        )
    return served


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


def _check_client_context(value: str | None) -> None:
    if value is None:
        return
    if len(value) > limits.CLIENT_CONTEXT_BYTES_MAX:
        raise awserrors.InvalidParameterValue(
            f"X-Amz-Client-Context must be at most {limits.CLIENT_CONTEXT_BYTES_MAX} bytes "
            f"(got {len(value)} bytes)"
        )
    try:
        json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise awserrors.InvalidRequestContent(
            "X-Amz-Client-Context must be base64-encoded JSON"
        ) from None


async def _read_payload(request: web.Request, *, limit: int) -> bytes:
    """The request body, refused before it is read when over `limit`, and checked to be JSON."""
    too_large = f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
    length = request.content_length
    if length is not None and length > limit:
        raise awserrors.RequestTooLarge(f"{too_large} (got {length} bytes)")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise awserrors.RequestTooLarge(f"{too_large} (got more than {limit} bytes)")
        chunks.append(chunk)
    payload = b"".join(chunks)
    if not payload:
        return b"{}"
    try:
        json.loads(payload)
    except ValueError as exc:
        raise awserrors.InvalidRequestContent(
            f"Could not parse request body into json: {exc}"
        ) from None
    return payload
