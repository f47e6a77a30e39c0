"""The runtime agent: one per instance, in front of one function process.

It serves the invoke endpoint the gateway (and kubefn-rie) calls, the warm-up and
health endpoints, and the Lambda Runtime API for provided runtimes; see
docs/internals.md. Invocations queue first come, first served and run one at a
time. The agent enforces the function's limits from outside the function
process: the deadline, the memory size (VmRSS polled from /proc) and the payload
size. A function process that times out, runs out of memory, crashes or fails
its init is replaced, so the next invocation starts cold.

    python -m kubefn_runtime.agent --config FILE_OR_JSON [--host H] [--port P]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from kubefn_runtime import httpserver, logs, processes, protocol, runtimeapi
from kubefn_runtime.config import InstanceConfig
from kubefn_runtime.httpserver import Request, Response, json_response
from kubefn_runtime.invocation import Channel, Invocation, Reply
from kubefn_runtime.protocol import Outcome

T = TypeVar("T")


@dataclass(eq=False)
class _Instance:
    """A function process and its channel, from its start until it is replaced."""

    process: processes.FunctionProcess
    channel: Channel
    began: float
    """time.perf_counter() at its start: init's duration and time limit run from here."""
    init: asyncio.Task[dict[str, Any] | None] = field(init=False)
    """Init's outcome (None, or the init error), awaited from the start so that
    `init_ended` is exact even when the first invocation comes after init."""
    init_ended: float | None = field(default=None, init=False)
    init_ms: float | None = field(default=None, init=False)
    """Set once an invocation or a warm-up waited for init: the instance is warm."""

    def __post_init__(self) -> None:
        self.init = asyncio.ensure_future(self._init_outcome())

    async def _init_outcome(self) -> dict[str, Any] | None:
        try:
            return await self.channel.initialized()
        finally:
            self.init_ended = time.perf_counter()


class _Failure(NamedTuple):
    """The work ended without an answer from the function process."""

    outcome: Outcome
    error: dict[str, Any]
    log_lines: tuple[str, ...]
    max_memory_mb: int = 0


class _Answer(NamedTuple):
    """The function process answered."""

    outcome: Outcome
    body: bytes
    max_memory_mb: int


class _Result(NamedTuple):
    outcome: Outcome
    body: bytes
    duration_ms: float
    max_memory_mb: int
    init_ms: float | None


