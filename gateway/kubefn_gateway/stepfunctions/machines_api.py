"""The state-machine half of the Step Functions API: Create, Describe, List, Update,
Delete and ValidateStateMachineDefinition, and tags.

A machine made through the API is published exactly as a StateMachine manifest
would be (compiled by kubefn.statemachine), so every gateway replica serves it
and the control plane sees it; this replica serves it at once. Machines applied
as manifests are listed and described the same way. Executions in flight keep
the definition they started with, so withdrawing a machine never breaks them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from kubefn import asl, config
from kubefn import statemachine as statemachine_spec
from kubefn.schema import Problem
from kubefn_gateway.stepfunctions import errors, execution_requests, machines
from kubefn_gateway.stepfunctions.arns import Arns
from kubefn_gateway.stepfunctions.machines import Machine, MachineCatalog, MachineSettings

Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

DEFINITION_MAX = 1048576
"""The most characters CreateStateMachine takes as a definition."""
LIST_DEFAULT, LIST_MAX = 100, 1000
DIAGNOSTICS_DEFAULT, DIAGNOSTICS_MAX = 100, 100
TOKEN_MAX = 1024
TAGS_MAX = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
TYPES = (statemachine_spec.STANDARD, statemachine_spec.EXPRESS)
OFF = "OFF"


class MachinesApi:
    def __init__(
        self,
        *,
        machines: MachineCatalog,
        redis: aioredis.Redis,
        arns: Arns,
    ) -> None:
        self._machines = machines
        self._redis = redis
        self._arns = arns
        self._changing: dict[str, asyncio.Lock] = {}

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateStateMachine": self.create_state_machine,
            "DescribeStateMachine": self.describe_state_machine,
            "ListStateMachines": self.list_state_machines,
            "UpdateStateMachine": self.update_state_machine,
            "DeleteStateMachine": self.delete_state_machine,
            "ValidateStateMachineDefinition": self.validate_state_machine_definition,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    @property
    def default_role_arn(self) -> str:
        """The role a machine applied as a manifest is described with: the gateway runs it."""
        return f"arn:aws:iam::{self._arns.account_id}:role/kubefn-gateway"

    async def create_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        name = _name(body.get("name"))
        text = _definition(body.get("definition"))
        role = _role_arn(body.get("roleArn"))
        machine_type = (
            execution_requests.enum(body.get("type"), "type", TYPES) or statemachine_spec.STANDARD
        )
        logging = _logging(body.get("loggingConfiguration"))
        tracing = _tracing(body.get("tracingConfiguration"))
        _no_versions(body)
        key = f"{self._arns.namespace}/{name}"
        arn = self._arns.machine(key)
        tags = _tags(body.get("tags"), field="tags", resource=arn) if "tags" in body else {}
        compiled = self._compile(name, text, machine_type=machine_type, level=logging["level"])
        wanted = MachineSettings(
            digest=compiled.digest,
            definition_text=text,
            logging_configuration=logging,
            tracing_enabled=tracing,
        )
        async with self._lock(key):
            existing = await self._machines.find(key)
            if existing is not None:
                # Idempotent as Step Functions is: the same definition, type, logging and
                # tracing answer the machine there is; a different role or tags are ignored.
                current = await self._settings(existing)
                if existing.digest != compiled.digest or _differs(current, wanted):
                    raise errors.StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
                return {"stateMachineArn": arn, "creationDate": existing.created}
            await machines.save_details(
                self._redis, key, settings=wanted, role_arn=role, fresh=True
            )
            machine = await self._publish(compiled)
            if tags:
                await machines.add_tags(self._redis, key, tags, most=TAGS_MAX)
        return {"stateMachineArn": arn, "creationDate": machine.created}

    async def describe_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        execution_requests.included_data(body)
        machine = await self._find(body.get("stateMachineArn"))
        details = await machines.load_details(self._redis, machine.key)
        settings = _effective(machine, details.settings)
        logging = dict(settings.logging_configuration)
        if not logging.get("destinations"):
            logging.pop("destinations", None)
        return {
            "stateMachineArn": self._arns.machine(machine.key),
            "name": machine.name,
            "status": "ACTIVE",
            "definition": settings.definition_text,
            "roleArn": details.role_arn or self.default_role_arn,
            "type": machine.type,
            "creationDate": machine.created,
            "loggingConfiguration": logging,
            "tracingConfiguration": {"enabled": settings.tracing_enabled},
            "revisionId": str(machine.revision),
        }

    async def list_state_machines(self, body: dict[str, Any]) -> dict[str, Any]:
        size = execution_requests.page_size(
            body.get("maxResults"), most=LIST_MAX, default=LIST_DEFAULT
        )
        after = _after(body.get("nextToken"))
        listed = sorted((self._arns.machine(m.key), m) for m in self._machines.all())
        remaining = [(arn, m) for arn, m in listed if after is None or arn > after]
        page = remaining[:size]
        result: dict[str, Any] = {
            "stateMachines": [
                {
                    "stateMachineArn": arn,
                    "name": machine.name,
                    "type": machine.type,
                    "creationDate": machine.created,
                }
                for arn, machine in page
            ]
        }
        if len(remaining) > size:
            result["nextToken"] = _token(page[-1][0])
        return result

    async def update_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = body.get("stateMachineArn")
        key = self._arns.machine_key(arn)
        given = [
            f
            for f in ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
            if body.get(f) is not None
        ]
        if not given:
            raise errors.MissingRequiredParameter(
                "Either the definition, the role ARN, the LoggingConfiguration or the "
                "TracingConfiguration must be specified"
            )
        text = _definition(body["definition"]) if "definition" in given else None
        role = _role_arn(body["roleArn"]) if "roleArn" in given else None
        logging = (
            _logging(body["loggingConfiguration"]) if "loggingConfiguration" in given else None
        )
        tracing = (
            _tracing(body["tracingConfiguration"]) if "tracingConfiguration" in given else None
        )
        _no_versions(body)
        async with self._lock(key):
            machine = await self._machines.find(key)
            if machine is None:
                raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
            current = await self._settings(machine)
            text = current.definition_text if text is None else text
            logging = dict(current.logging_configuration) if logging is None else logging
            tracing = current.tracing_enabled if tracing is None else tracing
            compiled = self._compile(
                machine.name, text, machine_type=machine.type, level=logging["level"]
            )
            settings = MachineSettings(
                digest=compiled.digest,
                definition_text=text,
                logging_configuration=logging,
                tracing_enabled=tracing,
            )
            await machines.save_details(self._redis, key, settings=settings, role_arn=role)
            updated = await self._publish(compiled)
        changed = updated.revision != machine.revision
        return {
            "updateDate": updated.updated if changed else time.time(),
            "revisionId": str(updated.revision),
        }

    async def delete_state_machine(self, body: dict[str, Any]) -> dict[str, Any]:
        """Withdraw a machine; deleting one that is not there succeeds, as on AWS."""
        try:
            key = self._arns.machine_key(body.get("stateMachineArn"))
        except errors.StateMachineDoesNotExist:
            return {}
        async with self._lock(key):
            if await self._machines.find(key) is not None:
                await config.remove(self._redis, kind=statemachine_spec.KIND, key=key)
                await self._machines.forget(key)
        return {}

    async def validate_state_machine_definition(self, body: dict[str, Any]) -> dict[str, Any]:
        text = _definition(body.get("definition"))
        execution_requests.enum(body.get("type"), "type", TYPES)
        execution_requests.enum(body.get("severity"), "severity", ("ERROR", "WARNING"))
        most = execution_requests.page_size(
            body.get("maxResults"), most=DIAGNOSTICS_MAX, default=DIAGNOSTICS_DEFAULT
        )
        _, problems = asl.parse_definition_string(text)
        found = [errors.diagnostic(_within_definition(p, "definition")) for p in problems]
        return {
            "result": "FAIL" if found else "OK",
            "diagnostics": [d.body() for d in found[:most]],
            "truncated": len(found) > most,
        }

    async def tag_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        arn, key = await self._resource(body.get("resourceArn"))
        tags = _tags(body.get("tags"), field="tags", resource=arn)
        added, total = await machines.add_tags(self._redis, key, tags, most=TAGS_MAX)
        if not added:
            raise errors.TooManyTags(
                f"Too many tags: a resource may have at most {TAGS_MAX} tags; "
                f"this request would make {total}",
                resource_name=arn,
            )
        return {}

    async def untag_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        _, key = await self._resource(body.get("resourceArn"))
        names = body.get("tagKeys")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise errors.validation(
                errors.constraint("tagKeys", "Member must not be null"),
                reason="MISSING_REQUIRED_PARAMETER",
            )
        await machines.remove_tags(self._redis, key, names)
        return {}

    async def list_tags_for_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        _, key = await self._resource(body.get("resourceArn"))
        tags = await machines.tags(self._redis, key)
        return {"tags": [{"key": k, "value": v} for k, v in tags.items()]}

    async def _find(self, arn: Any, *, field: str = "stateMachineArn") -> Machine:
        machine = await self._machines.find(self._arns.machine_key(arn, field=field))
        if machine is None:
            raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return machine

    async def _resource(self, arn: Any) -> tuple[str, str]:
        """(ARN, machine key) of the machine a tagging request names."""
        try:
            machine = await self._find(arn, field="resourceArn")
        except errors.StateMachineDoesNotExist:
            raise errors.ResourceNotFound(
                f"Resource not found: '{arn}'", resource_name=str(arn)
            ) from None
        return str(arn), machine.key

    async def _settings(self, machine: Machine) -> MachineSettings:
        details = await machines.load_details(self._redis, machine.key)
        return _effective(machine, details.settings)

    def _compile(
        self, name: str, text: str, *, machine_type: str, level: str
    ) -> statemachine_spec.CompiledStateMachine:
        spec = {"definitionString": text, "type": machine_type, "logging": {"level": level}}
        try:
            return statemachine_spec.compile_spec(self._arns.namespace, name, spec)
        except statemachine_spec.InvalidStateMachine as exc:
            found = [p for p in exc.problems if statemachine_spec.is_definition_problem(p)]
            if found:
                raise errors.invalid_definition(
                    errors.diagnostic(_within_definition(p, "spec.definitionString")) for p in found
                ) from None
            raise errors.validation(*(str(p) for p in exc.problems)) from None

    async def _publish(self, compiled: statemachine_spec.CompiledStateMachine) -> Machine:
        result = await config.publish_compiled(self._redis, compiled)
        published = config.Published(
            kind=statemachine_spec.KIND,
            key=compiled.key,
            revision=result.revision,
            digest=compiled.digest,
            spec=compiled.spec,
        )
        return await self._machines.put(published)

    def _lock(self, key: str) -> asyncio.Lock:
        return self._changing.setdefault(key, asyncio.Lock())


def _effective(machine: Machine, settings: MachineSettings | None) -> MachineSettings:
    """What a machine revision is described with: the API's record where it belongs to this
    revision, else what its spec says (a machine applied as a manifest, or edited since)."""
    if settings is not None and settings.digest == machine.digest:
        return settings
    logging: dict[str, Any] = {"level": machine.logging_level, "includeExecutionData": False}
    if settings is not None and settings.logging_configuration.get("level") == logging["level"]:
        logging = dict(settings.logging_configuration)
    return MachineSettings(
        digest=machine.digest,
        definition_text=machine.definition_text,
        logging_configuration=logging,
        tracing_enabled=settings is not None and settings.tracing_enabled,
    )


def _differs(current: MachineSettings, wanted: MachineSettings) -> bool:
    """Whether a repeated CreateStateMachine asks for something else than there is."""
    return (
        dict(current.logging_configuration) != dict(wanted.logging_configuration)
        or current.tracing_enabled != wanted.tracing_enabled
    )


def _within_definition(problem: Problem, prefix: str) -> Problem:
    """A problem with its path relative to the definition ("" for all of it)."""
    path = problem.path.removeprefix(prefix)
    return Problem(path.removeprefix("."), problem.message)


# The request's fields, each checked by the API's model rules and named in the error.


def _name(raw: Any) -> str:
    if raw is None:
        raise execution_requests.required("name")
    if not isinstance(raw, str):
        raise errors.InvalidName(f"Invalid Name: '{raw}' (a state machine name is a string)")
    limit = statemachine_spec.NAME_MAX
    if len(raw) > limit:
        raise errors.validation(
            errors.constraint(
                "name", f"Member must have length less than or equal to {limit}", value=raw
            )
        )
    if statemachine_spec.check_name(raw, path="name"):
        raise errors.InvalidName(
            f"Invalid Name: '{raw}' (a state machine name is 1 to {limit} letters, digits, "
            "'_' or '-')"
        )
    return raw


def _definition(raw: Any) -> str:
    return execution_requests.required_text(raw, field="definition", most=DEFINITION_MAX)


def _role_arn(raw: Any) -> str:
    if raw is None:
        raise execution_requests.required("roleArn")
    if not isinstance(raw, str) or not raw.startswith("arn:"):
        raise errors.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {raw}'")
    fields = raw.split(":", 5)
    if len(fields) < 6 or fields[2] != "iam" or not fields[5].startswith("role/"):
        raise errors.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {raw}'")
    return raw


def _boolean(raw: Any, field: str) -> bool:
    if not isinstance(raw, bool):
        raise errors.validation(errors.constraint(field, "Member must be a boolean", value=raw))
    return raw


def _logging(raw: Any) -> dict[str, Any]:
    """A loggingConfiguration in the one form it is stored and described in."""
    if raw is None:
        return {"level": OFF, "includeExecutionData": False}
    if not isinstance(raw, Mapping):
        raise errors.InvalidLoggingConfiguration(
            f"Invalid Logging Configuration: loggingConfiguration must be an object (got {raw!r})"
        )
    level = execution_requests.enum(
        raw.get("level"), "loggingConfiguration.level", statemachine_spec.LOG_LEVELS
    )
    level = level or OFF
    include = _boolean(
        raw.get("includeExecutionData", False), "loggingConfiguration.includeExecutionData"
    )
    destinations = raw.get("destinations") or []
    if not isinstance(destinations, list) or len(destinations) > 1:
        raise errors.InvalidLoggingConfiguration(
            "Invalid Logging Configuration: destinations holds at most 1 log destination "
            f"(got {len(destinations) if isinstance(destinations, list) else destinations!r})"
        )
    if level != OFF and not destinations:
        raise errors.InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination if "
            f"logging is enabled (level {level})"
        )
    for destination in destinations:
        group = (destination or {}).get("cloudWatchLogsLogGroup") or {}
        arn = group.get("logGroupArn") if isinstance(group, Mapping) else None
        if not isinstance(arn, str) or not arn.startswith("arn:") or ":log-group:" not in arn:
            raise errors.InvalidLoggingConfiguration(
                "Invalid Logging Configuration: cloudWatchLogsLogGroup.logGroupArn must be a "
                f"CloudWatch Logs log group ARN (got {arn!r})"
            )
    logging: dict[str, Any] = {"level": level, "includeExecutionData": include}
    if destinations:
        logging["destinations"] = [
            {"cloudWatchLogsLogGroup": {"logGroupArn": d["cloudWatchLogsLogGroup"]["logGroupArn"]}}
            for d in destinations
        ]
    return logging


def _tracing(raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, Mapping):
        raise errors.validation(
            errors.constraint("tracingConfiguration", "Member must be a structure", value=raw)
        )
    return _boolean(raw.get("enabled", False), "tracingConfiguration.enabled")


def _no_versions(body: Mapping[str, Any]) -> None:
    """kubefn keeps one revision per machine: publishing versions is refused, not ignored."""
    if body.get("publish"):
        raise errors.validation(
            errors.constraint(
                "publish", "Member must be false: state machine versions are not supported"
            )
        )
    encryption = body.get("encryptionConfiguration")
    if encryption is not None and (encryption or {}).get("type") != "AWS_OWNED_KEY":
        raise errors.validation(
            errors.constraint(
                "encryptionConfiguration.type",
                "Member must be AWS_OWNED_KEY: customer managed keys are not supported",
                value=(encryption or {}).get("type"),
            )
        )


def _tags(raw: Any, *, field: str, resource: str) -> dict[str, str]:
    if not isinstance(raw, list):
        raise execution_requests.required(field)
    tags: dict[str, str] = {}
    for index, tag in enumerate(raw, start=1):
        key = tag.get("key") if isinstance(tag, Mapping) else None
        value = tag.get("value", "") if isinstance(tag, Mapping) else None
        where = f"{field}.{index}.member"
        if not isinstance(key, str) or not 1 <= len(key) <= TAG_KEY_MAX:
            raise errors.validation(
                errors.constraint(
                    f"{where}.key",
                    f"Member must have length between 1 and {TAG_KEY_MAX}",
                    value=key,
                )
            )
        if not isinstance(value, str) or len(value) > TAG_VALUE_MAX:
            raise errors.validation(
                errors.constraint(
                    f"{where}.value",
                    f"Member must have length less than or equal to {TAG_VALUE_MAX}",
                    value=value,
                )
            )
        tags[key] = value
    if len(tags) > TAGS_MAX:
        raise errors.TooManyTags(
            f"Too many tags: a resource may have at most {TAGS_MAX} tags (got {len(tags)})",
            resource_name=resource,
        )
    return tags


def _token(after: str) -> str:
    """An opaque nextToken: the last ARN of the page, so a listing resumes after it even
    when machines come and go between pages."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _after(raw: Any) -> str | None:
    if execution_requests.next_token(raw, most=TOKEN_MAX) is None:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(raw.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        after = None
    if not isinstance(after, str):
        raise errors.InvalidToken(
            f"Invalid Token: '{raw}' is not a nextToken ListStateMachines gave"
        )
    return after
