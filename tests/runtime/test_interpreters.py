"""The runtime is standard library only and must work on every supported Python:
a zygote started with each interpreter found on PATH forks agents that serve."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

from tests.runtime.conftest import Zygote, instance_config, wait_gone


def interpreters() -> list[object]:
    """Every supported interpreter this machine has (python3.11 at least, the suite's own).

    A runtime whose interpreter is missing is refused with a clear error instead:
    tests/gateway/test_runtimes.py covers that side.
    """
    found: list[object] = []
    for minor in (11, 12, 13):
        path = shutil.which(f"python3.{minor}")
        if (
            path is not None
            and subprocess.run([path, "-c", "pass"], capture_output=True).returncode == 0
        ):
            found.append(pytest.param(path, f"python3.{minor}", id=f"python3.{minor}"))
    return found


@pytest.mark.parametrize("interpreter, runtime", interpreters())
def test_zygote_agent_and_python_runtime_on(interpreter: str, runtime: str) -> None:
    zygote = Zygote.start(interpreter)
    try:
        pid, client = zygote.spawn(instance_config("handlers.echo", runtime=runtime))
        answer = client.invoke({})
        assert answer.json()["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
        function_pid = answer.json()["pid"]
        config = instance_config("handlers.nap", runtime=runtime, timeoutSeconds=1)
        napping = zygote.spawn(config)[1]
        assert napping.invoke({"seconds": 60}).headers["X-Kubefn-Outcome"] == "timeout"
        os.killpg(pid, signal.SIGTERM)
        exited = zygote.receive(lambda message: message["op"] == "exited")
        assert exited == {"op": "exited", "pid": pid, "status": "exit status 0"}
        wait_gone(function_pid)
    finally:
        assert zygote.close() == 0
