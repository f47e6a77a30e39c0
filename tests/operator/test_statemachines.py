"""StateMachines through the whole operator: Kopf, the emulated API server, and Redis."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from kubefn import config, executions, statemachine
from tests.operator.apiserver import (
    DEPLOYMENTS,
    STATE_MACHINES,
    Api,
    Operator,
    eventually,
    eventually_awaited,
    published,
)

HELLO = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Greet"},
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "hello", "Payload.$": "$"},
            "End": True,
        },
    },
}
BROKEN = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.ok", "BooleanEquals": True, "Next": "Yes"},
                {"Variable": "$.ok", "BooleanEquals": False, "Next": "Done"},
            ],
        },
        "Yes": {"Type": "Succeed"},
        "Lost": {"Type": "Pass", "End": True},
    },
}
"""A choice naming a state that is not there, and a state nothing leads to."""


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def machine_status(api: Api, name: str, *, generation: int, ready: str) -> dict[str, Any] | None:
    return api.status(name, generation=generation, ready=ready, resource=STATE_MACHINES)


async def machines(client: aioredis.Redis) -> dict[str, config.Published]:
    return await published(client, kind="StateMachine")


async def test_a_new_statemachine_is_published_and_ready(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_statemachine("hello", {"definition": HELLO})
    status = await eventually(
        lambda: machine_status(api, "hello", generation=1, ready="True"), what="Ready=True"
    )
    record = (await machines(redis_client))["default/hello"]
    assert record.spec == statemachine.compile_spec("default", "hello", {"definition": HELLO}).spec
    assert (ready(status)["reason"], ready(status)["message"]) == (
        "Published",
        "revision 1 of state machine hello is published",
    )
    assert status["revision"] == 1
    assert api.every(DEPLOYMENTS) == []  # a state machine owns no pods


async def test_status_counts_executions_as_the_gateways_count_them(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_statemachine("hello", {"definition": HELLO})
    await eventually(
        lambda: machine_status(api, "hello", generation=1, ready="True"), what="Ready=True"
    )

    def counted(expected: dict[str, int]) -> Any:
        status = (api.get(STATE_MACHINES, "hello") or {}).get("status") or {}
        return status if status.get("executions") == expected else None

    none = dict.fromkeys(("running", "succeeded", "failed", "timed_out", "aborted"), 0)
    await eventually(lambda: counted(none), what="no executions yet")
    for _ in range(3):
        await executions.count_started(redis_client, "default/hello")
    await executions.count_closed(redis_client, "default/hello", status="SUCCEEDED")
    await executions.count_closed(redis_client, "default/hello", status="FAILED")
    await eventually(
        lambda: counted({**none, "running": 1, "succeeded": 1, "failed": 1}),
        what="status.executions from the gateways' counts",
    )


async def test_a_definition_string_is_published_as_an_object(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    spec = {"definitionString": json.dumps(HELLO), "type": "EXPRESS"}
    await api.create_statemachine("hello", spec)
    await eventually(lambda: machine_status(api, "hello", generation=1, ready="True"), what="v1")
    record = (await machines(redis_client))["default/hello"]
    assert (record.spec["definition"], record.spec["type"]) == (HELLO, "EXPRESS")


async def test_an_invalid_definition_is_refused_with_every_problem(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_statemachine("broken", {"definition": BROKEN})
    status = await eventually(
        lambda: machine_status(api, "broken", generation=1, ready="False"), what="Ready=False"
    )
    assert ready(status)["reason"] == "InvalidDefinition"
    assert ready(status)["message"] == (
        "spec.definition.States.Check.Choices[1].Next: no state named 'Done'; "
        "spec.definition.States.Lost: is not reachable from StartAt"
    )
    posted = await eventually(lambda: api.events(reason="InvalidDefinition"), what="the event")
    assert {(e["type"], e["message"]) for e in posted} == {("Warning", ready(status)["message"])}
    assert await machines(redis_client) == {}


async def test_a_bad_spec_beside_the_definition_is_an_invalid_spec(
    api: Api, operator: Operator
) -> None:
    await api.create_statemachine("hello", {"definition": HELLO, "type": "QUICK"})
    status = await eventually(
        lambda: machine_status(api, "hello", generation=1, ready="False"), what="Ready=False"
    )
    assert (ready(status)["reason"], ready(status)["message"]) == (
        "InvalidSpec",
        "spec.type: must be one of STANDARD, EXPRESS (got 'QUICK')",
    )


async def test_an_invalid_update_keeps_the_last_good_machine(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_statemachine("hello", {"definition": HELLO})
    await eventually(lambda: machine_status(api, "hello", generation=1, ready="True"), what="v1")
    await api.patch(STATE_MACHINES, "hello", {"spec": {"definition": {"StartAt": "Nowhere"}}})
    status = await eventually(
        lambda: machine_status(api, "hello", generation=2, ready="False"), what="v2"
    )
    assert ready(status)["reason"] == "InvalidDefinition"
    record = (await machines(redis_client))["default/hello"]
    assert (record.revision, record.spec["definition"]) == (1, HELLO)


async def test_an_update_publishes_a_new_revision(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_statemachine("hello", {"definition": HELLO})
    await eventually(lambda: machine_status(api, "hello", generation=1, ready="True"), what="v1")
    await api.patch(STATE_MACHINES, "hello", {"spec": {"logging": {"level": "ALL"}}})
    status = await eventually(
        lambda: machine_status(api, "hello", generation=2, ready="True"), what="v2"
    )
    record = (await machines(redis_client))["default/hello"]
    assert (status["revision"], record.revision, record.spec["logging"]) == (
        2,
        2,
        {"level": "ALL"},
    )


async def test_deleting_a_statemachine_withdraws_it(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    await api.create_statemachine("hello", {"definition": HELLO})
    await eventually(lambda: machine_status(api, "hello", generation=1, ready="True"), what="v1")
    await api.delete(STATE_MACHINES, "hello")
    await eventually(lambda: api.get(STATE_MACHINES, "hello") is None, what="deletion")
    await eventually_awaited(
        lambda: _withdrawn(redis_client, "default/hello"), what="the machine withdrawn"
    )


async def test_deleting_a_never_published_machine_leaves_another_one_be(
    api: Api, operator: Operator, redis_client: aioredis.Redis
) -> None:
    # A machine of the same name created through the Step Functions API is not its to withdraw.
    theirs = statemachine.compile_spec("default", "broken", {"definition": HELLO})
    await config.publish_compiled(redis_client, theirs)
    await api.create_statemachine("broken", {"definition": BROKEN})
    await eventually(lambda: machine_status(api, "broken", generation=1, ready="False"), what="v1")
    await api.delete(STATE_MACHINES, "broken")
    await eventually(lambda: api.get(STATE_MACHINES, "broken") is None, what="deletion")
    assert list(await machines(redis_client)) == ["default/broken"]


async def _withdrawn(client: aioredis.Redis, key: str) -> bool:
    return key not in await machines(client)
