"""kubefn's own Python runtime, forked by agents that a zygote forked: results, errors,
logs and the limits (deadline, memory, payload), each with a real function process.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.conftest import FUNCTIONS, Answer, Client, Zygote, children, instance_config


def assert_error(answer: Answer, *, outcome: str, error_type: str) -> dict:
    assert answer.status == 200
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    assert answer.headers["X-Kubefn-Outcome"] == outcome
    error = answer.json()
    assert error["errorType"] == error_type
    return error


def test_handler_sees_event_context_and_lambda_environment(agent: Callable[..., Client]) -> None:
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    answer = agent("handlers.echo").invoke(
        {"name": "kubefn"},
        **{"X-Kubefn-Request-Id": "req-1", "X-Kubefn-Trace-Id": "Root=1-abc"},
        **{
            "X-Amz-Client-Context": context,
            "X-Kubefn-Cognito-Identity": '{"cognitoIdentityId": "c1"}',
        },
    )
    assert answer.status == 200
    assert answer.headers["X-Kubefn-Outcome"] == "success"
    assert answer.headers["X-Kubefn-Request-Id"] == "req-1"
    assert answer.headers["X-Amz-Executed-Version"] == "$LATEST"
    assert "X-Amz-Function-Error" not in answer.headers
    result = answer.json()
    assert result["event"] == {"name": "kubefn"}
    assert result["cwd"] == str(FUNCTIONS)
    ctx = result["context"]
    assert ctx["aws_request_id"] == "req-1"
    assert ctx["function_name"] == "fn"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert ctx["memory_limit_in_mb"] == "128"
    assert ctx["log_group_name"] == "/aws/lambda/fn"
    assert ctx["log_stream_name"].endswith("/[$LATEST]test1")
    assert 0 < ctx["remaining_ms"] <= 3000
    assert ctx["client_custom"] == {"k": "v"}
    assert ctx["cognito_identity_id"] == "c1"
    assert result["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_REGION": "us-east-1",
        "_HANDLER": "handlers.echo",
        "_X_AMZN_TRACE_ID": "Root=1-abc",
        "LAMBDA_TASK_ROOT": str(FUNCTIONS),
        "TZ": ":UTC",
        "GREETING": "hi",
    }


def test_cold_then_warm_report_headers(agent: Callable[..., Client]) -> None:
    client = agent("handlers.echo")
    cold, warm = client.invoke({}), client.invoke({})
    assert float(cold.headers["X-Kubefn-Init-Duration-Ms"]) > 0
    assert "X-Kubefn-Init-Duration-Ms" not in warm.headers
    assert cold.json()["pid"] == warm.json()["pid"]
    for answer in (cold, warm):
        assert float(answer.headers["X-Kubefn-Duration-Ms"]) >= 0
        assert int(answer.headers["X-Kubefn-Billed-Duration-Ms"]) >= 1
        assert int(answer.headers["X-Kubefn-Max-Memory-MB"]) > 0


def test_tail_log_frames_the_function_output(agent: Callable[..., Client]) -> None:
    answer = agent("handlers.echo").invoke(
        {"n": 1}, tail=True, **{"X-Kubefn-Request-Id": "req-log"}
    )
    lines = answer.log.splitlines()
    assert lines[0] == "init: module loaded"
    assert lines[1] == "START RequestId: req-log Version: $LATEST"
    assert lines[2:5] == ["echo got {'n': 1}", "to stderr", "no newline at the end"]
    assert lines[5] == "END RequestId: req-log"
    report = lines[6].split("\t")
    assert report[0] == "REPORT RequestId: req-log"
    assert report[1].startswith("Duration: ") and report[1].endswith(" ms")
    assert report[3] == "Memory Size: 128 MB"
    assert report[5].startswith("Init Duration: ")


def test_function_error_shape_and_log(agent: Callable[..., Client]) -> None:
    answer = agent("handlers.fail").invoke({"n": 7}, tail=True, **{"X-Kubefn-Request-Id": "req-e"})
    error = assert_error(answer, outcome="error", error_type="ValueError")
    assert error["errorMessage"] == "bad input 7"
    assert error["requestId"] == "req-e"
    assert len(error["stackTrace"]) == 1
    assert error["stackTrace"][0].startswith(f'  File "{FUNCTIONS / "handlers.py"}", line ')
    assert "in fail\n    raise ValueError" in error["stackTrace"][0]
    assert "[ERROR] ValueError: bad input 7" in answer.log


def test_marshal_error(agent: Callable[..., Client]) -> None:
    error = assert_error(
        agent("handlers.unmarshalable").invoke({}),
        outcome="error",
        error_type="Runtime.MarshalError",
    )
    assert error["errorMessage"].startswith("Unable to marshal response: ")


def test_response_too_large(agent: Callable[..., Client]) -> None:
    error = assert_error(
        agent("handlers.huge").invoke({}),
        outcome="error",
        error_type="Function.ResponseSizeTooLarge",
    )
    assert "6291456 bytes" in error["errorMessage"]


def test_event_too_large_is_refused(agent: Callable[..., Client]) -> None:
    answer = agent("handlers.echo").invoke("x" * (6 * 1024 * 1024))
    assert answer.status == 413


def test_timeout_kills_then_next_invocation_starts_cold(agent: Callable[..., Client]) -> None:
    client = agent("handlers.nap", timeoutSeconds=1)
    first = client.invoke({"seconds": 3600}, tail=True, **{"X-Kubefn-Request-Id": "req-t"})
    error = assert_error(first, outcome="timeout", error_type="Sandbox.Timedout")
    assert error["errorMessage"] == "RequestId: req-t Error: Task timed out after 1.00 seconds"
    assert "going to sleep" in first.log
    assert "req-t Task timed out after 1.00 seconds" in first.log
    second = client.invoke({"seconds": 0}, tail=True)
    assert second.headers["X-Kubefn-Outcome"] == "success"
    assert "X-Kubefn-Init-Duration-Ms" in second.headers
    assert "init: module loaded" in second.log


def test_out_of_memory_kills_then_next_works(agent: Callable[..., Client]) -> None:
    client = agent("handlers.hog", memoryMB=128, timeoutSeconds=30)
    answer = client.invoke({"hog": True}, **{"X-Kubefn-Request-Id": "req-m"})
    error = assert_error(answer, outcome="oom", error_type="Runtime.OutOfMemory")
    assert (
        error["errorMessage"] == "RequestId: req-m Error: Runtime exited with error: signal: killed"
    )
    assert int(answer.headers["X-Kubefn-Max-Memory-MB"]) >= 128
    again = client.invoke({"hog": False})
    assert again.headers["X-Kubefn-Outcome"] == "success"
    assert "X-Kubefn-Init-Duration-Ms" in again.headers


CRASHING_APP = """\
import ctypes, os, signal
def handler(event, context):
    print("about to crash", flush=True)
    how = event.get("crash")
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        ctypes.string_at(0)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()
"""


@pytest.mark.parametrize(
    "how, status",
    [
        pytest.param("exit", "exit status 3", id="os._exit"),
        pytest.param("segfault", "signal: segmentation fault", id="segfault"),
        pytest.param("sigkill", "signal: killed", id="sigkill"),
    ],
)
def test_crash_then_next_works(
    agent: Callable[..., Client], tmp_path: Path, how: str, status: str
) -> None:
    (tmp_path / "app.py").write_text(CRASHING_APP)
    client = agent("app.handler", code_dir=tmp_path)
    pid = client.invoke({}).json()
    crashed = client.invoke({"crash": how}, tail=True, **{"X-Kubefn-Request-Id": "req-c"})
    error = assert_error(crashed, outcome="crash", error_type="Runtime.ExitError")
    assert error["errorMessage"] == f"RequestId: req-c Error: Runtime exited with error: {status}"
    assert "about to crash" in crashed.log
    after = client.invoke({})
    assert after.status == 200 and after.headers["X-Kubefn-Outcome"] == "success"
    assert after.json() != pid
    assert "X-Kubefn-Init-Duration-Ms" in after.headers


def test_import_error_is_reported_then_init_retried(
    agent: Callable[..., Client], tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text("import not_installed_anywhere\n")
    client = agent("app.handler", code_dir=tmp_path)
    answer = client.invoke({}, tail=True)
    error = assert_error(answer, outcome="init_error", error_type="Runtime.ImportModuleError")
    assert error["errorMessage"] == (
        "Unable to import module 'app': No module named 'not_installed_anywhere'"
    )
    assert "[ERROR] Runtime.ImportModuleError" in answer.log
    assert "X-Kubefn-Init-Duration-Ms" in answer.headers
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'fixed'\n")
    assert client.invoke({}).json() == "fixed"


def test_missing_handler(agent: Callable[..., Client]) -> None:
    error = assert_error(
        agent("handlers.no_such_handler").invoke({}),
        outcome="init_error",
        error_type="Runtime.HandlerNotFound",
    )
    assert error["errorMessage"] == "Handler 'no_such_handler' missing on module 'handlers'"


def test_syntax_error(agent: Callable[..., Client], tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return (\n")
    error = assert_error(
        agent("app.handler", code_dir=tmp_path).invoke({}),
        outcome="init_error",
        error_type="Runtime.UserCodeSyntaxError",
    )
    assert error["errorMessage"].startswith("Syntax error in module 'app': ")


def test_warm_up_then_invocation_does_not_pay_init(agent: Callable[..., Client]) -> None:
    client = agent("handlers.echo")
    assert client.request("GET", "/kubefn/healthz").json() == {"state": "cold"}
    warmed = client.request("POST", "/kubefn/init")
    assert warmed.status == 200
    assert warmed.json()["initDurationMs"] > 0
    assert client.request("GET", "/kubefn/healthz").json() == {"state": "ready"}
    assert "X-Kubefn-Init-Duration-Ms" not in client.invoke({}).headers


def test_warm_up_reports_init_error(agent: Callable[..., Client]) -> None:
    answer = agent("handlers.no_such_handler").request("POST", "/kubefn/init")
    assert answer.status == 200
    assert answer.headers["X-Kubefn-Outcome"] == "init_error"
    assert answer.json()["errorType"] == "Runtime.HandlerNotFound"


def test_function_process_starts_with_the_agent_and_first_invocation_pays_its_init(
    zygote: Zygote,
) -> None:
    pid, client = zygote.spawn(instance_config("handlers.echo"))
    deadline = time.monotonic() + 10
    while not children(pid):  # forked before any invocation
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(1.0)
    assert client.request("GET", "/kubefn/healthz").json() == {"state": "cold"}
    first = client.invoke({}, tail=True, **{"X-Kubefn-Request-Id": "req-first"})
    assert first.json()["pid"] == children(pid)[0]
    init_ms = float(first.headers["X-Kubefn-Init-Duration-Ms"])
    assert 0 < init_ms < 1000  # init itself, not the wait for the first invocation
    assert first.log.splitlines()[:2] == [
        "init: module loaded",
        "START RequestId: req-first Version: $LATEST",
    ]
    assert f"Init Duration: {init_ms:.2f} ms" in first.log
    assert "X-Kubefn-Init-Duration-Ms" not in client.invoke({}).headers


def test_init_that_crashed_before_the_first_invocation_is_that_invocations_error(
    agent: Callable[..., Client], tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text("import os\nprint('dying', flush=True)\nos._exit(3)\n")
    client = agent("app.handler", code_dir=tmp_path)
    time.sleep(0.5)
    answer = client.invoke({}, tail=True, **{"X-Kubefn-Request-Id": "req-x"})
    error = assert_error(answer, outcome="crash", error_type="Runtime.ExitError")
    assert (
        error["errorMessage"] == "RequestId: req-x Error: Runtime exited with error: exit status 3"
    )
    assert "dying" in answer.log
    assert "X-Kubefn-Init-Duration-Ms" in answer.headers
