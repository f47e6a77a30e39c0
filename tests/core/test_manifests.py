"""Loading a folder of manifests as `kubectl apply -f DIR` would, for `kubefn dev`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubefn import manifests
from kubefn.schema import Problem


def _function(name: str, *, namespace: str | None = None, extra: str = "") -> str:
    """A Function manifest; `extra` lines are added to its spec."""
    namespace_line = f"  namespace: {namespace}\n" if namespace else ""
    return (
        "apiVersion: kubefn.io/v1alpha1\n"
        "kind: Function\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"{namespace_line}"
        "spec:\n"
        "  runtime: python3.11\n"
        "  handler: app.handler\n"
        f"{extra}"
        "  code:\n"
        "    inline:\n"
        "      app.py: |\n"
        "        def handler(event, context):\n"
        f"            return {name!r}\n"
    )


CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: hello-code
data:
  app.py: |
    def handler(event, context):
        return "from a ConfigMap"
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
"""


def _folder(tmp_path: Path, files: dict[str, str]) -> manifests.Folder:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return manifests.load_folder(tmp_path)


def _names(folder: manifests.Folder) -> list[str]:
    return [item.compiled.name for item in folder.loaded]


def _problems(folder: manifests.Folder) -> list[str]:
    return [str(problem) for refused in folder.refused for problem in refused.problems]


def test_one_function_loads(tmp_path: Path) -> None:
    assert _names(_folder(tmp_path, {"hello.yaml": _function("hello")})) == ["hello"]


def test_multi_document_file_loads_every_document(tmp_path: Path) -> None:
    text = _function("one") + "---\n" + _function("two") + "---\n" + _function("three")
    assert _names(_folder(tmp_path, {"all.yaml": text})) == ["one", "two", "three"]


def test_multi_document_sources_are_numbered(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"all.yaml": _function("one") + "---\n" + _function("two")})
    assert [item.source for item in folder.loaded] == [
        f"{tmp_path / 'all.yaml'}#1",
        f"{tmp_path / 'all.yaml'}#2",
    ]


def test_single_document_source_is_the_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"hello.yaml": _function("hello")})
    assert folder.loaded[0].source == str(tmp_path / "hello.yaml")


def test_empty_documents_are_skipped(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"hello.yaml": "---\n" + _function("hello") + "---\n"})
    assert (_names(folder), folder.refused) == (["hello"], ())


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(CONFIG_MAP, id="configmap"),
        pytest.param(DEPLOYMENT, id="deployment"),
        pytest.param("kind: Function\nmetadata: {name: x}\n", id="no-api-version"),
        pytest.param("apiVersion: example.com/v1\nkind: Function\n", id="other-group"),
    ],
)
def test_other_kinds_are_skipped(other: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"all.yaml": other + "---\n" + _function("hello")})
    assert (_names(folder), folder.refused) == (["hello"], ())


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"hello.yml": _function("hello")}, id="yml"),
        pytest.param(
            {
                "hello.json": '{"apiVersion": "kubefn.io/v1alpha1", "kind": "Function",'
                ' "metadata": {"name": "hello"}, "spec": {"runtime": "python3.11",'
                ' "handler": "app.handler", "code": {"inline": {"app.py": ""}}}}'
            },
            id="json",
        ),
        pytest.param({"nested/deeper/hello.yaml": _function("hello")}, id="nested-folder"),
    ],
)
def test_manifest_files_are_found(files: dict[str, str], tmp_path: Path) -> None:
    assert _names(_folder(tmp_path, files)) == ["hello"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(".git/hello.yaml", id="hidden-folder"),
        pytest.param(".hello.yaml", id="hidden-file"),
        pytest.param("hello.yaml.txt", id="other-suffix"),
        pytest.param("hello.yaml~", id="editor-backup"),
    ],
)
def test_other_files_are_ignored(name: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {name: _function("hello")})
    assert (folder.loaded, folder.refused) == ((), ())


