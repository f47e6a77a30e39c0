"""The chart's gateway runs the KubernetesProvider, and its ClusterRole grants exactly
what the provider asks of the API (test_provider.py holds the provider to the same list).
"""

from __future__ import annotations

from kubefn_gateway.providers.kubernetes import PERMISSIONS
from tests.operator.test_chart import CHART, rules


def test_the_gateway_role_grants_exactly_what_the_provider_uses() -> None:
    used = {(p.group, p.resource, verb) for p in PERMISSIONS for verb in p.verbs}
    assert rules(CHART / "files" / "gateway-rules.yaml") == used


def test_the_chart_gateway_runs_the_kubernetes_provider() -> None:
    template = (CHART / "templates" / "gateway.yaml").read_text()
    deployment = template.split("\nkind: Deployment\n", 1)[1].split("\n---", 1)[0]
    assert "- --provider=kubernetes\n" in deployment
