"""One instance as the gateway sees it: an agent on an address that runs one
invocation at a time (the agent's invoke endpoint is in docs/internals.md).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

from kubefn_gateway.agentclient import AgentConnection, AgentConnectionError
from kubefn_runtime import protocol

_ids = itertools.count(1)


class InstanceLost(Exception):
    """The instance vanished mid-invocation (its process died or stopped answering)."""


class State(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"


@dataclass(frozen=True)
class InvokeResult:
    body: bytes
    headers: Mapping[str, str]

    @property
    def outcome(self) -> str:
        return self.headers.get(protocol.OUTCOME, protocol.Outcome.SUCCESS)

    def number(self, header: str) -> float | None:
        value = self.headers.get(header)
        return float(value) if value is not None else None


@dataclass(eq=False)
class Instance:
    """An agent reachable over HTTP. `handle` is whatever the provider needs to stop it."""

    address: str
    handle: object = None
    id: int = field(default_factory=lambda: next(_ids))
    idle_since: float = 0.0
    alive: bool = True
    _connection: AgentConnection | None = field(default=None, repr=False)

    async def invoke(
        self, *, payload: bytes, headers: Mapping[str, str], timeout: float
    ) -> InvokeResult:
        """Hand the agent one invocation; it enforces the function's own timeout."""
        if self._connection is None:
            host, _, port = self.address.rpartition(":")
            self._connection = AgentConnection(host=host.strip("[]"), port=int(port))
        try:
            status, response_headers, body = await self._connection.post(
                protocol.INVOKE_PATH, body=payload, headers=headers, timeout=timeout
            )
        except AgentConnectionError as exc:
            self.alive = False
            raise InstanceLost(f"instance {self.address} lost: {exc}") from exc
        if status != 200:
            self.alive = False
            raise InstanceLost(f"agent answered {status}: {body[:200]!r}")
        return InvokeResult(body=body, headers=response_headers)

    def disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
