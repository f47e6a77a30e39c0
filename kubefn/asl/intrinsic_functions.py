"""The 18 intrinsic functions, evaluated as Step Functions evaluates them.

`intrinsics.parse` turns `States.Format('{}', $.a)` into an AST; `evaluate` runs it,
inner calls first. Every refusal (a wrong type, an index out of range, input too
long) is `States.IntrinsicFailure` with a message naming the function, the argument
and the value. A path argument that matches nothing is
`States.ParameterPathFailure`: the call sits in a `.$` field, and a missing path
there fails the same way whether or not an intrinsic wraps it.

Randomness and UUIDs come in as arguments so tests pin them; a seeded
`States.MathRandom` is reproducible on its own, as on AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random as _random
import re
import uuid as _uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubefn.asl import errors, intrinsics, jsonpath

TEXT_CHARS_MAX = 10_000
"""The longest string Base64Encode, Base64Decode and Hash accept."""
ARRAY_RANGE_ITEMS_MAX = 1000

_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
_PLACEHOLDER = re.compile(r"\\[{}]|\{\}")


@dataclass(frozen=True)
class _Sources:
    """Where the non-deterministic functions draw from."""

    random: Callable[[int, int], int]
    uuid4: Callable[[], str]


def evaluate(
    call: intrinsics.Call,
    data: Any,
    *,
    context: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None = None,
    random: Callable[[int, int], int] | None = None,
    uuid4: Callable[[], str] | None = None,
) -> Any:
    """The value of `call` on the input `data` (paths `$$...` read `context`).

    `random(start, end)` returns an integer with start <= n < end (unseeded
    MathRandom); `uuid4()` returns a version 4 UUID text.
    """
    sources = _Sources(
        random=random or _random.SystemRandom().randrange,
        uuid4=uuid4 or (lambda: str(_uuid.uuid4())),
    )
    return _evaluate(call, data, context=context, variables=variables, sources=sources)


def evaluate_text(
    text: str,
    data: Any,
    *,
    context: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None = None,
    random: Callable[[int, int], int] | None = None,
    uuid4: Callable[[], str] | None = None,
) -> Any:
    """Parse the call `text` (the value of a `.$` field starting `States.`) and evaluate it."""
    try:
        call = intrinsics.parse(text)
    except intrinsics.IntrinsicError as error:
        raise errors.StatesError(
            errors.INTRINSIC_FAILURE, f"The intrinsic call '{text}' {error}"
        ) from None
    return evaluate(call, data, context=context, variables=variables, random=random, uuid4=uuid4)


def _evaluate(
    call: intrinsics.Call,
    data: Any,
    *,
    context: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None,
    sources: _Sources,
) -> Any:
    function = _FUNCTIONS.get(call.name)
    if function is None:
        raise _failure(call.name, f"is no intrinsic function (States.{call.name})")
    low, high = intrinsics.ARITY[call.name]
    if len(call.args) < low or (high is not None and len(call.args) > high):
        raise _failure(call.name, f"cannot take {len(call.args)} argument(s)")
    values = []
    for arg in call.args:
        if isinstance(arg, intrinsics.Call):
            values.append(
                _evaluate(arg, data, context=context, variables=variables, sources=sources)
            )
        elif isinstance(arg, intrinsics.PathArg):
            values.append(_read(call.name, arg.path, data, context, variables))
        else:
            values.append(arg.value)
    return function(values, sources)


def _read(
    name: str,
    path: str,
    data: Any,
    context: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None,
) -> Any:
    try:
        return jsonpath.read(path, data, context=context, variables=variables)
    except jsonpath.PathNotFound:
        source = context if path.startswith("$$") else data
        raise errors.StatesError(
            errors.PARAMETER_PATH_FAILURE,
            f"The JSONPath '{path}' given to States.{name} could not be found in the "
            f"input '{errors.encoded(source)}'",
        ) from None


def _failure(name: str, message: str) -> errors.StatesError:
    return errors.StatesError(errors.INTRINSIC_FAILURE, f"States.{name}: {message}")


def _shown(value: Any) -> str:
    text = errors.encoded(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _string(name: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _failure(name, f"the {what} must be a string (got {_shown(value)})")
    return value


def _array(name: str, what: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _failure(name, f"the {what} must be an array (got {_shown(value)})")
    return value


def _integer(name: str, what: str, value: Any) -> int:
    """An integer argument; a fractional number rounds to the nearest, halves up (as Java)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _failure(name, f"the {what} must be an integer (got {_shown(value)})")
    return value if isinstance(value, int) else math.floor(value + 0.5)


