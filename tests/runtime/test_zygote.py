"""The template process protocol (docs/internals.md): spawn, ping, exited, EOF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.runtime.conftest import (
    ZYGOTE_BOOTSTRAP,
    Zygote,
    children,
    instance_config,
    wait_gone,
)

REPO = Path(__file__).resolve().parents[2]


def test_ping(zygote: Zygote) -> None:
    assert zygote.call("ping") == {"op": "pong", "id": "1"}


def test_rehearsal_leaves_no_process_behind(zygote: Zygote) -> None:
    zygote.call("ping")  # answered once the template has rehearsed
    assert children(zygote.process.pid) == []
    assert zygote.unsolicited == []


def test_spawn_answers_with_a_port_that_serves_at_once(zygote: Zygote) -> None:
    pid, client = zygote.spawn(instance_config("handlers.echo"))
    assert client.request("GET", "/kubefn/healthz").json() == {"state": "cold"}
    assert client.invoke({"a": 1}).json()["event"] == {"a": 1}
    assert pid in children(zygote.process.pid)


def test_spawn_refuses_a_bad_config(zygote: Zygote) -> None:
    config = instance_config("handlers.echo", memoryMB="lots")
    reply = zygote.call("spawn", config=config)
    assert reply["op"] == "error"
    assert "memoryMB" in reply["message"]


def test_unknown_op(zygote: Zygote) -> None:
    assert zygote.call("fly")["op"] == "error"


def test_exited_is_reported_for_a_killed_agent(zygote: Zygote) -> None:
    pid, _ = zygote.spawn(instance_config("handlers.echo"))
    os.kill(pid, signal.SIGKILL)
    exited = zygote.receive(lambda message: message["op"] == "exited")
    assert exited == {"op": "exited", "pid": pid, "status": "signal: killed"}


def test_sigterm_stops_an_agent_cleanly(zygote: Zygote) -> None:
    pid, client = zygote.spawn(instance_config("handlers.echo"))
    function_pid = client.invoke({}).json()["pid"]
    os.killpg(pid, signal.SIGTERM)
    exited = zygote.receive(lambda message: message["op"] == "exited")
    assert exited == {"op": "exited", "pid": pid, "status": "exit status 0"}
    wait_gone(function_pid)


def test_eof_stops_every_agent_and_function_process() -> None:
    zygote = Zygote.start()
    agents, functions = [], []
    for _ in range(3):
        pid, client = zygote.spawn(instance_config("handlers.echo"))
        agents.append(pid)
        functions.append(client.invoke({}).json()["pid"])
    assert zygote.close() == 0
    wait_gone(*agents, *functions)


PARENT = """\
import json, sys
from kubefn_runtime.lifetime import preexec_die_with_parent
from tests.runtime.conftest import Zygote, instance_config
import subprocess
zygote = Zygote(subprocess.Popen(
    [sys.executable, "-c", sys.argv[1]],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=preexec_die_with_parent,
))
pid, client = zygote.spawn(instance_config("handlers.echo"))
function_pid = client.invoke({}).json()["pid"]
print(json.dumps([zygote.process.pid, pid, function_pid]), flush=True)
sys.stdin.read()
"""


def test_killing_the_zygotes_parent_leaves_no_orphans() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, ZYGOTE_BOOTSTRAP],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None and parent.stdin is not None
    pids = json.loads(parent.stdout.readline())
    parent.kill()
    parent.wait()
    parent.stdout.close()
    parent.stdin.close()
    wait_gone(*pids)
