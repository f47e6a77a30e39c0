"""What a closed execution leaves behind, and runs made again under the same id.

A stopped, finished or history-full execution has nothing left due in the ready
queues (so no replica can run any of it again), its runs are gone, and its record
and history expire after the retention period. A Map or Parallel made again (a
Retry) gives its children new sequence numbers, so a late commit of the first
attempt's child is refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn.redisserver import EmbeddedRedis
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.stepfunctions.engine import layout
from kubefn_gateway.stepfunctions.engine.plan import Outcome, Plan
from kubefn_gateway.stepfunctions.engine.redis_store import RedisStore
from kubefn_gateway.stepfunctions.engine.runs import Phase, Run
from kubefn_gateway.stepfunctions.engine.store import RUNNING, Execution
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions

pytestmark = pytest.mark.asyncio

WAIT_FOR_TOKEN = "arn:aws:states:::lambda:invoke.waitForTaskToken"


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(sh.compressed(gateway_settings), states_history_max=30)


@pytest.fixture
def flows(sfn: StepFunctions) -> sh.Workflows:
    return sh.Workflows(sfn)


async def leftovers(redis: aioredis.Redis, execution_arn: str) -> dict[str, Any]:
    """What Redis still holds of an execution: due members, runs, and the keys' TTLs."""
    name = execution_arn.split(":")[-1]
    machine = execution_arn.split(":")[-2]
    execution_id = layout.execution_id(f"default/{machine}", name)
    keys = layout.execution_keys(execution_id)
    due = [
        m
        for shard in range(layout.SHARDS)
        for m in await redis.zrange(layout.ready_key(shard), 0, -1)
        if m.decode().startswith(execution_id + layout.RUN_SEPARATOR)
    ]
    return {
        "due": due,
        "runs": await redis.exists(keys.runs),
        "meta_ttl": await redis.ttl(keys.meta),
        "history_ttl": await redis.ttl(keys.history),
    }


def waiting_map(function: str) -> dict[str, Any]:
    """A Map whose every iteration waits for a callback nobody sends."""
    return sh.single(
        {
            "Type": "Map",
            "MaxConcurrency": 2,
            "ItemProcessor": {
                "StartAt": "Ask",
                "States": {
                    "Ask": sh.task(
                        WAIT_FOR_TOKEN,
                        Parameters={"FunctionName": function, "Payload.$": "$"},
                        End=True,
                    )
                },
            },
            "End": True,
        }
    )


async def test_a_stopped_execution_leaves_nothing_due_and_expires(
    gateway: Gateway, flows: sh.Workflows, redis_client: aioredis.Redis
) -> None:
    await gateway.deploy("echo", files={"app.py": sh.ECHO})
    machine = await flows.machine(waiting_map("echo"))
    arn = await flows.start(machine, [1, 2, 3])
    await flows.until_described(arn, lambda d: True)
    for _ in range(500):  # until both running iterations wait for their tokens
        if sum(e["type"] == "TaskSubmitted" for e in await flows.history(arn)) == 2:
            break
        await asyncio.sleep(0.02)  # poll interval
    await flows.sfn("stop_execution", executionArn=arn, error="Stop", cause="test")

    left = await leftovers(redis_client, arn)
    assert (left["due"], left["runs"]) == ([], 0)
    assert left["meta_ttl"] > 0 and left["history_ttl"] > 0


async def test_a_finished_execution_leaves_nothing_due_and_expires(
    gateway: Gateway, flows: sh.Workflows, redis_client: aioredis.Redis
) -> None:
    finished = await flows.run(sh.single({"Type": "Pass", "End": True}), {"a": 1})
    assert finished.status == "SUCCEEDED"

    left = await leftovers(redis_client, finished.description["executionArn"])
    assert (left["due"], left["runs"]) == ([], 0)
    assert left["meta_ttl"] > 0 and left["history_ttl"] > 0


async def test_an_execution_past_its_history_limit_leaves_nothing_to_run_again(
    gateway: Gateway, flows: sh.Workflows, redis_client: aioredis.Redis
) -> None:
    await gateway.deploy("echo", files={"app.py": sh.ECHO})
    iterations = {
        "Type": "Map",
        "MaxConcurrency": 3,
        "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": sh.task("echo", End=True)}},
        "End": True,
    }
    finished = await flows.run(sh.single(iterations), list(range(20)))

    assert (finished.status, finished.error) == ("FAILED", "States.Runtime")
    assert len(finished.events) == 30
    left = await leftovers(redis_client, finished.description["executionArn"])
    assert (left["due"], left["runs"]) == ([], 0)
    assert left["meta_ttl"] > 0


async def test_a_late_commit_of_an_earlier_fork_is_refused(
    redis_server: EmbeddedRedis, redis_client: aioredis.Redis
) -> None:
    store = RedisStore(redis_client)
    execution = Execution(
        id="default/m:run", arn="arn", name="run", machine_key="default/m", machine_arn="m",
        type="STANDARD", status=RUNNING, input="{}", definition="{}", start_ms=0,
    )  # fmt: skip
    top = Run(id="0", scope=(), state="Fan", input={})
    await store.start(execution, first_event='{"type":"ExecutionStarted"', run=top,
                      timeout_ms=None, now_ms=0)  # fmt: skip

    async def fork(seq: int) -> int:
        """The top run forks one child; returns the child's sequence number."""
        plan = Plan(run_id="0", seq=seq)
        child = Run(id="0/0", scope=(("Fan", 0),), state="Work", input={}, parent="0")
        plan.put(child)
        plan.fork("0", total=1, tolerated=0, started=1)
        top.phase = Phase.FORK
        plan.put(top)
        assert await store.commit(execution.id, plan, now_ms=0) == Outcome.COMMITTED
        loaded = await store.load(execution.id, "0/0")
        assert loaded is not None
        return loaded.seq

    first = await fork(1)
    # The first attempt's child is scheduled (its worker then invokes for a long time).
    scheduled = Plan(run_id="0/0", seq=first)
    scheduled.put(Run(id="0/0", scope=(("Fan", 0),), state="Work", input={}, parent="0",
                      phase=Phase.INVOKE))  # fmt: skip
    assert await store.commit(execution.id, scheduled, now_ms=0) == Outcome.COMMITTED
    # The fork fails elsewhere and is made again (a Retry of the Parallel).
    unfork = Plan(run_id="0", seq=2)
    unfork.unfork("0", total=1)
    top.phase = Phase.RETRY
    unfork.put(top)
    assert await store.commit(execution.id, unfork, now_ms=0) == Outcome.COMMITTED
    second = await fork(3)
    assert second > first + 1

    late = Plan(run_id="0/0", seq=first + 1)
    late.finish("0", index=0, ok=True, value=json.dumps({"from": "the first attempt"}))
    late.drop("0/0")
    assert await store.commit(execution.id, late, now_ms=0) == Outcome.STALE
    state = await store.fork_state(execution.id, "0")
    assert state.results == [None]
