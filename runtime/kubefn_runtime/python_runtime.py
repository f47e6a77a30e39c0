"""kubefn's own Python runtime client, run in a process forked from the agent.

It does what AWS's Python runtime (awslambdaric) does, with the same context
object, error objects and log format, but receives invocations as frames on a
socketpair instead of polling the Runtime API over HTTP: the fork is ~1 ms and
each invocation skips two HTTP exchanges.

The child starts as a copy of the agent in the middle of its event loop, so it
first cuts every tie to it (signal handlers, the loop, inherited descriptors)
and never returns into the agent's code: it always ends with os._exit.
"""

from __future__ import annotations

import asyncio
import decimal
import importlib
import io
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any, NoReturn

from kubefn_runtime import frames
from kubefn_runtime.config import InstanceConfig
from kubefn_runtime.lifetime import die_with_parent

Handler = Callable[[Any, "LambdaContext"], Any]

_CLIENT_FIELDS = (
    "installation_id",
    "app_title",
    "app_version_name",
    "app_version_code",
    "app_package_name",
)

_CAUGHT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)
"""Every signal the agent or the template catches: the function process starts with the
default action for each. Named rather than found: looking up every signal's handler
costs ~0.5 ms of each cold start (the signal module turns each answer into an enum)."""

_current_request_id = ""


class _Fault(Exception):
    """An error the runtime reports with a platform errorType (no user traceback)."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error = {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}


class LambdaContext:
    """The context object a handler receives, with the attributes of Lambda's Python runtime."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.aws_request_id: str = header["requestId"]
        self.invoked_function_arn: str = header["functionArn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline_ms: int = header["deadlineMs"]
        self.client_context = _client_context(
            _json_header(header["clientContext"], "Client Context")
        )
        identity = _json_header(header["cognitoIdentity"], "Cognito Identity") or {}
        self.identity = types.SimpleNamespace(
            cognito_identity_id=identity.get("cognitoIdentityId"),
            cognito_identity_pool_id=identity.get("cognitoIdentityPoolId"),
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, message: Any) -> None:
        sys.stdout.write(str(message))


def run_child(config: InstanceConfig, *, sock: socket.socket, log_fd: int, parent: int) -> NoReturn:
    """The forked function process: detach from the agent, init, serve invocations, exit."""
    code = 1
    try:
        _detach(keep_fd=sock.fileno(), log_fd=log_fd, parent=parent)
        _enter(config)
        code = _serve(config, sock)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        _flush()
        os._exit(code)


def _detach(*, keep_fd: int, log_fd: int, parent: int) -> None:
    signal.set_wakeup_fd(-1)
    for sig in _CAUGHT_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    if sys.version_info < (3, 12):  # 3.12+ does this in asyncio's own at-fork hook
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop_policy(None)
    die_with_parent(expected_parent=parent)
    os.setpgid(0, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.closerange(3, keep_fd)
    os.closerange(keep_fd + 1, os.sysconf("SC_OPEN_MAX"))
    sys.stdout = _unbuffered(1)
    sys.stderr = _unbuffered(2)


def _unbuffered(fd: int) -> io.TextIOWrapper:
    """Every write goes straight to the log pipe, as with Lambda's runtime."""
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=True)


def _enter(config: InstanceConfig) -> None:
    environment = config.process_environment()  # reads the inherited environment first
    os.environ.clear()
    os.environ.update(environment)
    time.tzset()
    os.chdir(config.code_dir)
    sys.path.insert(0, config.code_dir)
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_tag_request)
    logging.root.handlers = [handler]


def _tag_request(record: logging.LogRecord) -> bool:
    record.aws_request_id = _current_request_id
    return True


def _serve(config: InstanceConfig, sock: socket.socket) -> int:
    assert config.handler is not None
    try:
        handler = _load(config.handler)
    except _Fault as fault:
        _report(fault.error, sock, op="init_error")
        frames.receive(sock)  # the agent replaces this process; wait for it
        return 1
    except Exception as exc:
        _report(_exception_error(exc), sock, op="init_error")
        frames.receive(sock)
        return 1
    frames.send(sock, {"op": "ready"})
    global _current_request_id
    while (frame := frames.receive(sock)) is not None:
        header, event = frame
        _current_request_id = header["requestId"]
        if header["traceId"]:
            os.environ["_X_AMZN_TRACE_ID"] = header["traceId"]
        try:
            result = _marshal(handler(_unmarshal(event), LambdaContext(header)))
        except _Fault as fault:
            _report({**fault.error, "requestId": _current_request_id}, sock, op="error")
        except Exception as exc:
            error = _exception_error(exc)
            _report({**error, "requestId": _current_request_id}, sock, op="error")
        else:
            _flush()
            frames.send(sock, {"op": "result", "peakKb": _peak_kb()}, result)
    return 0


def _load(name: str) -> Handler:
    """Import `module.function`; the module's top level is the function's init."""
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as exc:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': {exc}") from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise _Fault("Runtime.ImportModuleError", message) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        message = f"Syntax error in module '{module_name}': {exc}"
        raise _Fault("Runtime.UserCodeSyntaxError", message, trace) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise _Fault("Runtime.HandlerNotFound", message)
    return handler


def _unmarshal(event: bytes) -> Any:
    try:
        return json.loads(event)
    except ValueError as exc:
        raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None


def _marshal(result: Any) -> bytes:
    if isinstance(result, bytes):
        return result
    try:
        return json.dumps(result, default=_decimal, ensure_ascii=False).encode()
    except Exception as exc:
        raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _decimal(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_header(text: str | None, what: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        message = f"Unable to parse {what} JSON: {exc}"
        raise _Fault("Runtime.LambdaContextUnmarshalError", message) from None


def _client_context(data: dict[str, Any] | None) -> types.SimpleNamespace | None:
    if data is None:
        return None
    client = data.get("client")
    return types.SimpleNamespace(
        custom=data.get("custom"),
        env=data.get("env"),
        client=None
        if client is None
        else types.SimpleNamespace(**{key: client.get(key) for key in _CLIENT_FIELDS}),
    )


def _exception_error(exc: BaseException) -> dict[str, Any]:
    """Lambda's error object for a user exception, without this module's frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    trace = []
    for frame in traceback.extract_tb(tb):
        entry = f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
        trace.append(f"{entry}    {frame.line}\n" if frame.line else entry)
    return {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": trace}


def _report(error: dict[str, Any], sock: socket.socket, *, op: str) -> None:
    """Log the error as Lambda does, then send it to the agent."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in error["stackTrace"])
    print("\n".join(lines))
    _flush()
    frames.send(sock, {"op": op, "peakKb": _peak_kb()}, json.dumps(error).encode())


def _peak_kb() -> int:
    """This process's peak resident memory: the kernel's high-water mark, as VmHWM.

    Sent with each answer: one system call here saves the agent reading
    /proc/PID/status, which costs the kernel ~15 µs to format.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
