"""Durability: a Standard execution survives its gateway being killed (kill -9) mid-run.

The gateway is a real process; it is killed while the execution waits in a
Wait state and again while a Task waits for its callback. A new gateway
carries on from the last recorded step: the Wait wakes on time, the waiting
callback still accepts its token, and no completed state runs twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn import config
from kubefn.function import compile_function
from kubefn.redisserver import EmbeddedRedis, free_port
from tests.conftest import REPO, aws_client

ROLE = "arn:aws:iam::000000000000:role/kubefn-states"

# Appends the step it is asked for to a log file, so the test sees each run of it;
# the "approve" step writes its task token to a file for the test to answer.
FUNCTION = """
import json, os

def handler(event, context):
    folder = os.environ["TRACE_DIR"]
    with open(os.path.join(folder, "steps.log"), "a") as log:
        log.write(event["step"] + "\\n")
    if "token" in event:
        with open(os.path.join(folder, "token"), "w") as out:
            out.write(event["token"])
    return {"did": event["step"]}
"""

DEFINITION = {
    "StartAt": "First",
    "States": {
        "First": {
            "Type": "Task",
            "Resource": "tracer",
            "Parameters": {"step": "first"},
            "ResultPath": "$.first",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 200, "Next": "Approve"},
        "Approve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "tracer",
                "Payload": {"step": "approve", "token.$": "$$.Task.Token"},
            },
            "ResultPath": "$.approval",
            "Next": "Last",
        },
        "Last": {
            "Type": "Task",
            "Resource": "tracer",
            "Parameters": {"step": "last"},
            "ResultPath": "$.last",
            "End": True,
        },
    },
}


class GatewayProcess:
    """`python -m kubefn_gateway` in its own process group (its function processes too)."""

    def __init__(self, redis_url: str, state_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO / "gateway"), str(REPO)]),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kubefn_gateway", "--host", "127.0.0.1",
             "--port", str(self.port), "--redis-url", redis_url, "--state-dir", str(state_dir),
             "--states-time-scale", "40", "--states-lease-seconds", "1",
             "--states-poll-seconds", "0.05"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:  # readiness: /healthz answers 200 once the config is loaded
            if self.process.poll() is not None:
                raise AssertionError(f"gateway exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("gateway did not become ready")
            time.sleep(0.02)  # poll interval of the readiness check

    def kill(self) -> None:
        """kill -9 of the gateway and every process it started."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def until(condition: Any, *, timeout: float = 30.0, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in time")
        time.sleep(0.02)  # poll interval


def events(client: Any, arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.get_execution_history(
            executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        found += page["events"]
        token = page.get("nextToken")
        if not token:
            return found


def types(client: Any, arn: str) -> list[str]:
    return [e["type"] for e in events(client, arn)]


@pytest.mark.asyncio
async def test_an_execution_survives_its_gateway_killed_in_a_wait_and_in_a_callback(
    redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    trace.mkdir()
    steps = trace / "steps.log"
    manifest = {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Function",
        "metadata": {"name": "tracer", "namespace": "default"},
        "spec": {
            "runtime": "python3.11",
            "handler": "app.handler",
            "environment": {"TRACE_DIR": str(trace)},
            "code": {"inline": {"app.py": FUNCTION}},
        },
    }
    await config.publish_compiled(redis_client, compile_function(manifest))
    gateway = GatewayProcess(redis_server.url, tmp_path / "a")
    try:
        client = aws_client("stepfunctions", gateway.url)
        machine = client.create_state_machine(
            name="durable", definition=json.dumps(DEFINITION), roleArn=ROLE
        )["stateMachineArn"]
        arn = client.start_execution(
            stateMachineArn=machine, name="run-1", input=json.dumps({"order": 7})
        )["executionArn"]
        # Killed while the Wait waits (200 s at 40x: 5 s, room for a slow machine).
        until(lambda: "WaitStateEntered" in types(client, arn), what="the Wait entered")
        gateway.kill()
        assert steps.read_text().split() == ["first"]

        gateway = GatewayProcess(redis_server.url, tmp_path / "b")
        client = aws_client("stepfunctions", gateway.url)
        token_file = trace / "token"
        until(token_file.exists, what="the callback's function invoked")
        until(lambda: "TaskSubmitted" in types(client, arn), what="the Task waiting for its token")
        # Killed while the Task waits for its callback.
        gateway.kill()

        gateway = GatewayProcess(redis_server.url, tmp_path / "c")
        client = aws_client("stepfunctions", gateway.url)
        client.send_task_success(
            taskToken=token_file.read_text(), output=json.dumps({"approved": True})
        )
        described = until(
            lambda: (d := client.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
            what="the execution closed",
        )
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {
            "order": 7,
            "first": {"did": "first"},
            "approval": {"approved": True},
            "last": {"did": "last"},
        }
        # No completed state ran again: each step ran once, each state was entered once.
        assert steps.read_text().split() == ["first", "approve", "last"]
        history = types(client, arn)
        entered = [t for t in history if t.endswith("StateEntered")]
        assert entered == [
            "TaskStateEntered",
            "WaitStateEntered",
            "TaskStateEntered",
            "TaskStateEntered",
        ]
        assert history.count("WaitStateExited") == 1
        assert history[-1] == "ExecutionSucceeded"
        ids = [e["id"] for e in events(client, arn)]
        assert ids == list(range(1, len(ids) + 1))
    finally:
        gateway.kill()
