"""Every Python runtime either runs on its own interpreter or is refused clearly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.gateway.conftest import Gateway

VERSION = {"app.py": "import sys\ndef handler(e, c):\n    return list(sys.version_info[:2])\n"}


def _available(runtime: str) -> bool:
    path = shutil.which(runtime)
    return (
        path is not None
        and subprocess.run([path, "-c", "pass"], capture_output=True).returncode == 0
    )


@pytest.mark.parametrize("runtime", ["python3.11", "python3.12", "python3.13"])
async def test_a_python_runtime_runs_on_its_interpreter_or_is_refused(
    gateway: Gateway, runtime: str
) -> None:
    await gateway.deploy("version", runtime=runtime, files=VERSION)
    client = gateway.lambda_client()
    minor = int(runtime.rsplit(".", 1)[1])
    if sys.version_info[:2] == (3, minor) or _available(runtime):
        response = await gateway.call(client.invoke, FunctionName="version")
        assert json.loads(response["Payload"].read()) == [3, minor]
    else:
        with pytest.raises(client.exceptions.InvalidRuntimeException) as caught:
            await gateway.call(client.invoke, FunctionName="version")
        assert (
            f"runtime {runtime} needs the interpreter" in caught.value.response["Error"]["Message"]
        )
