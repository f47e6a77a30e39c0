"""AWS's JSON 1.0 protocol over HTTP, as boto3 speaks it to DynamoDB and Step Functions.

The CLI's commands call a gateway's AWS APIs through this one blocking request:
a POST to `/` naming the operation in `X-Amz-Target`, the answer a JSON object.
An error answer is mapped here into `ServiceError` (its `__type` without the
namespace, its message, the HTTP status); a gateway that cannot be reached into
`Unreachable`. Retries, timeouts and exit codes stay with each command.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

CONTENT_TYPE = "application/x-amz-json-1.0"


class ServiceError(Exception):
    """The service answered with an error; `code` is its `__type` without the namespace."""

    def __init__(self, *, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class Unreachable(Exception):
    """No answer: the connection to the gateway could not be made."""

    def __init__(self, *, url: str, reason: object) -> None:
        super().__init__(f"cannot reach the gateway at {url}: {reason}")
        self.url = url
        self.reason = reason


def post(
    url: str,
    *,
    target: str,
    operation: str,
    body: Mapping[str, Any],
    timeout: float,
) -> dict[str, Any]:
    """The answer of `target.operation` called with `body` at the endpoint `url`."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{target}.{operation}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        raise _service_error(exc.code, exc.read()) from None
    except urllib.error.URLError as exc:
        raise Unreachable(url=url, reason=exc.reason) from None


def _service_error(status: int, raw: bytes) -> ServiceError:
    """An error answer's code and message; a body that is not a JSON object is the message."""
    try:
        error = json.loads(raw)
        code = str(error.get("__type", status)).rpartition("#")[2]
        message = str(error.get("message") or error.get("Message") or "")
    except (ValueError, AttributeError):
        code, message = str(status), raw.decode(errors="replace")
    return ServiceError(code=code, message=message, status=status)
