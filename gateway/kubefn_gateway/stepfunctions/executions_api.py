"""The execution half of the Step Functions API: start, describe, list, stop and read the
history of executions, and answer the tasks that wait for a callback.

Requests are checked by `execution_requests` and answered here in the API's
shapes; the engine runs the executions. As on AWS, Express executions are
started (StartExecution, StartSyncExecution) but not described, listed,
stopped or read back: their ARNs are refused where a Standard execution is
expected.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from kubefn import statemachine as statemachine_spec
from kubefn_gateway.stepfunctions import errors, execution_requests, machines
from kubefn_gateway.stepfunctions.arns import Arns, ExecutionRef
from kubefn_gateway.stepfunctions.engine import layout
from kubefn_gateway.stepfunctions.engine.service import Engine, StartRefused, TokenRefused
from kubefn_gateway.stepfunctions.engine.store import RUNNING, STATUSES, SUCCEEDED, Execution
from kubefn_gateway.stepfunctions.machines import Machine, MachineCatalog

Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

BILLED_MEMORY_MB = 64
BILLED_DURATION_STEP_MS = 100

_DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails", "parameters")
"""What GetExecutionHistory leaves out of an event's details without includeExecutionData."""


class ExecutionsApi:
    def __init__(
        self,
        *,
        engine: Engine,
        machines: MachineCatalog,
        arns: Arns,
        redis: aioredis.Redis,
    ) -> None:
        self._engine = engine
        self._machines = machines
        self._arns = arns
        self._redis = redis

    def operations(self) -> dict[str, Operation]:
        return {
            "StartExecution": self.start_execution,
            "StartSyncExecution": self.start_sync_execution,
            "DescribeExecution": self.describe_execution,
            "StopExecution": self.stop_execution,
            "ListExecutions": self.list_executions,
            "GetExecutionHistory": self.get_execution_history,
            "SendTaskSuccess": self.send_task_success,
            "SendTaskFailure": self.send_task_failure,
            "SendTaskHeartbeat": self.send_task_heartbeat,
        }

    # -- starting ------------------------------------------------------------------------

    async def start_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = await self._start(body)
        return {"executionArn": execution.arn, "startDate": seconds(execution.start_ms)}

    async def start_sync_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        metadata_only = execution_requests.included_data(body) == "METADATA_ONLY"
        execution = await self._start(body, express_only=True)
        closed = await self._engine.wait(execution)
        return sync_answer(closed, metadata_only=metadata_only)

    async def _start(self, body: Mapping[str, Any], *, express_only: bool = False) -> Execution:
        arn = body.get("stateMachineArn")
        key = self._arns.machine_key(arn)
        name = execution_requests.execution_name(body.get("name"))
        input_text = execution_requests.payload(
            body.get("input", "{}"), field="input", error=execution_requests.invalid_input
        )
        trace_header = execution_requests.trace_header(body.get("traceHeader"))
        machine = await self._machines.find(key)
        if machine is None:
            raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        if express_only and machine.type != statemachine_spec.EXPRESS:
            raise errors.StateMachineTypeNotSupported(
                f"StartSyncExecution is not supported for {machine.type} workflows: '{arn}'"
            )
        try:
            execution, _ = await self._engine.start(
                machine,
                name=name,
                input_text=input_text,
                trace_header=trace_header,
                role_arn=await self._role_arn(machine),
            )
        except StartRefused as exc:
            raise errors.ExecutionAlreadyExists(str(exc)) from None
        return execution

    async def _role_arn(self, machine: Machine) -> str:
        details = await machines.load_details(self._redis, machine.key)
        return details.role_arn or f"arn:aws:iam::{self._arns.account_id}:role/kubefn-gateway"

    # -- reading and stopping ------------------------------------------------------------

    async def describe_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        metadata_only = execution_requests.included_data(body) == "METADATA_ONLY"
        execution = await self._execution(body.get("executionArn"))
        return described(execution, metadata_only=metadata_only)

    async def stop_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        error = execution_requests.bounded(
            body.get("error"), field="error", most=execution_requests.ERROR_MAX
        )
        cause = execution_requests.bounded(
            body.get("cause"), field="cause", most=execution_requests.CAUSE_MAX
        )
        execution = await self._execution(body.get("executionArn"))
        stop_ms = await self._engine.stop(execution, error=error, cause=cause)
        return {"stopDate": seconds(stop_ms)}

    async def list_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = body.get("stateMachineArn")
        map_run = body.get("mapRunArn")
        if arn is None and map_run is None:
            raise errors.validation(
                "Must provide a StateMachine ARN or a MapRun ARN",
                reason="MISSING_REQUIRED_PARAMETER",
            )
        if arn is not None and map_run is not None:
            raise errors.validation("Provide either a StateMachine ARN or a MapRun ARN, not both")
        status = execution_requests.enum(
            body.get("statusFilter"), "statusFilter", (*STATUSES, "PENDING_REDRIVE")
        )
        redriven = execution_requests.enum(
            body.get("redriveFilter"), "redriveFilter", ("REDRIVEN", "NOT_REDRIVEN")
        )
        size = execution_requests.page_size(body.get("maxResults"))
        if map_run is not None:
            # Map runs belong to distributed Maps, which kubefn does not run: none exist.
            raise errors.ResourceNotFound(
                f"Resource not found: '{map_run}'", resource_name=str(map_run)
            )
        key = self._arns.machine_key(arn)
        machine = await self._machines.find(key)
        if machine is None:
            raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        if machine.type != statemachine_spec.STANDARD:
            raise errors.StateMachineTypeNotSupported(
                f"ListExecutions is not supported for {machine.type} workflows: '{arn}'"
            )
        scope = execution_requests.scope("list", key, status or "", redriven or "")
        after = execution_requests.ListPosition.decode(body.get("nextToken"), scope=scope)
        if status == "PENDING_REDRIVE" or redriven == "REDRIVEN":
            return {"executions": []}  # kubefn never redrives an execution
        found, more = await self._listed(key, status=status, after=after, size=size)
        result: dict[str, Any] = {"executions": [listed(x) for x in found]}
        if more:
            last = found[-1]
            result["nextToken"] = execution_requests.ListPosition(last.start_ms, last.name).encode(
                scope=scope
            )
        return result

    async def _listed(
        self,
        key: str,
        *,
        status: str | None,
        after: execution_requests.ListPosition | None,
        size: int,
    ) -> tuple[list[Execution], bool]:
        """Up to `size` executions after `after` (newest first) and whether more follow;
        the listing is read from `after` on, a page's worth at a time."""
        found: list[Execution] = []
        offset = 0
        while True:
            entries = await self._engine.listing(
                key,
                at_most_ms=None if after is None else after.start_ms,
                offset=offset,
                count=size + 1,
            )
            if not entries:
                return found, False
            offset += len(entries)
            names = [n for n, start in entries if after is None or after.precedes(start, n)]
            read = await asyncio.gather(
                *(self._engine.describe(layout.execution_id(key, name)) for name in names)
            )
            for execution in read:
                if execution is None or (status is not None and execution.status != status):
                    continue  # a start that never completed, or filtered out
                if len(found) == size:
                    return found, True
                found.append(execution)

    async def get_execution_history(self, body: dict[str, Any]) -> dict[str, Any]:
        size = execution_requests.page_size(body.get("maxResults"))
        reverse = execution_requests.flag(
            body.get("reverseOrder"), field="reverseOrder", default=False
        )
        with_data = execution_requests.flag(
            body.get("includeExecutionData"), field="includeExecutionData", default=True
        )
        arn = body.get("executionArn")
        execution = await self._execution(arn)
        scope = execution_requests.scope(
            "history", execution.arn, "reverse" if reverse else "forward"
        )
        at = execution_requests.HistoryPosition.decode(body.get("nextToken"), scope=scope)
        page = execution_requests.history_page(
            execution.events, at=None if at is None else at.at, size=size, reverse=reverse
        )
        events = (
            await self._engine.history(execution.id, start=page.start, stop=page.stop)
            if page.start <= page.stop
            else []
        )
        if reverse:
            events.reverse()
        if not with_data:
            events = [without_data(event) for event in events]
        result: dict[str, Any] = {"events": events}
        if page.next_at is not None:
            result["nextToken"] = execution_requests.HistoryPosition(page.next_at).encode(
                scope=scope
            )
        return result

    async def _execution(self, arn: Any) -> Execution:
        """The Standard execution an ARN names."""
        ref = self._arns.execution_ref(arn)
        if ref.express_id is not None:
            raise errors.InvalidArn(
                "Invalid Arn: 'Resource type not valid in this context: express'"
            )
        execution = await self._engine.describe(execution_id(ref))
        if execution is None:
            raise errors.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return execution

    # -- callbacks -----------------------------------------------------------------------

    async def send_task_success(self, body: dict[str, Any]) -> dict[str, Any]:
        token = execution_requests.task_token(body.get("taskToken"))
        output = body.get("output")
        if output is None:
            raise execution_requests.required("output")
        text = execution_requests.payload(
            output, field="output", error=execution_requests.invalid_output
        )
        await self._answer(self._engine.send_task_result(token, result="+" + text))
        return {}

    async def send_task_failure(self, body: dict[str, Any]) -> dict[str, Any]:
        token = execution_requests.task_token(body.get("taskToken"))
        error = execution_requests.bounded(
            body.get("error"), field="error", most=execution_requests.ERROR_MAX
        )
        cause = execution_requests.bounded(
            body.get("cause"), field="cause", most=execution_requests.CAUSE_MAX
        )
        failure = json.dumps({"Error": error, "Cause": cause}, ensure_ascii=False)
        await self._answer(self._engine.send_task_result(token, result="!" + failure))
        return {}

    async def send_task_heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        token = execution_requests.task_token(body.get("taskToken"))
        await self._answer(self._engine.heartbeat(token))
        return {}

    @staticmethod
    async def _answer(sent: Awaitable[None]) -> None:
        try:
            await sent
        except TokenRefused as exc:
            if exc.known:
                raise errors.TaskTimedOut(str(exc)) from None
            raise errors.InvalidToken(str(exc)) from None


