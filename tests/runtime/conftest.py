"""Real runtime processes on loopback: zygotes, agents, kubefn-rie, function processes."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

import kubefn_runtime

FUNCTIONS = Path(__file__).resolve().parent / "functions"
_RUNTIME_PARENT = str(Path(kubefn_runtime.__file__).resolve().parent.parent)
ZYGOTE_BOOTSTRAP = (
    f"import sys; sys.path.insert(0, {_RUNTIME_PARENT!r}); "
    "from kubefn_runtime.zygote import main; main()"
)
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def log(self) -> str:
        return base64.b64decode(self.headers["X-Amz-Log-Result"]).decode()


class Client:
    """HTTP to one agent (or kubefn-rie) on a loopback port, one connection per call."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()

    def invoke(self, event: Any = None, *, tail: bool = False, **headers: str) -> Answer:
        if tail:
            headers["X-Amz-Log-Type"] = "Tail"
        body = b"" if event is None else json.dumps(event).encode()
        return self.request("POST", INVOKE_PATH, body, headers)


def instance_config(
    handler: str, *, code_dir: Path = FUNCTIONS, **overrides: Any
) -> dict[str, Any]:
    """An instance config (docs/internals.md); fields to change as keywords."""
    return {
        "function": "fn",
        "namespace": "default",
        "version": "$LATEST",
        "revision": 1,
        "runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "handler": handler,
        "command": None,
        "codeDir": str(code_dir),
        "memoryMB": 128,
        "timeoutSeconds": 3,
        "environment": {"GREETING": "hi"},
        "region": "us-east-1",
        "accountId": "000000000000",
        "instanceId": "test1",
        "logPrefix": "[fn] ",
        **overrides,
    }


@dataclass
class Zygote:
    """A template process driven over its stdin/stdout, as the LocalProvider does."""

    process: subprocess.Popen[bytes]
    unsolicited: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    @classmethod
    def start(cls, interpreter: str = sys.executable) -> Zygote:
        process = subprocess.Popen(
            [interpreter, "-c", ZYGOTE_BOOTSTRAP], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        return cls(process)

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        token = str(next(self._ids))
        self.send({"op": op, "id": token, **fields})
        return self.receive(lambda message: message.get("id") == token)

    def send(self, command: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(command).encode() + b"\n")
        stdin.flush()

    def receive(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next message `wanted` accepts; others are kept in `unsolicited`."""
        for index, message in enumerate(self.unsolicited):
            if wanted(message):
                return self.unsolicited.pop(index)
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        while line := stdout.readline():
            message = json.loads(line)
            if wanted(message):
                return message
            self.unsolicited.append(message)
        raise EOFError("the zygote closed its stdout")

    def spawn(self, config: dict[str, Any]) -> tuple[int, Client]:
        reply = self.call("spawn", config=config)
        assert reply["op"] == "spawned", reply
        return reply["pid"], Client(reply["port"])

    def close(self) -> int:
        """EOF on stdin; the zygote's exit code."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.close()
        code = self.process.wait(timeout=30)
        stdout.close()
        return code


@pytest.fixture
def zygote() -> Iterator[Zygote]:
    template = Zygote.start()
    try:
        yield template
    finally:
        if template.process.poll() is None:
            template.close()


@pytest.fixture
def agent(zygote: Zygote) -> Callable[..., Client]:
    """Start an agent for `handler` (in functions/ unless code_dir= says otherwise)."""

    def start(handler: str, **overrides: Any) -> Client:
        return zygote.spawn(instance_config(handler, **overrides))[1]

    return start


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(*pids: int, timeout: float = 10.0) -> None:
    """Poll until the processes are gone; SIGKILL delivery is asynchronous."""
    deadline = time.monotonic() + timeout
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if not gone(p)]}"
        time.sleep(0.01)


def read_ready_line(process: subprocess.Popen[str]) -> str:
    """The first stdout line of a server that announces itself; it must say `ready`."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "ready" in line, line
    return line


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
