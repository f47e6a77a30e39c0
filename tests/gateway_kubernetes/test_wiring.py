"""Choosing the provider: `python -m kubefn_gateway --provider ...`, and where the
KubernetesProvider finds the API server when no URL is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis
import yaml
from kubernetes.config import kube_config

from kubefn_gateway import __main__, providers
from kubefn_gateway.providers import kubernetes
from kubefn_gateway.settings import GatewaySettings


def test_the_command_line_chooses_the_kubernetes_provider() -> None:
    settings, _, _ = __main__.parse(
        ["--provider", "kubernetes", "--kubernetes-api", "https://10.0.0.1:6443"]
    )
    assert (settings.provider, settings.kubernetes_api) == ("kubernetes", "https://10.0.0.1:6443")


def test_local_processes_are_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEFN_PROVIDER", raising=False)
    settings, _, _ = __main__.parse([])
    assert (settings.provider, settings.kubernetes_api) == ("local", None)


def test_an_unknown_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        __main__.parse(["--provider", "nomad"])
    settings = GatewaySettings(redis_url="redis://127.0.0.1:1", state_dir=tmp_path, provider="x")
    with pytest.raises(ValueError, match="unknown provider 'x'"):
        providers.create(settings, redis=aioredis.Redis())


def test_outside_a_cluster_the_kubeconfig_says_where_the_api_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kind", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "me", "user": {"token": "secret"}}],
        "contexts": [{"name": "kind", "context": {"cluster": "kind", "user": "me"}}],
        "current-context": "kind",
    }
    (tmp_path / "config").write_text(yaml.safe_dump(kubeconfig))
    # The client reads $KUBECONFIG once, on import, into this default.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "config"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # not in a pod
    assert kubernetes.configuration(None).host == "https://127.0.0.1:6443"


def test_an_explicit_api_url_wins() -> None:
    assert kubernetes.configuration("http://127.0.0.1:8001/").host == "http://127.0.0.1:8001"


def test_the_charts_gateway_arguments_are_the_gateways_own() -> None:
    template = (Path(__file__).parents[2] / "charts/kubefn/templates/gateway.yaml").read_text()
    values = yaml.safe_load((Path(__file__).parents[2] / "charts/kubefn/values.yaml").read_text())[
        "gateway"
    ]
    lines = [line.strip()[2:] for line in template.splitlines() if line.strip().startswith("- --")]
    rendered = [
        line.replace("{{ .Values.gateway.idleSeconds }}", str(values["idleSeconds"]))
        .replace("{{ .Values.gateway.states.leaseSeconds }}", str(values["states"]["leaseSeconds"]))
        .replace("{{ .Values.gateway.states.workers }}", str(values["states"]["workers"]))
        for line in lines
    ]
    assert all("{{" not in line for line in rendered), rendered

    settings, _, _ = __main__.parse(rendered)

    assert settings.provider == "kubernetes"
    assert (settings.states_lease_seconds, settings.states_workers) == (30.0, 64)
