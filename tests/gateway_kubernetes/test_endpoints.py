"""Which pods an EndpointSlice says are ready, and where their agents listen."""

from __future__ import annotations

from typing import Any

import pytest

from kubefn_gateway.providers.endpoints import ready_endpoints


def endpoint(pod: str, address: str = "10.0.0.1", **conditions: bool) -> dict[str, Any]:
    return {
        "addresses": [address],
        "conditions": conditions,
        "targetRef": {"kind": "Pod", "name": pod, "namespace": "default"},
    }


def slice_of(*endpoints: dict[str, Any], port: int = 8080, name: str = "http") -> dict[str, Any]:
    return {"endpoints": list(endpoints), "ports": [{"name": name, "port": port}]}


@pytest.mark.parametrize(
    ("slices", "expected"),
    [
        pytest.param([slice_of(endpoint("a", ready=True))], {"a": "10.0.0.1:8080"}, id="ready"),
        pytest.param([slice_of(endpoint("a", ready=False))], {}, id="not-ready"),
        pytest.param(
            [slice_of(endpoint("a", ready=False, serving=True, terminating=True))],
            {},
            id="terminating",
        ),
        pytest.param([slice_of(endpoint("a"))], {"a": "10.0.0.1:8080"}, id="unknown-is-ready"),
        pytest.param(
            [slice_of(endpoint("a", "fd00::1", ready=True))], {"a": "[fd00::1]:8080"}, id="ipv6"
        ),
        pytest.param([slice_of(endpoint("a", ready=True), name="metrics")], {}, id="other-port"),
        pytest.param(
            [slice_of(endpoint("a"), port=1), slice_of(endpoint("b"), port=2)],
            {"a": "10.0.0.1:1", "b": "10.0.0.1:2"},
            id="several-slices",
        ),
        pytest.param(
            [slice_of({"addresses": ["10.0.0.9"], "conditions": {"ready": True}})],
            {},
            id="not-a-pod",
        ),
        pytest.param([{"endpoints": None, "ports": None}], {}, id="empty"),
    ],
)
def test_ready_endpoints(slices: list[dict[str, Any]], expected: dict[str, str]) -> None:
    assert ready_endpoints(slices) == expected
