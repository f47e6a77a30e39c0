"""Workflows in Prometheus: executions started and ended, and states entered, per machine."""

from __future__ import annotations

import pytest

from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway
from tests.gateway.stepfunctions import states_helpers as sh
from tests.gateway.stepfunctions.conftest import StepFunctions, pass_chain

pytestmark = pytest.mark.asyncio


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return sh.compressed(gateway_settings)


def sample(gateway: Gateway, name: str, **labels: str) -> float:
    value = gateway.platform.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_executions_and_transitions_are_counted(gateway: Gateway, sfn: StepFunctions) -> None:
    flows = sh.Workflows(sfn)
    machine = await flows.machine(pass_chain("A", "B", "C"), name="counted")
    failing = await flows.machine(sh.single({"Type": "Fail", "Error": "Nope"}), name="failing")
    for _ in range(2):
        await flows.finished(await flows.start(machine, {}), timeout=20)
    await flows.finished(await flows.start(failing, {}), timeout=20)

    labels = {"namespace": "default", "machine": "counted"}
    assert sample(gateway, "kubefn_executions_started_total", **labels, type="STANDARD") == 2
    assert sample(gateway, "kubefn_executions_closed_total", **labels, status="SUCCEEDED") == 2
    assert sample(gateway, "kubefn_state_transitions_total", **labels) == 6
    assert (
        sample(
            gateway,
            "kubefn_executions_closed_total",
            namespace="default",
            machine="failing",
            status="FAILED",
        )
        == 1
    )
