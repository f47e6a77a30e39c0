"""Running workflows end to end for the interpreter's tests, through boto3's `stepfunctions`.

A test writes a definition, `run`s it with an input and reads what a Step
Functions user reads: DescribeExecution's answer and GetExecutionHistory's
events. Executions are awaited by polling DescribeExecution (bounded), never by
sleeping. The gateway runs on a compressed clock (`compressed`): durations in a
definition (Wait, Retry intervals, TimeoutSeconds, HeartbeatSeconds) pass
TIME_SCALE times faster, so `IntervalSeconds: 60` takes 0.6 s of real time.

The functions below are the real Python functions the tests deploy; each reads
what it needs from its event, so one deployment serves a whole module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions.conftest import ROLE_ARN, StepFunctions

TIME_SCALE = 100.0
"""Definition seconds per real second in these tests."""

FINISH_TIMEOUT = 20.0
"""Real seconds an execution may take before a test gives up on it."""

CLOSED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

ACCOUNT, REGION = "000000000000", "us-east-1"


def compressed(settings: GatewaySettings) -> GatewaySettings:
    """Gateway settings whose workflow clock runs TIME_SCALE times faster, polled often."""
    return dataclasses.replace(settings, states_time_scale=TIME_SCALE, states_poll_seconds=0.02)


def real_seconds(definition_seconds: float) -> float:
    """How long `definition_seconds` of a definition take on the compressed clock."""
    return definition_seconds / TIME_SCALE


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# -- functions the tests deploy ------------------------------------------------------------

ECHO = '''
def handler(event, context):
    """Answers its event, with `add` merged in when the event is an object that has one."""
    if isinstance(event, dict) and isinstance(event.get("add"), dict):
        return {**event, **event["add"]}
    return event
'''

RAISES = '''
class OrderRejected(Exception):
    pass


class Transient(Exception):
    pass


def handler(event, context):
    """Raises the error the event names (`raise`), unless `until_retry` retries have passed."""
    name = event.get("raise")
    retried = event.get("retry_count", 0)
    if name and retried < event.get("until_retry", 1_000_000):
        errors = {"OrderRejected": OrderRejected, "Transient": Transient, "ValueError": ValueError}
        raise errors[name](event.get("message", f"{name} at retry {retried}"))
    return {"ok": True, "retry_count": retried}
'''

SLEEPS = '''
import time


def handler(event, context):
    """Holds for `seconds` of real time, then answers its event."""
    time.sleep(event.get("seconds", 0))
    return event
'''

OUTBOX = '''
import json
import os

import redis

_client = redis.Redis.from_url(os.environ["OUTBOX_URL"])


def handler(event, context):
    """Posts its event to the Redis list the event names (`outbox`), as a notifier would
    send a task token to whoever approves."""
    _client.rpush(event["outbox"], json.dumps(event))
    return {"posted": True}
'''

CONCURRENCY = '''
import os
import time

import redis

_client = redis.Redis.from_url(os.environ["OUTBOX_URL"])

_ENTER = """
local now = redis.call('INCR', KEYS[1])
local peak = tonumber(redis.call('GET', KEYS[2]) or '0')
if now > peak then redis.call('SET', KEYS[2], now) end
return now
"""


def handler(event, context):
    """Counts how many invocations of one `group` are inside at once (peak in Redis)."""
    group = event["group"]
    _client.eval(_ENTER, 2, f"{group}:active", f"{group}:peak")
    try:
        time.sleep(event.get("hold", 0.2))
        if event.get("fail"):
            raise ValueError(f"item {event.get('item')} failed")
        return {"item": event.get("item")}
    finally:
        _client.decr(f"{group}:active")
'''


# -- what an execution left behind --------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """A closed execution as the API describes it, with its history in order."""

    description: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return str(self.description["status"])

    @property
    def output(self) -> Any:
        """The output, parsed (the execution must have succeeded)."""
        assert self.status == "SUCCEEDED", (self.status, self.error, self.cause)
        return json.loads(self.description["output"])

    @property
    def error(self) -> str | None:
        return self.description.get("error")

    @property
    def cause(self) -> str | None:
        return self.description.get("cause")

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    def details(self, kind: str, *, index: int = 0) -> dict[str, Any]:
        """The details of the `index`th event of type `kind`."""
        return details(self.of_type(kind)[index])


def details(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event's `...EventDetails` (empty when it has none)."""
    found = [value for key, value in event.items() if key.endswith("EventDetails")]
    return dict(found[0]) if found else {}


