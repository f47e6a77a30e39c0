"""`kubefn sm` against a real gateway: start (and wait), describe, history, list."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn import config
from kubefn.redisserver import EmbeddedRedis
from kubefn.statemachine import compile_statemachine
from kubefn_cli import sm
from kubefn_cli.main import main
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, running_gateway

ROLE = "arn:aws:iam::000000000000:role/workflows"
MACHINES = "arn:aws:states:us-east-1:000000000000:stateMachine"
EXECUTIONS = "arn:aws:states:us-east-1:000000000000:execution"

GREET = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Pass",
            "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"},
            "End": True,
        }
    },
}
REFUSE = {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Nope", "Cause": "never"}}}
WAITS = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


@dataclasses.dataclass
class Cli:
    gateway: Gateway
    client: Any
    capsys: pytest.CaptureFixture[str]

    async def kubefn(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        """Run `kubefn sm ARGS --url <gateway>` off the gateway's loop; (code, stdout, stderr)."""
        self.capsys.readouterr()
        argv = ["sm", *args, "--url", self.gateway.url]
        if stdin:
            code = await asyncio.to_thread(_with_stdin, argv, stdin)
        else:
            code = await asyncio.to_thread(main, argv)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    async def machine(self, name: str, definition: dict[str, Any], **params: Any) -> str:
        created = await self.gateway.call(
            self.client.create_state_machine,
            name=name,
            definition=json.dumps(definition),
            roleArn=ROLE,
            **params,
        )
        return str(created["stateMachineArn"])


def _with_stdin(argv: list[str], text: str) -> int:
    """`kubefn ARGV` with `text` as its standard input."""
    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        return main(argv)
    finally:
        sys.stdin = saved


@pytest.fixture
async def cli(
    redis_server: EmbeddedRedis,
    redis_client: aioredis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[Cli]:
    settings = GatewaySettings(
        redis_url=redis_server.url,
        state_dir=tmp_path_factory.mktemp("state"),
        states_time_scale=100.0,
        states_poll_seconds=0.02,
    )
    async with running_gateway(settings, redis_client) as gateway:
        client = gateway.client("stepfunctions")
        yield Cli(gateway=gateway, client=client, capsys=capsys)


async def test_start_prints_the_execution_arn(cli: Cli) -> None:
    await cli.machine("greet", GREET)

    code, out, _ = await cli.kubefn("start", "greet", "--input", '{"who": "Ada"}', "--name", "one")

    assert code == 0
    assert out.strip() == f"{EXECUTIONS}:greet:one"


async def test_start_and_wait_prints_the_status_and_output(cli: Cli) -> None:
    await cli.machine("greet", GREET)

    code, out, _ = await cli.kubefn("start", "greet", "--input", '{"who": "Ada"}', "--wait")

    arn, status, output = out.strip().split("\n")
    assert code == 0
    assert arn.startswith(f"{EXECUTIONS}:greet:")
    assert status == "SUCCEEDED"
    assert json.loads(output) == {"greeting": "hello Ada"}


async def test_a_failing_execution_exits_1_with_its_error_and_cause(cli: Cli) -> None:
    await cli.machine("refuse", REFUSE)

    code, out, _ = await cli.kubefn("start", "refuse", "--wait")

    assert code == 1
    assert out.strip().split("\n")[1:] == ["FAILED", "Nope: never"]


async def test_an_express_machine_waits_through_start_sync_execution(cli: Cli) -> None:
    await cli.machine("quick", GREET, type="EXPRESS")

    code, out, _ = await cli.kubefn("start", "quick", "--input", '{"who": "Bo"}', "--wait")

    arn, status, output = out.strip().split("\n")
    assert code == 0
    assert ":express:quick:" in arn
    assert (status, json.loads(output)) == ("SUCCEEDED", {"greeting": "hello Bo"})


async def test_input_comes_from_a_file_or_standard_input(cli: Cli, tmp_path: Path) -> None:
    await cli.machine("greet", GREET)
    given = tmp_path / "input.json"
    given.write_text('{"who": "File"}')

    from_file = await cli.kubefn("start", "greet", "--input", f"@{given}", "--wait")
    from_stdin = await cli.kubefn(
        "start", "greet", "--input", "@-", "--wait", stdin='{"who": "In"}'
    )

    assert json.loads(from_file[1].split("\n")[2]) == {"greeting": "hello File"}
    assert json.loads(from_stdin[1].split("\n")[2]) == {"greeting": "hello In"}


async def test_a_machine_in_another_namespace_is_named_namespace_slash_name(cli: Cli) -> None:
    manifest = {
        "apiVersion": "kubefn.io/v1alpha1",
        "kind": "StateMachine",
        "metadata": {"name": "greet", "namespace": "team-a"},
        "spec": {"definition": GREET},
    }
    compiled = compile_statemachine(manifest)
    await config.publish_compiled(cli.gateway.redis, compiled)
    await cli.gateway.until(lambda: cli.gateway.platform.machines.get(compiled.key) is not None)

    code, out, _ = await cli.kubefn("start", "team-a/greet", "--input", '{"who": "A"}', "--wait")

    arn, status, _ = out.strip().split("\n")
    assert code == 0
    assert arn.startswith(f"{EXECUTIONS}:team-a/greet:")
    assert status == "SUCCEEDED"


async def test_describe_by_arn_or_by_name_and_machine(cli: Cli) -> None:
    await cli.machine("greet", GREET)
    await cli.kubefn("start", "greet", "--input", '{"who": "Cy"}', "--name", "named", "--wait")

    by_name = await cli.kubefn("describe", "named", "--machine", "greet")
    by_arn = await cli.kubefn("describe", f"{EXECUTIONS}:greet:named")

    assert by_name == by_arn
    code, out, _ = by_name
    assert code == 0
    assert f"execution: {EXECUTIONS}:greet:named" in out
    assert f"machine:   {MACHINES}:greet" in out
    assert "status:    SUCCEEDED" in out
    assert 'input:     {"who": "Cy"}' in out
    assert 'output:    {"greeting":"hello Cy"}' in out


async def test_history_prints_one_line_per_event_with_its_state(cli: Cli) -> None:
    await cli.machine("greet", GREET)
    await cli.kubefn("start", "greet", "--input", '{"who": "Di"}', "--name", "h", "--wait")

    code, out, _ = await cli.kubefn("history", "h", "--machine", "greet")
    _, backwards, _ = await cli.kubefn("history", "h", "--machine", "greet", "--reverse")

    lines = out.rstrip("\n").split("\n")
    assert code == 0
    assert [line.split()[2] for line in lines] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "4"]
    assert lines[1].split()[3] == "Greet"
    assert lines[2].split()[3] == "Greet"
    assert 'input={"who": "Di"}' in lines[0]
    assert backwards.rstrip("\n").split("\n") == lines[::-1]
    assert lines[3].split()[3] == "-"  # the execution's own events belong to no state