@pytest.mark.parametrize(
    "document, expected",
    [
        pytest.param(
            "apiVersion: kubefn.io/v1\nkind: Function\nmetadata: {name: hello}\n",
            "apiVersion: must be kubefn.io/v1alpha1 (got 'kubefn.io/v1')",
            id="wrong-api-version",
        ),
        pytest.param(
            "apiVersion: kubefn.io/v1alpha1\nkind: Lambda\nmetadata: {name: hello}\n",
            "kind: must be one of Function, Table, StateMachine (got 'Lambda')",
            id="unknown-kind",
        ),
        pytest.param(
            "apiVersion: kubefn.io/v1alpha1\nmetadata: {name: hello}\n",
            "kind: must be one of Function, Table, StateMachine (got None)",
            id="missing-kind",
        ),
        pytest.param(
            "apiVersion: kubefn.io/v1alpha1\nkind: [Function]\n",
            "kind: must be one of Function, Table, StateMachine (got ['Function'])",
            id="kind-not-a-string",
        ),
        pytest.param(
            "- apiVersion: kubefn.io/v1alpha1\n- kind: Function\n",
            "document: must be a mapping"
            " (got [{'apiVersion': 'kubefn.io/v1alpha1'}, {'kind': 'Function'}])",
            id="document-a-list",
        ),
        pytest.param(
            "- " + "x" * 100 + "\n",
            "document: must be a mapping (got ['" + "x" * 55 + "...)",
            id="long-value-shortened",
        ),
        pytest.param(
            "just some text\n",
            "document: must be a mapping (got 'just some text')",
            id="document-a-scalar",
        ),
        pytest.param(
            _function("hello").replace("metadata:\n  name: hello\n", "metadata: hello\n"),
            "metadata: must be of type object (got str 'hello')",
            id="metadata-not-a-mapping",
        ),
        pytest.param(
            _function("hello", extra="  memoryMB: 64\n"),
            "spec.memoryMB: must be between 128 and 10240 (got 64)",
            id="spec-problem",
        ),
        pytest.param(
            _function("hello", extra="  handler:\n"),
            "spec.handler: is required for runtime python3.11",
            id="empty-value-is-null",
        ),
        pytest.param(
            _function("hello", extra="  environment:\n    ON: '1'\n"),
            "spec.environment.True: field name must be a string; quote it (got True)",
            id="yaml-boolean-key",
        ),
    ],
)
def test_bad_document_is_refused(document: str, expected: str, tmp_path: Path) -> None:
    assert _problems(_folder(tmp_path, {"bad.yaml": document})) == [expected]


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    text = "apiVersion: kubefn.io/v1alpha1\nkind: Function\nmetadata:\n  name: [hello\n"
    folder = _folder(tmp_path, {"bad.yaml": text})
    assert folder.refused[0].source == f"{tmp_path / 'bad.yaml'}:5"


def test_invalid_yaml_says_why(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"bad.yaml": "a: b: c\n"})
    assert _problems(folder) == ["yaml: is not valid YAML: mapping values are not allowed here"]


def test_invalid_yaml_line_of_a_later_document(tmp_path: Path) -> None:
    text = _function("hello") + "---\nkind: [\n"
    folder = _folder(tmp_path, {"bad.yaml": text})
    line = text.count("\n") + 1
    assert folder.refused[0].source == f"{tmp_path / 'bad.yaml'}:{line}"


def test_invalid_yaml_refuses_the_whole_file(tmp_path: Path) -> None:
    # A parse error leaves no document trustworthy, as with kubectl.
    folder = _folder(tmp_path, {"bad.yaml": _function("hello") + "---\nkind: [\n"})
    assert _names(folder) == []


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"kind: \xff\n")
    assert _problems(manifests.load_folder(tmp_path)) == ["file: must be UTF-8 text (got byte 6)"]


def test_duplicate_names_across_files_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.yaml": _function("hello"), "b.yaml": _function("hello")})
    assert _problems(folder) == [f"metadata.name: is already defined in {tmp_path / 'a.yaml'}"]


