"""The execution half of the Step Functions API: start, describe, list, stop and read the
history of executions, and answer the tasks that wait for a callback.

Requests are checked here against the API's model (lengths, enums, ranges, JSON
payloads) and answered in its shapes; the engine runs the executions. As on
AWS, Express executions are started (StartExecution, StartSyncExecution) but
not described, listed, stopped or read back: their ARNs are refused where a
Standard execution is expected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

import redis.asyncio as aioredis

from kubefn import statemachine as statemachine_spec
from kubefn_gateway.stepfunctions import errors, machines
from kubefn_gateway.stepfunctions.arns import Arns, ExecutionRef
from kubefn_gateway.stepfunctions.engine import layout
from kubefn_gateway.stepfunctions.engine.service import Engine, StartRefused, TokenRefused
from kubefn_gateway.stepfunctions.engine.store import RUNNING, STATUSES, SUCCEEDED, Execution
from kubefn_gateway.stepfunctions.machines import Machine, MachineCatalog

Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

NAME_MAX = 80
PAYLOAD_MAX = 262144
"""Bytes (UTF-8) of an execution's input or a task's output."""
TRACE_HEADER_MAX = 256
TOKEN_MAX = 2048
"""Characters of a task token."""
ERROR_MAX, CAUSE_MAX = 256, 32768
PAGE_DEFAULT, PAGE_MAX = 100, 1000
LIST_TOKEN_MAX, HISTORY_TOKEN_MAX = 3096, 1024
BILLED_MEMORY_MB = 64
BILLED_DURATION_STEP_MS = 100

_NAME_FORBIDDEN = frozenset('<>{}[]?*"#%\\^|~`$&,;:/')
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
        metadata_only = _included_data(body) == "METADATA_ONLY"
        execution = await self._start(body, express_only=True)
        closed = await self._engine.wait(execution)
        return sync_answer(closed, metadata_only=metadata_only)

    async def _start(self, body: Mapping[str, Any], *, express_only: bool = False) -> Execution:
        arn = body.get("stateMachineArn")
        key = self._arns.machine_key(arn)
        name = execution_name(body.get("name"))
        input_text = payload(body.get("input", "{}"), field="input", error=_invalid_input)
        trace_header = _trace_header(body.get("traceHeader"))
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
        metadata_only = _included_data(body) == "METADATA_ONLY"
        execution = await self._execution(body.get("executionArn"))
        return described(execution, metadata_only=metadata_only)

    async def stop_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        error = _bounded(body.get("error"), field="error", most=ERROR_MAX)
        cause = _bounded(body.get("cause"), field="cause", most=CAUSE_MAX)
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
        status = _enum(body.get("statusFilter"), "statusFilter", (*STATUSES, "PENDING_REDRIVE"))
        redriven = _enum(body.get("redriveFilter"), "redriveFilter", ("REDRIVEN", "NOT_REDRIVEN"))
        size = page_size(body.get("maxResults")) or PAGE_DEFAULT
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
        scope = _scope("list", key, status or "", redriven or "")
        after = ListPosition.decode(body.get("nextToken"), scope=scope)
        if status == "PENDING_REDRIVE" or redriven == "REDRIVEN":
            return {"executions": []}  # kubefn never redrives an execution
        found, more = await self._listed(key, status=status, after=after, size=size)
        result: dict[str, Any] = {"executions": [listed(x) for x in found]}
        if more:
            last = found[-1]
            result["nextToken"] = ListPosition(last.start_ms, last.name).encode(scope=scope)
        return result

    async def _listed(
        self, key: str, *, status: str | None, after: ListPosition | None, size: int
    ) -> tuple[list[Execution], bool]:
        """Up to `size` executions after `after` (newest first) and whether more follow."""
        entries = [
            (name, start_ms)
            for name, start_ms in await self._engine.listing(key)
            if after is None or after.precedes(start_ms, name)
        ]
        found: list[Execution] = []
        for name, _ in entries:
            execution = await self._engine.describe(layout.execution_id(key, name))
            if execution is None or (status is not None and execution.status != status):
                continue  # a start that never completed, or filtered out
            if len(found) == size:
                return found, True
            found.append(execution)
        return found, False

    async def get_execution_history(self, body: dict[str, Any]) -> dict[str, Any]:
        size = page_size(body.get("maxResults")) or PAGE_DEFAULT
        reverse = _flag(body.get("reverseOrder"), field="reverseOrder", default=False)
        with_data = _flag(
            body.get("includeExecutionData"), field="includeExecutionData", default=True
        )
        arn = body.get("executionArn")
        execution = await self._execution(arn)
        scope = _scope("history", execution.arn, "reverse" if reverse else "forward")
        at = HistoryPosition.decode(body.get("nextToken"), scope=scope)
        page = history_page(execution.events, at=at, size=size, reverse=reverse)
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
            result["nextToken"] = HistoryPosition(page.next_at).encode(scope=scope)
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
        token = _task_token(body.get("taskToken"))
        output = body.get("output")
        if output is None:
            raise _required("output")
        text = payload(output, field="output", error=_invalid_output)
        await self._answer(self._engine.send_task_result(token, result="+" + text))
        return {}

    async def send_task_failure(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _task_token(body.get("taskToken"))
        error = _bounded(body.get("error"), field="error", most=ERROR_MAX)
        cause = _bounded(body.get("cause"), field="cause", most=CAUSE_MAX)
        failure = json.dumps({"Error": error, "Cause": cause}, ensure_ascii=False)
        await self._answer(self._engine.send_task_result(token, result="!" + failure))
        return {}

    async def send_task_heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        token = _task_token(body.get("taskToken"))
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


# -- pages ---------------------------------------------------------------------------------


class HistoryPage(NamedTuple):
    """Events [start, stop] by position (inclusive), and where the next page starts."""

    start: int
    stop: int
    next_at: int | None


def history_page(total: int, *, at: int | None, size: int, reverse: bool) -> HistoryPage:
    """One page of a history of `total` events: oldest first from position `at` (or 0), or
    newest first down from `at` (or the last event)."""
    if reverse:
        stop = total - 1 if at is None else min(at, total - 1)
        start = max(0, stop - size + 1)
        return HistoryPage(start, stop, start - 1 if start > 0 else None)
    start = 0 if at is None else at
    stop = min(start + size, total) - 1
    return HistoryPage(start, stop, stop + 1 if stop + 1 < total else None)


def _scope(*parts: str) -> str:
    """What a nextToken belongs to (its operation and arguments), compactly."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _encode(scope: str, position: list[Any]) -> str:
    raw = json.dumps({"s": scope, "p": position}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(raw: Any, *, scope: str, most: int) -> list[Any] | None:
    """The position a nextToken holds; InvalidToken unless this request's arguments made it."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not 1 <= len(raw) <= most:
        raise errors.validation(
            errors.constraint(
                "nextToken", f"Member must have length between 1 and {most}", value=raw
            )
        )
    try:
        token = json.loads(base64.urlsafe_b64decode(raw.encode()))
        position = token["p"] if token["s"] == scope else None
    except (binascii.Error, ValueError, KeyError, TypeError):
        position = None
    if not isinstance(position, list):
        raise errors.InvalidToken(
            f"Invalid Token: '{raw}' was not given for this request (keep every other "
            "argument unchanged while paging)"
        )
    return position


class HistoryPosition(NamedTuple):
    at: int

    def encode(self, *, scope: str) -> str:
        return _encode(scope, [self.at])

    @classmethod
    def decode(cls, raw: Any, *, scope: str) -> int | None:
        position = _decode(raw, scope=scope, most=HISTORY_TOKEN_MAX)
        if position is None:
            return None
        if len(position) != 1 or type(position[0]) is not int or position[0] < 0:
            raise errors.InvalidToken(f"Invalid Token: '{raw}'")
        return int(position[0])


class ListPosition(NamedTuple):
    """The last execution a page listed: newest first, names descending at one start."""

    start_ms: int
    name: str

    def precedes(self, start_ms: int, name: str) -> bool:
        """Whether an execution comes after this one in the listing."""
        return (start_ms, name) < (self.start_ms, self.name)

    def encode(self, *, scope: str) -> str:
        return _encode(scope, [self.start_ms, self.name])

    @classmethod
    def decode(cls, raw: Any, *, scope: str) -> ListPosition | None:
        position = _decode(raw, scope=scope, most=LIST_TOKEN_MAX)
        if position is None:
            return None
        if len(position) != 2 or type(position[0]) is not int or not isinstance(position[1], str):
            raise errors.InvalidToken(f"Invalid Token: '{raw}'")
        return cls(position[0], position[1])


# -- the request's fields, each checked by the API's model rules and named in the error ----


def execution_name(raw: Any) -> str | None:
    """An execution's name: 1 to 80 characters, none of them white space, brackets,
    wildcards, `"#%\\^|~`$&,;:/` or control characters. None to have one made up."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise errors.validation(
            errors.constraint(
                "name", "Member must have length greater than or equal to 1", value=raw
            )
        )
    if len(raw) > NAME_MAX:
        raise errors.validation(
            errors.constraint(
                "name", f"Member must have length less than or equal to {NAME_MAX}", value=raw
            )
        )
    bad = next((c for c in raw if _forbidden_in_name(c)), None)
    if bad is not None:
        raise errors.InvalidName(
            f"Invalid Name: '{raw}' (an execution name may not contain {bad!r}: no white "
            'space, brackets, wildcards, control characters or any of "#%\\^|~`$&,;:/)'
        )
    return raw


