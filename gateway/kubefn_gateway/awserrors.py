"""AWS error responses in the shape boto3 parses for the Lambda REST-JSON API.

The error code travels in `x-amzn-ErrorType` and the message in `message`, so
botocore raises the matching exception class (e.g. ResourceNotFoundException).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class LambdaError(Exception):
    """An error the Invoke API answers with, in AWS's shape."""

    status = 400
    code = "ServiceException"
    error_kind = "User"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def response(self, *, request_id: str) -> web.Response:
        body = {"Type": self.error_kind, "message": self.message, **self.extra}
        return web.Response(
            status=self.status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={"x-amzn-ErrorType": self.code, "x-amzn-RequestId": request_id},
        )


class InvalidParameterValue(LambdaError):
    code = "InvalidParameterValueException"


class InvalidRequestContent(LambdaError):
    code = "InvalidRequestContentException"


class ResourceNotFound(LambdaError):
    status = 404
    code = "ResourceNotFoundException"


class ResourceConflict(LambdaError):
    status = 409
    code = "ResourceConflictException"


class RequestTooLarge(LambdaError):
    status = 413
    code = "RequestTooLargeException"


class UnsupportedMediaType(LambdaError):
    status = 415
    code = "UnsupportedMediaTypeException"


class TooManyRequests(LambdaError):
    status = 429
    code = "TooManyRequestsException"

    def __init__(self, message: str, *, reason: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message, Reason=reason, retryAfterSeconds=str(retry_after_seconds))


class ServiceError(LambdaError):
    status = 500
    code = "ServiceException"
    error_kind = "Service"


class InvalidRuntime(LambdaError):
    status = 502
    code = "InvalidRuntimeException"


class InstanceFailed(LambdaError):
    """The instance broke down outside the function's own error handling."""

    status = 502
    code = "ServiceException"
    error_kind = "Service"
