"""The Lambda Runtime API as a provided runtime sees it, driven with http.client.

The agent starts a real (idle) process as the provided runtime; the test itself
plays that runtime's client, so every status code can be provoked on purpose.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.runtime.conftest import Answer, Client, Zygote, instance_config

RUNTIME = "/2018-06-01/runtime"
NEXT = f"{RUNTIME}/invocation/next"
IDLE_RUNTIME = [sys.executable, "-c", "import signal; signal.pause()"]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


@pytest.fixture
def provided(zygote: Zygote) -> Client:
    config = instance_config("app.handler", runtime="provided", command=IDLE_RUNTIME)
    return zygote.spawn(config)[1]


@pytest.fixture
def invoke(provided: Client, pool: ThreadPoolExecutor) -> Callable[..., Future[Answer]]:
    """Invoke in the background; returns once the agent has a runtime process to serve."""

    def start(event: object, **headers: str) -> Future[Answer]:
        pending = pool.submit(provided.invoke, event, **headers)
        deadline = time.monotonic() + 10
        while provided.request("GET", "/kubefn/healthz").json()["state"] == "cold":
            assert time.monotonic() < deadline and not pending.done()
            time.sleep(0.005)
        return pending

    return start


def post(client: Client, path: str, body: bytes = b"", **headers: str) -> Answer:
    return client.request("POST", f"{RUNTIME}{path}", body, headers)


def test_next_delivers_the_invocation_and_response_answers_it(
    provided: Client, invoke: Callable[..., Future[Answer]]
) -> None:
    pending = invoke({"a": 1}, **{"X-Kubefn-Request-Id": "r1", "X-Kubefn-Trace-Id": "Root=1-x"})
    event = provided.request("GET", NEXT)
    assert event.status == 200
    assert json.loads(event.body) == {"a": 1}
    assert event.headers["Lambda-Runtime-Aws-Request-Id"] == "r1"
    assert event.headers["Lambda-Runtime-Trace-Id"] == "Root=1-x"
    assert event.headers["Lambda-Runtime-Invoked-Function-Arn"] == (
        "arn:aws:lambda:us-east-1:000000000000:function:fn"
    )
    assert int(event.headers["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000
    assert post(provided, "/invocation/nope/response", b"{}").status == 400
    accepted = post(provided, "/invocation/r1/response", b'"done"')
    assert (accepted.status, accepted.json()) == (202, {"status": "OK"})
    answer = pending.result(30)
    assert (answer.status, answer.json()) == (200, "done")
    assert answer.headers["X-Kubefn-Outcome"] == "success"
    assert post(provided, "/invocation/r1/response", b'"again"').status == 403
    assert post(provided, "/init/error", b"{}").status == 403


def test_next_twice_without_an_answer_is_forbidden(
    provided: Client, invoke: Callable[..., Future[Answer]]
) -> None:
    pending = invoke({}, **{"X-Kubefn-Request-Id": "r2"})
    assert provided.request("GET", NEXT).status == 200
    assert provided.request("GET", NEXT).status == 403
    assert post(provided, "/invocation/r2/response", b"1").status == 202
    assert pending.result(30).json() == 1


def test_response_over_6_mb_is_413_and_the_caller_gets_the_size_error(
    provided: Client, invoke: Callable[..., Future[Answer]]
) -> None:
    pending = invoke({}, **{"X-Kubefn-Request-Id": "r3"})
    provided.request("GET", NEXT)
    too_large = post(provided, "/invocation/r3/response", b"x" * (6 * 1024 * 1024 + 1))
    assert too_large.status == 413
    answer = pending.result(30)
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    assert answer.json()["errorType"] == "Function.ResponseSizeTooLarge"


def test_error_with_body_is_passed_through(
    provided: Client, invoke: Callable[..., Future[Answer]]
) -> None:
    pending = invoke({}, **{"X-Kubefn-Request-Id": "r4"})
    provided.request("GET", NEXT)
    error = {"errorMessage": "no", "errorType": "MyError", "stackTrace": ["here"]}
    accepted = post(
        provided,
        "/invocation/r4/error",
        json.dumps(error).encode(),
        **{
            "Content-Type": "application/vnd.aws.lambda.error+json",
            "Lambda-Runtime-Function-Error-Type": "MyError",
        },
    )
    assert accepted.status == 202
    answer = pending.result(30)
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    assert answer.headers["X-Kubefn-Outcome"] == "error"
    assert answer.json() == error
    assert post(provided, "/invocation/r4/error", b"{}").status == 403


def test_error_without_a_body_is_built_from_the_header(
    provided: Client, invoke: Callable[..., Future[Answer]]
) -> None:
    pending = invoke({}, **{"X-Kubefn-Request-Id": "r5"})
    provided.request("GET", NEXT)
    headers = {"Lambda-Runtime-Function-Error-Type": "Runtime.Custom"}
    assert post(provided, "/invocation/r5/error", **headers).status == 202
    assert pending.result(30).json() == {"errorType": "Runtime.Custom", "errorMessage": ""}


def test_init_error_is_served_to_the_first_invocation(
    provided: Client, invoke: Callable[..., Future[Answer]]
) -> None:
    pending = invoke({})
    error = {"errorMessage": "cannot start", "errorType": "Runtime.Broken"}
    accepted = post(provided, "/init/error", json.dumps(error).encode())
    assert accepted.status == 202
    answer = pending.result(30)
    assert answer.headers["X-Kubefn-Outcome"] == "init_error"
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    assert answer.json() == error


def test_without_a_provided_runtime_the_runtime_api_is_a_container_error(
    agent: Callable[..., Client],
) -> None:
    assert agent("handlers.echo").request("GET", NEXT).status == 500


def test_a_command_that_cannot_start_is_an_invalid_entrypoint(zygote: Zygote) -> None:
    config = instance_config("app.handler", runtime="provided", command=["./no-bootstrap"])
    answer = zygote.spawn(config)[1].invoke({}, **{"X-Kubefn-Request-Id": "r6"})
    assert answer.headers["X-Kubefn-Outcome"] == "init_error"
    error = answer.json()
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert error["errorMessage"].startswith("RequestId: r6 Error: fork/exec ./no-bootstrap: ")