def _forbidden_in_name(char: str) -> bool:
    code = ord(char)
    return char in _NAME_FORBIDDEN or char.isspace() or code <= 0x1F or 0x7F <= code <= 0x9F


def payload(raw: Any, *, field: str, error: Callable[[str], errors.StepFunctionsError]) -> str:
    """A JSON text of at most 256 KB in UTF-8 (an execution's input, a task's output)."""
    if not isinstance(raw, str):
        raise error(f"{field} must be a string of JSON text (got {type(raw).__name__})")
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > PAYLOAD_MAX:
        raise error(f"{field} is {size} bytes in UTF-8; the most is {PAYLOAD_MAX}")
    try:
        json.loads(raw, parse_constant=_not_json)
    except ValueError as exc:
        raise error(f"{field} is not valid JSON: {exc}") from None
    return raw


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _invalid_input(reason: str) -> errors.StepFunctionsError:
    return errors.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{reason}'")


def _invalid_output(reason: str) -> errors.StepFunctionsError:
    return errors.InvalidOutput(f"Invalid Output: '{reason}'")


def page_size(raw: Any) -> int:
    """maxResults: 0 to 1000, 0 (or none) meaning the default."""
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise errors.validation(
            errors.constraint(
                "maxResults", "Member must have value greater than or equal to 0", value=raw
            )
        )
    if raw > PAGE_MAX:
        raise errors.validation(
            errors.constraint(
                "maxResults", f"Member must have value less than or equal to {PAGE_MAX}", value=raw
            )
        )
    return raw


