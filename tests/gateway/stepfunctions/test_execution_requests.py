"""The execution operations' request checks and pages, as pure functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubefn_gateway.stepfunctions import errors
from kubefn_gateway.stepfunctions import execution_requests as requests
from kubefn_gateway.stepfunctions.engine.store import Execution
from kubefn_gateway.stepfunctions.executions_api import described, sync_answer, without_data


@pytest.mark.parametrize(
    ("total", "at", "size", "reverse", "expected"),
    [
        pytest.param(10, None, 4, False, (0, 3, 4), id="first-page"),
        pytest.param(10, 4, 4, False, (4, 7, 8), id="middle-page"),
        pytest.param(10, 8, 4, False, (8, 9, None), id="last-page-short"),
        pytest.param(8, 4, 4, False, (4, 7, None), id="last-page-exact"),
        pytest.param(3, None, 100, False, (0, 2, None), id="one-page"),
        pytest.param(10, None, 4, True, (6, 9, 5), id="reverse-first-page"),
        pytest.param(10, 5, 4, True, (2, 5, 1), id="reverse-middle-page"),
        pytest.param(10, 1, 4, True, (0, 1, None), id="reverse-last-page"),
        pytest.param(12, 5, 4, True, (2, 5, 1), id="reverse-stays-put-as-events-arrive"),
        pytest.param(3, 9, 4, True, (0, 2, None), id="reverse-beyond-the-end"),
    ],
)
def test_history_pages(
    total: int, at: int | None, size: int, reverse: bool, expected: tuple[int, int, int | None]
) -> None:
    assert tuple(requests.history_page(total, at=at, size=size, reverse=reverse)) == expected


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("order-42", id="plain"),
        pytest.param("a.b_c-d", id="dots-and-dashes"),
        pytest.param("été", id="letters-of-any-script"),
        pytest.param("x" * 80, id="eighty-characters"),
        pytest.param("(paren)!'@=+", id="harmless-punctuation"),
    ],
)
def test_good_execution_names(name: str) -> None:
    assert requests.execution_name(name) == name


@pytest.mark.parametrize(
    ("name", "error"),
    [
        pytest.param("a b", errors.InvalidName, id="space"),
        pytest.param("a\u00a0b", errors.InvalidName, id="no-break-space"),
        pytest.param("a\nb", errors.InvalidName, id="newline"),
        pytest.param("a\x7fb", errors.InvalidName, id="delete"),
        pytest.param("a\x85b", errors.InvalidName, id="c1-control"),
        pytest.param("a\ud800b", errors.InvalidName, id="lone-surrogate"),
        *(
            pytest.param(f"a{c}b", errors.InvalidName, id=f"forbidden-{ord(c)}")
            for c in '<>{}[]?*"#%\\^|~`$&,;:/'
        ),
        pytest.param("", errors.ValidationException, id="empty"),
        pytest.param("x" * 81, errors.ValidationException, id="too-long"),
        pytest.param(7, errors.ValidationException, id="not-text"),
    ],
)
def test_bad_execution_names(name: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        requests.execution_name(name)


def test_no_name_is_a_name_to_make_up() -> None:
    assert requests.execution_name(None) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param("{", "not valid JSON", id="broken"),
        pytest.param("", "not valid JSON", id="empty"),
        pytest.param("[Infinity]", "Infinity", id="infinity"),
        pytest.param('{"a": 1} x', "not valid JSON", id="trailing-text"),
        pytest.param('"\ud800"', "UTF-8", id="lone-surrogate"),
        pytest.param(json.dumps("x" * 262143), "262145 bytes", id="one-byte-too-many"),
        pytest.param(
            json.dumps("é" * 131072, ensure_ascii=False), "262146 bytes", id="counted-in-utf8-bytes"
        ),
    ],
)
def test_bad_payloads_are_refused_with_the_reason(text: str, named: str) -> None:
    with pytest.raises(errors.InvalidExecutionInput) as refused:
        requests.payload(text, field="input", error=requests.invalid_input)

    assert named in refused.value.message
    assert refused.value.message.startswith("Invalid State Machine Execution Input: 'input ")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{}", id="object"),
        pytest.param("5", id="number"),
        pytest.param("null", id="null"),
        pytest.param(json.dumps("x" * 262142), id="exactly-the-limit"),
    ],
)
def test_good_payloads_are_kept_as_given(text: str) -> None:
    assert requests.payload(text, field="output", error=requests.invalid_output) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, 100, id="none-is-the-default"),
        pytest.param(0, 100, id="zero-is-the-default"),
        pytest.param(1, 1, id="one"),
        pytest.param(1000, 1000, id="the-most"),
    ],
)
def test_page_sizes(raw: Any, expected: int) -> None:
    assert requests.page_size(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(1001, id="too-many"),
        pytest.param(-1, id="negative"),
        pytest.param(False, id="boolean"),
        pytest.param("10", id="text"),
    ],
)
def test_bad_page_sizes(raw: Any) -> None:
    with pytest.raises(errors.ValidationException) as refused:
        requests.page_size(raw)

    assert "'maxResults'" in refused.value.message


def test_a_list_token_round_trips_only_within_its_scope() -> None:
    scope = requests.scope("list", "default/m", "", "")
    token = requests.ListPosition(1_700_000_000_000, "run-9").encode(scope=scope)

    assert requests.ListPosition.decode(token, scope=scope) == requests.ListPosition(
        1_700_000_000_000, "run-9"
    )
    with pytest.raises(errors.InvalidToken):
        requests.ListPosition.decode(token, scope=requests.scope("list", "default/m", "RUNNING"))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("not base64 at all!", id="garbage"),
        pytest.param("e30=", id="empty-object"),
        pytest.param(
            requests.HistoryPosition(3).encode(scope=requests.scope("x")), id="another-scope"
        ),
    ],
)
def test_history_tokens_that_were_not_given_are_invalid(raw: str) -> None:
    with pytest.raises(errors.InvalidToken):
        requests.HistoryPosition.decode(raw, scope=requests.scope("history", "arn", "forward"))


def test_an_over_long_token_is_a_validation_error() -> None:
    with pytest.raises(errors.ValidationException) as refused:
        requests.HistoryPosition.decode("x" * 1025, scope="s")

    assert "1024" in refused.value.message


def test_list_positions_order_newest_first_then_names_descending() -> None:
    last = requests.ListPosition(100, "m")

    assert last.precedes(99, "z")
    assert last.precedes(100, "l")
    assert not last.precedes(100, "m")
    assert not last.precedes(100, "n")
    assert not last.precedes(101, "a")


@pytest.mark.parametrize(
    ("raw", "most", "named"),
    [
        pytest.param("e" * 257, requests.ERROR_MAX, "256", id="error"),
        pytest.param("c" * 32769, requests.CAUSE_MAX, "32768", id="cause"),
        pytest.param(5, requests.ERROR_MAX, "string", id="not-text"),
    ],
)
def test_bounded_texts(raw: Any, most: int, named: str) -> None:
    with pytest.raises(errors.ValidationException) as refused:
        requests.bounded(raw, field="error", most=most)

    assert named in refused.value.message
    assert "'error'" in refused.value.message


def test_an_absent_error_is_empty() -> None:
    assert requests.bounded(None, field="error", most=requests.ERROR_MAX) == ""


# -- answers ----------------------------------------------------------------------------------


def execution(**fields: Any) -> Execution:
    base: dict[str, Any] = {
        "id": "default/m:x",
        "arn": "arn:aws:states:us-east-1:000000000000:execution:m:x",
        "name": "x",
        "machine_key": "default/m",
        "machine_arn": "arn:aws:states:us-east-1:000000000000:stateMachine:m",
        "type": "STANDARD",
        "status": "RUNNING",
        "input": '{"a":1}',
        "definition": "{}",
        "start_ms": 1_000,
    }
    return Execution(**{**base, **fields})


def test_a_running_execution_is_described_without_stop_output_or_error() -> None:
    answer = described(execution())

    assert answer["startDate"] == 1.0
    assert answer["input"] == '{"a":1}'
    assert answer["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven"
    for absent in ("stopDate", "output", "outputDetails", "error", "cause", "traceHeader"):
        assert absent not in answer


def test_a_failed_execution_is_described_with_its_error() -> None:
    answer = described(execution(status="FAILED", stop_ms=2_500, error="E", cause="C"))

    assert (answer["stopDate"], answer["error"], answer["cause"]) == (2.5, "E", "C")
    assert "output" not in answer


@pytest.mark.parametrize(
    ("duration_ms", "billed"),
    [
        pytest.param(0, 100, id="nothing-bills-one-step"),
        pytest.param(1, 100, id="one-ms"),
        pytest.param(100, 100, id="one-step"),
        pytest.param(101, 200, id="just-over"),
        pytest.param(1234, 1300, id="rounded-up"),
    ],
)
def test_express_executions_are_billed_in_steps_of_100_ms(duration_ms: int, billed: int) -> None:
    closed = execution(status="SUCCEEDED", stop_ms=1_000 + duration_ms, output="{}")

    answer = sync_answer(closed)

    assert answer["billingDetails"] == {
        "billedMemoryUsedInMB": 64,
        "billedDurationInMilliseconds": billed,
    }


def test_without_data_keeps_names_and_errors_but_not_payloads() -> None:
    event = {
        "id": 3,
        "type": "TaskScheduled",
        "taskScheduledEventDetails": {
            "resource": "invoke",
            "parameters": '{"secret":1}',
            "region": "us-east-1",
        },
    }
    exited = {
        "id": 4,
        "type": "PassStateExited",
        "stateExitedEventDetails": {
            "name": "P",
            "output": "{}",
            "outputDetails": {"truncated": False},
        },
    }

    assert without_data(event)["taskScheduledEventDetails"] == {
        "resource": "invoke",
        "region": "us-east-1",
    }
    assert without_data(exited) == {
        "id": 4,
        "type": "PassStateExited",
        "stateExitedEventDetails": {"name": "P"},
    }
