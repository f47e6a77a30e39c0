"""The HTTP floor of notes/floors.md, measured beside the gateway in the same run:
an aiohttp handler answering a constant, and one aiohttp proxy hop in front of it
(a pooled ClientSession configured like the gateway's). The difference between
the two is the least any aiohttp gateway hop can cost on this machine. Pointed at
agents instead, the proxy is the least any aiohttp gateway can add in front of
them: what remains of the gateway's overhead is its own logic.

    python -m bench.floor_server constant
    python -m bench.floor_server proxy --upstream URL [--upstream URL ...]
    python -m bench.floor_server raw-proxy --upstream URL [--upstream URL ...]

The proxy sends POST /<i> to the i-th upstream, so each client can have its own.
raw-proxy is the same aiohttp server, but reaches each upstream through one
kept-alive raw HTTP/1.1 connection of its own instead of a ClientSession: what
a gateway could do, since an instance runs one invocation at a time anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bench import httpload

BODY = b'{"message": "Hello, bench!"}'


async def _constant(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


def _proxy_app(upstreams: list[str]) -> web.Application:
    app = web.Application()
    key: web.AppKey[aiohttp.ClientSession] = web.AppKey("session")

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        app[key] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Content-Type"),
        )
        yield
        await app[key].close()

    async def forward(request: web.Request) -> web.Response:
        upstream = upstreams[int(request.match_info["index"])]
        payload = await request.read()
        async with request.app[key].post(upstream, data=payload) as response:
            body = await response.read()
        return web.Response(status=response.status, body=body, content_type="application/json")

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/{index:[0-9]+}", forward)
    return app


def _raw_proxy_app(upstreams: list[str]) -> web.Application:
    targets = [urlsplit(url) for url in upstreams]
    connections: dict[int, httpload.Connection] = {}

    async def forward(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        target = targets[index]
        payload = await request.read()
        connection = connections.get(index)
        if connection is None:
            connection = await httpload.Connection.open(target.hostname or "", target.port or 80)
            connections[index] = connection
        head = (
            f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        )
        reply = await connection.call(head.encode() + payload)
        return web.Response(status=reply.status, body=reply.body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{index:[0-9]+}", forward)
    return app


async def _serve(app: web.Application, label: str) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"floor {label} ready at http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_server")
    parser.add_argument("mode", choices=("constant", "proxy", "raw-proxy"))
    parser.add_argument("--upstream", action="append", default=[], help="URL to forward to")
    args = parser.parse_args()
    if args.mode == "constant":
        app = web.Application()
        app.router.add_post("/{tail:.*}", _constant)
    else:
        if not args.upstream:
            parser.error(f"{args.mode} needs --upstream")
        make = _proxy_app if args.mode == "proxy" else _raw_proxy_app
        app = make(args.upstream)
    asyncio.run(_serve(app, args.mode))


if __name__ == "__main__":
    main()
