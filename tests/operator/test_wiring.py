"""The operator's configuration and its connection to the API server."""

from __future__ import annotations

import kopf
import kubernetes.client
import pytest

from kubefn_operator import cluster, wiring


def test_config_from_an_empty_environment_has_working_defaults() -> None:
    config = wiring.Config.from_env({})
    assert config.installation.redis_url == wiring.DEFAULT_REDIS_URL
    assert config.installation.runtime_image.startswith("kubefn-runtime:")
    assert config.connection is None


def test_config_from_the_environment() -> None:
    config = wiring.Config.from_env(
        {
            "REDIS_URL": "redis://r:6379/1",
            "KUBEFN_RUNTIME_IMAGE": "rt:2",
            "KUBEFN_LOADER_IMAGE": "op:2",
            "KUBEFN_REGION": "eu-north-1",
            "KUBEFN_RETRY_SECONDS": "2.5",
        }
    )
    installation = config.installation
    assert (installation.redis_url, installation.runtime_image, installation.loader_image) == (
        "redis://r:6379/1",
        "rt:2",
        "op:2",
    )
    assert (installation.region, config.retry_seconds) == ("eu-north-1", 2.5)


def test_kopf_keeps_its_state_under_kubefn_names() -> None:
    settings = kopf.OperatorSettings()
    wiring.configure(settings)
    assert settings.persistence.finalizer == "kubefn.io/operator"


@pytest.mark.parametrize(
    ("info", "verify", "ca"),
    [
        pytest.param(
            kopf.ConnectionInfo(server="http://k:80/", insecure=True), False, None, id="insecure"
        ),
        pytest.param(
            kopf.ConnectionInfo(server="https://k", ca_path="/ca.crt"), True, "/ca.crt", id="ca"
        ),
    ],
)
def test_the_client_talks_to_kopfs_server(
    info: kopf.ConnectionInfo, verify: bool, ca: str | None
) -> None:
    config = cluster.configuration(info)
    assert (config.host, config.verify_ssl, config.ssl_ca_cert) == (
        info.server.rstrip("/"),
        verify,
        ca,
    )


@pytest.mark.parametrize(
    ("info", "header"),
    [
        pytest.param(kopf.ConnectionInfo(server="https://k", token="t"), "Bearer t", id="token"),
        pytest.param(
            kopf.ConnectionInfo(server="https://k", username="u", password="p"),
            "Basic dTpw",
            id="basic",
        ),
    ],
)
def test_the_client_uses_kopfs_credentials(info: kopf.ConnectionInfo, header: str) -> None:
    api = cluster.Cluster()
    api.connect(info)
    try:
        assert api.client.default_headers["Authorization"] == header
        assert isinstance(api.client, kubernetes.client.ApiClient)
    finally:
        api.close()
