"""What a Task state's Resource names, and running it.

Three kinds of resource run here, so definitions written for AWS run unchanged:

- a function: its name, `namespace/name`, or a Lambda ARN
  (`arn:aws:lambda:<region>:<account>:function:<name>`): the effective input is
  the payload and the function's result is the task's result (history speaks of
  LambdaFunction* events, as Step Functions does for these);
- `arn:aws:states:::lambda:invoke`: Parameters are Lambda's Invoke request
  (FunctionName, Payload, Qualifier); the result is Invoke's response
  (`{"Payload": ..., "StatusCode": 200, ...}`);
- `arn:aws:states:::states:startExecution`: a nested execution (StateMachineArn,
  Input, Name), fire-and-forget, `.sync`, `.sync:2` or `.waitForTaskToken`.

`.waitForTaskToken` on either integration waits for SendTaskSuccess/Failure.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubefn.asl import errors
from kubefn.asl.errors import StatesError

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
START_EXECUTION = "arn:aws:states:::states:startExecution"

FUNCTION, INVOKE, NESTED = "function", "invoke", "nested"
FIRE, WAIT_FOR_TOKEN, SYNC, SYNC2 = "", "waitForTaskToken", "sync", "sync:2"

LAMBDA_SERVICE = "Lambda.ServiceException"
LAMBDA_NOT_FOUND = "Lambda.ResourceNotFoundException"
LAMBDA_THROTTLED = "Lambda.TooManyRequestsException"
LAMBDA_UNKNOWN = "Lambda.Unknown"


@dataclass(frozen=True)
class Resource:
    kind: str
    pattern: str
    arn: str
    function: str = ""
    """For FUNCTION: the name or ARN the Resource gives."""

    @property
    def resource_type(self) -> str:
        return "states" if self.kind == NESTED else "lambda"

    @property
    def resource_name(self) -> str:
        base = "startExecution" if self.kind == NESTED else "invoke"
        return f"{base}.{self.pattern}" if self.pattern else base

    @property
    def waits_for_token(self) -> bool:
        return self.pattern == WAIT_FOR_TOKEN


def parse_resource(arn: str) -> Resource:
    """The resource a Task names; StatesError(States.Runtime) for one kubefn cannot run."""
    for base, kind in ((LAMBDA_INVOKE, INVOKE), (START_EXECUTION, NESTED)):
        if arn == base or arn.startswith(base + "."):
            pattern = arn[len(base) + 1 :] if arn != base else FIRE
            allowed = (
                (FIRE, WAIT_FOR_TOKEN) if kind == INVOKE else (FIRE, WAIT_FOR_TOKEN, SYNC, SYNC2)
            )
            if pattern not in allowed:
                raise StatesError(
                    errors.RUNTIME, f"The resource '{arn}' has no integration pattern '.{pattern}'"
                )
            return Resource(kind=kind, pattern=pattern, arn=arn)
    if arn.startswith("arn:aws:lambda:"):
        parts = arn.split(":")
        if len(parts) >= 7 and parts[5] == "function":
            return Resource(kind=FUNCTION, pattern=FIRE, arn=arn, function=arn)
    if arn.startswith("arn:"):
        raise StatesError(errors.RUNTIME, f"kubefn cannot run the resource '{arn}'")
    return Resource(kind=FUNCTION, pattern=FIRE, arn=arn, function=arn)


@dataclass(frozen=True)
class TaskResult:
    """What a task produced: its result, or an error by name with a cause."""

    ok: bool
    value: Any = None
    error: str = ""
    cause: str = ""

    @classmethod
    def failure(cls, error: str, cause: str) -> TaskResult:
        return cls(ok=False, error=error, cause=cause)


class Functions(Protocol):
    """Invokes a function synchronously; the gateway's Invoker behind a narrow interface."""

    async def invoke(self, name: str, *, payload: bytes, qualifier: str | None) -> TaskResult: ...


def invoke_request(resource: Resource, effective: Any) -> tuple[str, bytes, str | None]:
    """(function name, payload, qualifier) a function-calling Task sends."""
    if resource.kind == FUNCTION:
        return resource.function, errors.encoded(effective).encode(), None
    if not isinstance(effective, Mapping) or not isinstance(effective.get("FunctionName"), str):
        raise StatesError(
            errors.RUNTIME,
            f"The Parameters of '{resource.arn}' must name a FunctionName (got "
            f"{errors.encoded(effective)[:200]})",
        )
    payload = effective.get("Payload", {})
    body = payload.encode() if isinstance(payload, str) else errors.encoded(payload).encode()
    qualifier = effective.get("Qualifier")
    return effective["FunctionName"], body, qualifier if isinstance(qualifier, str) else None


def invoke_response(resource: Resource, value: Any, *, request_id: str = "") -> Any:
    """The task's result for a function's result: the result itself, or Invoke's response."""
    if resource.kind == FUNCTION:
        return value
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": value,
        "SdkHttpMetadata": {"HttpStatusCode": 200},
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def function_error(body: bytes) -> TaskResult:
    """A function's error as the task's error: its errorType by name, the whole error as cause."""
    text = body.decode(errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    error_type = parsed.get("errorType") if isinstance(parsed, dict) else None
    return TaskResult.failure(
        error_type if isinstance(error_type, str) and error_type else LAMBDA_UNKNOWN, text
    )


def task_token(execution_id: str, run_id: str, nonce: str) -> str:
    raw = json.dumps([execution_id, run_id, nonce], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(token: str) -> tuple[str, str, str] | None:
    """(execution id, run id, nonce) of a task token, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        execution, run, nonce = json.loads(raw)
    except (ValueError, binascii.Error, TypeError):
        return None
    if not all(isinstance(part, str) for part in (execution, run, nonce)):
        return None
    return execution, run, nonce
