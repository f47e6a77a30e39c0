"""A minimal HTTP/1.1 server on asyncio streams, for the runtime agent.

The agent sits on every invocation's path, so per-request work is kept to one
header parse, one dictionary lookup for the route and one write for the
response. It speaks what the agent's callers send: keep-alive, Content-Length
and chunked bodies, `Expect: 100-continue` (libcurl sends it for large bodies,
and awslambdaric's native client is libcurl). A body over the cap is read and
thrown away, then answered 413, so the connection and the client stay usable.
"""

from __future__ import annotations

import asyncio
import http
import json
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

HEAD_BYTES_MAX = 2 * 1024 * 1024
"""Request line plus headers; awslambdaric may send an X-Ray error cause of up to 1 MiB."""

_DISCARD_CHUNK = 256 * 1024
_READ_BYTES = 64 * 1024
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    """Names in lower case; repeated headers joined by ", "."""
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    """Values of the route's `{name}` segments."""


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[Request], Awaitable[Response]]


def json_response(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(value).encode(), headers or {})


def _error(status: int, error_type: str, message: str) -> Response:
    return json_response(status, {"errorType": error_type, "errorMessage": message})


@dataclass(slots=True)
class _Route:
    handler: Handler
    on_oversize: Handler | None


class Router:
    """Routes by method and path; a `{name}` segment matches any one segment."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, _Route]] = {}
        self._patterns: list[tuple[tuple[str, ...], dict[str, _Route]]] = []

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        on_oversize: Handler | None = None,
    ) -> None:
        """Add a route; `on_oversize` answers a body over the cap instead of a plain 413."""
        route = _Route(handler, on_oversize)
        if "{" not in path:
            self._exact.setdefault(path, {})[method] = route
            return
        segments = tuple(path.split("/"))
        for known, methods in self._patterns:
            if known == segments:
                methods[method] = route
                return
        self._patterns.append((segments, {method: route}))

    def resolve(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], int]:
        """The route, its path parameters, and the status to answer when there is none."""
        methods = self._exact.get(path)
        params: dict[str, str] = {}
        if methods is None:
            methods, params = self._match(path)
        if methods is None:
            return None, params, 404
        route = methods.get(method)
        return route, params, 405 if route is None else 200

    def _match(self, path: str) -> tuple[dict[str, _Route] | None, dict[str, str]]:
        parts = path.split("/")
        for segments, methods in self._patterns:
            if len(segments) != len(parts):
                continue
            params: dict[str, str] = {}
            for pattern, part in zip(segments, parts, strict=True):
                if pattern.startswith("{"):
                    if not part:
                        break
                    params[pattern[1:-1]] = part
                elif pattern != part:
                    break
            else:
                return methods, params
        return None, {}


class _BadRequest(Exception):
    pass


class _Connection(asyncio.StreamReaderProtocol, asyncio.BufferedProtocol):
    """asyncio's stream protocol, reading into one buffer of its own.

    A plain protocol receives a new 256 KiB bytes object from every read: malloc'd
    (often mmap'd: two page faults and three system calls), then shrunk to the data.
    A buffered one lends the transport its buffer, and hands the StreamReader a copy
    of just the bytes read.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        *,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(reader, serve, loop=loop)
        self._read_view = memoryview(bytearray(_READ_BYTES))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._read_view[:nbytes]))


class Server:
    """Serves a Router on a listening socket until closed."""

    def __init__(self, router: Router, *, body_bytes_max: int) -> None:
        self._router = router
        self._body_bytes_max = body_bytes_max
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(
        self,
        *,
        sock: socket.socket | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> socket.socket:
        """Serve on `sock` (already listening, e.g. bound before a fork) or on host:port."""
        if sock is None:
            sock = listen(host, port)
        loop = asyncio.get_running_loop()

        def connection() -> _Connection:  # what asyncio.start_server builds, but buffered
            reader = asyncio.StreamReader(limit=HEAD_BYTES_MAX, loop=loop)
            return _Connection(reader, self._serve, loop=loop)

        self._server = await loop.create_server(connection, sock=sock)
        return sock

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections))
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return False
        except asyncio.LimitOverrunError:
            _write(writer, _error(431, "RequestHeaderFieldsTooLarge", "headers too large"), False)
            return False
        try:
            request, keep_alive = _parse_head(head)
            route, request.params, status = self._router.resolve(request.method, request.path)
            oversize = await self._read_body(request, reader, writer)
        except _BadRequest as exc:
            _write(writer, _error(400, "BadRequest", str(exc)), False)
            return False
        if route is None:
            response = _error(status, "NotFound" if status == 404 else "MethodNotAllowed", "")
        elif oversize:
            response = await self._call(route.on_oversize or _too_large, request)
        else:
            response = await self._call(route.handler, request)
        _write(writer, response, keep_alive)
        await writer.drain()
        return keep_alive

    async def _call(self, handler: Handler, request: Request) -> Response:
        try:
            return await handler(request)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return _error(500, "ServiceException", "internal error")

    async def _read_body(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read the body into `request.body`; True if it was over the cap (and discarded)."""
        headers = request.headers
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length_text = headers.get("content-length")
        if not chunked and length_text is None:
            return False
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if chunked:
            return await self._read_chunked(request, reader)
        try:
            length = int(length_text or "")
        except ValueError:
            raise _BadRequest("bad Content-Length") from None
        if length < 0:
            raise _BadRequest("bad Content-Length")
        if length <= self._body_bytes_max:
            request.body = await reader.readexactly(length)
            return False
        while length > 0:
            length -= len(await reader.readexactly(min(length, _DISCARD_CHUNK)))
        return True

    async def _read_chunked(self, request: Request, reader: asyncio.StreamReader) -> bool:
        parts: list[bytes] = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise _BadRequest("bad chunk size") from None
            if size == 0:
                break
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            total += size
            if total <= self._body_bytes_max:
                parts.append(data)
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
        if total > self._body_bytes_max:
            return True
        request.body = b"".join(parts)
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket; bound now, so its port is known before anything serves on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _parse_head(head: bytes) -> tuple[Request, bool]:
    lines = head[:-4].decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise _BadRequest("bad request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadRequest("bad header line")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    path, _, query = target.partition("?")
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.1":
        keep_alive = connection != "close"
    else:
        keep_alive = connection == "keep-alive"
    return Request(method, path, query, headers), keep_alive


async def _too_large(request: Request) -> Response:
    return _error(413, "RequestEntityTooLarge", "request body too large")


def _write(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
    status = response.status
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
    ]
    for name, value in response.headers.items():
        head.append(f"{name}: {value}\r\n")
    if not keep_alive:
        head.append("Connection: close\r\n")
    head.append("\r\n")
    encoded = "".join(head).encode("latin-1", "replace")
    if len(response.body) < 16384:
        writer.write(encoded + response.body)
    else:
        writer.writelines((encoded, response.body))
