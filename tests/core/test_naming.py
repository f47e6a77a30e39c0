"""The names both planes give a Function's Kubernetes objects."""

from __future__ import annotations

import pytest

from kubefn import naming


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        pytest.param("hello", "kubefn-fn-hello", id="short"),
        pytest.param("a" * 53, "kubefn-fn-" + "a" * 53, id="fits-exactly"),
        pytest.param("a" * 54, "kubefn-fn-" + "a" * 44 + "-a3f01b69", id="cut-and-hashed"),
    ],
)
def test_workload_names_are_dns_labels(function: str, expected: str) -> None:
    assert naming.workload_name(function) == expected
    assert len(naming.workload_name(function)) <= 63


def test_long_names_stay_distinct() -> None:
    assert naming.workload_name("a" * 60 + "x") != naming.workload_name("a" * 60 + "y")
