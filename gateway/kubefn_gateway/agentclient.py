"""The gateway's HTTP/1.1 client for one runtime agent.

An instance runs one invocation at a time, so one kept-alive connection is all
it ever needs, and the agent always answers with a Content-Length body. A
client that does exactly that costs a fraction of a general-purpose client's
CPU per request (BENCHMARKS.md), and CPU is what bounds the gateway under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from multidict import CIMultiDict

_MAX_HEAD_LINES = 100


class AgentConnectionError(Exception):
    """The agent could not be reached or broke the conversation off."""


class AgentConnection:
    def __init__(self, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, *, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, CIMultiDict[str], bytes]:
        """One request and its whole response; any failure closes the connection."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await self._connection()
                head = [f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"]
                head += [f"{name}: {value}\r\n" for name, value in headers.items()]
                head.append(f"Content-Length: {len(body)}\r\n\r\n")
                writer.write("".join(head).encode("latin-1") + body)
                return await self._response(reader)
        except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise AgentConnectionError(f"{self.host}:{self.port}: {exc!r}") from exc
        except BaseException:
            self.close()  # cancelled mid-conversation: the stream's state is unknown
            raise

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, CIMultiDict[str], bytes]:
        status_line = await reader.readline()
        if not status_line:
            raise EOFError("the agent closed the connection")
        parts = status_line.split(b" ", 2)
        status = int(parts[1])
        headers: CIMultiDict[str] = CIMultiDict()
        for _ in range(_MAX_HEAD_LINES):
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.add(name.strip(), value.strip())
        else:
            raise ValueError("response head too long")
        body = await reader.readexactly(int(headers.get("Content-Length", "0")))
        if headers.get("Connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
