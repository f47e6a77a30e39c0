"""The Redis store's callback rules: a task token is answered once; the same answer sent
again (a client retrying a call whose reply it lost) is accepted, another one refused."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from kubefn_gateway.stepfunctions.engine.plan import Outcome, Plan
from kubefn_gateway.stepfunctions.engine.redis_store import RedisStore
from kubefn_gateway.stepfunctions.engine.runs import Phase, Run
from kubefn_gateway.stepfunctions.engine.store import RUNNING, Execution

pytestmark = pytest.mark.asyncio


async def waiting_task(store: RedisStore) -> Execution:
    """An execution whose top run waits for the callback of task token nonce 'n1'."""
    execution = Execution(
        id="default/m:run", arn="arn", name="run", machine_key="default/m", machine_arn="m",
        type="STANDARD", status=RUNNING, input="{}", definition="{}", start_ms=0,
    )  # fmt: skip
    top = Run(id="0", scope=(), state="Ask", input={})
    await store.start(execution, first_event='{"type":"ExecutionStarted"', run=top,
                      timeout_ms=None, now_ms=0)  # fmt: skip
    plan = Plan(run_id="0", seq=1)
    top.phase, top.token, top.deadline_ms = Phase.TOKEN, "n1", 10_000
    plan.put(top)
    assert await store.commit(execution.id, plan, now_ms=0) == Outcome.COMMITTED
    return execution


async def test_the_same_answer_twice_is_accepted_and_another_refused(
    redis_client: aioredis.Redis,
) -> None:
    store = RedisStore(redis_client)
    execution = await waiting_task(store)

    first = await store.callback(execution.id, "0", token="n1", result='+{"ok":1}', now_ms=1)
    again = await store.callback(execution.id, "0", token="n1", result='+{"ok":1}', now_ms=2)
    other = await store.callback(execution.id, "0", token="n1", result='+{"ok":2}', now_ms=3)
    stale = await store.callback(execution.id, "0", token="n0", result='+{"ok":1}', now_ms=4)

    assert (first, again, other, stale) == (1, 1, 0, 0)
    loaded = await store.load(execution.id, "0")
    assert loaded is not None and loaded.callback == '+{"ok":1}'