def test_duplicate_names_keep_the_first(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.yaml": _function("hello"), "b.yaml": _function("hello")})
    assert [item.source for item in folder.loaded] == [str(tmp_path / "a.yaml")]


def test_duplicate_names_in_one_file_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.yaml": _function("hello") + "---\n" + _function("hello")})
    assert [refused.source for refused in folder.refused] == [f"{tmp_path / 'a.yaml'}#2"]


def test_same_name_in_other_namespaces_loads(tmp_path: Path) -> None:
    files = {"a.yaml": _function("hello"), "b.yaml": _function("hello", namespace="team-a")}
    assert [item.compiled.key for item in _folder(tmp_path, files).loaded] == [
        "default/hello",
        "team-a/hello",
    ]


def test_valid_functions_load_beside_refused_ones(tmp_path: Path) -> None:
    files = {
        "a.yaml": _function("good-one"),
        "b.yaml": _function("bad-one", extra="  memoryMB: 1\n") + "---\n" + _function("good-two"),
        "c.yaml": "a: b: c\n",
        "d.yaml": "apiVersion: kubefn.io/v1\nkind: Function\n",
    }
    assert _names(_folder(tmp_path, files)) == ["good-one", "good-two"]


def test_every_refusal_is_kept(tmp_path: Path) -> None:
    files = {
        "a.yaml": _function("good-one"),
        "b.yaml": _function("bad-one", extra="  memoryMB: 1\n") + "---\n" + _function("good-two"),
        "c.yaml": "a: b: c\n",
        "d.yaml": "apiVersion: kubefn.io/v1\nkind: Function\n",
    }
    assert [refused.source for refused in _folder(tmp_path, files).refused] == [
        f"{tmp_path / 'b.yaml'}#1",
        f"{tmp_path / 'c.yaml'}:1",
        f"{tmp_path / 'd.yaml'}",
    ]


def test_refused_str_names_file_kind_name_and_every_problem(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, {"bad.yaml": _function("hello", extra="  memoryMB: 1\n  timeoutSeconds: 0\n")}
    )
    assert str(folder.refused[0]) == (
        f'{tmp_path / "bad.yaml"}: Function "hello" refused:\n'
        "  spec.memoryMB: must be between 128 and 10240 (got 1)\n"
        "  spec.timeoutSeconds: must be between 1 and 900 (got 0)"
    )


@pytest.mark.parametrize(
    "refused, expected",
    [
        pytest.param(
            manifests.Refused("f.yaml", "Function", "", (Problem("metadata.name", "is required"),)),
            "f.yaml: Function refused:\n  metadata.name: is required",
            id="no-name",
        ),
        pytest.param(
            manifests.Refused("f.yaml:3", "", "", (Problem("yaml", "is not valid YAML: x"),)),
            "f.yaml:3: document refused:\n  yaml: is not valid YAML: x",
            id="no-kind",
        ),
        pytest.param(
            manifests.Refused("f.yaml", "", "hello", (Problem("kind", "must be one of Function"),)),
            'f.yaml: document "hello" refused:\n  kind: must be one of Function',
            id="no-kind-but-a-name",
        ),
    ],
)
def test_refused_str_without_kind_or_name(refused: manifests.Refused, expected: str) -> None:
    assert str(refused) == expected


def _with_code(manifest: str, code: str) -> str:
    return manifest.split("    inline:")[0] + code


def test_code_path_is_relative_to_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "fns" / "src").mkdir(parents=True)
    (tmp_path / "fns" / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    manifest = _with_code(_function("hello"), "    path: src\n")
    assert _names(_folder(tmp_path, {"fns/hello.yaml": manifest})) == ["hello"]


def _config_map_function(namespace: str | None = None) -> str:
    code = "    configMapRef:\n      name: hello-code\n"
    return _with_code(_function("hello", namespace=namespace), code)


def test_configmap_in_the_folder_provides_the_code(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"cm.yaml": CONFIG_MAP, "fn.yaml": _config_map_function()})
    assert _names(folder) == ["hello"]


