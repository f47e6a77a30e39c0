"""Every rule of the Function manifest: a bad manifest and the problem it is refused with.

Each expected problem is the whole text, so the field path, the rule and the
offending value are all pinned.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubefn import function

ABSENT = object()
"""Removes a field from the base spec (None would be a null value, a case of its own)."""

APP = {"app.py": "def handler(event, context):\n    return event\n"}
FILE_HINT = "must be a relative file name: no leading or trailing '/', no empty, '.' or '..' parts"
ENV_HINT = "must be a letter followed by one or more letters, digits or _"
NAME_HINT = "must be lower-case letters, digits and '-' (a DNS label)"
CODE_HINT = "must set exactly one of inline, configMapRef, image, path"
SPEC_FIELDS = (
    "code, command, environment, ephemeralStorageMB, handler, memoryMB, "
    "provisionedConcurrency, reservedConcurrency, runtime, snapStart, timeoutSeconds"
)


def _manifest(metadata: Any = ABSENT, **changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "runtime": "python3.11",
        "handler": "app.handler",
        "code": {"inline": APP},
    }
    for key, value in changes.items():
        if value is ABSENT:
            spec.pop(key, None)
        else:
            spec[key] = value
    manifest: dict[str, Any] = {"apiVersion": "kubefn.io/v1alpha1", "kind": "Function"}
    manifest["metadata"] = {"name": "hello"} if metadata is ABSENT else metadata
    manifest["spec"] = spec
    return manifest


def _problems(manifest: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(function.InvalidFunction) as info:
        function.compile_function(manifest, **kwargs)
    return [str(problem) for problem in info.value.problems]


PROVIDED = {"runtime": "provided", "handler": ABSENT}


@pytest.mark.parametrize(
    "changes, expected",
    [
        # runtime
        pytest.param(
            {"runtime": "python2.7"},
            "spec.runtime: must be one of python3.11, python3.12, python3.13, provided"
            " (got 'python2.7')",
            id="runtime-not-in-enum",
        ),
        pytest.param({"runtime": ABSENT}, "spec.runtime: is required", id="runtime-missing"),
        pytest.param(
            {"runtime": 3.11},
            "spec.runtime: must be of type string (got float 3.11)",
            id="runtime-not-a-string",
        ),
        # handler
        pytest.param(
            {"handler": "app"},
            "spec.handler: must be module.function, e.g. app.handler (got 'app')",
            id="handler-without-function",
        ),
        pytest.param(
            {"handler": "app.1st"},
            "spec.handler: must be module.function, e.g. app.handler (got 'app.1st')",
            id="handler-function-not-an-identifier",
        ),
        pytest.param(
            {"handler": "/srv/app.handler"},
            "spec.handler: must be module.function, e.g. app.handler (got '/srv/app.handler')",
            id="handler-absolute-folder",
        ),
        pytest.param(
            {"handler": "app." + "h" * 125},
            "spec.handler: must be at most 128 characters (got 129 characters)",
            id="handler-too-long",
        ),
        pytest.param(
            {"handler": ABSENT},
            "spec.handler: is required for runtime python3.11",
            id="handler-required-for-python",
        ),
        pytest.param(
            {"runtime": "python3.13", "handler": ABSENT},
            "spec.handler: is required for runtime python3.13",
            id="handler-required-for-every-python",
        ),
        # command
        pytest.param(
            {"command": ["./bootstrap"]},
            "spec.command: is only for runtime provided (got runtime python3.11)",
            id="command-only-for-provided",
        ),
        pytest.param(
            PROVIDED,
            "spec.command: is required for runtime provided unless code.image is set",
            id="command-required-for-provided-without-image",
        ),
        pytest.param(
            {**PROVIDED, "command": []},
            "spec.command: must have at least 1 items (got 0)",
            id="command-empty",
        ),
        pytest.param(
            {**PROVIDED, "command": ["./bootstrap", ""]},
            "spec.command[1]: must be at least 1 characters (got '')",
            id="command-empty-argument",
        ),
        pytest.param(
            {**PROVIDED, "command": "./bootstrap"},
            "spec.command: must be of type array (got str './bootstrap')",
            id="command-not-a-list",
        ),
        # code
        pytest.param({"code": ABSENT}, "spec.code: is required", id="code-missing"),
        pytest.param(
            {**PROVIDED, "command": ["./bootstrap"], "code": ABSENT},
            "spec.code: is required",
            id="code-missing-for-provided",
        ),
        pytest.param({"code": {}}, f"spec.code: {CODE_HINT} (got none)", id="code-none-of"),
        pytest.param(
            {"code": {"inline": APP, "image": "hello:1"}},
            f"spec.code: {CODE_HINT} (got image, inline)",
            id="code-two-of",
        ),
        pytest.param(
            {"code": {"zip": "hello.zip"}},
            "spec.code.zip: unknown field (known fields: configMapRef, image, inline, path)",
            id="code-unknown-kind",
        ),
        pytest.param(
            {"code": {"inline": {}}},
            "spec.code.inline: must hold at least one file (got none)",
            id="inline-no-files",
        ),
        pytest.param(
            {"code": {"inline": {"/app.py": "x"}}},
            f"spec.code.inline./app.py: {FILE_HINT} (got '/app.py')",
            id="inline-absolute-name",
        ),
        pytest.param(
            {"code": {"inline": {"../app.py": "x"}}},
            f"spec.code.inline.../app.py: {FILE_HINT} (got '../app.py')",
            id="inline-parent-name",
        ),
        pytest.param(
            {"code": {"inline": {"lib/../../app.py": "x"}}},
            f"spec.code.inline.lib/../../app.py: {FILE_HINT} (got 'lib/../../app.py')",
            id="inline-parent-inside-name",
        ),
        pytest.param(
            {"code": {"inline": {"..": "x"}}},
            f"spec.code.inline...: {FILE_HINT} (got '..')",
            id="inline-name-is-parent",
        ),
        pytest.param(
            {"code": {"inline": {".": "x"}}},
            f"spec.code.inline..: {FILE_HINT} (got '.')",
            id="inline-name-is-folder-itself",
        ),
        pytest.param(
            {"code": {"inline": {"lib//app.py": "x"}}},
            f"spec.code.inline.lib//app.py: {FILE_HINT} (got 'lib//app.py')",
            id="inline-empty-part",
        ),
        pytest.param(
            {"code": {"inline": {"lib/": "x"}}},
            f"spec.code.inline.lib/: {FILE_HINT} (got 'lib/')",
            id="inline-folder-name",
        ),
        pytest.param(
            {"code": {"inline": {"app.py": 1}}},
            "spec.code.inline.app.py: must be of type string (got int 1)",
            id="inline-content-not-text",
        ),
        pytest.param(
            {"code": {"configMapRef": {}}},
            "spec.code.configMapRef.name: is required",
            id="configmapref-missing-name",
        ),
        pytest.param(
            {"code": {"configMapRef": {"name": ""}}},
            "spec.code.configMapRef.name: must be at least 1 characters (got '')",
            id="configmapref-empty-name",
        ),
        pytest.param(
            {"code": {"image": ""}},
            "spec.code.image: must be at least 1 characters (got '')",
            id="image-empty",
        ),
        # memoryMB
        pytest.param(
            {"memoryMB": 127},
            "spec.memoryMB: must be between 128 and 10240 (got 127)",
            id="memory-below-minimum",
        ),
        pytest.param(
            {"memoryMB": 10241},
            "spec.memoryMB: must be between 128 and 10240 (got 10241)",
            id="memory-above-maximum",
        ),
        pytest.param(
            {"memoryMB": "128"},
            "spec.memoryMB: must be of type integer (got str '128')",
            id="memory-a-string",
        ),
        pytest.param(
            {"memoryMB": True},
            "spec.memoryMB: must be of type integer (got bool True)",
            id="memory-a-bool",
        ),
        pytest.param(
            {"memoryMB": 128.0},
            "spec.memoryMB: must be of type integer (got float 128.0)",
            id="memory-a-float",
        ),
        # timeoutSeconds
        pytest.param(
            {"timeoutSeconds": 0},
            "spec.timeoutSeconds: must be between 1 and 900 (got 0)",
            id="timeout-below-minimum",
        ),
        pytest.param(
            {"timeoutSeconds": 901},
            "spec.timeoutSeconds: must be between 1 and 900 (got 901)",
            id="timeout-above-maximum",
        ),
        pytest.param(
            {"timeoutSeconds": "3s"},
            "spec.timeoutSeconds: must be of type integer (got str '3s')",
            id="timeout-with-unit",
        ),
        # ephemeralStorageMB
        pytest.param(
            {"ephemeralStorageMB": 511},
            "spec.ephemeralStorageMB: must be between 512 and 10240 (got 511)",
            id="storage-below-minimum",
        ),
        pytest.param(
            {"ephemeralStorageMB": 10241},
            "spec.ephemeralStorageMB: must be between 512 and 10240 (got 10241)",
            id="storage-above-maximum",
        ),
        # environment
        pytest.param(
            {"environment": {"1ST": "x"}},
            f"spec.environment.1ST: {ENV_HINT} (got '1ST')",
            id="env-key-starts-with-digit",
        ),
        pytest.param(
            {"environment": {"MY-VAR": "x"}},
            f"spec.environment.MY-VAR: {ENV_HINT} (got 'MY-VAR')",
            id="env-key-with-dash",
        ),
        pytest.param(
            {"environment": {"_PRIVATE": "x"}},
            f"spec.environment._PRIVATE: {ENV_HINT} (got '_PRIVATE')",
            id="env-key-starts-with-underscore",
        ),
        pytest.param(
            {"environment": {"PORT": 8080}},
            "spec.environment.PORT: must be of type string (got int 8080)",
            id="env-value-an-int",
        ),
        pytest.param(
            {"environment": {"DEBUG": True}},
            "spec.environment.DEBUG: must be of type string (got bool True)",
            id="env-value-a-bool",
        ),
        pytest.param(
            {"environment": {1: "x"}},
            "spec.environment.1: field name must be a string; quote it (got 1)",
            id="env-key-not-a-string",
        ),
        pytest.param(
            {"environment": {"BIG": "x" * 4094}},
            "spec.environment: total size must be at most 4096 bytes (got 4097 bytes)",
            id="env-over-4kb",
        ),
        pytest.param(
            {"environment": {"AA": "x" * 2000, "BB": "y" * 2000, "CC": "z" * 100}},
            "spec.environment: total size must be at most 4096 bytes (got 4106 bytes)",
            id="env-over-4kb-in-total",
        ),
        pytest.param(
            {"environment": {"GREETING": "é" * 2045}},
            "spec.environment: total size must be at most 4096 bytes (got 4098 bytes)",
            id="env-size-counts-bytes-not-characters",
        ),
        pytest.param(
            {"environment": {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}},
            "spec.environment.AWS_LAMBDA_RUNTIME_API: is reserved by the runtime"
            " (got 'AWS_LAMBDA_RUNTIME_API')",
            id="env-reserved-runtime-api",
        ),
        pytest.param(
            {"environment": {"X": "1"}},
            f"spec.environment.X: {ENV_HINT} (got 'X')",
            id="env-name-one-character",
        ),
        pytest.param(
            {"environment": {"AWS_SECRET_ACCESS_KEY": "s"}},
            "spec.environment.AWS_SECRET_ACCESS_KEY: is reserved by the runtime"
            " (got 'AWS_SECRET_ACCESS_KEY')",
            id="env-reserved-credentials",
        ),
        pytest.param(
            {"environment": {"LAMBDA_TASK_ROOT": "/tmp"}},
            "spec.environment.LAMBDA_TASK_ROOT: is reserved by the runtime"
            " (got 'LAMBDA_TASK_ROOT')",
            id="env-reserved-task-root",
        ),
        pytest.param(
            {"environment": ["A=1"]},
            "spec.environment: must be of type object (got list ['A=1'])",
            id="env-a-list",
        ),
        # concurrency
        pytest.param(
            {"reservedConcurrency": -1},
            "spec.reservedConcurrency: must be between 0 and 900 (got -1)",
            id="reserved-negative",
        ),
        pytest.param(
            {"reservedConcurrency": 901},
            "spec.reservedConcurrency: must be between 0 and 900 (got 901)",
            id="reserved-over-account-minus-unreserved",
        ),
        pytest.param(
            {"provisionedConcurrency": -1},
            "spec.provisionedConcurrency: must be between 0 and 900 (got -1)",
            id="provisioned-negative",
        ),
        pytest.param(
            {"provisionedConcurrency": 901},
            "spec.provisionedConcurrency: must be between 0 and 900 (got 901)",
            id="provisioned-over-account-minus-unreserved",
        ),
        pytest.param(
            {"reservedConcurrency": 2, "provisionedConcurrency": 5},
            "spec.provisionedConcurrency: must be at most reservedConcurrency 2 (got 5)",
            id="provisioned-over-reserved",
        ),
        pytest.param(
            {"reservedConcurrency": 0, "provisionedConcurrency": 1},
            "spec.provisionedConcurrency: must be at most reservedConcurrency 0 (got 1)",
            id="provisioned-over-zero-reserved",
        ),
        # snapStart
        pytest.param(
            {"snapStart": {"applyOn": "Always"}},
            "spec.snapStart.applyOn: must be one of PublishedVersions, None (got 'Always')",
            id="snapstart-apply-on-not-in-enum",
        ),
        pytest.param(
            {"snapStart": {"enabled": True}},
            "spec.snapStart.enabled: unknown field (known fields: applyOn)",
            id="snapstart-unknown-field",
        ),
        # unknown fields
        pytest.param(
            {"memory": 256},
            f"spec.memory: unknown field (known fields: {SPEC_FIELDS})",
            id="unknown-field-lists-known-ones",
        ),
        # nulls: dropped as the API server drops them, then the rules apply
        pytest.param({"runtime": None}, "spec.runtime: is required", id="null-runtime"),
        pytest.param(
            {"handler": None},
            "spec.handler: is required for runtime python3.11",
            id="null-handler",
        ),
        pytest.param({"code": None}, "spec.code: is required", id="null-code"),
        pytest.param(
            {"code": {"configMapRef": {"name": None}}},
            "spec.code.configMapRef.name: is required",
            id="null-configmap-name",
        ),
        pytest.param(
            {**PROVIDED, "command": ["./bootstrap", None]},
            "spec.command[1]: must not be null",
            id="null-in-a-list",
        ),
        pytest.param(
            {"memory": None},
            f"spec.memory: unknown field (known fields: {SPEC_FIELDS})",
            id="null-unknown-field",
        ),
    ],
)
def test_bad_spec_is_refused_with_its_problem(changes: dict[str, Any], expected: str) -> None:
    assert expected in _problems(_manifest(**changes))


@pytest.mark.parametrize(
    "metadata, expected",
    [
        pytest.param({}, "metadata.name: is required (got None)", id="name-missing"),
        pytest.param({"name": ""}, "metadata.name: is required (got '')", id="name-empty"),
        pytest.param({"name": None}, "metadata.name: is required (got None)", id="name-null"),
        pytest.param(
            {"name": "Hello"},
            f"metadata.name: {NAME_HINT} (got 'Hello')",
            id="name-upper-case",
        ),
        pytest.param(
            {"name": "hello_world"},
            f"metadata.name: {NAME_HINT} (got 'hello_world')",
            id="name-underscore",
        ),
        pytest.param(
            {"name": "-hello"},
            f"metadata.name: {NAME_HINT} (got '-hello')",
            id="name-leading-dash",
        ),
        pytest.param(
            {"name": "hello.world"},
            f"metadata.name: {NAME_HINT} (got 'hello.world')",
            id="name-dot",
        ),
        pytest.param(
            {"name": "a" * 64},
            "metadata.name: must be at most 63 characters (got 64 characters)",
            id="name-too-long",
        ),
        pytest.param(
            {"name": 42},
            "metadata.name: must be of type string (got int 42)",
            id="name-not-a-string",
        ),
        pytest.param(
            {"name": "hello", "namespace": "Team_A"},
            f"metadata.namespace: {NAME_HINT} (got 'Team_A')",
            id="namespace-not-a-dns-label",
        ),
        pytest.param(None, "metadata.name: is required (got no metadata)", id="metadata-missing"),
        pytest.param(
            "hello",
            "metadata: must be of type object (got str 'hello')",
            id="metadata-not-a-mapping",
        ),
    ],
)
def test_bad_metadata_is_refused_with_its_problem(metadata: Any, expected: str) -> None:
    assert expected in _problems(_manifest(metadata=metadata))


@pytest.mark.parametrize(
    "spec, expected",
    [
        pytest.param(ABSENT, "spec: is required", id="missing"),
        pytest.param(None, "spec: is required", id="null"),
        pytest.param(["runtime"], "spec: must be of type object (got list ['runtime'])", id="list"),
    ],
)
def test_bad_spec_itself_is_refused(spec: Any, expected: str) -> None:
    manifest = _manifest()
    if spec is ABSENT:
        del manifest["spec"]
    else:
        manifest["spec"] = spec
    assert _problems(manifest) == [expected]


def test_unknown_configmap_is_refused() -> None:
    manifest = _manifest(code={"configMapRef": {"name": "nope"}})
    problems = _problems(manifest, config_maps={"other": {"app.py": "x"}})
    assert problems == ["spec.code.configMapRef.name: no ConfigMap named 'nope'"]


def test_configmap_without_any_configmaps_is_refused() -> None:
    problems = _problems(_manifest(code={"configMapRef": {"name": "nope"}}))
    assert problems == ["spec.code.configMapRef.name: no ConfigMap named 'nope'"]


def test_path_to_nothing_is_refused(tmp_path: Any) -> None:
    problems = _problems(_manifest(code={"path": "src"}), base_dir=tmp_path)
    assert problems == [f"spec.code.path: must name a folder (no folder at {tmp_path / 'src'})"]


def test_path_to_a_file_is_refused(tmp_path: Any) -> None:
    (tmp_path / "app.py").write_text("x")
    problems = _problems(_manifest(code={"path": "app.py"}), base_dir=tmp_path)
    assert problems == [f"spec.code.path: must name a folder (no folder at {tmp_path / 'app.py'})"]


def test_path_without_base_dir_is_refused() -> None:
    problems = _problems(_manifest(code={"path": "src"}))
    assert problems == ["spec.code.path: is only for kubefn dev (got 'src')"]


def test_every_problem_is_reported_at_once() -> None:
    manifest = _manifest(
        metadata={"name": "Bad_Name"},
        handler=ABSENT,
        memoryMB=1,
        timeoutSeconds="3",
        memory=256,
        environment={"AWS_LAMBDA_RUNTIME_API": "x", "my-var": "y"},
        reservedConcurrency=1,
        provisionedConcurrency=2,
    )
    assert {problem.split(":")[0] for problem in _problems(manifest)} == {
        "metadata.name",
        "spec.handler",
        "spec.memoryMB",
        "spec.timeoutSeconds",
        "spec.memory",
        "spec.environment.AWS_LAMBDA_RUNTIME_API",
        "spec.environment.my-var",
        "spec.provisionedConcurrency",
    }


def test_every_problem_is_in_the_exception_message() -> None:
    with pytest.raises(function.InvalidFunction) as info:
        function.compile_function(_manifest(memoryMB=1, timeoutSeconds=0))
    assert str(info.value) == (
        "spec.memoryMB: must be between 128 and 10240 (got 1); "
        "spec.timeoutSeconds: must be between 1 and 900 (got 0)"
    )


def test_a_broken_field_does_not_also_break_the_rules_that_read_it() -> None:
    # runtime is refused by the enum: the runtime-specific rules stay silent.
    problems = _problems(_manifest(runtime="python2.7", handler=ABSENT, command=["x"]))
    assert problems == [
        "spec.runtime: must be one of python3.11, python3.12, python3.13, provided"
        " (got 'python2.7')"
    ]


def test_check_spec_of_a_valid_spec_is_empty() -> None:
    assert function.check_spec(_manifest()["spec"]) == []


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"handler": "src/app.handler"}, id="handler-in-a-folder"),
        pytest.param({"handler": "pkg.module.handler"}, id="handler-in-a-package"),
        pytest.param({"handler": "my-lib/app.handler"}, id="handler-folder-with-dash"),
        pytest.param({"memoryMB": 128}, id="memory-minimum"),
        pytest.param({"memoryMB": 10240}, id="memory-maximum"),
        pytest.param({"timeoutSeconds": 1}, id="timeout-minimum"),
        pytest.param({"timeoutSeconds": 900}, id="timeout-maximum"),
        pytest.param({"ephemeralStorageMB": 10240}, id="storage-maximum"),
        pytest.param({"environment": {"BIG": "x" * 4093}}, id="env-exactly-4kb"),
        pytest.param({"environment": {"AB": "1", "aws_region": ""}}, id="env-short-and-empty"),
        pytest.param({"reservedConcurrency": 0}, id="reserved-zero-throttles-all"),
        pytest.param({"reservedConcurrency": 900}, id="reserved-maximum"),
        pytest.param({"reservedConcurrency": 5, "provisionedConcurrency": 5}, id="provisioned-eq"),
        pytest.param({"provisionedConcurrency": 3}, id="provisioned-without-reserved"),
        pytest.param({"snapStart": {"applyOn": "PublishedVersions"}}, id="snapstart-on"),
        pytest.param({"code": {"inline": {"lib/util.py": "", ".env": ""}}}, id="inline-nested"),
        pytest.param({"code": {"inline": {"a..b.py": ""}}}, id="inline-double-dot-in-name"),
        pytest.param({**PROVIDED, "command": ["./bootstrap"]}, id="provided-with-command"),
        pytest.param({**PROVIDED, "code": {"image": "hello:1"}}, id="provided-image-only"),
        pytest.param({**PROVIDED, "handler": "x.y", "command": ["b"]}, id="provided-handler"),
        pytest.param({"memoryMB": None}, id="null-with-default"),
        pytest.param({"reservedConcurrency": None}, id="null-where-nullable"),
        pytest.param({"environment": {"AB": None}}, id="null-env-value"),
    ],
)
def test_good_spec_compiles(changes: dict[str, Any]) -> None:
    assert function.compile_function(_manifest(**changes)).name == "hello"
