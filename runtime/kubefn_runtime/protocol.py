"""The agent's wire contract (docs/internals.md): paths, headers, limits, outcomes and
the platform's error objects, in one place the gateway can import too.
"""

from __future__ import annotations

import enum
import signal
from typing import Any, Final

INVOKE_PATH: Final = "/2015-03-31/functions/function/invocations"
INIT_PATH: Final = "/kubefn/init"
HEALTH_PATH: Final = "/kubefn/healthz"
RUNTIME_API_PATH: Final = "/2018-06-01/runtime"

PAYLOAD_BYTES_MAX: Final = 6 * 1024 * 1024
"""Synchronous event and response, as Lambda's."""
LOG_TAIL_BYTES: Final = 4 * 1024
INIT_TIMEOUT_SECONDS_MIN: Final = 10.0
"""Lambda gives init 10 s; a longer function timeout lends init its own length."""

# Request headers of the invoke endpoint (compare against these lower-case names).
REQUEST_ID: Final = "x-kubefn-request-id"
TRACE_ID: Final = "x-kubefn-trace-id"
CLIENT_CONTEXT: Final = "x-amz-client-context"
COGNITO_IDENTITY: Final = "x-kubefn-cognito-identity"
LOG_TYPE: Final = "x-amz-log-type"

# Response headers of the invoke endpoint.
FUNCTION_ERROR: Final = "X-Amz-Function-Error"
EXECUTED_VERSION: Final = "X-Amz-Executed-Version"
LOG_RESULT: Final = "X-Amz-Log-Result"
OUTCOME: Final = "X-Kubefn-Outcome"
RESULT_REQUEST_ID: Final = "X-Kubefn-Request-Id"
DURATION_MS: Final = "X-Kubefn-Duration-Ms"
BILLED_DURATION_MS: Final = "X-Kubefn-Billed-Duration-Ms"
MAX_MEMORY_MB: Final = "X-Kubefn-Max-Memory-MB"
INIT_DURATION_MS: Final = "X-Kubefn-Init-Duration-Ms"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    OOM = "oom"
    CRASH = "crash"
    INIT_ERROR = "init_error"


def error_object(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def timed_out(request_id: str, seconds: float) -> dict[str, Any]:
    return error_object(
        "Sandbox.Timedout",
        f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds",
    )


def exited(request_id: str, status: str, *, out_of_memory: bool) -> dict[str, Any]:
    """The function process died; `status` as describe_exit words it."""
    error_type = "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError"
    return error_object(
        error_type, f"RequestId: {request_id} Error: Runtime exited with error: {status}"
    )


def invalid_entrypoint(request_id: str, command: str, reason: str) -> dict[str, Any]:
    return error_object(
        "Runtime.InvalidEntrypoint", f"RequestId: {request_id} Error: fork/exec {command}: {reason}"
    )


def response_too_large() -> dict[str, Any]:
    return error_object(
        "Function.ResponseSizeTooLarge",
        f"Response payload size exceeded maximum allowed payload size ({PAYLOAD_BYTES_MAX} bytes).",
    )


def describe_exit(code: int) -> str:
    """A process's end in the words Lambda (a Go program) uses: 'exit status 1', 'signal: killed'.

    `code` as subprocess reports it: negative for the signal that ended the process.
    """
    if code >= 0:
        return f"exit status {code}"
    try:
        name = signal.strsignal(-code)
    except ValueError:
        name = None
    return f"signal: {(name or f'signal {-code}').lower()}"