def _short(name: str, what: str, value: Any) -> str:
    text = _string(name, what, value)
    if len(text) > TEXT_CHARS_MAX:
        raise _failure(
            name,
            f"the {what} has {len(text)} characters; the most allowed is {TEXT_CHARS_MAX}",
        )
    return text


def _canonical(value: Any) -> str:
    """A text equal for equal JSON values (1 and 1.0 alike; key order ignored)."""

    def normal(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {key: normal(each) for key, each in item.items()}
        if isinstance(item, list):
            return [normal(each) for each in item]
        return item

    return json.dumps(normal(value), sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- the functions


def _format(args: list[Any], _: _Sources) -> str:
    template = _string("Format", "template (argument 1)", args[0])
    values = args[1:]
    holes = sum(1 for m in _PLACEHOLDER.finditer(template) if m.group() == "{}")
    if holes != len(values):
        raise _failure(
            "Format",
            f"the template {_shown(template)} has {holes} '{{}}' placeholder(s) "
            f"but {len(values)} value(s) follow",
        )
    remaining = iter(values)

    def replace(match: re.Match[str]) -> str:
        if match.group() == "{}":
            return _format_value(next(remaining))
        return match.group()[1]

    return _PLACEHOLDER.sub(replace, template)


def _format_value(value: Any) -> str:
    """Strings as they are, other scalars as JSON text, objects and arrays as Java prints them."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_format_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _string_to_json(args: list[Any], _: _Sources) -> Any:
    text = _string("StringToJson", "argument", args[0])
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _failure(
            "StringToJson", f"the argument {_shown(text)} is not JSON ({error.msg})"
        ) from None


def _json_to_string(args: list[Any], _: _Sources) -> str:
    return errors.encoded(args[0])


def _array_of(args: list[Any], _: _Sources) -> list[Any]:
    return list(args)


def _array_partition(args: list[Any], _: _Sources) -> list[list[Any]]:
    items = _array("ArrayPartition", "array (argument 1)", args[0])
    size = _integer("ArrayPartition", "chunk size (argument 2)", args[1])
    if size <= 0:
        raise _failure(
            "ArrayPartition", f"the chunk size (argument 2) must be above 0 (got {size})"
        )
    return [items[at : at + size] for at in range(0, len(items), size)]


def _array_contains(args: list[Any], _: _Sources) -> bool:
    items = _array("ArrayContains", "array (argument 1)", args[0])
    wanted = _canonical(args[1])
    return any(_canonical(item) == wanted for item in items)


def _array_range(args: list[Any], _: _Sources) -> list[int]:
    start = _integer("ArrayRange", "start (argument 1)", args[0])
    end = _integer("ArrayRange", "end (argument 2)", args[1])
    step = _integer("ArrayRange", "step (argument 3)", args[2])
    if step <= 0:
        raise _failure("ArrayRange", f"the step (argument 3) must be above 0 (got {step})")
    count = max(0, (end - start) // step + 1)
    if count > ARRAY_RANGE_ITEMS_MAX:
        raise _failure(
            "ArrayRange",
            f"the range {start} to {end} by {step} has {count} items; "
            f"the most allowed is {ARRAY_RANGE_ITEMS_MAX}",
        )
    return list(range(start, end + 1, step))


def _array_get_item(args: list[Any], _: _Sources) -> Any:
    items = _array("ArrayGetItem", "array (argument 1)", args[0])
    index = _integer("ArrayGetItem", "index (argument 2)", args[1])
    if not 0 <= index < len(items):
        raise _failure(
            "ArrayGetItem",
            f"the index (argument 2) {index} is out of range for an array of {len(items)} item(s)",
        )
    return items[index]


def _array_length(args: list[Any], _: _Sources) -> int:
    return len(_array("ArrayLength", "argument", args[0]))


def _array_unique(args: list[Any], _: _Sources) -> list[Any]:
    items = _array("ArrayUnique", "argument", args[0])
    seen: set[str] = set()
    unique = []
    for item in items:
        key = _canonical(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(args: list[Any], _: _Sources) -> str:
    text = _short("Base64Encode", "argument", args[0])
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _base64_decode(args: list[Any], _: _Sources) -> str:
    text = _short("Base64Decode", "argument", args[0])
    try:
        return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error):
        raise _failure(
            "Base64Decode", f"the argument {_shown(text)} is not Base64 of UTF-8 text"
        ) from None


def _hash(args: list[Any], _: _Sources) -> str:
    text = _short("Hash", "data (argument 1)", args[0])
    algorithm = args[1]
    if not isinstance(algorithm, str) or algorithm not in _HASHES:
        allowed = ", ".join(_HASHES)
        raise _failure(
            "Hash", f"the algorithm (argument 2) must be one of {allowed} (got {_shown(algorithm)})"
        )
    return hashlib.new(_HASHES[algorithm], text.encode("utf-8")).hexdigest()


def _json_merge(args: list[Any], _: _Sources) -> dict[str, Any]:
    for at in (0, 1):
        if not isinstance(args[at], dict):
            raise _failure(
                "JsonMerge", f"argument {at + 1} must be a JSON object (got {_shown(args[at])})"
            )
    if args[2] is not False:
        raise _failure(
            "JsonMerge",
            "only the shallow merge is supported: argument 3 must be false "
            f"(got {_shown(args[2])})",
        )
    return {**args[0], **args[1]}


def _math_random(args: list[Any], sources: _Sources) -> int:
    start = _integer("MathRandom", "start (argument 1)", args[0])
    end = _integer("MathRandom", "end (argument 2)", args[1])
    if end <= start:
        raise _failure("MathRandom", f"the end {end} must be above the start {start}")
    if len(args) == 3:
        seed = _integer("MathRandom", "seed (argument 3)", args[2])
        return _random.Random(seed).randrange(start, end)
    return sources.random(start, end)


def _math_add(args: list[Any], _: _Sources) -> int:
    return _integer("MathAdd", "argument 1", args[0]) + _integer("MathAdd", "argument 2", args[1])


def _string_split(args: list[Any], _: _Sources) -> list[str]:
    text = _string("StringSplit", "string (argument 1)", args[0])
    delimiters = _string("StringSplit", "delimiter (argument 2)", args[1])
    if not delimiters:
        return [text] if text else []
    pattern = "[" + "".join(re.escape(char) for char in delimiters) + "]"
    return [part for part in re.split(pattern, text) if part]


def _new_uuid(_args: list[Any], sources: _Sources) -> str:
    return sources.uuid4()


_FUNCTIONS: dict[str, Callable[[list[Any], _Sources], Any]] = {
    "Format": _format,
    "StringToJson": _string_to_json,
    "JsonToString": _json_to_string,
    "Array": _array_of,
    "ArrayPartition": _array_partition,
    "ArrayContains": _array_contains,
    "ArrayRange": _array_range,
    "ArrayGetItem": _array_get_item,
    "ArrayLength": _array_length,
    "ArrayUnique": _array_unique,
    "Base64Encode": _base64_encode,
    "Base64Decode": _base64_decode,
    "Hash": _hash,
    "JsonMerge": _json_merge,
    "MathRandom": _math_random,
    "MathAdd": _math_add,
    "StringSplit": _string_split,
    "UUID": _new_uuid,
}