class Agent:
    """Serves one instance; start() it on a listening socket, close() to stop."""

    def __init__(self, config: InstanceConfig) -> None:
        self.config = config
        self.router = httpserver.Router()
        self.router.add("POST", protocol.INVOKE_PATH, self._invoke)
        self.router.add("POST", protocol.INIT_PATH, self._warm_up)
        self.router.add("GET", protocol.HEALTH_PATH, self._health)
        runtimeapi.add_routes(self.router, lambda: self._runtime_channel)
        self._server = httpserver.Server(self.router, body_bytes_max=protocol.PAYLOAD_BYTES_MAX)
        self._lock = asyncio.Lock()
        self._instance: _Instance | None = None
        self._runtime_channel: runtimeapi.RuntimeApiChannel | None = None
        self._runtime_api = ""
        self._state = "cold"
        self._tail: logs.LogTail | None = None
        self._function_arn = config.function_arn
        self._prefix = config.log_prefix

    async def start(self, *, sock: socket.socket, forked: processes.Forked | None = None) -> None:
        """Start the function process (or take the one `forked` already), then serve.

        The process starts before the first invocation arrives, so its init overlaps
        the caller connecting and sending it. The instance still counts as cold until
        an invocation or a warm-up waited for that init, and that invocation reports it.
        """
        self._loop = asyncio.get_running_loop()
        host, port = sock.getsockname()[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        self._runtime_api = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._tail = logs.LogTail()  # init's log, for the first invocation's tail
        try:
            self._instance = await self._launch(forked)
        except OSError:
            self._tail = None  # the first invocation tries again and reports why
        await self._server.start(sock=sock)

    async def drain(self, *, timeout: float) -> None:
        """Wait (up to `timeout`) until the invocations in flight and queued have answered.

        A pod gets SIGTERM on scale-in and on a rollout; the caller of an invocation
        already running should still get its answer, as on Lambda.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self._lock:
                pass

    async def close(self) -> None:
        self._state = "stopped"
        await self._discard()
        await self._server.close()

    # -- endpoints --------------------------------------------------------------------

    async def _invoke(self, request: Request) -> Response:
        headers = request.headers
        try:
            client_context = _client_context(headers)
        except ValueError:
            message = "Client context must be a valid Base64-encoded JSON object."
            return json_response(
                400, protocol.error_object("InvalidRequestContentException", message)
            )
        request_id = headers.get(protocol.REQUEST_ID) or str(uuid.uuid4())
        wants_tail = headers.get(protocol.LOG_TYPE) == "Tail"
        async with self._lock:
            tail = self._take_tail(wants_tail)
            try:
                result = await self._attempt(request, request_id, client_context)
            finally:
                self._tail = None
        response_headers = {
            protocol.EXECUTED_VERSION: self.config.version,
            protocol.RESULT_REQUEST_ID: request_id,
            protocol.OUTCOME: result.outcome,
            protocol.DURATION_MS: f"{result.duration_ms:.2f}",
            protocol.BILLED_DURATION_MS: str(logs.billed_ms(result.duration_ms)),
            protocol.MAX_MEMORY_MB: str(result.max_memory_mb),
        }
        if result.outcome != Outcome.SUCCESS:
            response_headers[protocol.FUNCTION_ERROR] = "Unhandled"
        if result.init_ms is not None:
            response_headers[protocol.INIT_DURATION_MS] = f"{result.init_ms:.2f}"
        if tail is not None:
            response_headers[protocol.LOG_RESULT] = tail.base64()
        return Response(200, result.body, response_headers)

    async def _warm_up(self, request: Request) -> Response:
        request_id = request.headers.get(protocol.REQUEST_ID) or str(uuid.uuid4())
        async with self._lock:
            self._take_tail(False)
            instance = await self._live_instance()
            if instance is None:
                started, _ = await self._initialize(request_id)
                if isinstance(started, _Failure):
                    self._say(started.log_lines)
                    headers = {
                        protocol.OUTCOME: Outcome.INIT_ERROR,
                        protocol.FUNCTION_ERROR: "Unhandled",
                    }
                    return json_response(200, started.error, headers)
                instance = started
        init_ms = instance.init_ms or 0.0
        headers = {
            protocol.OUTCOME: Outcome.SUCCESS,
            protocol.INIT_DURATION_MS: f"{init_ms:.2f}",
        }
        return json_response(200, {"initDurationMs": round(init_ms, 2)}, headers)

    async def _health(self, request: Request) -> Response:
        return json_response(200, {"state": self._state})

    # -- one invocation -----------------------------------------------------------------

    async def _attempt(
        self, request: Request, request_id: str, client_context: str | None
    ) -> _Result:
        config = self.config
        began = time.perf_counter()
        init_ms: float | None = None
        started: _Instance | _Failure | None = await self._live_instance()
        if started is None:
            started, init_ms = await self._initialize(request_id)
        self._say([logs.start_line(request_id, config.version)])
        if isinstance(started, _Failure):
            return self._finish(request_id, started, began=began, init_ms=init_ms)
        self._state = "busy"
        began = time.perf_counter()
        headers = request.headers
        invocation = Invocation(
            request_id=request_id,
            event=request.body or b"{}",
            deadline_ms=int(time.time() * 1000 + config.timeout_seconds * 1000),
            function_arn=self._function_arn,
            trace_id=headers.get(protocol.TRACE_ID) or _trace_id(),
            client_context=client_context,
            cognito_identity=headers.get(protocol.COGNITO_IDENTITY),
        )
        work = started.channel.invoke(invocation)
        done = await self._watch(started.process, work, config.timeout_seconds, request_id)
        if isinstance(done, _Failure):
            await self._discard()
            return self._finish(request_id, done, began=began, init_ms=init_ms)
        started.process.logs.finish()
        started.process.take_peak(done.peak_kb)
        self._state = "ready"
        answer = _Answer(*_reply_outcome(done), started.process.max_memory_mb)
        return self._finish(request_id, answer, began=began, init_ms=init_ms)

    def _finish(
        self,
        request_id: str,
        answer: _Answer | _Failure,
        *,
        began: float,
        init_ms: float | None,
    ) -> _Result:
        """Close the invocation's log (END, REPORT) and measure it."""
        duration_ms = (time.perf_counter() - began) * 1000
        report = logs.report_line(
            request_id,
            duration_ms=duration_ms,
            memory_mb=self.config.memory_mb,
            max_memory_mb=answer.max_memory_mb,
            init_ms=init_ms,
        )
        if isinstance(answer, _Failure):
            self._say([*answer.log_lines, logs.end_line(request_id), report])
            body = json.dumps(answer.error).encode()
        else:
            self._say([logs.end_line(request_id), report])
            body = answer.body
        return _Result(answer.outcome, body, duration_ms, answer.max_memory_mb, init_ms)

    # -- the function process -----------------------------------------------------------

    async def _live_instance(self) -> _Instance | None:
        """The initialized instance, unless its process died while idle."""
        instance = self._instance
        if instance is None or instance.init_ms is None:
            return None
        if instance.process.exited.done():
            await self._discard()
            return None
        return instance

    async def _launch(self, forked: processes.Forked | None = None) -> _Instance:
        """Start a function process, or watch the one `forked` already; raises OSError
        when it cannot start."""
        config = self.config
        channel: Channel
        if config.provided:
            began = time.perf_counter()
            channel = self._runtime_channel = runtimeapi.RuntimeApiChannel()
            try:
                process = processes.spawn_command(
                    config, runtime_api=self._runtime_api, on_lines=self._say
                )
            except OSError:
                self._runtime_channel = None
                raise
        else:
            forked = forked or processes.fork_python(config)
            began = forked.began
            process, channel = await processes.watch_python(forked, on_lines=self._say)
        return _Instance(process, channel, began)

    async def _initialize(self, request_id: str) -> tuple[_Instance | _Failure, float]:
        """Wait for init of the process started in advance, or of a new one.

        Returns the initialized instance or the failure, and init's duration in ms.
        """
        config = self.config
        self._state = "initializing"
        began = time.perf_counter()
        instance = self._instance
        if instance is None:
            try:
                instance = self._instance = await self._launch()
            except OSError as exc:
                self._state = "cold"
                command = (config.command or ("?",))[0]
                error = protocol.invalid_entrypoint(
                    request_id, command, (exc.strerror or str(exc)).lower()
                )
                lines = (error["errorMessage"], error["errorType"])
                return _Failure(Outcome.INIT_ERROR, error, lines), _ms_since(began)
        limit = max(protocol.INIT_TIMEOUT_SECONDS_MIN, config.timeout_seconds)
        elapsed = time.perf_counter() - instance.began
        done = await self._watch(
            instance.process, instance.init, limit, request_id, elapsed=elapsed
        )
        init_ms = _ms_since(instance.began, until=instance.init_ended)
        if isinstance(done, _Failure) or done is not None:
            process = instance.process
            await self._discard()
            if isinstance(done, _Failure):
                return done, init_ms
            return _Failure(Outcome.INIT_ERROR, done, (), process.max_memory_mb), init_ms
        instance.init_ms = init_ms
        self._state = "ready"
        return instance, init_ms

    async def _discard(self) -> None:
        """Stop the function process (if any); the next invocation starts a new one."""
        instance, self._instance = self._instance, None
        self._runtime_channel = None
        if self._state != "stopped":
            self._state = "cold"
        if instance is not None:
            _forget(instance.init)
            instance.channel.close()
            await instance.process.stop()

    async def _watch(
        self,
        process: processes.FunctionProcess,
        work: asyncio.Future[T],
        seconds: float,
        request_id: str,
        *,
        elapsed: float = 0.0,
    ) -> T | _Failure:
        """Wait for `work` while enforcing the deadline and the memory size.

        `work` has `seconds` in all, of which `elapsed` are gone (an init that started
        before anyone waited for it). The deadline and the process's exit cancel `work`
        itself, so this waits on one future: no task and no asyncio.wait per invocation.
        Cancelling a future that is already done does nothing, so a late timer or exit
        callback is harmless.
        """
        loop = self._loop
        deadline = loop.call_later(seconds - elapsed, work.cancel)

        def on_exit(exited: asyncio.Future[str]) -> None:
            work.cancel()

        process.exited.add_done_callback(on_exit)
        process.guard_memory(self.config.memory_mb * 1024)
        try:
            return await work
        except asyncio.CancelledError:
            if _cancelled_from_outside(loop):
                raise  # the agent is stopping
        except Exception:  # the channel broke: the process is on its way out
            remaining = deadline.when() - loop.time()
            await asyncio.wait([process.exited], timeout=max(0.0, remaining))
        finally:
            deadline.cancel()
            process.exited.remove_done_callback(on_exit)
            process.unguard()
        if process.exited.done():
            status = process.exited.result()
            oom = process.out_of_memory
            error = protocol.exited(request_id, status, out_of_memory=oom)
            outcome = Outcome.OOM if oom else Outcome.CRASH
            said = (error["errorMessage"], error["errorType"])
            return _Failure(outcome, error, said, process.max_memory_mb)
        process.kill()
        await asyncio.shield(process.exited)
        error = protocol.timed_out(request_id, seconds)
        lines = (logs.timeout_line(request_id, seconds),)
        return _Failure(Outcome.TIMEOUT, error, lines, process.max_memory_mb)

    # -- helpers --------------------------------------------------------------------------

    def _take_tail(self, wanted: bool) -> logs.LogTail | None:
        """Start an invocation's tail (if `wanted`); it opens with what an init started
        in advance logged, until that init is claimed."""
        early, self._tail = self._tail, None
        if wanted:
            self._tail = early if early is not None else logs.LogTail()
        return self._tail

    def _say(self, lines: Sequence[str]) -> None:
        """Log lines: to the current invocation's tail and, prefixed, to our stderr."""
        if self._tail is not None:
            for line in lines:
                self._tail.add(line)
        prefix = self._prefix
        sys.stderr.write("".join(f"{prefix}{line}\n" for line in lines))


def _forget(task: asyncio.Task[Any]) -> None:
    """Cancel `task`, or take its failure, which mattered only to a waiter now gone."""
    if not task.cancel() and not task.cancelled():
        task.exception()


def _cancelled_from_outside(loop: asyncio.AbstractEventLoop) -> bool:
    task = asyncio.current_task(loop)
    return task is not None and task.cancelling() > 0


def _ms_since(began: float, *, until: float | None = None) -> float:
    return ((until or time.perf_counter()) - began) * 1000


def _client_context(headers: dict[str, str]) -> str | None:
    """The client context's JSON text; raises ValueError when it is not base64 text."""
    client_context = headers.get(protocol.CLIENT_CONTEXT)
    if not client_context:
        return client_context
    try:
        return base64.b64decode(client_context, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("bad client context") from exc


def _reply_outcome(reply: Reply) -> tuple[Outcome, bytes]:
    if reply.error:
        return Outcome.ERROR, reply.body
    if len(reply.body) > protocol.PAYLOAD_BYTES_MAX:
        return Outcome.ERROR, json.dumps(protocol.response_too_large()).encode()
    return Outcome.SUCCESS, reply.body


def _trace_id() -> str:
    random = os.urandom(20).hex()  # one system call for both ids
    return f"Root=1-{int(time.time()):08x}-{random[:24]};Parent={random[24:]};Sampled=0"


def run(
    config: InstanceConfig,
    *,
    sock: socket.socket,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (see serve()).

    A Python function process is forked first, before the event loop exists, so that
    its init runs while the agent starts its own loop and server.
    """
    forked = None
    if not config.provided:
        try:
            forked = processes.fork_python(config)
        except OSError:
            pass  # the first invocation tries again, and reports why it cannot
    asyncio.run(serve(config, sock=sock, on_ready=on_ready, forked=forked))


DRAIN_MARGIN_SECONDS = 1.0
"""On SIGTERM, an invocation in flight gets its own timeout and this much more."""


async def serve(
    config: InstanceConfig,
    *,
    sock: socket.socket,
    on_ready: Callable[[], None] | None = None,
    forked: processes.Forked | None = None,
) -> None:
    """Run an agent on `sock` until SIGINT or SIGTERM; then let the work in flight
    finish and stop its function process."""
    agent = Agent(config)
    await agent.start(sock=sock, forked=forked)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    if on_ready is not None:
        on_ready()
    try:
        await stopping.wait()
        await agent.drain(timeout=config.timeout_seconds + DRAIN_MARGIN_SECONDS)
    finally:
        await agent.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kubefn_runtime.agent", description=__doc__)
    parser.add_argument("--config", required=True, help="instance config: a JSON file or JSON text")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    text = args.config if args.config.lstrip().startswith("{") else Path(args.config).read_text()
    config = InstanceConfig.from_dict(json.loads(text))
    sock = httpserver.listen(args.host, args.port)
    port = sock.getsockname()[1]

    def ready() -> None:
        print(f"kubefn agent ready on http://{args.host}:{port}", flush=True)

    run(config, sock=sock, on_ready=ready)


if __name__ == "__main__":
    main()
