"""Several gateway replicas share the workflow work: every replica drives steps, and no
step runs twice (each Task is invoked once per execution, each state entered once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn import config
from kubefn.function import compile_function
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.stepfunctions.conftest import ROLE_ARN

pytestmark = pytest.mark.asyncio

# Appends one line per invocation to a file named after the execution.
TALLY = """
import os

def handler(event, context):
    with open(os.path.join(os.environ["TALLY_DIR"], event["execution"]), "a") as out:
        out.write(event["step"] + "\\n")
    return event["step"]
"""


def task(step: str, following: str | None) -> dict[str, Any]:
    """A Task that tallies `step` for its execution, then goes on to `following` (or ends)."""
    return {
        "Type": "Task",
        "Resource": "tally",
        "Parameters": {"execution.$": "$$.Execution.Name", "step": step},
        "ResultPath": f"$.{step}",
        **({"Next": following} if following else {"End": True}),
    }


DEFINITION = {
    "StartAt": "One",
    "States": {
        "One": task("one", "Spread"),
        "Spread": {
            "Type": "Parallel",
            "ResultPath": None,
            "Branches": [
                {"StartAt": "Left", "States": {"Left": task("left", None)}},
                {"StartAt": "Right", "States": {"Right": task("right", None)}},
            ],
            "Next": "Hop",
        },
        "Hop": {"Type": "Pass", "Next": "Two"},
        "Two": task("two", None),
    },
}


async def closed(replica: Gateway, client: Any, arn: str) -> dict[str, Any]:
    """DescribeExecution once the execution closed (polled, bounded)."""
    for _ in range(3000):
        described = await replica.call(client.describe_execution, executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        await asyncio.sleep(0.02)  # poll interval
    raise AssertionError(f"{arn} did not close in time")


async def test_two_replicas_share_executions_and_run_each_step_once(
    gateway_settings: GatewaySettings, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    tally = tmp_path / "tally"
    tally.mkdir()
    manifest = {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Function",
        "metadata": {"name": "tally", "namespace": "default"},
        "spec": {
            "runtime": "python3.11",
            "handler": "app.handler",
            "environment": {"TALLY_DIR": str(tally)},
            "code": {"inline": {"app.py": TALLY}},
        },
    }
    await config.publish_compiled(redis_client, compile_function(manifest))
    async with contextlib.AsyncExitStack() as stack:
        replicas: list[Gateway] = []
        for index in range(2):
            settings = GatewaySettings(
                **{
                    **gateway_settings.__dict__,
                    "state_dir": tmp_path / f"state-{index}",
                    "replica": f"replica-{index}",
                    "states_poll_seconds": 0.01,
                }
            )
            replicas.append(
                await stack.enter_async_context(running_gateway(settings, redis_client))
            )
        clients = [r.client("stepfunctions") for r in replicas]
        machine = (
            await replicas[0].call(
                clients[0].create_state_machine,
                name="shared",
                definition=json.dumps(DEFINITION),
                roleArn=ROLE_ARN,
            )
        )["stateMachineArn"]
        names = [f"run-{i}" for i in range(24)]
        arns = await asyncio.gather(
            *(
                replicas[i % 2].call(
                    clients[i % 2].start_execution, stateMachineArn=machine, name=name
                )
                for i, name in enumerate(names)
            )
        )
        for started in arns:
            described = await closed(replicas[0], clients[0], started["executionArn"])
            assert described["status"] == "SUCCEEDED", described
            history = (
                await replicas[1].call(
                    clients[1].get_execution_history,
                    executionArn=started["executionArn"],
                    maxResults=1000,
                )
            )["events"]
            entered = [
                e["stateEnteredEventDetails"]["name"]
                for e in history
                if e["type"].endswith("StateEntered")
            ]
            assert sorted(entered) == sorted(["One", "Spread", "Left", "Right", "Hop", "Two"])
        for name in names:
            assert sorted((tally / name).read_text().split()) == ["left", "one", "right", "two"]
        # Both replicas drove steps of these executions.
        assert all(r.platform.states.standard_workers.transitions > 0 for r in replicas)
