"""The Lambda Runtime API 2018-06-01, for provided runtimes (awslambdaric, AWS base
images, the Rust/Go/Node runtime clients).

One RuntimeApiChannel serves one function process: it is the agent's channel to
that process (the Channel protocol) and the state behind the HTTP endpoints the
process polls. Status codes follow Lambda: 202 accepted, 400 unknown request id,
403 answered twice or out of turn, 413 response too large, 500 container error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from kubefn_runtime import httpserver
from kubefn_runtime.httpserver import Request, Response, json_response
from kubefn_runtime.invocation import Invocation, Reply
from kubefn_runtime.protocol import (
    PAYLOAD_BYTES_MAX,
    RUNTIME_API_PATH,
    error_object,
    response_too_large,
)

ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"
_ANSWERED_KEPT = 64
_ACCEPTED = json_response(202, {"status": "OK"})


class _Closed(Exception):
    pass


class RuntimeApiChannel:
    """The agent's channel to one provided function process, through the Runtime API."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._init: asyncio.Future[dict[str, Any] | None] = self._loop.create_future()
        self._queued: Invocation | None = None
        self._poller: asyncio.Future[None] | None = None
        self._current: Invocation | None = None
        self._reply: asyncio.Future[Reply] | None = None
        self._answered: dict[str, None] = {}
        self._closed = False

    # -- the agent's side -----------------------------------------------------------

    async def initialized(self) -> dict[str, Any] | None:
        return await asyncio.shield(self._init)

    def invoke(self, invocation: Invocation) -> asyncio.Future[Reply]:
        self._reply = self._loop.create_future()
        self._queued = invocation
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(None)
        return self._reply

    def close(self) -> None:
        self._closed = True
        if self._poller is not None and not self._poller.done():
            self._poller.set_exception(_Closed())

    # -- the function process's side ------------------------------------------------

    async def next(self, request: Request) -> Response:
        if not self._init.done():
            self._init.set_result(None)
        if self._current is not None:
            return _error(
                403, "Runtime.InvalidStateTransition", "the last invocation has no answer yet"
            )
        try:
            while self._queued is None:
                if self._closed:
                    raise _Closed
                self._poller = self._loop.create_future()
                await self._poller
        except _Closed:
            return _error(500, "Runtime.ContainerError", "the instance is being replaced")
        invocation, self._queued = self._queued, None
        self._current = invocation
        return Response(200, invocation.event, invocation.runtime_headers())

    async def response(self, request: Request) -> Response:
        refusal = self._refusal(request.params["id"])
        if refusal is not None:
            return refusal
        self._answer(Reply(request.body))
        return _ACCEPTED

    async def response_too_large(self, request: Request) -> Response:
        refusal = self._refusal(request.params["id"])
        if refusal is not None:
            return refusal
        self._answer(Reply(json.dumps(response_too_large()).encode(), error=True))
        message = f"Exceeded maximum allowed payload size ({PAYLOAD_BYTES_MAX} bytes)."
        return _error(413, "RequestEntityTooLarge", message)

    async def error(self, request: Request) -> Response:
        refusal = self._refusal(request.params["id"])
        if refusal is not None:
            return refusal
        self._answer(Reply(json.dumps(_posted_error(request)).encode(), error=True))
        return _ACCEPTED

    async def init_error(self, request: Request) -> Response:
        if self._init.done():
            return _error(403, "Runtime.InvalidStateTransition", "init is already over")
        self._init.set_result(_posted_error(request))
        return _ACCEPTED

    def _refusal(self, request_id: str) -> Response | None:
        if request_id in self._answered:
            return _error(
                403, "Runtime.InvalidStateTransition", f"{request_id} is already answered"
            )
        if self._current is None or self._current.request_id != request_id:
            return _error(400, "InvalidRequestID", f"no invocation {request_id} is in progress")
        return None

    def _answer(self, reply: Reply) -> None:
        assert self._current is not None
        self._answered[self._current.request_id] = None
        if len(self._answered) > _ANSWERED_KEPT:
            del self._answered[next(iter(self._answered))]
        self._current = None
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(reply)


def add_routes(router: httpserver.Router, channel: Callable[[], RuntimeApiChannel | None]) -> None:
    """Serve the Runtime API for whatever provided process `channel()` returns now."""

    def route(method: Callable[[RuntimeApiChannel, Request], Any]) -> httpserver.Handler:
        async def handle(request: Request) -> Response:
            current = channel()
            if current is None:
                return _error(500, "Runtime.ContainerError", "no provided runtime runs here")
            response: Response = await method(current, request)
            return response

        return handle

    invocation = f"{RUNTIME_API_PATH}/invocation"
    router.add("GET", f"{invocation}/next", route(RuntimeApiChannel.next))
    router.add(
        "POST",
        f"{invocation}/{{id}}/response",
        route(RuntimeApiChannel.response),
        on_oversize=route(RuntimeApiChannel.response_too_large),
    )
    router.add("POST", f"{invocation}/{{id}}/error", route(RuntimeApiChannel.error))
    router.add("POST", f"{RUNTIME_API_PATH}/init/error", route(RuntimeApiChannel.init_error))


def _posted_error(request: Request) -> dict[str, Any]:
    """The posted error object; when the body is missing or unreadable, one from the header."""
    try:
        posted = json.loads(request.body)
    except ValueError:
        posted = None
    if isinstance(posted, dict):
        return posted
    return error_object(request.headers.get(ERROR_TYPE_HEADER) or "Unhandled", "")


def _error(status: int, error_type: str, message: str) -> Response:
    return json_response(status, error_object(error_type, message))
