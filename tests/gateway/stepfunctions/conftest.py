"""Step Functions tests: boto3's `stepfunctions` client against a real gateway on a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from kubefn import config
from kubefn.statemachine import compile_statemachine
from tests.gateway.conftest import Gateway

ROLE_ARN = "arn:aws:iam::000000000000:role/workflows"
ACCOUNT, REGION = "000000000000", "us-east-1"


def machine_arn(name: str, *, namespace: str | None = None) -> str:
    machine = name if namespace is None else f"{namespace}/{name}"
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"


def pass_chain(*names: str) -> dict[str, Any]:
    """A definition of Pass states run one after the other."""
    states: dict[str, Any] = {}
    for here, after in zip(names, [*names[1:], None], strict=True):
        states[here] = {"Type": "Pass", **({"Next": after} if after else {"End": True})}
    return {"StartAt": names[0], "States": states}


@dataclass
class StepFunctions:
    """boto3's `stepfunctions` client bound to a running gateway, called off its event loop."""

    gateway: Gateway
    client: Any

    async def __call__(self, operation: str, **params: Any) -> Any:
        return await self.gateway.call(getattr(self.client, operation), **params)

    async def error(self, operation: str, **params: Any) -> Any:
        """The exception an operation raises (it must fail), as boto3 raises it."""
        try:
            await self(operation, **params)
        except self.client.exceptions.ClientError as exc:
            return exc
        raise AssertionError(f"{operation} succeeded")

    async def machine(
        self,
        name: str,
        definition: dict[str, Any] | str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Create a state machine (a one-state Pass machine unless a definition is given)."""
        if definition is None:
            definition = pass_chain("Only")
        text = definition if isinstance(definition, str) else json.dumps(definition)
        params.setdefault("roleArn", ROLE_ARN)
        return dict(await self("create_state_machine", name=name, definition=text, **params))

    async def apply(self, name: str, spec: dict[str, Any], *, namespace: str = "default") -> int:
        """Publish a StateMachine manifest as the operator and `kubefn dev` do; return once this
        gateway serves its revision."""
        manifest = {
            "apiVersion": "kubefn.io/v1alpha1",
            "kind": "StateMachine",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        compiled = compile_statemachine(manifest)
        result = await config.publish_compiled(self.gateway.redis, compiled)
        await self.gateway.until(
            lambda: (
                (served := self.gateway.platform.machines.get(compiled.key)) is not None
                and served.revision == result.revision
            )
        )
        return result.revision


def stepfunctions_client(gateway: Gateway) -> Any:
    """boto3's `stepfunctions` client for a gateway. StartSyncExecution's model gives it the
    host prefix `sync-`, which would send it to `sync-127.0.0.1`: the client keeps to the
    gateway's own host instead, as a user's client must (`inject_host_prefix=False`)."""
    client = gateway.client("stepfunctions")
    client.meta.config.inject_host_prefix = False
    return client


@pytest.fixture
async def sfn(gateway: Gateway) -> AsyncIterator[StepFunctions]:
    yield StepFunctions(gateway=gateway, client=stepfunctions_client(gateway))
