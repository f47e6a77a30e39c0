"""Valid Function manifests compile into what the data plane reads from Redis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubefn import codebundle, function, limits

FILES = {
    "app.py": "import util\n\ndef handler(event, context):\n    return util.greet(event)\n",
    "util.py": "def greet(event):\n    return {'hello': event}\n",
}


def _manifest(*, code: Any = None, metadata: Any = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "Function",
        "metadata": metadata or {"name": "hello"},
        "spec": {
            "runtime": "python3.11",
            "handler": "app.handler",
            "code": code or {"inline": dict(FILES)},
            **spec,
        },
    }


def _compile(**kwargs: Any) -> function.CompiledFunction:
    return function.compile_function(_manifest(**kwargs))


@pytest.mark.parametrize(
    "field, default",
    [
        pytest.param("memoryMB", 128, id="memoryMB"),
        pytest.param("timeoutSeconds", 3, id="timeoutSeconds"),
        pytest.param("ephemeralStorageMB", 512, id="ephemeralStorageMB"),
        pytest.param("provisionedConcurrency", 0, id="provisionedConcurrency"),
        pytest.param("reservedConcurrency", None, id="reservedConcurrency"),
        pytest.param("environment", {}, id="environment"),
        pytest.param("snapStart", {"applyOn": "None"}, id="snapStart"),
    ],
)
def test_defaults_are_filled(field: str, default: Any) -> None:
    assert _compile().spec[field] == default


@pytest.mark.parametrize(
    "field, value",
    [
        pytest.param("memoryMB", 1024, id="memoryMB"),
        pytest.param("timeoutSeconds", 900, id="timeoutSeconds"),
        pytest.param("ephemeralStorageMB", 10240, id="ephemeralStorageMB"),
        pytest.param("provisionedConcurrency", 2, id="provisionedConcurrency"),
        pytest.param("reservedConcurrency", 10, id="reservedConcurrency"),
        pytest.param("environment", {"STAGE": "prod"}, id="environment"),
        pytest.param("snapStart", {"applyOn": "PublishedVersions"}, id="snapStart"),
    ],
)
def test_given_values_are_kept(field: str, value: Any) -> None:
    assert _compile(**{field: value}).spec[field] == value


@pytest.mark.parametrize(
    "field, value, compiled",
    [
        pytest.param("memoryMB", None, 128, id="null-takes-the-default"),
        pytest.param("reservedConcurrency", None, None, id="null-kept-where-nullable"),
        pytest.param(
            "environment", {"AA": "1", "BB": None}, {"AA": "1"}, id="null-map-value-dropped"
        ),
        pytest.param("snapStart", {}, {"applyOn": "None"}, id="empty-snapstart-defaulted"),
        pytest.param("snapStart", {"applyOn": None}, {"applyOn": "None"}, id="null-apply-on"),
    ],
)
def test_values_are_normalised_as_the_api_server_does(
    field: str, value: Any, compiled: Any
) -> None:
    assert _compile(**{field: value}).spec[field] == compiled


def test_compiled_code_is_the_bundle_digest_and_size() -> None:
    compiled = _compile()
    assert compiled.spec["code"] == {
        "bundle": codebundle.digest_of({k: v.encode() for k, v in FILES.items()}),
        "size": len(compiled.bundle or b""),
    }


def test_bundle_unpacks_to_the_inline_files(tmp_path: Path) -> None:
    codebundle.unpack(_compile().bundle or b"", into=tmp_path)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == FILES


def test_compiled_spec_is_json_ready() -> None:
    spec = _compile().spec
    assert json.loads(json.dumps(spec)) == spec


def test_image_code_compiles_to_the_image() -> None:
    assert _compile(code={"image": "registry.local/hello:1"}).spec["code"] == {
        "image": "registry.local/hello:1"
    }


def test_image_code_has_no_bundle() -> None:
    assert _compile(code={"image": "registry.local/hello:1"}).bundle is None


def test_provided_keeps_its_command() -> None:
    compiled = _compile(runtime="provided", handler="x.y", command=["./bootstrap", "--fast"])
    assert compiled.spec["command"] == ["./bootstrap", "--fast"]


def test_namespace_defaults_to_default() -> None:
    assert _compile().namespace == "default"


def test_namespace_is_kept() -> None:
    assert _compile(metadata={"name": "hello", "namespace": "team-a"}).key == "team-a/hello"


def test_key_is_namespace_and_name() -> None:
    assert _compile().key == "default/hello"


def _digest_via(kind: str, tmp_path: Path) -> str:
    files = dict(FILES)
    if kind == "inline":
        return function.compile_function(_manifest(code={"inline": files})).digest
    if kind == "path":
        (tmp_path / "src").mkdir()
        for name, text in files.items():
            (tmp_path / "src" / name).write_text(text)
        manifest = _manifest(code={"path": "src"})
        return function.compile_function(manifest, base_dir=tmp_path).digest
    manifest = _manifest(code={"configMapRef": {"name": "hello-code"}})
    return function.compile_function(manifest, config_maps={"hello-code": files}).digest


@pytest.mark.parametrize("kind", ["path", "configMapRef"])
def test_same_files_give_the_same_digest_whatever_the_source(kind: str, tmp_path: Path) -> None:
    assert _digest_via(kind, tmp_path) == _digest_via("inline", tmp_path)


def test_compiling_twice_gives_the_same_digest() -> None:
    assert _compile().digest == _compile().digest


def test_digest_ignores_file_order() -> None:
    reordered = dict(reversed(list(FILES.items())))
    assert _compile(code={"inline": reordered}).digest == _compile().digest


def test_digest_ignores_field_order() -> None:
    manifest = _manifest(memoryMB=256, timeoutSeconds=10)
    manifest["spec"] = dict(reversed(list(manifest["spec"].items())))
    assert (
        function.compile_function(manifest).digest
        == _compile(memoryMB=256, timeoutSeconds=10).digest
    )


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({**FILES, "util.py": FILES["util.py"] + "# changed\n"}, id="content-changed"),
        pytest.param(
            {"app.py": FILES["app.py"], "helpers.py": FILES["util.py"]}, id="file-renamed"
        ),
        pytest.param({**FILES, "extra.py": ""}, id="file-added"),
        pytest.param({"app.py": FILES["app.py"]}, id="file-removed"),
    ],
)
def test_changed_code_changes_the_digest(files: dict[str, str]) -> None:
    assert _compile(code={"inline": files}).digest != _compile().digest


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"memoryMB": 256}, id="memory"),
        pytest.param({"environment": {"STAGE": "prod"}}, id="environment"),
        pytest.param({"handler": "util.greet"}, id="handler"),
    ],
)
def test_changed_settings_change_the_digest(changes: dict[str, Any]) -> None:
    assert _compile(**changes).digest != _compile().digest


def test_explicit_defaults_give_the_same_digest() -> None:
    explicit = _compile(memoryMB=128, timeoutSeconds=3, ephemeralStorageMB=512)
    assert explicit.digest == _compile().digest


def test_code_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "CODE_UNZIPPED_BYTES_MAX", 10)
    with pytest.raises(function.InvalidFunction) as info:
        _compile(code={"inline": {"app.py": "x" * 11}})
    assert [str(p) for p in info.value.problems] == [
        "spec.code: unzipped code must be at most 10 bytes (got 11 bytes)"
    ]


def test_folder_too_large_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("x" * 11)
    monkeypatch.setattr(limits, "CODE_UNZIPPED_BYTES_MAX", 10)
    with pytest.raises(function.InvalidFunction) as info:
        function.compile_function(_manifest(code={"path": "src"}), base_dir=tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "spec.code.path: unzipped code must be at most 10 bytes (got at least 11 bytes)"
    ]


def test_compile_does_not_change_the_manifest() -> None:
    manifest = _manifest(environment={"AA": None})
    before = repr(manifest)
    function.compile_function(manifest)
    assert repr(manifest) == before
