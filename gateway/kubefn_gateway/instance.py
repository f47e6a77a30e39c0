"""One instance as the gateway sees it: an agent on an address that runs one
invocation at a time (the agent's invoke endpoint is in docs/internals.md).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from multidict import CIMultiDict

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

    @property
    def url(self) -> str:
        return f"http://{self.address}{protocol.INVOKE_PATH}"

    async def invoke(
        self,
        session: aiohttp.ClientSession,
        *,
        payload: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> InvokeResult:
        """Hand the agent one invocation; it enforces the function's own timeout."""
        try:
            async with session.post(
                self.url,
                data=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                body = await response.read()
                if response.status != 200:
                    raise InstanceLost(f"agent answered {response.status}: {body[:200]!r}")
                return InvokeResult(body=body, headers=CIMultiDict(response.headers))
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            self.alive = False
            raise InstanceLost(f"instance {self.address} lost: {exc!r}") from exc
