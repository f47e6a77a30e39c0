"""The errors a state raises, by their Step Functions names, and the payload limit.

A state fails with an error name (`States.Timeout`, a function's errorType) and a
cause text; Retry and Catch match on the name. Every pure piece of the
interpreter raises `StatesError` so the engine handles one exception type.
"""

from __future__ import annotations

import json
from typing import Any

ALL = "States.ALL"
TIMEOUT = "States.Timeout"
TASK_FAILED = "States.TaskFailed"
RUNTIME = "States.Runtime"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
PERMISSIONS = "States.Permissions"

PAYLOAD_BYTES_MAX = 262144
"""256 KB: the most UTF-8 bytes a state's input or output may take as compact JSON."""


class StatesError(Exception):
    """An error a state raises, by its Step Functions name, with a cause text."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def encoded(value: Any) -> str:
    """Compact JSON text of `value`: the one place payloads are serialised."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def check_size(value: Any, *, what: str) -> None:
    """Refuse a payload larger than 256 KB (States.DataLimitExceeded), naming `what`."""
    check_text_size(encoded(value), what=what)


def check_text_size(text: str, *, what: str) -> None:
    """check_size for a payload already encoded (by `encoded`), so it is encoded once."""
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > PAYLOAD_BYTES_MAX:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"The {what} has a size of {size} bytes, exceeding the maximum number of "
            f"bytes service limit of {PAYLOAD_BYTES_MAX} bytes.",
        )
