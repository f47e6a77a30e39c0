"""Step Functions' errors, in the shape and with the status codes boto3 expects.

The service answers `{"__type": "com.amazonaws.swf.service.v2.model#<Code>", ...}`
(Step Functions grew out of SWF's service model); a violated model constraint
comes from the request validator instead, as `com.amazon.coral.validate#
ValidationException`. botocore keeps only the part after '#', so either way
boto3 raises `client.exceptions.<Code>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from kubefn.schema import Problem
from kubefn_gateway.awsjson import AwsJsonError

SERVICE_NAMESPACE = "com.amazonaws.swf.service.v2.model"
VALIDATE_NAMESPACE = "com.amazon.coral.validate"


class StepFunctionsError(AwsJsonError):
    namespace = SERVICE_NAMESPACE


class InvalidDefinition(StepFunctionsError):
    code = "InvalidDefinition"


class InvalidName(StepFunctionsError):
    code = "InvalidName"


class InvalidArn(StepFunctionsError):
    code = "InvalidArn"


class InvalidExecutionInput(StepFunctionsError):
    code = "InvalidExecutionInput"


class InvalidOutput(StepFunctionsError):
    code = "InvalidOutput"


class InvalidToken(StepFunctionsError):
    code = "InvalidToken"


class InvalidLoggingConfiguration(StepFunctionsError):
    code = "InvalidLoggingConfiguration"


class StateMachineDoesNotExist(StepFunctionsError):
    code = "StateMachineDoesNotExist"


class StateMachineAlreadyExists(StepFunctionsError):
    code = "StateMachineAlreadyExists"


class StateMachineDeleting(StepFunctionsError):
    code = "StateMachineDeleting"


class StateMachineTypeNotSupported(StepFunctionsError):
    code = "StateMachineTypeNotSupported"


class ExecutionDoesNotExist(StepFunctionsError):
    code = "ExecutionDoesNotExist"


class ExecutionAlreadyExists(StepFunctionsError):
    code = "ExecutionAlreadyExists"


class ExecutionLimitExceeded(StepFunctionsError):
    code = "ExecutionLimitExceeded"


class TaskDoesNotExist(StepFunctionsError):
    code = "TaskDoesNotExist"


class TaskTimedOut(StepFunctionsError):
    code = "TaskTimedOut"


class ConflictException(StepFunctionsError):
    code = "ConflictException"


class MissingRequiredParameter(StepFunctionsError):
    code = "MissingRequiredParameter"


class ResourceNotFound(StepFunctionsError):
    code = "ResourceNotFound"

    def __init__(self, message: str, *, resource_name: str) -> None:
        super().__init__(message, resourceName=resource_name)


class TooManyTags(StepFunctionsError):
    code = "TooManyTags"

    def __init__(self, message: str, *, resource_name: str) -> None:
        super().__init__(message, resourceName=resource_name)


class ValidationException(StepFunctionsError):
    """A request that breaks a rule of the API's model (a length, an enum, a range)."""

    namespace = VALIDATE_NAMESPACE
    code = "ValidationException"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        extra: dict[str, Any] = {} if reason is None else {"reason": reason}
        super().__init__(message, **extra)


class InternalFailure(StepFunctionsError):
    """Anything unexpected: a 500, which AWS SDKs retry."""

    code = "InternalFailure"
    status = 500


def constraint(field: str, rule: str, *, value: Any = None, sensitive: bool = False) -> str:
    """One violated constraint in the request validator's words; a sensitive field's
    value (a definition) is left out, as AWS leaves it out."""
    if value is None or sensitive:
        return f"Value at '{field}' failed to satisfy constraint: {rule}"
    return f"Value '{value}' at '{field}' failed to satisfy constraint: {rule}"


def validation(*violations: str, reason: str | None = None) -> ValidationException:
    """A ValidationException listing every violated constraint."""
    noun = "error" if len(violations) == 1 else "errors"
    return ValidationException(
        f"{len(violations)} validation {noun} detected: {'; '.join(violations)}", reason=reason
    )


class Diagnostic(NamedTuple):
    """One problem of a definition as ValidateStateMachineDefinition reports it."""

    code: str
    message: str
    location: str | None
    """A JSON pointer into the definition (`/States/Check/Choices/1/Next`); None for the
    definition as a whole."""

    def body(self) -> dict[str, str]:
        body = {"severity": "ERROR", "code": self.code, "message": self.message}
        if self.location is not None:
            body["location"] = self.location
        return body

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location is not None else ""
        return f"{self.code}: {self.message}{where}"


_STEP = re.compile(r'\["(.*?)"\](?=[.\[]|$)|\[(\d+)\]|([^.\[]+)')
"""One step of a kubefn.asl path: `["a key.with dots"]`, `[1]` or `Name`."""

_CODES = (
    ("is not valid JSON", "INVALID_JSON_DESCRIPTION"),
    ("twice", "INVALID_JSON_DESCRIPTION"),
    ("no state named", "MISSING_TRANSITION_TARGET"),
    ("is already used at", "DUPLICATE_STATE_NAME"),
    ("state name must be", "INVALID_STATE_NAME"),
)
"""Step Functions' diagnostic code for what kubefn.asl reports, by its message."""


def location(path: str) -> str | None:
    """A kubefn.asl path within a definition (`States.Check.Choices[1].Next`) as the JSON
    pointer Step Functions reports; None for the definition as a whole."""
    steps = [quoted or index or name for quoted, index, name in _STEP.findall(path)]
    if not steps:
        return None
    return "/" + "/".join(step.replace("~", "~0").replace("/", "~1") for step in steps)


def diagnostic(problem: Problem) -> Diagnostic:
    """A problem whose path is relative to the definition ("" for all of it)."""
    code = next((c for phrase, c in _CODES if phrase in problem.message), None)
    if code is None:
        is_resource = problem.path.endswith("Resource") and "must be an ARN" in problem.message
        code = "INVALID_RESOURCE" if is_resource else "SCHEMA_VALIDATION_FAILED"
    return Diagnostic(code=code, message=problem.message, location=location(problem.path))


def invalid_definition(diagnostics: Iterable[Diagnostic]) -> InvalidDefinition:
    """InvalidDefinition naming every problem, in Step Functions' words:
    `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ... at /States/A/Next, ...'`."""
    listed = ", ".join(str(d) for d in diagnostics)
    return InvalidDefinition(f"Invalid State Machine Definition: '{listed}'")
