"""The Helm chart and the images, checked without Helm or Docker: every template-free
YAML file parses, the operator's ClusterRole is exactly what its code uses, and
every value a template reads is defined and documented in values.yaml.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubefn_operator import cluster, objects

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kubefn"
PLAIN_YAML = sorted(
    [CHART / "Chart.yaml", CHART / "values.yaml", *(CHART / "files").glob("*.yaml")]
)
DOCKERFILES = {
    "operator": ("kubefn_operator", REPO / "operator" / "Dockerfile"),
    "gateway": ("kubefn_gateway", REPO / "gateway" / "Dockerfile"),
    "runtime": ("kubefn_runtime.agent", REPO / "runtime" / "Dockerfile"),
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules(path: Path) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in load(path)
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("path", PLAIN_YAML, ids=lambda p: str(p.relative_to(CHART)))
def test_plain_yaml_parses(path: Path) -> None:
    assert load(path) is not None


def test_the_chart_is_versioned_with_the_project() -> None:
    chart = load(CHART / "Chart.yaml")
    assert (chart["apiVersion"], chart["name"]) == ("v2", "kubefn")
    assert chart["appVersion"] == importlib.metadata.version("kubefn")


def test_the_operator_role_grants_exactly_what_the_operator_uses() -> None:
    used = {
        (permission.group, permission.resource, verb)
        for permission in cluster.PERMISSIONS
        for verb in permission.verbs
    }
    assert rules(CHART / "files" / "operator-rules.yaml") == used


@pytest.mark.parametrize("component", ["operator", "gateway"])
def test_each_cluster_role_takes_its_rules_file(component: str) -> None:
    template = (CHART / "templates" / f"{component}.yaml").read_text()
    assert f'.Files.Get "files/{component}-rules.yaml"' in template


def test_every_value_a_template_reads_is_in_values_yaml() -> None:
    values = load(CHART / "values.yaml")
    missing = []
    for template in (CHART / "templates").iterdir():
        for reference in set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text())):
            node = values
            for key in reference.split("."):
                if not isinstance(node, dict) or key not in node:
                    missing.append(f"{template.name}: .Values.{reference}")
                    break
                node = node[key]
    assert missing == []


@pytest.mark.parametrize("component", DOCKERFILES)
def test_images_run_their_component_unprivileged(component: str) -> None:
    module, path = DOCKERFILES[component]
    lines = [line.strip() for line in path.read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert f"USER {objects.RUN_AS}:{objects.RUN_AS}" in lines
    assert lines[-1] == f'ENTRYPOINT ["python", "-m", "{module}"]'


def test_the_charts_pods_run_as_the_images_user() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert f"runAsUser: {objects.RUN_AS}" in helpers