# -- answers -------------------------------------------------------------------------------


def seconds(ms: int) -> float:
    """An instant as the API writes timestamps: epoch seconds."""
    return ms / 1000


def execution_id(ref: ExecutionRef) -> str:
    """The engine's id of the execution an ARN names."""
    found = layout.execution_id(ref.machine_key, ref.name)
    return found if ref.express_id is None else f"{found}:{ref.express_id}"


def described(execution: Execution, *, metadata_only: bool = False) -> dict[str, Any]:
    """DescribeExecution's answer."""
    answer: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": execution.machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": seconds(execution.start_ms),
        **_data(execution, metadata_only=metadata_only),
        "redriveCount": 0,
        "redriveStatus": "NOT_REDRIVABLE",
        "redriveStatusReason": (
            f"Execution is {execution.status} and cannot be redriven"
            if execution.status in (RUNNING, SUCCEEDED)
            else "Redriving executions is not supported"
        ),
    }
    if execution.stop_ms is not None:
        answer["stopDate"] = seconds(execution.stop_ms)
    if execution.trace_header:
        answer["traceHeader"] = execution.trace_header
    return answer


def sync_answer(execution: Execution, *, metadata_only: bool = False) -> dict[str, Any]:
    """StartSyncExecution's answer for a closed Express execution, billed as AWS bills:
    64 MB and the duration rounded up to the next 100 ms."""
    stop_ms = execution.stop_ms if execution.stop_ms is not None else execution.start_ms
    duration = max(stop_ms - execution.start_ms, 1)
    billed = math.ceil(duration / BILLED_DURATION_STEP_MS) * BILLED_DURATION_STEP_MS
    answer: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": execution.machine_arn,
        "name": execution.name,
        "startDate": seconds(execution.start_ms),
        "stopDate": seconds(stop_ms),
        "status": execution.status,
        **_data(execution, metadata_only=metadata_only),
        "billingDetails": {
            "billedMemoryUsedInMB": BILLED_MEMORY_MB,
            "billedDurationInMilliseconds": billed,
        },
    }
    if execution.trace_header:
        answer["traceHeader"] = execution.trace_header
    return answer


