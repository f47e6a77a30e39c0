"""Wait states and Task timeouts: the four Wait forms, their *Path reads and bad values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kubefn.asl import waits
from kubefn.asl.errors import RUNTIME, StatesError
from kubefn.asl.waits import WaitFor

CONTEXT = {
    "Execution": {"Id": "arn:exec", "StartTime": "2024-03-14T01:59:00.250Z"},
    "State": {"Name": "Pause", "EnteredTime": "2024-03-14T02:00:00.999Z", "Delay": 30},
}
DATA = {
    "delay": 10,
    "zero": 0,
    "until": "2024-08-18T17:33:00Z",
    "nested": {"when": "2024-08-18T19:33:00.750+02:00"},
}


def wait(data: Any = DATA, **fields: Any) -> WaitFor:
    return waits.wait_for({"Type": "Wait", "Next": "X", **fields}, data, context=CONTEXT)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"Seconds": 5}, WaitFor(5.0, None), id="seconds"),
        pytest.param({"Seconds": 0}, WaitFor(0.0, None), id="seconds-zero"),
        pytest.param(
            {"Timestamp": "2024-08-18T17:33:00Z"},
            WaitFor(None, datetime(2024, 8, 18, 17, 33, tzinfo=UTC)),
            id="timestamp-z",
        ),
        pytest.param(
            {"Timestamp": "2024-08-18T17:33:00.987Z"},
            WaitFor(None, datetime(2024, 8, 18, 17, 33, tzinfo=UTC)),
            id="timestamp-milliseconds-truncated",
        ),
        pytest.param({"SecondsPath": "$.delay"}, WaitFor(10.0, None), id="seconds-path"),
        pytest.param({"SecondsPath": "$.zero"}, WaitFor(0.0, None), id="seconds-path-zero"),
        pytest.param(
            {"SecondsPath": "$$.State.Delay"}, WaitFor(30.0, None), id="seconds-context-path"
        ),
        pytest.param(
            {"TimestampPath": "$.until"},
            WaitFor(None, datetime(2024, 8, 18, 17, 33, tzinfo=UTC)),
            id="timestamp-path",
        ),
        pytest.param(
            {"TimestampPath": "$.nested.when"},
            WaitFor(None, datetime(2024, 8, 18, 17, 33, tzinfo=UTC)),
            id="timestamp-path-with-offset-same-instant",
        ),
        pytest.param(
            {"TimestampPath": "$$.Execution.StartTime"},
            WaitFor(None, datetime(2024, 3, 14, 1, 59, tzinfo=UTC)),
            id="timestamp-context-path",
        ),
    ],
)
def test_wait_for(fields: dict[str, Any], expected: WaitFor) -> None:
    assert wait(**fields) == expected


def test_offset_timestamp_keeps_its_zone_and_instant() -> None:
    result = wait(TimestampPath="$.nested.when")
    assert result.until is not None
    assert result.until.utcoffset() == timedelta(hours=2)


def test_seconds_path_reads_variables() -> None:
    state = {"Type": "Wait", "SecondsPath": "$pause", "Next": "X"}
    assert waits.wait_for(state, {}, context=CONTEXT, variables={"pause": 7}) == WaitFor(7.0, None)


@pytest.mark.parametrize(
    ("data", "fields", "named"),
    [
        pytest.param({}, {"SecondsPath": "$.delay"}, ["SecondsPath", "'$.delay'"], id="missing"),
        pytest.param(
            {}, {"SecondsPath": "$$.State.Nope"}, ["SecondsPath", "context"], id="missing-context"
        ),
        pytest.param({"d": -1}, {"SecondsPath": "$.d"}, ["SecondsPath", "-1"], id="negative"),
        pytest.param({"d": 1.5}, {"SecondsPath": "$.d"}, ["SecondsPath", "1.5"], id="fraction"),
        pytest.param({"d": "10"}, {"SecondsPath": "$.d"}, ["SecondsPath", '"10"'], id="string"),
        pytest.param({"d": True}, {"SecondsPath": "$.d"}, ["SecondsPath", "true"], id="boolean"),
        pytest.param({"d": None}, {"SecondsPath": "$.d"}, ["SecondsPath", "null"], id="null"),
        pytest.param(
            {"d": 100000000}, {"SecondsPath": "$.d"}, ["SecondsPath", "100000000"], id="too-long"
        ),
        pytest.param({}, {"TimestampPath": "$.t"}, ["TimestampPath", "'$.t'"], id="ts-missing"),
        pytest.param(
            {"t": "2024-08-18t17:33:00Z"},
            {"TimestampPath": "$.t"},
            ["TimestampPath", "2024-08-18t17:33:00Z"],
            id="ts-lowercase-t",
        ),
        pytest.param(
            {"t": "2024-08-18T17:33:00z"},
            {"TimestampPath": "$.t"},
            ["TimestampPath", "17:33:00z"],
            id="ts-lowercase-z",
        ),
        pytest.param(
            {"t": "2024-08-18T17:33:00"},
            {"TimestampPath": "$.t"},
            ["TimestampPath", "17:33:00"],
            id="ts-no-zone",
        ),
        pytest.param(
            {"t": "2024-08-18 17:33:00Z"},
            {"TimestampPath": "$.t"},
            ["TimestampPath"],
            id="ts-space-separator",
        ),
        pytest.param(
            {"t": "2024-02-30T00:00:00Z"},
            {"TimestampPath": "$.t"},
            ["TimestampPath", "day is out of range"],
            id="ts-no-such-day",
        ),
        pytest.param(
            {"t": 1723995180}, {"TimestampPath": "$.t"}, ["TimestampPath", "1723995180"], id="epoch"
        ),
    ],
)
def test_wait_bad_inputs(data: Any, fields: dict[str, Any], named: list[str]) -> None:
    with pytest.raises(StatesError) as raised:
        wait(data, **fields)
    assert raised.value.error == RUNTIME
    for text in named:
        assert text in raised.value.cause


def test_wait_without_a_form_is_refused() -> None:
    with pytest.raises(StatesError) as raised:
        waits.wait_for({"Type": "Wait", "Next": "X"}, {}, context=CONTEXT)
    assert raised.value.error == RUNTIME


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2016-03-14T01:59:00Z", datetime(2016, 3, 14, 1, 59, tzinfo=UTC), id="z"),
        pytest.param(
            "2016-03-14T01:59:00.5Z",
            datetime(2016, 3, 14, 1, 59, 0, 500000, tzinfo=UTC),
            id="fraction",
        ),
        pytest.param(
            "2016-03-14T01:59:00.123456789Z",
            datetime(2016, 3, 14, 1, 59, 0, 123456, tzinfo=UTC),
            id="nanoseconds",
        ),
        pytest.param(
            "2016-03-14T01:59:00-05:30",
            datetime(2016, 3, 14, 1, 59, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
            id="negative-offset",
        ),
        pytest.param(
            "2016-03-14T01:59:00+00:00", datetime(2016, 3, 14, 1, 59, tzinfo=UTC), id="zero-offset"
        ),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = waits.parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2016-03-14", id="date-only"),
        pytest.param("2016-03-14T01:59Z", id="no-seconds"),
        pytest.param("2016-03-14t01:59:00Z", id="lowercase-t"),
        pytest.param("2016-03-14T01:59:00z", id="lowercase-z"),
        pytest.param("2016-03-14T01:59:00", id="no-zone"),
        pytest.param("2016-03-14T01:59:00+0100", id="offset-without-colon"),
        pytest.param("2016-03-14T24:00:00Z", id="hour-24"),
        pytest.param("2016-03-14T01:59:60Z", id="leap-second"),
        pytest.param("2016-13-01T00:00:00Z", id="month-13"),
        pytest.param("2016-03-14T01:59:00+24:00", id="offset-24h"),
        pytest.param(" 2016-03-14T01:59:00Z", id="leading-space"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_timestamp_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        waits.parse_timestamp(text)


def test_parse_timestamp_refuses_non_strings() -> None:
    with pytest.raises(ValueError, match="string"):
        waits.parse_timestamp(1457920740)  # type: ignore[arg-type]


def timeouts(data: Any = DATA, **fields: Any) -> tuple[float | None, float | None]:
    state = {"Type": "Task", "Resource": "arn:aws:lambda:::function:f", "End": True, **fields}
    return waits.task_timeouts(state, data, context=CONTEXT)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, (None, None), id="none-given"),
        pytest.param({"TimeoutSeconds": 60}, (60.0, None), id="timeout"),
        pytest.param({"HeartbeatSeconds": 10}, (None, 10.0), id="heartbeat"),
        pytest.param(
            {"TimeoutSeconds": 60, "HeartbeatSeconds": 10}, (60.0, 10.0), id="both-static"
        ),
        pytest.param({"TimeoutSecondsPath": "$.delay"}, (10.0, None), id="timeout-path"),
        pytest.param(
            {"TimeoutSeconds": 60, "HeartbeatSecondsPath": "$$.State.Delay"},
            (60.0, 30.0),
            id="heartbeat-context-path",
        ),
    ],
)
def test_task_timeouts(fields: dict[str, Any], expected: tuple[float | None, float | None]) -> None:
    assert timeouts(**fields) == expected


@pytest.mark.parametrize(
    ("data", "fields", "named"),
    [
        pytest.param({}, {"TimeoutSecondsPath": "$.t"}, "TimeoutSecondsPath", id="missing"),
        pytest.param({"t": 0}, {"TimeoutSecondsPath": "$.t"}, "TimeoutSecondsPath", id="zero"),
        pytest.param({"t": -5}, {"TimeoutSecondsPath": "$.t"}, "TimeoutSecondsPath", id="neg"),
        pytest.param({"t": 2.5}, {"TimeoutSecondsPath": "$.t"}, "TimeoutSecondsPath", id="frac"),
        pytest.param({"t": "9"}, {"TimeoutSecondsPath": "$.t"}, "TimeoutSecondsPath", id="str"),
        pytest.param(
            {"t": 100000000}, {"TimeoutSecondsPath": "$.t"}, "TimeoutSecondsPath", id="too-long"
        ),
        pytest.param(
            {"h": False}, {"HeartbeatSecondsPath": "$.h"}, "HeartbeatSecondsPath", id="hb-bool"
        ),
        pytest.param({}, {"HeartbeatSecondsPath": "$.h"}, "HeartbeatSecondsPath", id="hb-missing"),
    ],
)
def test_task_timeouts_bad_paths(data: Any, fields: dict[str, Any], named: str) -> None:
    with pytest.raises(StatesError) as raised:
        timeouts(data, **fields)
    assert raised.value.error == RUNTIME
    assert named in raised.value.cause
