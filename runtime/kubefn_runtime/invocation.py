"""One invocation as the agent hands it to a function process, the reply, and the
channel both kinds of function process (forked Python, provided) are reached through.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    """Epoch milliseconds, as Lambda-Runtime-Deadline-Ms."""
    function_arn: str
    trace_id: str
    client_context: str | None = None
    """JSON text (already base64-decoded)."""
    cognito_identity: str | None = None
    """JSON text."""

    def runtime_headers(self) -> dict[str, str]:
        """The Runtime API's headers for this invocation (GET /runtime/invocation/next)."""
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
        }
        if self.client_context:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        return headers


@dataclass(frozen=True, slots=True)
class Reply:
    body: bytes
    """The result, or the error object's JSON when `error`."""
    error: bool = False
    peak_kb: int | None = None
    """The process's peak resident memory so far, when it says (kubefn's Python runtime does)."""


class Channel(Protocol):
    """How the agent talks to one function process. Both calls wait for the process;
    the agent races them against the process's exit and the deadline."""

    async def initialized(self) -> dict[str, Any] | None:
        """None once init succeeded, else the init error object."""
        ...

    def invoke(self, invocation: Invocation) -> asyncio.Future[Reply]:
        """Hand the invocation over; the future resolves with the reply. The agent
        cancels it when it stops waiting (the deadline, the process's exit)."""
        ...

    def close(self) -> None: ...
