"""AWS's JSON 1.0 protocol: `POST /` with `X-Amz-Target: <Service>.<Operation>`.

DynamoDB, DynamoDB Streams and Step Functions all speak it on the gateway's one
port; each registers its operations under its target prefix. Errors travel as
`{"__type": "<namespace>#<Code>", "message": ...}` with the service's status code,
which is how botocore picks the exception class.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis.exceptions
from aiohttp import web

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.0"
CORAL = "com.amazon.coral.service"

Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class AwsJsonError(Exception):
    """An error answered in the JSON 1.0 shape; subclasses name the code and status."""

    namespace = CORAL
    code = "InternalFailure"
    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"__type": f"{self.namespace}#{self.code}", "message": self.message, **self.extra}


class SerializationError(AwsJsonError):
    code = "SerializationException"


class UnknownOperation(AwsJsonError):
    code = "UnknownOperationException"


class MissingTarget(AwsJsonError):
    code = "MissingAuthenticationTokenException"
    status = 400


class InternalFailure(AwsJsonError):
    code = "InternalFailure"
    status = 500


class JsonProtocol:
    """Routes `POST /` to the operation its X-Amz-Target names."""

    def __init__(self) -> None:
        self._services: dict[str, Mapping[str, Operation]] = {}
        self._internal: dict[str, type[AwsJsonError]] = {}

    def register(
        self,
        prefix: str,
        operations: Mapping[str, Operation],
        *,
        internal_error: type[AwsJsonError] = InternalFailure,
    ) -> None:
        """Serve `operations` under `prefix`; unexpected failures answer `internal_error`
        (a 500 in the service's own shape, which AWS SDKs retry)."""
        self._services[prefix] = operations
        self._internal[prefix] = internal_error

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        target = request.headers.get("X-Amz-Target", "")
        try:
            operation = self._operation(target)
            body = await _json_body(request)
            result = await operation(body)
        except AwsJsonError as exc:
            return _respond(exc.status, exc.body(), request_id)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("%s: Redis unavailable (%s)", target, exc)
            error = self._internal_error(target)("Storage unavailable; try again")
            return _respond(error.status, error.body(), request_id)
        except Exception:
            log.exception("%s failed", target)
            error = self._internal_error(target)("Internal server error")
            return _respond(error.status, error.body(), request_id)
        return _respond(200, result, request_id)

    def _internal_error(self, target: str) -> type[AwsJsonError]:
        return self._internal.get(target.partition(".")[0], InternalFailure)

    def _operation(self, target: str) -> Operation:
        prefix, _, name = target.partition(".")
        if not target:
            raise MissingTarget("Missing X-Amz-Target header")
        operations = self._services.get(prefix)
        if operations is None or name not in operations:
            raise UnknownOperation(f"Unknown operation {target!r}")
        return operations[name]


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(f"Malformed JSON request body: {exc}") from None
    if not isinstance(body, dict):
        raise SerializationError("The request body must be a JSON object")
    return body


def _respond(status: int, body: Mapping[str, Any], request_id: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        headers={
            "Content-Type": CONTENT_TYPE,
            "x-amzn-RequestId": request_id,
        },
    )