def _data(execution: Execution, *, metadata_only: bool) -> dict[str, Any]:
    """Input, output, error and cause, as Describe and StartSync answer them."""
    data: dict[str, Any] = {}
    if metadata_only:
        data["inputDetails"] = {"included": False}
    else:
        data["input"] = execution.input
        data["inputDetails"] = {"included": True}
    if execution.output is not None:
        if metadata_only:
            data["outputDetails"] = {"included": False}
        else:
            data["output"] = execution.output
            data["outputDetails"] = {"included": True}
    if execution.error is not None:
        data["error"] = execution.error
    if execution.cause is not None:
        data["cause"] = execution.cause
    return data


def listed(execution: Execution) -> dict[str, Any]:
    """One item of ListExecutions."""
    item: dict[str, Any] = {
        "executionArn": execution.arn,
        "stateMachineArn": execution.machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": seconds(execution.start_ms),
        "redriveCount": 0,
    }
    if execution.stop_ms is not None:
        item["stopDate"] = seconds(execution.stop_ms)
    return item


def without_data(event: Mapping[str, Any]) -> dict[str, Any]:
    """A history event without its execution data (includeExecutionData false)."""
    return {
        name: (
            {k: v for k, v in value.items() if k not in _DATA_FIELDS}
            if name.endswith("EventDetails") and isinstance(value, Mapping)
            else value
        )
        for name, value in event.items()
    }