def test_configmap_in_a_later_file_provides_the_code(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a-fn.yaml": _config_map_function(), "z-cm.yaml": CONFIG_MAP})
    assert _names(folder) == ["hello"]


def test_configmap_of_another_namespace_is_not_used(tmp_path: Path) -> None:
    files = {"cm.yaml": CONFIG_MAP, "fn.yaml": _config_map_function(namespace="team-a")}
    assert _problems(_folder(tmp_path, files)) == [
        "spec.code.configMapRef.name: no ConfigMap named 'hello-code'"
    ]


def test_missing_configmap_is_refused(tmp_path: Path) -> None:
    assert _problems(_folder(tmp_path, {"fn.yaml": _config_map_function()})) == [
        "spec.code.configMapRef.name: no ConfigMap named 'hello-code'"
    ]


def test_an_empty_folder_loads_nothing(tmp_path: Path) -> None:
    folder = manifests.load_folder(tmp_path)
    assert (folder.loaded, folder.refused) == ((), ())


def _table(name: str, *, table_name: str | None = None, extra: str = "") -> str:
    """A Table manifest; `extra` lines are added to its spec."""
    table_name_line = f"  tableName: {table_name}\n" if table_name else ""
    return (
        "apiVersion: kubefn.io/v1alpha1\n"
        "kind: Table\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        f"{table_name_line}"
        "  keySchema:\n"
        "    - {attributeName: id, attributeType: S, keyType: HASH}\n"
        f"{extra}"
    )


def test_tables_load_beside_functions(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"all.yaml": _function("users") + "---\n" + _table("users")})
    assert [(item.compiled.kind, item.compiled.key) for item in folder.loaded] == [
        ("Function", "default/users"),
        ("Table", "default/users"),
    ]


def test_a_table_is_keyed_by_its_table_name(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"users.yaml": _table("users", table_name="Users")})
    assert [item.compiled.key for item in folder.loaded] == ["default/Users"]


def test_two_tables_naming_one_table_are_refused(tmp_path: Path) -> None:
    files = {
        "a.yaml": _table("users", table_name="Users"),
        "b.yaml": _table("users-2", table_name="Users"),
    }
    folder = _folder(tmp_path, files)
    assert [str(refused) for refused in folder.refused] == [
        f'{tmp_path / "b.yaml"}: Table "Users" refused:\n'
        f"  spec.tableName: is already defined in {tmp_path / 'a.yaml'}"
    ]


def test_a_refused_table_names_its_kind_and_every_problem(tmp_path: Path) -> None:
    extra = "  billingMode: PROVISIONED\n  stream: {enabled: true}\n"
    folder = _folder(tmp_path, {"users.yaml": _table("users", extra=extra)})
    assert str(folder.refused[0]) == (
        f'{tmp_path / "users.yaml"}: Table "users" refused:\n'
        "  spec.provisionedThroughput: is required for billingMode PROVISIONED\n"
        "  spec.stream.viewType: is required when stream.enabled is true"
    )


def _statemachine(name: str, *, definition: str) -> str:
    """A StateMachine manifest whose definition is the flow-style YAML `definition`."""
    return (
        "apiVersion: kubefn.io/v1alpha1\n"
        "kind: StateMachine\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        f"  definition: {definition}\n"
    )


GOOD_DEFINITION = "{StartAt: A, States: {A: {Type: Pass, End: true}}}"


def test_statemachines_load_beside_functions_and_tables(tmp_path: Path) -> None:
    documents = [
        _function("flow"),
        _table("flow"),
        _statemachine("flow", definition=GOOD_DEFINITION),
    ]
    folder = _folder(tmp_path, {"all.yaml": "---\n".join(documents)})
    assert [(item.compiled.kind, item.compiled.key) for item in folder.loaded] == [
        ("Function", "default/flow"),
        ("Table", "default/flow"),
        ("StateMachine", "default/flow"),
    ]


def test_a_refused_statemachine_names_every_definition_problem(tmp_path: Path) -> None:
    definition = "{StartAt: B, States: {A: {Type: Pass, Next: C}}}"
    folder = _folder(tmp_path, {"flow.yaml": _statemachine("flow", definition=definition)})
    assert str(folder.refused[0]) == (
        f'{tmp_path / "flow.yaml"}: StateMachine "flow" refused:\n'
        "  spec.definition.StartAt: no state named 'B'\n"
        "  spec.definition.States.A.Next: no state named 'C'"
    )


def test_two_statemachines_of_one_name_are_refused(tmp_path: Path) -> None:
    files = {
        "a.yaml": _statemachine("flow", definition=GOOD_DEFINITION),
        "b.yaml": _statemachine("flow", definition=GOOD_DEFINITION),
    }
    folder = _folder(tmp_path, files)
    assert [str(refused) for refused in folder.refused] == [
        f'{tmp_path / "b.yaml"}: StateMachine "flow" refused:\n'
        f"  metadata.name: is already defined in {tmp_path / 'a.yaml'}"
    ]