async def test_list_prints_a_machine_s_executions_newest_first_by_status(cli: Cli) -> None:
    machine = await cli.machine("waits", WAITS)
    for name in ("first", "second", "third"):
        await cli.kubefn("start", "waits", "--name", name)
    await cli.gateway.call(
        cli.client.stop_execution, executionArn=f"{EXECUTIONS}:waits:second", error="E"
    )

    code, out, _ = await cli.kubefn("list", "waits")
    _, running, _ = await cli.kubefn("list", machine, "--status", "RUNNING")

    assert code == 0
    assert [(line.split()[0], line.split()[1]) for line in out.strip().split("\n")] == [
        ("third", "RUNNING"),
        ("second", "ABORTED"),
        ("first", "RUNNING"),
    ]
    assert [line.split()[0] for line in running.strip().split("\n")] == ["third", "first"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        pytest.param(("start", "nowhere"), "no state machine 'nowhere'", id="unknown-machine"),
        pytest.param(("start", "greet", "--input", "{oops"), "--input is not JSON", id="bad-input"),
        pytest.param(
            ("start", "greet", "--input", "@/no/such/file"), "cannot read", id="missing-file"
        ),
        pytest.param(
            ("start", "greet", "--name", "a b"), "StartExecution: InvalidName", id="bad-name"
        ),
        pytest.param(("describe", "x"), "--machine", id="name-without-machine"),
        pytest.param(
            ("describe", "never", "--machine", "greet"),
            "DescribeExecution: ExecutionDoesNotExist",
            id="unknown-execution",
        ),
    ],
)
async def test_refusals_exit_2_saying_what_is_wrong(
    cli: Cli, args: tuple[str, ...], named: str
) -> None:
    await cli.machine("greet", GREET)

    code, out, err = await cli.kubefn(*args)

    assert code == 2
    assert out == ""
    assert named in err


async def test_an_unreachable_gateway_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sm", "list", "m", "--url", "http://127.0.0.1:9"])

    assert code == 2
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_history_lines_give_each_event_its_state_by_the_event_it_follows() -> None:
    events = [
        {"id": 1, "previousEventId": 0, "timestamp": 0, "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": "{}", "inputDetails": {"truncated": False}}},
        {"id": 2, "previousEventId": 1, "timestamp": 1, "type": "TaskStateEntered",
         "stateEnteredEventDetails": {"name": "Call", "input": "{}"}},
        {"id": 3, "previousEventId": 2, "timestamp": 1.5, "type": "LambdaFunctionScheduled",
         "lambdaFunctionScheduledEventDetails": {"resource": "arn:f", "input": "x" * 200}},
        {"id": 4, "previousEventId": 3, "timestamp": 2, "type": "LambdaFunctionFailed",
         "lambdaFunctionFailedEventDetails": {"error": "E", "cause": "C"}},
    ]  # fmt: skip

    lines = sm.history_lines(events)

    assert lines[0].split()[:4] == ["1", "1970-01-01T00:00:00.000Z", "ExecutionStarted", "-"]
    assert lines[2].split()[3] == "Call"
    assert lines[3].split()[3] == "Call"
    assert lines[3].endswith("error=E cause=C")
    assert lines[2].endswith("…")
    assert len(lines[2].split(None, 4)[4]) == sm.SHORT
