"""`kubefn sm start|describe|history|list` — run state machines and read their executions.

The commands speak Step Functions' own API over HTTP (JSON 1.0, the requests
boto3 sends), so they work against any kubefn gateway. A machine is named as
kubectl names it: NAME in the gateway's namespace, NAMESPACE/NAME elsewhere, or
by its ARN. An execution is named by its ARN, or by its name with --machine.

`start --wait` follows a Standard execution until it closes; an Express
machine is run with StartSyncExecution instead (Express executions cannot be
described afterwards, as on AWS).

Exit codes: 0 done (with --wait: the execution succeeded), 1 the execution
failed, timed out or was aborted, 2 the request was refused or the gateway
could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kubefn_cli import awsjson

TARGET = "AWSStepFunctions"
CLOSED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
STATUSES = ("RUNNING", *CLOSED)
POLL_SECONDS = 0.25
SHORT = 80
"""Characters of an event's details shown on its history line."""


class Refused(Exception):
    """The gateway refused a request (or could not be reached): the message is for the user."""


class Client:
    """Step Functions' JSON 1.0 API on a kubefn gateway, one blocking request per call."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return awsjson.post(
                self.url, target=TARGET, operation=operation, body=body, timeout=960
            )
        except awsjson.ServiceError as exc:
            raise Refused(f"{operation}: {exc.code}: {exc.message}") from None
        except awsjson.Unreachable as exc:
            raise Refused(str(exc)) from None

    def pages(self, operation: str, body: Mapping[str, Any], field: str) -> Iterator[Any]:
        """Every item of a paged listing."""
        request = dict(body)
        while True:
            page = self.call(operation, request)
            yield from page.get(field, [])
            if not page.get("nextToken"):
                return
            request["nextToken"] = page["nextToken"]


# -- naming machines and executions --------------------------------------------------------


def machine_of(client: Client, name: str) -> dict[str, Any]:
    """DescribeStateMachine's answer for a machine named NAME, NAMESPACE/NAME or by ARN."""
    arn = name if name.startswith("arn:") else None
    if arn is None:
        for listed in client.pages("ListStateMachines", {"maxResults": 1000}, "stateMachines"):
            if str(listed["stateMachineArn"]).partition(":stateMachine:")[2] == name:
                arn = listed["stateMachineArn"]
                break
        else:
            raise Refused(f"no state machine {name!r} at {client.url}")
    return client.call("DescribeStateMachine", {"stateMachineArn": arn})


def execution_arn(client: Client, execution: str, *, machine: str | None) -> str:
    """An execution's ARN from its ARN, or from its name and its machine's name."""
    if execution.startswith("arn:"):
        return execution
    if machine is None:
        raise Refused(
            f"name the machine of execution {execution!r} with --machine (or give its ARN)"
        )
    machine_arn = str(machine_of(client, machine)["stateMachineArn"])
    prefix, _, machine_id = machine_arn.partition(":stateMachine:")
    return f"{prefix}:execution:{machine_id}:{execution}"


def read_input(given: str, *, stdin: TextIO) -> str:
    """--input: JSON text, `@FILE` for a file's contents or `@-` for standard input."""
    if given.startswith("@"):
        path = given[1:]
        try:
            text = stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise Refused(f"--input: cannot read {path}: {exc.strerror}") from None
    else:
        text = given
    try:
        json.loads(text)
    except ValueError as exc:
        raise Refused(f"--input is not JSON: {exc}") from None
    return text


# -- what is printed -----------------------------------------------------------------------


