"""Function code the runtime tests run, one handler per behaviour."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

print("init: module loaded")


def echo(event: Any, context: Any) -> dict[str, Any]:
    print("echo got", event)
    print("to stderr", file=sys.stderr)
    print("no newline at the end", end="")
    names = (
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_EXECUTION_ENV",
        "AWS_REGION",
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "LAMBDA_TASK_ROOT",
        "TZ",
        "GREETING",
    )
    client = context.client_context
    return {
        "event": event,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": {name: os.environ.get(name) for name in names},
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "client_custom": None if client is None else client.custom,
            "cognito_identity_id": context.identity.cognito_identity_id,
        },
    }


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"bad input {event['n']}")


def nap(event: Any, context: Any) -> int:
    print("going to sleep")
    time.sleep(event["seconds"])
    return os.getpid()


def hog(event: Any, context: Any) -> int:
    """Allocates (and touches) 10 MB at a time while event['hog'] says so."""
    chunks = []
    while event["hog"]:
        chunks.append(b"x" * (10 * 1024 * 1024))
    return os.getpid()


def huge(event: Any, context: Any) -> str:
    return "x" * (7 * 1024 * 1024)


def unmarshalable(event: Any, context: Any) -> Any:
    return {"a set": {1, 2}}
