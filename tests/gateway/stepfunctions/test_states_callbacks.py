"""Callbacks end to end: a Task waits for its task token (`.waitForTaskToken`), which a real
function posts to a Redis list as a notifier would mail it to an approver; the test answers
with SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat through boto3."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn.redisserver import EmbeddedRedis
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions

WAIT_FOR_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken"


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return sh.compressed(gateway_settings)


@pytest.fixture
def flows(sfn: StepFunctions) -> sh.Workflows:
    return sh.Workflows(sfn)


@pytest.fixture
async def outbox(gateway: Gateway, redis_server: EmbeddedRedis) -> str:
    await gateway.deploy(
        "outbox", files={"app.py": sh.OUTBOX}, environment={"OUTBOX_URL": redis_server.url}
    )
    return "outbox"


async def next_request(redis_client: aioredis.Redis, box: str) -> dict[str, Any]:
    """The next approval request the function posted to `box` (waits for it, bounded)."""
    popped = await redis_client.blpop([box], timeout=15)
    assert popped is not None, f"nothing was posted to {box}"
    return dict(json.loads(popped[1]))


def ask(box: str, *, function: str = "outbox", **fields: Any) -> dict[str, Any]:
    """A Task that posts {order, token} to `box` and waits for the answer."""
    return sh.task(
        WAIT_FOR_TOKEN,
        Parameters={
            "FunctionName": function,
            "Payload": {"outbox": box, "order.$": "$.order", "token.$": "$$.Task.Token"},
        },
        **fields,
    )


APPROVAL = {
    "StartAt": "Ask",
    "States": {
        "Ask": ask(
            "approvals",
            ResultPath="$.approval",
            Catch=[{"ErrorEquals": ["Rejected"], "ResultPath": "$.rejection", "Next": "Cancel"}],
            Next="Ship",
        ),
        "Ship": {"Type": "Pass", "End": True},
        "Cancel": {"Type": "Fail", "Error": "OrderCancelled", "CausePath": "$.rejection.Cause"},
    },
}
"""Human approval: an approver's answer ships the order, a rejection cancels it."""


async def test_an_approved_task_goes_on_with_the_approvers_output(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    machine = await flows.machine(APPROVAL)
    execution = await flows.start(machine, {"order": {"id": "o-1", "total": 120}})

    request = await next_request(redis_client, "approvals")
    assert request["order"] == {"id": "o-1", "total": 120}
    await flows.approve(request["token"], {"approved": True, "by": "ana"})
    finished = await flows.finished(execution)

    assert finished.output == {
        "order": {"id": "o-1", "total": 120},
        "approval": {"approved": True, "by": "ana"},
    }
    assert finished.types == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = finished.details("TaskScheduled")
    assert scheduled["resource"] == "invoke.waitForTaskToken"
    assert json.loads(scheduled["parameters"])["Payload"]["token"] == request["token"]
    # What the function answered is the submission; the approver's answer is the result.
    assert json.loads(finished.details("TaskSubmitted")["output"])["Payload"] == {"posted": True}
    assert json.loads(finished.details("TaskSucceeded")["output"]) == {
        "approved": True,
        "by": "ana",
    }


async def test_a_rejected_task_fails_with_the_approvers_error(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    machine = await flows.machine(APPROVAL)
    execution = await flows.start(machine, {"order": {"id": "o-2"}})

    request = await next_request(redis_client, "approvals")
    await flows.reject(request["token"], error="Rejected", cause="over budget")
    finished = await flows.finished(execution)

    assert (finished.status, finished.error, finished.cause) == (
        "FAILED",
        "OrderCancelled",
        "over budget",
    )
    failed = finished.details("TaskFailed")
    assert (failed["error"], failed["cause"]) == ("Rejected", "over budget")
    assert finished.types[-5:] == [
        "TaskSubmitted",
        "TaskFailed",
        "TaskStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]


async def test_an_uncaught_rejection_fails_the_execution(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    machine = await flows.machine(sh.single(ask("plain")))
    execution = await flows.start(machine, {"order": 3})

    request = await next_request(redis_client, "plain")
    await flows.reject(request["token"], error="NotToday", cause="closed")
    finished = await flows.finished(execution)

    assert (finished.status, finished.error, finished.cause) == ("FAILED", "NotToday", "closed")
    assert finished.types[-2:] == ["TaskFailed", "ExecutionFailed"]


async def test_heartbeats_keep_a_waiting_task_alive(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    # HeartbeatSeconds 40 is 0.4 s of real time; the approver takes three times that,
    # sending a heartbeat every 0.15 s.
    machine = await flows.machine(sh.single(ask("slow", HeartbeatSeconds=40)))
    execution = await flows.start(machine, {"order": 4})

    request = await next_request(redis_client, "slow")
    loop = asyncio.get_running_loop()
    until = loop.time() + 3 * sh.real_seconds(40)
    while loop.time() < until:
        await flows.heartbeat(request["token"])
        await asyncio.sleep(0.15)  # the approver's pace between heartbeats
    described = await flows.describe(execution)
    assert described["status"] == "RUNNING"
    await flows.approve(request["token"], "done")
    finished = await flows.finished(execution)

    assert finished.output == "done"
    assert "TaskTimedOut" not in finished.types


async def test_without_heartbeats_the_waiting_task_times_out(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    machine = await flows.machine(sh.single(ask("forgotten", HeartbeatSeconds=30)))
    execution = await flows.start(machine, {"order": 5})
    request = await next_request(redis_client, "forgotten")

    finished = await flows.finished(execution)

    assert finished.status == "FAILED"
    assert finished.types[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    # The token of a task that timed out is refused, as Step Functions refuses it.
    refused = await flows.sfn.error(
        "send_task_success", taskToken=request["token"], output=json.dumps("late")
    )
    assert refused.response["Error"]["Code"] == "TaskTimedOut"


async def test_a_token_answers_its_task_once(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    machine = await flows.machine(sh.single(ask("once")))
    execution = await flows.start(machine, {"order": 6})
    request = await next_request(redis_client, "once")
    await flows.approve(request["token"], "first")
    finished = await flows.finished(execution)

    again = await flows.sfn.error(
        "send_task_success", taskToken=request["token"], output=json.dumps("second")
    )
    failure = await flows.sfn.error(
        "send_task_failure", taskToken=request["token"], error="Late", cause="too late"
    )
    heartbeat = await flows.sfn.error("send_task_heartbeat", taskToken=request["token"])

    assert finished.output == "first"
    for refused in (again, failure, heartbeat):
        assert refused.response["Error"]["Code"] == "TaskTimedOut"


async def test_a_token_that_names_no_task_is_invalid(flows: sh.Workflows) -> None:
    refused = await flows.sfn.error(
        "send_task_success", taskToken="not-a-token", output=json.dumps({})
    )

    assert refused.response["Error"]["Code"] == "InvalidToken"


async def test_each_map_item_waits_for_its_own_approval(
    flows: sh.Workflows, outbox: str, redis_client: aioredis.Redis
) -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.orders",
        "ItemSelector": {"order.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": ask("per-item")}},
        "End": True,
    }
    machine = await flows.machine(sh.single(state))
    execution = await flows.start(machine, {"orders": ["a", "b", "c"]})

    requests = [await next_request(redis_client, "per-item") for _ in range(3)]
    for request in reversed(requests):  # answered in another order than asked
        await flows.approve(request["token"], f"ok {request['order']}")
    finished = await flows.finished(execution)

    assert finished.output == ["ok a", "ok b", "ok c"]