def when(seconds: Any) -> str:
    """An API timestamp (epoch seconds) as UTC ISO 8601 to the millisecond."""
    instant = datetime.fromtimestamp(float(seconds), tz=UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def outcome_lines(described: Mapping[str, Any]) -> list[str]:
    """A closed execution's status and then its output, or its error and cause."""
    lines = [str(described["status"])]
    if "output" in described:
        lines.append(str(described["output"]))
    if described.get("error") or described.get("cause"):
        lines.append(f"{described.get('error', '')}: {described.get('cause', '')}")
    return lines


def describe_lines(described: Mapping[str, Any]) -> list[str]:
    """DescribeExecution's answer, one `field: value` a line."""
    lines = [
        f"execution: {described['executionArn']}",
        f"machine:   {described['stateMachineArn']}",
        f"status:    {described['status']}",
        f"started:   {when(described['startDate'])}",
    ]
    if "stopDate" in described:
        lines.append(f"stopped:   {when(described['stopDate'])}")
    for field in ("input", "output", "error", "cause"):
        if field in described:
            lines.append(f"{field + ':':<10} {described[field]}")
    return lines


def history_lines(events: list[Mapping[str, Any]]) -> list[str]:
    """One line per event: id, time, type, the state it belongs to and its details, short.

    An event that names no state (TaskScheduled, LambdaFunctionSucceeded...) belongs to
    the state of the event it follows (previousEventId); the execution's own events
    belong to none."""
    states: dict[int, str] = {}
    lines = []
    for event in events:
        details: Mapping[str, Any] = next(
            (v for k, v in event.items() if k.endswith("EventDetails")), {}
        )
        kind = str(event["type"])
        is_state = kind.endswith(("StateEntered", "StateExited"))
        state = details.get("name") if is_state else states.get(event.get("previousEventId", 0))
        if kind.startswith("Execution"):
            state = None
        states[event["id"]] = state or ""
        lines.append(
            f"{event['id']:>5}  {when(event['timestamp'])}  {event['type']:<32} "
            f"{state or '-':<24} {_short(details, is_state=is_state)}".rstrip()
        )
    return lines


def _short(details: Mapping[str, Any], *, is_state: bool) -> str:
    shown = {k: v for k, v in details.items() if not k.endswith("Details")}
    if is_state:
        shown.pop("name", None)
    text = " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in shown.items())
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def list_lines(executions: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for item in executions:
        stopped = when(item["stopDate"]) if "stopDate" in item else "-"
        lines.append(
            f"{item['name']:<40} {item['status']:<10} {when(item['startDate'])}  {stopped}"
        )
    return lines


# -- the commands --------------------------------------------------------------------------


def start(
    client: Client,
    *,
    machine: str,
    input_text: str,
    name: str | None,
    wait: bool,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    described_machine = machine_of(client, machine)
    request: dict[str, Any] = {
        "stateMachineArn": described_machine["stateMachineArn"],
        "input": input_text,
    }
    if name is not None:
        request["name"] = name
    if wait and described_machine.get("type") == "EXPRESS":
        closed = client.call("StartSyncExecution", request)
        print(closed["executionArn"], file=out)
    else:
        arn = client.call("StartExecution", request)["executionArn"]
        print(arn, file=out)
        if not wait:
            return 0
        closed = client.call("DescribeExecution", {"executionArn": arn})
        while closed["status"] not in CLOSED:
            sleep(POLL_SECONDS)
            closed = client.call("DescribeExecution", {"executionArn": arn})
    for line in outcome_lines(closed):
        print(line, file=out)
    return 0 if closed["status"] == "SUCCEEDED" else 1


def describe(client: Client, *, execution: str, machine: str | None, out: TextIO) -> int:
    arn = execution_arn(client, execution, machine=machine)
    described = client.call("DescribeExecution", {"executionArn": arn})
    for line in describe_lines(described):
        print(line, file=out)
    return 0


def history(
    client: Client, *, execution: str, machine: str | None, reverse: bool, out: TextIO
) -> int:
    arn = execution_arn(client, execution, machine=machine)
    events = list(
        client.pages("GetExecutionHistory", {"executionArn": arn, "maxResults": 1000}, "events")
    )
    lines = history_lines(events)
    for line in reversed(lines) if reverse else lines:
        print(line, file=out)
    return 0


def listing(client: Client, *, machine: str, status: str | None, out: TextIO) -> int:
    request: dict[str, Any] = {
        "stateMachineArn": machine_of(client, machine)["stateMachineArn"],
        "maxResults": 1000,
    }
    if status is not None:
        request["statusFilter"] = status
    for line in list_lines(list(client.pages("ListExecutions", request, "executions"))):
        print(line, file=out)
    return 0


# -- the command line ----------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    """`kubefn sm ...` under the CLI's subcommands."""
    sm = commands.add_parser(
        "sm",
        help="start state machine executions and read them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="sm_command", required=True)

    begin = sm.add_parser("start", help="start an execution of machine NAME; print its ARN")
    begin.add_argument("machine", metavar="NAME", help="NAME, NAMESPACE/NAME or an ARN")
    begin.add_argument(
        "--input", default="{}", help="JSON, @FILE or @- for standard input (default: {})"
    )
    begin.add_argument("--name", help="the execution's name (default: a new UUID)")
    begin.add_argument(
        "--wait", action="store_true", help="wait until it closes; print its status and output"
    )

    show = sm.add_parser("describe", help="an execution's status, input and output")
    show.add_argument("execution", metavar="EXECUTION", help="an execution ARN, or a name")
    show.add_argument("--machine", metavar="NAME", help="the machine of a named execution")

    events = sm.add_parser("history", help="an execution's events, one a line")
    events.add_argument("execution", metavar="EXECUTION", help="an execution ARN, or a name")
    events.add_argument("--machine", metavar="NAME", help="the machine of a named execution")
    events.add_argument("--reverse", action="store_true", help="newest first")

    executions = sm.add_parser("list", help="a machine's executions, newest first")
    executions.add_argument("machine", metavar="NAME", help="NAME, NAMESPACE/NAME or an ARN")
    executions.add_argument("--status", choices=STATUSES, help="only executions in this status")

    for command in (begin, show, events, executions):
        command.add_argument(
            "--url",
            default=os.environ.get("KUBEFN_URL", "http://127.0.0.1:8080"),
            help="the gateway (default: $KUBEFN_URL or http://127.0.0.1:8080)",
        )


def run(args: argparse.Namespace, *, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    client = Client(args.url)
    out = out or sys.stdout
    try:
        if args.sm_command == "start":
            return start(
                client,
                machine=args.machine,
                input_text=read_input(args.input, stdin=stdin or sys.stdin),
                name=args.name,
                wait=args.wait,
                out=out,
            )
        if args.sm_command == "describe":
            return describe(client, execution=args.execution, machine=args.machine, out=out)
        if args.sm_command == "history":
            return history(
                client,
                execution=args.execution,
                machine=args.machine,
                reverse=args.reverse,
                out=out,
            )
        return listing(client, machine=args.machine, status=args.status, out=out)
    except Refused as exc:
        print(f"kubefn sm: {exc}", file=sys.stderr)
        return 2