def _required(field: str) -> errors.ValidationException:
    return errors.validation(
        errors.constraint(field, "Member must not be null"), reason="MISSING_REQUIRED_PARAMETER"
    )


def _bounded(raw: Any, *, field: str, most: int) -> str:
    """An optional error or cause: text of at most `most` characters ("" when absent)."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise errors.validation(errors.constraint(field, "Member must be a string", value=raw))
    if len(raw) > most:
        raise errors.validation(
            errors.constraint(
                field,
                f"Member must have length less than or equal to {most} (got {len(raw)})",
                sensitive=True,
            )
        )
    return raw


def _trace_header(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or not raw.isascii():
        raise errors.validation(
            errors.constraint(
                "traceHeader",
                "Member must satisfy regular expression pattern: \\p{ASCII}*",
                value=raw,
            )
        )
    if len(raw) > TRACE_HEADER_MAX:
        raise errors.validation(
            errors.constraint(
                "traceHeader",
                f"Member must have length less than or equal to {TRACE_HEADER_MAX}",
                value=raw,
            )
        )
    return raw


def _task_token(raw: Any) -> str:
    if raw is None:
        raise _required("taskToken")
    if not isinstance(raw, str) or not raw:
        raise errors.validation(
            errors.constraint(
                "taskToken", "Member must have length greater than or equal to 1", sensitive=True
            )
        )
    if len(raw) > TOKEN_MAX:
        raise errors.validation(
            errors.constraint(
                "taskToken",
                f"Member must have length less than or equal to {TOKEN_MAX} (got {len(raw)})",
                sensitive=True,
            )
        )
    return raw


def _enum(raw: Any, field: str, values: tuple[str, ...]) -> str | None:
    if raw is not None and raw not in values:
        raise errors.validation(
            errors.constraint(
                field, f"Member must satisfy enum value set: [{', '.join(values)}]", value=raw
            )
        )
    return raw


def _included_data(body: Mapping[str, Any]) -> str | None:
    return _enum(body.get("includedData"), "includedData", ("ALL_DATA", "METADATA_ONLY"))


def _flag(raw: Any, *, field: str, default: bool) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, bool):
        raise errors.validation(errors.constraint(field, "Member must be a boolean", value=raw))
    return raw
