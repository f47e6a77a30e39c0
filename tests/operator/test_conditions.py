"""Status conditions: pure, with the clock passed in."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kubefn import tabledata
from kubefn_operator import conditions

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(minutes=5)
AT_T0, AT_T1 = "2024-05-01T12:00:00Z", "2024-05-01T12:05:00Z"


def ready(
    status: bool, *, reason: str = "R", message: str = "m", since: str = ""
) -> dict[str, Any]:
    condition = {"type": "Ready", "status": "True" if status else "False"}
    return condition | {"reason": reason, "message": message, "lastTransitionTime": since}


def set_ready(previous: list[dict[str, Any]] | None, status: bool, **kw: Any) -> dict[str, Any]:
    updated = conditions.with_condition(
        previous,
        kind="Ready",
        status=status,
        reason=kw.get("reason", "R"),
        message=kw.get("message", "m"),
        now=T1,
    )
    found = conditions.find(updated, "Ready")
    assert found is not None
    return dict(found)


@pytest.mark.parametrize(
    ("previous", "status", "since"),
    [
        pytest.param(None, True, AT_T1, id="first"),
        pytest.param([ready(True, since=AT_T0)], True, AT_T0, id="same"),
        pytest.param([ready(True, since=AT_T0)], False, AT_T1, id="flip"),
        pytest.param([ready(False, since=AT_T0)], True, AT_T1, id="flip-back"),
    ],
)
def test_transition_time_moves_only_when_the_status_flips(
    previous: list[dict[str, Any]] | None, status: bool, since: str
) -> None:
    assert set_ready(previous, status)["lastTransitionTime"] == since


def test_reason_and_message_follow_without_a_transition() -> None:
    previous = [ready(False, reason="InvalidSpec", message="old", since="then")]
    updated = set_ready(previous, False, reason="InvalidSpec", message="new")
    assert (updated["message"], updated["lastTransitionTime"]) == ("new", "then")


def test_other_conditions_are_kept() -> None:
    other = {"type": "Scaled", "status": "True"}
    updated = conditions.with_condition(
        [other, ready(True)], kind="Ready", status=False, reason="R", message="m", now=T1
    )
    assert [c["type"] for c in updated] == ["Scaled", "Ready"]
    assert updated[0] == other


def test_an_unchanged_condition_compares_equal() -> None:
    """The handlers rely on this to post events and patch status only on changes."""
    first = conditions.with_condition(
        None, kind="Ready", status=True, reason="R", message="m", now=T0
    )
    again = conditions.with_condition(
        first, kind="Ready", status=True, reason="R", message="m", now=T1
    )
    assert conditions.find(again, "Ready") == conditions.find(first, "Ready")


def test_find_without_conditions() -> None:
    assert conditions.find(None, "Ready") is None


def test_timestamps_are_utc() -> None:
    berlin = datetime.timezone(datetime.timedelta(hours=2))
    assert conditions.timestamp(datetime.datetime(2024, 5, 1, 14, 0, 0, tzinfo=berlin)) == (
        "2024-05-01T12:00:00Z"
    )


SPEC = {"tableName": "Users", "stream": {"enabled": True, "viewType": "KEYS_ONLY"}}


@pytest.mark.parametrize(
    ("spec", "label", "stream"),
    [
        pytest.param(
            SPEC, "L", "arn:aws:dynamodb:r:1:table/Users/stream/L", id="stream-with-label"
        ),
        pytest.param(SPEC, None, None, id="stream-not-labelled-yet"),
        pytest.param({**SPEC, "stream": {"enabled": False}}, "L", None, id="stream-off"),
    ],
)
def test_table_view(spec: dict[str, Any], label: str | None, stream: str | None) -> None:
    stats = tabledata.TableStats(items=7, bytes=300, created=None, stream_label=label)
    assert conditions.table_view(stats, spec=spec, region="r", account_id="1") == {
        "tableName": "Users",
        "itemCount": 7,
        "tableSizeBytes": 300,
        "streamId": stream,
    }
