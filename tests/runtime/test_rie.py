"""kubefn-rie with AWS's own runtime client (awslambdaric, unmodified, from PyPI) and
with kubefn's Python runtime; and the agent run on its own, as in a Kubernetes pod.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.runtime.conftest import FUNCTIONS, Client, instance_config, read_ready_line, wait_gone

RIE = str(Path(sys.executable).with_name("kubefn-rie"))

Server = Callable[..., tuple[subprocess.Popen[str], Client]]


@pytest.fixture
def server() -> Iterator[Server]:
    """Start a server that prints a `ready` line with its URL; stopped with SIGTERM after."""
    started: list[subprocess.Popen[str]] = []

    def start(
        *args: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[str], Client]:
        process = subprocess.Popen(args, cwd=FUNCTIONS, env=env, stdout=subprocess.PIPE, text=True)
        started.append(process)
        url = read_ready_line(process).split()[-1]
        port = urlsplit(url).port
        assert port is not None
        return process, Client(port)

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def test_awslambdaric_success(server: Server) -> None:
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "hello"}
    _, client = server(
        RIE, "--port", "0", "--", "python", "-m", "awslambdaric", "handlers.echo", env=env
    )
    answer = client.invoke({"name": "ric"}, **{"X-Kubefn-Request-Id": "ric-1"})
    assert answer.status == 200
    assert answer.headers["X-Kubefn-Outcome"] == "success"
    result = answer.json()
    assert result["event"] == {"name": "ric"}
    assert result["context"]["aws_request_id"] == "ric-1"
    assert result["context"]["function_name"] == "hello"
    assert result["context"]["memory_limit_in_mb"] == "3008"
    assert result["context"]["invoked_function_arn"].endswith(":function:hello")


def test_awslambdaric_handler_error(server: Server) -> None:
    _, client = server(RIE, "--port", "0", "--", "python", "-m", "awslambdaric", "handlers.fail")
    answer = client.invoke({"n": 5}, tail=True)
    assert answer.status == 200
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    error = answer.json()
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad input 5")
    assert "in fail" in error["stackTrace"][0]
    assert "[ERROR] ValueError: bad input 5" in answer.log


def test_awslambdaric_concurrent_invocations_queue(server: Server) -> None:
    _, client = server(RIE, "--port", "0", "--", "python", "-m", "awslambdaric", "handlers.echo")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: client.invoke({"n": n}), range(16)))
    assert [answer.status for answer in answers] == [200] * 16
    assert [answer.json()["event"]["n"] for answer in answers] == list(range(16))
    assert len({answer.json()["pid"] for answer in answers}) == 1


def test_sigterm_stops_rie_and_its_runtime(server: Server) -> None:
    process, client = server(
        RIE, "--port", "0", "--", "python", "-m", "awslambdaric", "handlers.echo"
    )
    runtime_pid = client.invoke({}).json()["pid"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    wait_gone(runtime_pid)


def test_sigterm_lets_the_invocation_in_flight_finish(server: Server) -> None:
    process, client = server(RIE, "--port", "0", "--handler", "handlers.nap")
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(client.invoke, {"seconds": 1})
        for _ in range(1000):  # bounded: until the agent reports the invocation running
            if client.request("GET", "/kubefn/healthz").json()["state"] == "busy":
                break
        else:
            raise AssertionError("the invocation never started")
        process.send_signal(signal.SIGTERM)
        answer = in_flight.result(timeout=30)
    assert answer.status == 200
    assert answer.headers["X-Kubefn-Outcome"] == "success"
    assert process.wait(timeout=30) == 0


def test_rie_runs_kubefn_python_runtime_with_handler_option(server: Server) -> None:
    _, client = server(RIE, "--port", "0", "--handler", "handlers.echo")
    answer = client.invoke({"k": 1}, tail=True)
    assert answer.json()["event"] == {"k": 1}
    assert answer.json()["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "function"
    assert "echo got {'k': 1}" in answer.log


def test_rie_passes_its_environment_to_the_function_as_a_container_would(
    server: Server,
) -> None:
    env = {**os.environ, "GREETING": "hello from the caller"}
    _, client = server(RIE, "--port", "0", "--handler", "handlers.echo", env=env)
    assert client.invoke({}).json()["env"]["GREETING"] == "hello from the caller"


def test_agent_runs_standalone(server: Server) -> None:
    config = json.dumps(instance_config("handlers.echo"))
    command = (sys.executable, "-m", "kubefn_runtime.agent", "--config", config, "--port", "0")
    process, client = server(*command)
    assert client.invoke({"x": 1}).json()["event"] == {"x": 1}
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_awslambdaric_init_error_then_init_is_retried(server: Server) -> None:
    _, client = server(RIE, "--port", "0", "--", "python", "-m", "awslambdaric", "handlers.nope")
    for _ in range(2):
        answer = client.invoke({})
        assert answer.headers["X-Kubefn-Outcome"] == "init_error"
        assert answer.headers["X-Kubefn-Init-Duration-Ms"]
        error = answer.json()
        assert error["errorType"] == "Runtime.HandlerNotFound"
        assert error["errorMessage"] == "Handler 'nope' missing on module 'handlers'"
