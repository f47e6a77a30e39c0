"""Step Functions' ARNs for kubefn's state machines and executions, both ways.

A machine in the gateway's own namespace is known by its name alone, as on AWS:
`arn:aws:states:{region}:{account}:stateMachine:{name}`; one in another namespace
carries it (`stateMachine:{namespace}/{name}`), as a key does everywhere in kubefn.
An execution is `execution:{machine}:{execution-name}`, and an Express one
`express:{machine}:{execution-name}:{execution-id}`, as AWS names them.

Parsing refuses a malformed ARN with InvalidArn in Step Functions' words; a
well-formed ARN of another region or account, or of a version or alias (kubefn
publishes neither), names nothing here, so it is the caller's "does not exist".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kubefn_gateway.stepfunctions import errors

SERVICE = "states"
PARTITION = "aws"
ARN_MAX = 256
"""The API's limit on any ARN it takes."""

MACHINE, EXECUTION, EXPRESS = "stateMachine", "execution", "express"


class ExecutionRef(NamedTuple):
    """What an execution ARN names: its machine's key, its name, and for an Express
    execution the id that tells runs of one name apart."""

    machine_key: str
    name: str
    express_id: str | None = None


class _Parts(NamedTuple):
    partition: str
    region: str
    account_id: str
    resource: list[str]


@dataclass(frozen=True)
class Arns:
    """ARNs as one gateway writes and reads them: its region, account and namespace."""

    region: str
    account_id: str
    namespace: str
    """The namespace whose machines go by their bare names."""

    def machine(self, key: str) -> str:
        return f"{self._prefix()}{MACHINE}:{self._machine_id(key)}"

    def execution(self, machine_key: str, name: str) -> str:
        return f"{self._prefix()}{EXECUTION}:{self._machine_id(machine_key)}:{name}"

    def express_execution(self, machine_key: str, name: str, execution_id: str) -> str:
        machine = self._machine_id(machine_key)
        return f"{self._prefix()}{EXPRESS}:{machine}:{name}:{execution_id}"

    def machine_key(self, arn: Any, *, field: str = "stateMachineArn") -> str:
        """The key of the machine `arn` names. Raises InvalidArn when it is malformed (or
        names something else) and StateMachineDoesNotExist when it names nothing here."""
        parts = self._split(arn, field=field)
        kind, *rest = parts.resource
        if kind != MACHINE:
            raise _wrong_type(kind)
        if len(rest) not in (1, 2):
            raise _invalid(arn)
        key = self._key_of(rest[0], arn)
        if len(rest) == 2 or not self._is_here(parts):
            raise errors.StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return key

    def execution_ref(self, arn: Any, *, field: str = "executionArn") -> ExecutionRef:
        """What an execution ARN (Standard or Express) names. Raises InvalidArn when it is
        malformed and ExecutionDoesNotExist when it names nothing here."""
        parts = self._split(arn, field=field)
        kind, *rest = parts.resource
        if kind not in (EXECUTION, EXPRESS):
            raise _wrong_type(kind)
        if len(rest) != (2 if kind == EXECUTION else 3) or not all(rest):
            raise _invalid(arn)
        key = self._key_of(rest[0], arn)
        if not self._is_here(parts):
            raise errors.ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return ExecutionRef(key, rest[1], rest[2] if kind == EXPRESS else None)

    def _prefix(self) -> str:
        return f"arn:{PARTITION}:{SERVICE}:{self.region}:{self.account_id}:"

    def _machine_id(self, key: str) -> str:
        namespace, _, name = key.partition("/")
        return name if namespace == self.namespace else key

    def _key_of(self, machine_id: str, arn: str) -> str:
        namespace, slash, name = machine_id.rpartition("/")
        if not name or (slash and (not namespace or "/" in namespace)):
            raise _invalid(arn)
        return f"{namespace if slash else self.namespace}/{name}"

    def _is_here(self, parts: _Parts) -> bool:
        return (parts.partition, parts.region, parts.account_id) == (
            PARTITION,
            self.region,
            self.account_id,
        )

    @staticmethod
    def _split(arn: Any, *, field: str) -> _Parts:
        if not isinstance(arn, str) or not arn:
            raise errors.validation(
                errors.constraint(field, "Member must not be null"),
                reason="MISSING_REQUIRED_PARAMETER",
            )
        if len(arn) > ARN_MAX:
            raise errors.validation(
                errors.constraint(
                    field, f"Member must have length less than or equal to {ARN_MAX}", value=arn
                )
            )
        fields = arn.split(":", 5)
        if len(fields) < 6 or fields[0] != "arn" or fields[2] != SERVICE:
            raise errors.InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
        return _Parts(fields[1], fields[3], fields[4], fields[5].split(":"))


def _invalid(arn: str) -> errors.InvalidArn:
    return errors.InvalidArn(f"Invalid Arn: '{arn}'")


def _wrong_type(kind: str) -> errors.InvalidArn:
    return errors.InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}'")