def seconds(first: Mapping[str, Any], second: Mapping[str, Any]) -> float:
    """Real seconds from one event to another, by their timestamps."""
    return (_instant(second["timestamp"]) - _instant(first["timestamp"])).total_seconds()


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromtimestamp(float(value))


def chain_of(events: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(id, previousEventId) of each event, in order."""
    return [(event["id"], event["previousEventId"]) for event in events]


# -- driving executions -------------------------------------------------------------------

_names = itertools.count(1)


class Workflows:
    """Machines created, executions started and awaited, as a Step Functions user does."""

    def __init__(self, sfn: StepFunctions) -> None:
        self.sfn = sfn
        self.gateway: Gateway = sfn.gateway

    async def machine(
        self,
        definition: Mapping[str, Any],
        *,
        name: str | None = None,
        type: str = "STANDARD",
    ) -> str:
        """CreateStateMachine; the machine's ARN."""
        name = name or f"machine-{next(_names)}"
        created = await self.sfn.machine(name, dict(definition), type=type, roleArn=ROLE_ARN)
        return str(created["stateMachineArn"])

    async def start(self, machine_arn: str, input: Any = None, *, name: str | None = None) -> str:
        """StartExecution; the execution's ARN."""
        params: dict[str, Any] = {
            "stateMachineArn": machine_arn,
            "input": json.dumps({} if input is None else input),
        }
        if name is not None:
            params["name"] = name
        started = await self.sfn("start_execution", **params)
        return str(started["executionArn"])

    async def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(await self.sfn("describe_execution", executionArn=execution_arn))

    async def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of an execution, oldest first, read page by page."""
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
            if token:
                params["nextToken"] = token
            page = await self.sfn("get_execution_history", **params)
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    async def finished(self, execution_arn: str, *, timeout: float = FINISH_TIMEOUT) -> Finished:
        """The execution once it has closed (DescribeExecution polled, bounded)."""
        description = await self.until_described(
            execution_arn, lambda found: found["status"] in CLOSED, timeout=timeout
        )
        return Finished(description=description, events=await self.history(execution_arn))

    async def until_described(
        self,
        execution_arn: str,
        condition: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = FINISH_TIMEOUT,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await self.describe(execution_arn)
            if condition(found):
                return found
            if loop.time() > deadline:
                raise AssertionError(f"{execution_arn} still {found['status']} after {timeout}s")
            await asyncio.sleep(0.02)

    async def run(
        self,
        definition: Mapping[str, Any],
        input: Any = None,
        *,
        name: str | None = None,
        timeout: float = FINISH_TIMEOUT,
    ) -> Finished:
        """Create a machine of `definition`, run it on `input` and return it closed."""
        machine_arn = await self.machine(definition)
        execution_arn = await self.start(machine_arn, input, name=name)
        return await self.finished(execution_arn, timeout=timeout)

    async def run_sync(self, definition: Mapping[str, Any], input: Any = None) -> dict[str, Any]:
        """Create an EXPRESS machine and StartSyncExecution it: the answer."""
        machine_arn = await self.machine(definition, type="EXPRESS")
        # botocore sends StartSyncExecution to the host `sync-<endpoint host>` (the operation's
        # host prefix) unless told not to: the gateway answers on its own address.
        client = stepfunctions_client(self.gateway, inject_host_prefix=False)
        answer = await self.gateway.call(
            client.start_sync_execution,
            stateMachineArn=machine_arn,
            input=json.dumps({} if input is None else input),
        )
        return dict(answer)

    # -- callbacks ------------------------------------------------------------------------

    async def approve(self, token: str, output: Any) -> None:
        await self.sfn("send_task_success", taskToken=token, output=json.dumps(output))

    async def reject(self, token: str, *, error: str, cause: str) -> None:
        await self.sfn("send_task_failure", taskToken=token, error=error, cause=cause)

    async def heartbeat(self, token: str) -> None:
        await self.sfn("send_task_heartbeat", taskToken=token)


def stepfunctions_client(gateway: Gateway, *, inject_host_prefix: bool) -> Any:
    """A `stepfunctions` client of the gateway, with or without botocore's host prefixes."""
    client = gateway.client("stepfunctions")
    config = client.meta.config.merge(Config(inject_host_prefix=inject_host_prefix))
    return boto3.client(
        "stepfunctions",
        endpoint_url=gateway.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def task(resource: str, **fields: Any) -> dict[str, Any]:
    """A Task state (End unless `Next` is given)."""
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, **fields}
    if "Next" not in state:
        state["End"] = True
    return state


def single(state: Mapping[str, Any], *, name: str = "Only") -> dict[str, Any]:
    """A definition of one state (which must end)."""
    return {"StartAt": name, "States": {name: dict(state)}}
