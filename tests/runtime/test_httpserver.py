"""The agent's HTTP/1.1 server, in process, spoken to byte by byte over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubefn_runtime.httpserver import Request, Response, Router, Server


async def echo(request: Request) -> Response:
    text = f"{request.method} {request.path} {request.params} {request.query} ".encode()
    return Response(200, text + request.body, content_type="text/plain")


async def custom_too_large(request: Request) -> Response:
    return Response(413, b"custom", content_type="text/plain")


async def broken(request: Request) -> Response:
    raise RuntimeError("handler bug")


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode()
        status_line, *lines = head.strip().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body


@pytest.fixture
async def connect() -> AsyncIterator:
    router = Router()
    router.add("GET", "/plain", echo)
    router.add("POST", "/plain", echo)
    router.add("POST", "/items/{id}/detail", echo)
    router.add("POST", "/small/{id}", echo, on_oversize=custom_too_large)
    router.add("GET", "/broken", broken)
    server = Server(router, body_bytes_max=10)
    sock = await server.start(host="127.0.0.1", port=0)
    port = sock.getsockname()[1]
    writers: list[asyncio.StreamWriter] = []

    async def open_connection() -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        return Connection(reader, writer)

    yield open_connection
    for writer in writers:
        writer.close()
    await server.close()


async def test_keep_alive_serves_several_requests_on_one_connection(connect) -> None:
    connection = await connect()
    for n in range(3):
        await connection.send(f"GET /plain?n={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert await connection.response() == (
            200,
            {"content-type": "text/plain", "content-length": "18"},
            f"GET /plain {{}} n={n} ".encode(),
        )


async def test_path_parameters(connect) -> None:
    connection = await connect()
    await connection.send(b"POST /items/abc/detail HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
    _, _, body = await connection.response()
    assert body == b"POST /items/abc/detail {'id': 'abc'}  hi"


async def test_chunked_body(connect) -> None:
    connection = await connect()
    await connection.send(
        b"POST /plain HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
    )
    assert (await connection.response())[2].endswith(b" abcde")


async def test_expect_100_continue(connect) -> None:
    connection = await connect()
    await connection.send(
        b"POST /plain HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    )
    assert await connection.reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    await connection.send(b"abc")
    assert (await connection.response())[2].endswith(b" abc")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"Content-Length: 11\r\n\r\n" + b"x" * 11, id="content-length"),
        pytest.param(
            b"Transfer-Encoding: chunked\r\n\r\nb\r\n" + b"x" * 11 + b"\r\n0\r\n\r\n", id="chunked"
        ),
    ],
)
async def test_body_over_the_cap_is_413_and_the_connection_lives_on(connect, body: bytes) -> None:
    connection = await connect()
    await connection.send(b"POST /plain HTTP/1.1\r\n" + body)
    assert (await connection.response())[0] == 413
    await connection.send(b"GET /plain HTTP/1.1\r\n\r\n")
    assert (await connection.response())[0] == 200


async def test_route_answers_its_own_oversize(connect) -> None:
    connection = await connect()
    await connection.send(b"POST /small/1 HTTP/1.1\r\nContent-Length: 11\r\n\r\n" + b"x" * 11)
    assert (await connection.response())[::2] == (413, b"custom")


@pytest.mark.parametrize(
    "request_line, status",
    [
        pytest.param(b"GET /nowhere HTTP/1.1", 404, id="unknown path"),
        pytest.param(b"DELETE /plain HTTP/1.1", 405, id="unknown method"),
        pytest.param(b"GET /items/abc/detail HTTP/1.1", 405, id="pattern, unknown method"),
        pytest.param(b"GET /broken HTTP/1.1", 500, id="handler raises"),
    ],
)
async def test_error_statuses(connect, request_line: bytes, status: int) -> None:
    connection = await connect()
    await connection.send(request_line + b"\r\n\r\n")
    assert (await connection.response())[0] == status


async def test_malformed_request_is_400_and_closes(connect) -> None:
    connection = await connect()
    await connection.send(b"garbage\r\n\r\n")
    status, headers, _ = await connection.response()
    assert (status, headers["connection"]) == (400, "close")
    assert await connection.reader.read() == b""


async def test_connection_close_is_honoured(connect) -> None:
    connection = await connect()
    await connection.send(b"GET /plain HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert (await connection.response())[1]["connection"] == "close"
    assert await connection.reader.read() == b""
