"""Retry and Catch decisions: error matching, back-off sequences, first match decides."""

from __future__ import annotations

from typing import Any

import pytest

from kubefn.asl import retry
from kubefn.asl.retry import RetryPlan


def never_random() -> float:
    raise AssertionError("random() is only drawn for JitterStrategy FULL")


@pytest.mark.parametrize(
    ("error_equals", "error", "expected"),
    [
        pytest.param(["Oops"], "Oops", True, id="exact-name"),
        pytest.param(["Oops"], "oops", False, id="names-are-case-sensitive"),
        pytest.param(["A", "B"], "B", True, id="any-name-in-the-list"),
        pytest.param(["A", "B"], "C", False, id="a-name-not-in-the-list"),
        pytest.param([], "A", False, id="empty-list-takes-nothing"),
        pytest.param(["States.ALL"], "ValueError", True, id="all-takes-a-function-error"),
        pytest.param(["States.ALL"], "States.Timeout", True, id="all-takes-timeout"),
        pytest.param(["States.ALL"], "States.HeartbeatTimeout", True, id="all-takes-heartbeat"),
        pytest.param(["States.ALL"], "States.TaskFailed", True, id="all-takes-task-failed"),
        pytest.param(["States.ALL"], "States.Runtime", False, id="all-not-runtime"),
        pytest.param(["States.ALL"], "States.DataLimitExceeded", False, id="all-not-data-limit"),
        pytest.param(["States.TaskFailed"], "ValueError", True, id="task-failed-takes-any"),
        pytest.param(
            ["States.TaskFailed"], "Lambda.ServiceException", True, id="task-failed-platform"
        ),
        pytest.param(
            ["States.TaskFailed"], "States.Permissions", True, id="task-failed-states-error"
        ),
        pytest.param(["States.TaskFailed"], "States.Timeout", False, id="task-failed-no-timeout"),
        pytest.param(
            ["States.TaskFailed"], "States.HeartbeatTimeout", False, id="task-failed-no-heartbeat"
        ),
        pytest.param(["States.TaskFailed"], "States.Runtime", False, id="task-failed-no-runtime"),
        pytest.param(
            ["States.TaskFailed"], "States.DataLimitExceeded", False, id="task-failed-no-limit"
        ),
        pytest.param(["States.Timeout"], "States.Timeout", True, id="timeout-by-name"),
        pytest.param(
            ["States.Timeout"], "States.HeartbeatTimeout", True, id="timeout-takes-heartbeat"
        ),
        pytest.param(
            ["States.HeartbeatTimeout"], "States.Timeout", False, id="heartbeat-not-timeout"
        ),
        pytest.param(
            ["States.HeartbeatTimeout"], "States.HeartbeatTimeout", True, id="heartbeat-by-name"
        ),
        pytest.param(
            ["States.DataLimitExceeded"],
            "States.DataLimitExceeded",
            True,
            id="data-limit-by-its-own-name",
        ),
        pytest.param(["States.Runtime"], "States.Runtime", False, id="runtime-never-taken"),
        pytest.param(["States.Timeout"], "ValueError", False, id="timeout-not-other"),
    ],
)
def test_matches(error_equals: list[str], error: str, expected: bool) -> None:
    assert retry.matches(error_equals, error) is expected


def delays(retrier: dict[str, Any], *, error: str = "Oops", jitter: float = 0.5) -> list[float]:
    """The delays of every retry one retrier grants, until it gives up."""
    attempts: dict[int, int] = {}
    found: list[float] = []
    while plan := retry.plan_retry(
        [retrier], error=error, attempts=attempts, random=lambda: jitter
    ):
        assert plan.retrier == 0
        assert plan.attempt == attempts.get(0, 0) + 1
        attempts[0] = plan.attempt
        found.append(plan.delay_seconds)
    return found


@pytest.mark.parametrize(
    ("retrier", "expected"),
    [
        pytest.param({"ErrorEquals": ["Oops"]}, [1.0, 2.0, 4.0], id="defaults-1s-x2-3-times"),
        pytest.param(
            {"ErrorEquals": ["Oops"], "IntervalSeconds": 3, "MaxAttempts": 4},
            [3.0, 6.0, 12.0, 24.0],
            id="interval-and-attempts",
        ),
        pytest.param(
            {"ErrorEquals": ["Oops"], "BackoffRate": 1.5, "MaxAttempts": 3},
            [1.0, 1.5, 2.25],
            id="fractional-backoff",
        ),
        pytest.param(
            {"ErrorEquals": ["Oops"], "BackoffRate": 1, "IntervalSeconds": 5},
            [5.0, 5.0, 5.0],
            id="constant-backoff",
        ),
        pytest.param(
            {
                "ErrorEquals": ["Oops"],
                "IntervalSeconds": 2,
                "MaxAttempts": 6,
                "MaxDelaySeconds": 10,
            },
            [2.0, 4.0, 8.0, 10.0, 10.0, 10.0],
            id="max-delay-caps",
        ),
        pytest.param(
            {"ErrorEquals": ["Oops"], "MaxAttempts": 1, "MaxDelaySeconds": 1},
            [1.0],
            id="cap-equal-to-first-delay",
        ),
        pytest.param({"ErrorEquals": ["Oops"], "MaxAttempts": 0}, [], id="max-attempts-0-never"),
        pytest.param(
            {"ErrorEquals": ["Oops"], "JitterStrategy": "NONE", "MaxAttempts": 2},
            [1.0, 2.0],
            id="jitter-none-is-plain",
        ),
        pytest.param(
            {"ErrorEquals": ["Oops"], "JitterStrategy": "FULL", "IntervalSeconds": 4},
            [2.0, 4.0, 8.0],
            id="jitter-full-scales-by-random",
        ),
        pytest.param(
            {
                "ErrorEquals": ["Oops"],
                "JitterStrategy": "FULL",
                "IntervalSeconds": 4,
                "MaxDelaySeconds": 6,
            },
            [2.0, 3.0, 3.0],
            id="jitter-applies-after-the-cap",
        ),
    ],
)
def test_backoff_sequences(retrier: dict[str, Any], expected: list[float]) -> None:
    assert delays(retrier) == pytest.approx(expected)


