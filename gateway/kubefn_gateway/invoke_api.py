"""Lambda's Invoke API (2015-03-31), so boto3's `lambda.invoke` and the AWS CLI work unchanged.

POST /2015-03-31/functions/{FunctionName}/invocations[?Qualifier=]
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from kubefn import limits
from kubefn_gateway import awserrors
from kubefn_gateway.invoker import function_key, resolve
from kubefn_runtime import protocol

if TYPE_CHECKING:
    from kubefn_gateway.app import Platform

log = logging.getLogger(__name__)

# The name lookup lives with the invoker; the function APIs import it from here.
__all__ = ["ROUTE", "InvokeApi", "function_key", "resolve"]

ROUTE = "/2015-03-31/functions/{name:.+}/invocations"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
_PASSED_TO_AGENT = (protocol.CLIENT_CONTEXT, protocol.LOG_TYPE)
_RETURNED_FROM_AGENT = (protocol.FUNCTION_ERROR, protocol.LOG_RESULT)


class InvokeApi:
    def __init__(self, *, platform: Platform) -> None:
        self._invoker = platform.invoker

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
        served = self._invoker.resolve(
            request.match_info["name"], qualifier=request.query.get("Qualifier")
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
        result = await self._invoker.invoke(served, payload=payload, headers=headers)
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
