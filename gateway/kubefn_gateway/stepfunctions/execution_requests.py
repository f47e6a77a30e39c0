"""The execution operations' requests, checked against the API's model, and their pages.

Each field is checked by the model's rules (length, enum, range, JSON payload)
and a violation names the field, the limit and the value, in the words of
Step Functions' request validator. A nextToken is opaque: it holds the position
a page ended at and a digest of the request it belongs to, so a token used
with other arguments is an InvalidToken rather than a wrong page. The field checks
serve the state-machine operations too, so both halves of the API word a violation alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from kubefn_gateway.stepfunctions import errors

NAME_MAX = 80
PAYLOAD_MAX = 262144
"""Bytes (UTF-8) of an execution's input or a task's output."""
TRACE_HEADER_MAX = 256
TOKEN_MAX = 2048
"""Characters of a task token."""
ERROR_MAX, CAUSE_MAX = 256, 32768
PAGE_DEFAULT, PAGE_MAX = 100, 1000
LIST_TOKEN_MAX, HISTORY_TOKEN_MAX = 3096, 1024

_NAME_FORBIDDEN = frozenset('<>{}[]?*"#%\\^|~`$&,;:/')


# -- pages ---------------------------------------------------------------------------------


class HistoryPage(NamedTuple):
    """Events [start, stop] by position (inclusive), and where the next page starts."""

    start: int
    stop: int
    next_at: int | None


def history_page(total: int, *, at: int | None, size: int, reverse: bool) -> HistoryPage:
    """One page of a history of `total` events: oldest first from position `at` (or 0), or
    newest first down from `at` (or the last event)."""
    if reverse:
        stop = total - 1 if at is None else min(at, total - 1)
        start = max(0, stop - size + 1)
        return HistoryPage(start, stop, start - 1 if start > 0 else None)
    start = 0 if at is None else at
    stop = min(start + size, total) - 1
    return HistoryPage(start, stop, stop + 1 if stop + 1 < total else None)


def scope(*parts: str) -> str:
    """What a nextToken belongs to (its operation and arguments), compactly."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _encode(digest: str, position: list[Any]) -> str:
    raw = json.dumps({"s": digest, "p": position}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode()


def next_token(raw: Any, *, most: int) -> str | None:
    """A nextToken as given (None when absent): text of 1 to `most` characters."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not 1 <= len(raw) <= most:
        raise errors.validation(
            errors.constraint(
                "nextToken", f"Member must have length between 1 and {most}", value=raw
            )
        )
    return raw


def _decode(raw: Any, *, scope: str, most: int) -> list[Any] | None:
    """The position a nextToken holds; InvalidToken unless this request's arguments made it."""
    if next_token(raw, most=most) is None:
        return None
    try:
        token = json.loads(base64.urlsafe_b64decode(raw.encode()))
        position = token["p"] if token["s"] == scope else None
    except (binascii.Error, ValueError, KeyError, TypeError):
        position = None
    if not isinstance(position, list):
        raise errors.InvalidToken(
            f"Invalid Token: '{raw}' was not given for this request (keep every other "
            "argument unchanged while paging)"
        )
    return position


class HistoryPosition(NamedTuple):
    """Where the next page of a history starts: an event's position (0-based)."""

    at: int

    def encode(self, *, scope: str) -> str:
        return _encode(scope, [self.at])

    @classmethod
    def decode(cls, raw: Any, *, scope: str) -> HistoryPosition | None:
        position = _decode(raw, scope=scope, most=HISTORY_TOKEN_MAX)
        if position is None:
            return None
        if len(position) != 1 or type(position[0]) is not int or position[0] < 0:
            raise errors.InvalidToken(f"Invalid Token: '{raw}'")
        return cls(position[0])


class ListPosition(NamedTuple):
    """The last execution a page listed: newest first, names descending at one start."""

    start_ms: int
    name: str

    def precedes(self, start_ms: int, name: str) -> bool:
        """Whether an execution comes after this one in the listing."""
        return (start_ms, name) < (self.start_ms, self.name)

    def encode(self, *, scope: str) -> str:
        return _encode(scope, [self.start_ms, self.name])

    @classmethod
    def decode(cls, raw: Any, *, scope: str) -> ListPosition | None:
        position = _decode(raw, scope=scope, most=LIST_TOKEN_MAX)
        if position is None:
            return None
        if len(position) != 2 or type(position[0]) is not int or not isinstance(position[1], str):
            raise errors.InvalidToken(f"Invalid Token: '{raw}'")
        return cls(position[0], position[1])


# -- the request's fields, each checked by the API's model rules and named in the error ----


def execution_name(raw: Any) -> str | None:
    """An execution's name: 1 to 80 characters, none of them white space, brackets,
    wildcards, `"#%\\^|~`$&,;:/` or control characters. None to have one made up."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise errors.validation(
            errors.constraint(
                "name", "Member must have length greater than or equal to 1", value=raw
            )
        )
    if len(raw) > NAME_MAX:
        raise errors.validation(
            errors.constraint(
                "name", f"Member must have length less than or equal to {NAME_MAX}", value=raw
            )
        )
    bad = next((c for c in raw if _forbidden_in_name(c)), None)
    if bad is not None:
        raise errors.InvalidName(
            f"Invalid Name: '{raw}' (an execution name may not contain {bad!r}: no white "
            'space, brackets, wildcards, control characters or any of "#%\\^|~`$&,;:/)'
        )
    return raw


def _forbidden_in_name(char: str) -> bool:
    code = ord(char)
    return (
        char in _NAME_FORBIDDEN
        or char.isspace()
        or code <= 0x1F
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF  # a lone surrogate: no character at all
    )


def payload(raw: Any, *, field: str, error: Callable[[str], errors.StepFunctionsError]) -> str:
    """A JSON text of at most 256 KB in UTF-8 (an execution's input, a task's output)."""
    if not isinstance(raw, str):
        raise error(f"{field} must be a string of JSON text (got {type(raw).__name__})")
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise error(f"{field} is not valid UTF-8: {exc.reason} at {exc.start}") from None
    if size > PAYLOAD_MAX:
        raise error(f"{field} is {size} bytes in UTF-8; the most is {PAYLOAD_MAX}")
    try:
        json.loads(raw, parse_constant=_not_json)
    except ValueError as exc:
        raise error(f"{field} is not valid JSON: {exc}") from None
    return raw


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def invalid_input(reason: str) -> errors.StepFunctionsError:
    return errors.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{reason}'")


def invalid_output(reason: str) -> errors.StepFunctionsError:
    return errors.InvalidOutput(f"Invalid Output: '{reason}'")


def page_size(raw: Any, *, most: int = PAGE_MAX, default: int = PAGE_DEFAULT) -> int:
    """maxResults: 1 to `most` results a page; 0 (or none) means `default`."""
    if raw is None or (type(raw) is int and raw == 0):
        return default
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise errors.validation(
            errors.constraint(
                "maxResults", "Member must have value greater than or equal to 0", value=raw
            )
        )
    if raw > most:
        raise errors.validation(
            errors.constraint(
                "maxResults", f"Member must have value less than or equal to {most}", value=raw
            )
        )
    return int(raw)


def required(field: str) -> errors.ValidationException:
    return errors.validation(
        errors.constraint(field, "Member must not be null"), reason="MISSING_REQUIRED_PARAMETER"
    )


def bounded(raw: Any, *, field: str, most: int) -> str:
    """An optional error or cause: text of at most `most` characters ("" when absent)."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise errors.validation(errors.constraint(field, "Member must be a string", value=raw))
    if len(raw) > most:
        raise _too_long(field, most=most, length=len(raw))
    return raw


def required_text(raw: Any, *, field: str, most: int) -> str:
    """A required string of 1 to `most` characters (a task token, a definition): its value
    is left out of the error, as Step Functions leaves out a sensitive member's."""
    if raw is None:
        raise required(field)
    if not isinstance(raw, str) or not raw:
        raise errors.validation(
            errors.constraint(
                field, "Member must have length greater than or equal to 1", sensitive=True
            )
        )
    if len(raw) > most:
        raise _too_long(field, most=most, length=len(raw))
    return raw


def _too_long(field: str, *, most: int, length: int) -> errors.ValidationException:
    return errors.validation(
        errors.constraint(
            field,
            f"Member must have length less than or equal to {most} (got {length})",
            sensitive=True,
        )
    )


def trace_header(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or not raw.isascii():
        raise errors.validation(
            errors.constraint(
                "traceHeader",
                "Member must satisfy regular expression pattern: \\p{ASCII}*",
                value=raw,
            )
        )
    if len(raw) > TRACE_HEADER_MAX:
        raise errors.validation(
            errors.constraint(
                "traceHeader",
                f"Member must have length less than or equal to {TRACE_HEADER_MAX}",
                value=raw,
            )
        )
    return raw


def task_token(raw: Any) -> str:
    return required_text(raw, field="taskToken", most=TOKEN_MAX)


def enum(raw: Any, field: str, values: tuple[str, ...]) -> str | None:
    if raw is not None and raw not in values:
        raise errors.validation(
            errors.constraint(
                field, f"Member must satisfy enum value set: [{', '.join(values)}]", value=raw
            )
        )
    return raw


def included_data(body: Mapping[str, Any]) -> str | None:
    return enum(body.get("includedData"), "includedData", ("ALL_DATA", "METADATA_ONLY"))


def flag(raw: Any, *, field: str, default: bool) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, bool):
        raise errors.validation(errors.constraint(field, "Member must be a boolean", value=raw))
    return raw