def test_jitter_full_draws_zero_to_full_delay() -> None:
    retrier = {"ErrorEquals": ["Oops"], "JitterStrategy": "FULL", "IntervalSeconds": 8}
    low = retry.plan_retry([retrier], error="Oops", attempts={0: 1}, random=lambda: 0.0)
    high = retry.plan_retry([retrier], error="Oops", attempts={0: 1}, random=lambda: 0.999)
    assert low == RetryPlan(retrier=0, attempt=2, delay_seconds=0.0)
    assert high is not None and high.delay_seconds == pytest.approx(16 * 0.999)


def test_no_jitter_draws_no_random() -> None:
    plan = retry.plan_retry(
        [{"ErrorEquals": ["Oops"]}], error="Oops", attempts={}, random=never_random
    )
    assert plan == RetryPlan(retrier=0, attempt=1, delay_seconds=1.0)


def test_huge_backoff_is_bounded_by_a_year() -> None:
    retrier = {"ErrorEquals": ["Oops"], "BackoffRate": 10, "MaxAttempts": 99999999}
    plan = retry.plan_retry([retrier], error="Oops", attempts={0: 5000}, random=never_random)
    assert plan == RetryPlan(retrier=0, attempt=5001, delay_seconds=31622400.0)


RETRIERS = [
    {"ErrorEquals": ["A", "B"], "IntervalSeconds": 1, "MaxAttempts": 2},
    {"ErrorEquals": ["C"], "IntervalSeconds": 5},
    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 7, "MaxAttempts": 1},
]


@pytest.mark.parametrize(
    ("error", "attempts", "expected"),
    [
        pytest.param("A", {}, RetryPlan(0, 1, 1.0), id="first-retrier"),
        pytest.param("B", {0: 1}, RetryPlan(0, 2, 2.0), id="count-shared-by-its-names"),
        pytest.param("A", {0: 2}, None, id="exhausted-first-match-decides"),
        pytest.param("C", {0: 2}, RetryPlan(1, 1, 5.0), id="second-retrier-own-count"),
        pytest.param("D", {}, RetryPlan(2, 1, 7.0), id="falls-to-states-all"),
        pytest.param("D", {2: 1}, None, id="states-all-exhausted"),
        pytest.param("States.Runtime", {}, None, id="runtime-never-retried"),
        pytest.param("States.DataLimitExceeded", {}, None, id="data-limit-not-by-all"),
    ],
)
def test_plan_retry_first_match_decides(
    error: str, attempts: dict[int, int], expected: RetryPlan | None
) -> None:
    assert retry.plan_retry(RETRIERS, error=error, attempts=attempts, random=never_random) == (
        expected
    )


def test_plan_retry_without_retriers() -> None:
    assert retry.plan_retry([], error="A", attempts={}, random=never_random) is None


CATCHERS = [
    {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"},
    {"ErrorEquals": ["ValueError", "KeyError"], "Next": "BadInput", "ResultPath": "$.error"},
    {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
    {"ErrorEquals": ["States.ALL"], "Next": "Anything"},
]


@pytest.mark.parametrize(
    ("error", "next_state"),
    [
        pytest.param("States.Timeout", "TimedOut", id="timeout"),
        pytest.param("States.HeartbeatTimeout", "TimedOut", id="heartbeat-as-timeout"),
        pytest.param("KeyError", "BadInput", id="named"),
        pytest.param("RuntimeError", "Failed", id="task-failed-wildcard"),
        pytest.param("States.Permissions", "Failed", id="states-error-by-task-failed"),
        pytest.param("States.Runtime", None, id="runtime-uncaught"),
        pytest.param("States.DataLimitExceeded", None, id="data-limit-uncaught"),
    ],
)
def test_find_catcher(error: str, next_state: str | None) -> None:
    catcher = retry.find_catcher(CATCHERS, error=error)
    assert (catcher["Next"] if catcher else None) == next_state


def test_find_catcher_order_wins() -> None:
    catchers = [{"ErrorEquals": ["States.ALL"], "Next": "First"}, CATCHERS[1]]
    assert retry.find_catcher(catchers, error="KeyError") == catchers[0]


def test_error_output() -> None:
    assert retry.error_output("ValueError", "bad input") == {
        "Error": "ValueError",
        "Cause": "bad input",
    }
