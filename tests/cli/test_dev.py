"""`kubefn dev` as a user runs it: a real process, the examples, boto3 and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn import config, statemachine, table, tabledata
from kubefn.redisserver import EmbeddedRedis, free_port
from kubefn_cli import dev as kubefn_dev
from tests.conftest import REPO, aws_client, lambda_client

KUBEFN = [sys.executable, "-m", "kubefn_cli.main"]


@dataclass
class Dev:
    process: subprocess.Popen[str]
    url: str
    folder: Path
    lines: list[str]

    def lambda_client(self) -> Any:
        return lambda_client(self.url)

    def wait_for_line(self, text: str, *, timeout: float = 30) -> str:
        """Read the platform's output until a line contains `text`."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"kubefn dev exited; output:\n{''.join(self.lines)}")
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}; output:\n{''.join(self.lines)}")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_gone(pids: set[int], *, timeout: float = 15) -> set[int]:
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(pids)


@contextlib.contextmanager
def running_dev(tmp_path: Path, *, redis_url: str | None = None) -> Iterator[Dev]:
    """`kubefn dev` on a copy of examples/, until the block ends (then SIGTERM)."""
    folder = tmp_path / "examples"
    shutil.copytree(REPO / "examples", folder)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [*KUBEFN, "dev", str(folder), "--port", str(port),
         "--state-dir", str(tmp_path / "state"), "--watch-interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    handle = Dev(process=process, url=f"http://127.0.0.1:{port}", folder=folder, lines=[])
    try:
        handle.wait_for_line("ready")
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    with running_dev(tmp_path) as handle:
        yield handle


def test_examples_answer_through_boto3(dev: Dev) -> None:
    client = dev.lambda_client()
    hello = json.loads(
        client.invoke(FunctionName="hello", Payload=b'{"name": "kubefn"}')["Payload"].read()
    )
    assert hello["message"] == "Hello, kubefn!"
    raised = client.invoke(FunctionName="raises", Payload=b'{"order": 7}')
    assert raised["FunctionError"] == "Unhandled"
    assert json.loads(raised["Payload"].read())["errorType"] == "OrderRejected"
    slow = json.loads(client.invoke(FunctionName="slow-init")["Payload"].read())
    assert slow["initSeconds"] > 0


def test_awslambdaric_serves_a_provided_function(dev: Dev) -> None:
    client = dev.lambda_client()
    response = client.invoke(FunctionName="provided", Payload=b'{"k": [1, 2]}')
    body = json.loads(response["Payload"].read())
    assert body == {"echo": {"k": [1, 2]}, "runtime": "awslambdaric", "python": body["python"]}


def test_kubefn_invoke_prints_the_result(dev: Dev) -> None:
    done = subprocess.run(
        [*KUBEFN, "invoke", "hello", "--payload", '{"name": "cli"}', "--url", dev.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello, cli!"


def test_kubefn_invoke_exits_1_on_a_function_error(dev: Dev) -> None:
    done = subprocess.run(
        [*KUBEFN, "invoke", "raises", "--url", dev.url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "OrderRejected" in done.stdout


def test_a_changed_code_file_becomes_a_new_revision(dev: Dev) -> None:
    client = dev.lambda_client()
    client.invoke(FunctionName="hello")
    app = dev.folder / "hello" / "app.py"
    app.write_text(app.read_text().replace('f"{os.environ', 'f"Hi! {os.environ'))
    dev.wait_for_line("updated function default/hello revision 2")
    body = json.loads(client.invoke(FunctionName="hello")["Payload"].read())
    assert body["message"].startswith("Hi! Hello")


def test_a_broken_manifest_is_refused_and_the_rest_keeps_serving(dev: Dev) -> None:
    manifest = dev.folder / "hello" / "function.yaml"
    manifest.write_text(manifest.read_text().replace("memoryMB: 128", "memoryMB: 64"))
    line = dev.wait_for_line("refused")
    assert "function.yaml" in line and 'Function "hello"' in line
    detail = dev.wait_for_line("spec.memoryMB")
    assert "128" in detail and "64" in detail
    client = dev.lambda_client()
    assert client.invoke(FunctionName="hello")["StatusCode"] == 200  # last good version
    assert client.invoke(FunctionName="raises")["StatusCode"] == 200


def test_sigterm_stops_every_child(dev: Dev) -> None:
    dev.lambda_client().invoke(FunctionName="hello")  # so instances exist too
    children = _descendants(dev.process.pid)
    assert children  # redis-server, the runtime template, an agent, a function process
    dev.process.send_signal(signal.SIGTERM)
    assert dev.process.wait(timeout=20) == 0
    assert _wait_gone(children) == set()


def test_sigkill_leaves_no_orphans(dev: Dev) -> None:
    dev.lambda_client().invoke(FunctionName="hello")
    children = _descendants(dev.process.pid)
    dev.process.kill()
    dev.process.wait()
    assert _wait_gone(children) == set()


def test_redis_url_selects_an_external_server(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    with running_dev(tmp_path, redis_url=redis_server.url) as dev:
        assert redis_server.url in dev.lines[-1]
        assert not (tmp_path / "state" / "redis").exists()  # no embedded server was started
        body = json.loads(dev.lambda_client().invoke(FunctionName="hello")["Payload"].read())
        assert body["message"] == "Hello, world!"
    published = asyncio.run(_published_keys(redis_server))
    assert {"default/hello", "default/raises", "default/slow-init", "default/provided"} <= published


async def _published_keys(server: EmbeddedRedis) -> set[str]:
    client = server.client()
    try:
        snapshot = await config.snapshot(client, kinds=("Function",))
    finally:
        await client.aclose()
    return set(snapshot.resources["Function"])


def test_the_example_table_is_served_and_announced(dev: Dev) -> None:
    assert any("loaded table default/Users revision 1" in line for line in dev.lines)
    assert "serving 5 functions, 1 table, 1 statemachine" in dev.lines[-1]


def test_the_example_statemachine_is_loaded_and_announced(dev: Dev) -> None:
    assert any("loaded statemachine default/hello revision 1" in line for line in dev.lines)


def test_the_example_statemachine_runs_through_kubefn_sm(dev: Dev) -> None:
    done = subprocess.run(
        [*KUBEFN, "sm", "start", "hello", "--input", '{"name": "Ada"}', "--wait",
         "--url", dev.url],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout
    assert "Hello, Ada!" in done.stdout


def test_states_time_scale_compresses_workflow_durations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEFN_STATES_TIME_SCALE", "1000")
    with running_dev(tmp_path) as dev:
        (dev.folder / "statemachines" / "pause.yaml").write_text(
            "apiVersion: kubefn.io/v1alpha1\nkind: StateMachine\nmetadata: {name: pause}\n"
            "spec:\n  definition:\n    StartAt: Ten minutes\n    States:\n"
            "      Ten minutes: {Type: Wait, Seconds: 600, End: true}\n"
        )
        dev.wait_for_line("statemachine default/pause revision 1")
        done = subprocess.run(
            [*KUBEFN, "sm", "start", "pause", "--wait", "--url", dev.url],
            capture_output=True,
            text=True,
            timeout=60,  # 600 s of the definition's time is 0.6 s at 1000x
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout


def test_a_change_to_the_example_table_reaches_its_trigger(dev: Dev) -> None:
    users = aws_client("dynamodb", dev.url)
    users.put_item(TableName="Users", Item={"id": {"S": "ada"}, "email": {"S": "a@example.com"}})
    found = users.query(
        TableName="Users",
        IndexName="byEmail",
        KeyConditionExpression="email = :e",
        ExpressionAttributeValues={":e": {"S": "a@example.com"}},
    )
    assert [item["id"]["S"] for item in found["Items"]] == ["ada"]
    delivered = (
        'kubefn_stream_batches_total{function="on-user-change",namespace="default",'
        'outcome="success",table="Users"} 1.0'
    )
    deadline = time.monotonic() + 30
    while delivered not in urllib.request.urlopen(f"{dev.url}/metrics").read().decode():
        assert time.monotonic() < deadline, "the trigger did not deliver the change"
        time.sleep(0.05)


def test_removing_a_table_manifest_withdraws_the_table(dev: Dev) -> None:
    (dev.folder / "tables" / "users.yaml").unlink()
    dev.wait_for_line("removed table default/Users; its items are kept (deletionPolicy Retain)")


# `sync` itself, against a real Redis: what it publishes, prunes and keeps.

TABLE = """\
apiVersion: kubefn.io/v1alpha1
kind: Table
metadata:
  name: orders
spec:
  keySchema:
    - {attributeName: id, attributeType: S, keyType: HASH}
"""


async def _tables(client: aioredis.Redis) -> dict[str, config.Published]:
    return dict((await config.snapshot(client, kinds=("Table",))).resources["Table"])


async def test_sync_publishes_and_announces_a_table(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    (tmp_path / "orders.yaml").write_text(TABLE)
    said = await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    assert said == ["loaded table default/orders revision 1"]
    assert (await _tables(redis_client))["default/orders"].spec["tableName"] == "orders"


async def test_sync_announces_a_changed_table(tmp_path: Path, redis_client: aioredis.Redis) -> None:
    (tmp_path / "orders.yaml").write_text(TABLE)
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    (tmp_path / "orders.yaml").write_text(TABLE + "  ttl: {attributeName: exp}\n")
    said = await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True)
    assert said == ["updated table default/orders revision 2"]


async def test_sync_never_prunes_a_table_created_through_the_api(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    spec = {"keySchema": [{"attributeName": "k", "attributeType": "S", "keyType": "HASH"}]}
    await config.publish_compiled(redis_client, table.compile_spec("default", "Runtime", spec))
    (tmp_path / "orders.yaml").write_text(TABLE)
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    (tmp_path / "orders.yaml").unlink()
    said = await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True)
    assert said == ["removed table default/orders; its items are kept (deletionPolicy Retain)"]
    assert list(await _tables(redis_client)) == ["default/Runtime"]


@pytest.mark.parametrize(
    "policy, kept, line",
    [
        pytest.param(
            "Retain",
            True,
            "removed table default/orders; its items are kept (deletionPolicy Retain)",
            id="retain",
        ),
        pytest.param(
            "Delete",
            False,
            "removed table default/orders and its items (deletionPolicy Delete)",
            id="delete",
        ),
    ],
)
async def test_a_removed_table_keeps_its_items_unless_its_policy_is_delete(
    policy: str, kept: bool, line: str, tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    (tmp_path / "orders.yaml").write_text(TABLE + f"  deletionPolicy: {policy}\n")
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    await redis_client.hset(tabledata.meta_key("default/orders"), "items", 1)
    (tmp_path / "orders.yaml").unlink()
    assert await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True) == [line]
    assert bool(await redis_client.exists(tabledata.meta_key("default/orders"))) is kept


async def test_a_broken_table_manifest_keeps_the_table_serving(
    tmp_path: Path, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "orders.yaml").write_text(TABLE + "  tableName: Orders\n")
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    (tmp_path / "orders.yaml").write_text(
        TABLE + "  tableName: Orders\n  billingMode: PROVISIONED\n"
    )
    assert await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True) == []
    assert list(await _tables(redis_client)) == ["default/Orders"]
    assert "spec.provisionedThroughput: is required" in capsys.readouterr().err


async def test_a_table_keeps_its_key_schema(
    tmp_path: Path, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "orders.yaml").write_text(TABLE)
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    (tmp_path / "orders.yaml").write_text(TABLE.replace("attributeType: S", "attributeType: N"))
    assert await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True) == []
    assert (await _tables(redis_client))["default/orders"].revision == 1
    assert "spec.keySchema: cannot change once the table exists" in capsys.readouterr().err


# StateMachines go the same way, published as their compiled spec.


async def _machines(client: aioredis.Redis) -> dict[str, config.Published]:
    snapshot = await config.snapshot(client, kinds=("StateMachine",))
    return dict(snapshot.resources["StateMachine"])


def _example_machine(folder: Path) -> Path:
    shutil.copy(REPO / "examples" / "statemachines" / "hello.yaml", folder / "hello.yaml")
    return folder / "hello.yaml"


async def test_sync_publishes_the_example_statemachine(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    _example_machine(tmp_path)
    said = await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    assert said == ["loaded statemachine default/hello revision 1"]
    spec = (await _machines(redis_client))["default/hello"].spec
    assert (spec["name"], spec["type"], spec["definition"]["StartAt"]) == (
        "hello",
        "STANDARD",
        "Prepare",
    )


async def test_sync_withdraws_a_removed_statemachine(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    await config.publish_compiled(
        redis_client, statemachine.compile_spec("default", "Other", {"definition": _PASS})
    )
    _example_machine(tmp_path)
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True)
    (tmp_path / "hello.yaml").unlink()
    said = await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True)
    assert said == ["removed statemachine default/hello"]
    assert list(await _machines(redis_client)) == ["default/Other"]  # not its to prune


async def test_a_broken_statemachine_keeps_the_last_good_one_serving(
    tmp_path: Path, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _example_machine(tmp_path)
    await kubefn_dev.sync(redis_client, folder=tmp_path, announce=False)
    path.write_text(path.read_text().replace("Next: Greet", "Next: Greeet"))
    said = await kubefn_dev.sync(redis_client, folder=tmp_path, announce=True)
    assert said == []
    assert "spec.definition.States.Prepare.Next: no state named 'Greeet'" in capsys.readouterr().err
    assert (await _machines(redis_client))["default/hello"].revision == 1


_PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
