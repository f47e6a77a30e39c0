"""DynamoDB attribute values in their wire JSON form: validation, numbers, size, order.

Items stay as the JSON DynamoDB speaks (`{"n": {"N": "1.5"}}`) from request to
Redis and back, so nothing here converts to Python types; numbers are text that
is only ever read through `decimal.Decimal`, never float, as DynamoDB keeps 38
significant digits exactly.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kubefn_gateway.dynamodb.errors import ValidationError

TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}
KEY_TYPES = frozenset({"S", "N", "B"})

MAX_DIGITS = 38
MAX_EXPONENT = 125  # largest magnitude 9.99...E+125
MIN_EXPONENT = -130  # smallest nonzero magnitude 1E-130

INVALID = "One or more parameter values were invalid: "
_SET_WORDS = {"SS": "string", "NS": "number", "BS": "binary"}
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Exact enough for any sum or difference of two valid numbers (256 digits apart at most).
_EXACT = decimal.Context(prec=400, Emax=999_999, Emin=-999_999)


def decimal_of(text: str) -> Decimal:
    """The exact value of a number already validated (wire text is never a float)."""
    return Decimal(text)


def normalize_number(text: str) -> str:
    """DynamoDB's canonical text for a number ("1.50" -> "1.5", "1e2" -> "100").

    Refuses what DynamoDB refuses: non-numbers, more than 38 significant digits,
    and magnitudes outside 1E-130 .. 9.99E+125.
    """
    if not isinstance(text, str) or not _NUMBER_TEXT.fullmatch(text):
        raise ValidationError("A value provided cannot be converted into a number")
    return _canonical(Decimal(text))


def _canonical(value: Decimal) -> str:
    if not value.is_finite():
        raise ValidationError("A value provided cannot be converted into a number")
    if value.is_zero():
        return "0"
    adjusted = value.adjusted()
    if adjusted > MAX_EXPONENT:
        raise ValidationError(
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range"
        )
    if adjusted < MIN_EXPONENT:
        raise ValidationError(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    significant = "".join(map(str, value.as_tuple().digits)).strip("0")
    if len(significant) > MAX_DIGITS:
        raise ValidationError("Attempting to store more than 38 significant digits in a Number")
    return format(value.normalize(_EXACT), "f")


def add_numbers(a: str, b: str, *, subtract: bool = False) -> str:
    """`a + b` (or `a - b`) of two number texts, exactly, as DynamoDB's ADD and SET do."""
    x, y = Decimal(a), Decimal(b)
    return _canonical(_EXACT.subtract(x, y) if subtract else _EXACT.add(x, y))


def validate_item(item: Any, *, field: str = "Item") -> None:
    """Refuse an item (attribute name -> value) DynamoDB would refuse, with its message."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"{field} must be a map of attribute names to attribute values")
    for name, value in item.items():
        if not isinstance(name, str):
            raise ValidationError(f"{field} has an attribute name that is not a string")
        validate_value(value, path=name)


def validate_value(value: Any, *, path: str) -> None:
    """Refuse an attribute value DynamoDB would refuse; `path` names it in our own messages."""
    type_, inner = _single_type(value)
    if type_ == "S":
        _expect(isinstance(inner, str), path, type_, "a string")
    elif type_ == "N":
        _expect(isinstance(inner, str), path, type_, "a string")
        normalize_number(inner)
    elif type_ == "B":
        _raw_bytes(inner, path)
    elif type_ == "BOOL":
        _expect(isinstance(inner, bool), path, type_, "a boolean")
    elif type_ == "NULL":
        _expect(isinstance(inner, bool), path, type_, "a boolean")
        if not inner:
            raise ValidationError(
                INVALID + "Null attribute value types must have the value of true"
            )
    elif type_ in SET_TYPES:
        _validate_set(type_, inner, path)
    elif type_ == "L":
        _expect(isinstance(inner, list), path, type_, "a list")
        for index, element in enumerate(inner):
            validate_value(element, path=f"{path}[{index}]")
    else:  # M
        _expect(isinstance(inner, Mapping), path, type_, "a map")
        for key, element in inner.items():
            _expect(isinstance(key, str), path, type_, "a map with string keys")
            validate_value(element, path=f"{path}.{key}")


def _single_type(value: Any) -> tuple[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    known = [key for key in value if key in TYPES]
    if len(value) > 1 and known:
        raise ValidationError(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes"
        )
    if not known:
        raise ValidationError(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    return known[0], value[known[0]]


def _expect(ok: bool, path: str, type_: str, expected: str) -> None:
    if not ok:
        raise ValidationError(f"Invalid attribute value at {path}: {type_} must be {expected}")


def _raw_bytes(text: Any, path: str) -> bytes:
    _expect(isinstance(text, str), path, "B", "base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"Invalid attribute value at {path}: B must be base64 text") from None


def _validate_set(type_: str, members: Any, path: str) -> None:
    _expect(isinstance(members, list), path, type_, "a list")
    if not members:
        raise ValidationError(INVALID + f"An {_SET_WORDS[type_]} set  may not be empty")
    seen: set[Any] = set()
    for member in members:
        if type_ == "SS":
            _expect(isinstance(member, str), path, type_, "a list of strings")
            identity: Any = member
        elif type_ == "NS":
            _expect(isinstance(member, str), path, type_, "a list of number strings")
            identity = Decimal(normalize_number(member))
        else:
            identity = _raw_bytes(member, path)
        if identity in seen:
            raise ValidationError(
                INVALID + f"Input collection [{', '.join(members)}] contains duplicates."
            )
        seen.add(identity)


def normalize_value(value: dict[str, Any]) -> dict[str, Any]:
    """A validated value with every number in canonical form; sets keep their order."""
    type_, inner = next(iter(value.items()))
    if type_ == "N":
        return {"N": normalize_number(inner)}
    if type_ == "NS":
        return {"NS": [normalize_number(member) for member in inner]}
    if type_ == "L":
        return {"L": [normalize_value(element) for element in inner]}
    if type_ == "M":
        return {"M": {key: normalize_value(element) for key, element in inner.items()}}
    return value


def normalize_item(item: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A validated item as DynamoDB stores and returns it (canonical numbers)."""
    return {name: normalize_value(value) for name, value in item.items()}


def item_size(item: Mapping[str, dict[str, Any]]) -> int:
    """DynamoDB's size of an item in bytes, which the 400 KB limit and capacity units use."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    """The bytes one attribute value counts for (AWS "Item sizes and formats")."""
    type_, inner = next(iter(value.items()))
    if type_ == "S":
        return len(inner.encode())
    if type_ == "N":
        return _number_size(inner)
    if type_ == "B":
        return _binary_size(inner)
    if type_ in ("BOOL", "NULL"):
        return 1
    if type_ == "SS":
        return sum(len(member.encode()) for member in inner)
    if type_ == "NS":
        return sum(_number_size(member) for member in inner)
    if type_ == "BS":
        return sum(_binary_size(member) for member in inner)
    if type_ == "L":
        return 3 + sum(1 + value_size(element) for element in inner)
    return 3 + sum(1 + len(key.encode()) + value_size(element) for key, element in inner.items())


def _binary_size(text: str) -> int:
    """Bytes a (validated) base64 text decodes to, without decoding it."""
    return len(text) * 3 // 4 - len(text) + len(text.rstrip("="))


def _number_size(text: str) -> int:
    if "e" in text or "E" in text:  # not canonical: let Decimal find the digits
        digits = "".join(map(str, Decimal(text).as_tuple().digits)).strip("0")
    else:  # canonical (plain) notation: the significant digits are the text's
        digits = text.lstrip("+-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def compare(a: dict[str, Any], b: dict[str, Any]) -> int | None:
    """-1, 0 or 1 for two values of one orderable type (N, S, B); None when not comparable."""
    (type_a, x), (type_b, y) = next(iter(a.items())), next(iter(b.items()))
    if type_a != type_b or type_a not in KEY_TYPES:
        return None
    if type_a == "N":
        left: Any = Decimal(x)
        right: Any = Decimal(y)
    elif type_a == "S":
        left, right = x.encode(), y.encode()
    else:
        left, right = base64.b64decode(x), base64.b64decode(y)
    return (left > right) - (left < right)


def equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """DynamoDB equality: numbers by value, sets regardless of order, lists and maps deeply."""
    (type_a, x), (type_b, y) = next(iter(a.items())), next(iter(b.items()))
    if type_a != type_b:
        return False
    if type_a in KEY_TYPES:
        return compare(a, b) == 0
    if type_a in SET_TYPES:
        return len(x) == len(y) and _members(type_a, x) == _members(type_a, y)
    if type_a == "L":
        return len(x) == len(y) and all(equal(p, q) for p, q in zip(x, y, strict=True))
    if type_a == "M":
        return x.keys() == y.keys() and all(equal(x[key], y[key]) for key in x)
    return bool(x == y)


def _members(type_: str, members: list[str]) -> set[Any]:
    if type_ == "NS":
        return {Decimal(member) for member in members}
    if type_ == "BS":
        return {base64.b64decode(member) for member in members}
    return set(members)


def set_members(value: dict[str, Any]) -> set[Any]:
    """The members of an SS/NS/BS value as comparable Python values (Decimal, bytes, str)."""
    type_, inner = next(iter(value.items()))
    return _members(type_, inner)


def member_identity(type_: str, member: str) -> Any:
    """How one member of a set of `type_` (SS, NS, BS) compares to others."""
    if type_ == "NS":
        return Decimal(member)
    if type_ == "BS":
        return base64.b64decode(member)
    return member


# Order-preserving byte encoding of key values, for Redis sorted sets read by
# ZRANGEBYLEX. Within one type: a < b iff key_member(a) < key_member(b); no
# 0x00 or 0xFF byte; a proper prefix always sorts first; and for S and B the
# encoding of a prefix is a byte prefix of the encoding (begins_with ranges).
#
# N: one class byte ("1" negative, "2" zero, "3" positive), then the adjusted
# exponent + 200 as three digits, then the significant digits. Negatives
# complement exponent and digits (9 - d) and end with "~", which sorts above
# every digit, so -1.5 ("...84~") < -1 ("...8~") and no key prefixes another.

_EXPONENT_BIAS = 200
_UNESCAPE = re.compile(rb"\x01([\x01\x02])")


def _unescape(match: re.Match[bytes]) -> bytes:
    return b"\x00" if match.group(1) == b"\x01" else b"\x01"


_NEGATIVE_END = b"~"


def key_member(value: dict[str, Any]) -> bytes:
    """The order-preserving encoding of an S, N or B key value."""
    type_, inner = next(iter(value.items()))
    if type_ == "S":
        return inner.encode().replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01")
    if type_ == "B":
        return base64.b64decode(inner).hex().encode()
    if type_ == "N":
        return _number_member(Decimal(inner))
    raise ValidationError(f"Key values must be of type S, N or B, not {type_}")


def _number_member(value: Decimal) -> bytes:
    if value.is_zero():
        return b"2"
    digits = "".join(map(str, value.as_tuple().digits)).strip("0")
    exponent = value.adjusted() + _EXPONENT_BIAS
    if value > 0:
        return f"3{exponent:03d}{digits}".encode()
    complemented = "".join(str(9 - int(digit)) for digit in digits)
    return f"1{999 - exponent:03d}{complemented}".encode() + _NEGATIVE_END


def key_value(member: bytes, attribute_type: str) -> dict[str, Any]:
    """The key value `key_member` encoded, for attribute type S, N or B."""
    if attribute_type == "S":
        return {"S": _UNESCAPE.sub(_unescape, member).decode()}
    if attribute_type == "B":
        return {"B": base64.b64encode(bytes.fromhex(member.decode())).decode()}
    if attribute_type == "N":
        return {"N": _number_of_member(member.decode())}
    raise ValidationError(f"Key values must be of type S, N or B, not {attribute_type}")


def _number_of_member(text: str) -> str:
    if text == "2":
        return "0"
    if text[0] == "3":
        exponent, digits, sign = int(text[1:4]), text[4:], ""
    else:
        exponent = 999 - int(text[1:4])
        digits = "".join(str(9 - int(digit)) for digit in text[4:-1])
        sign = "-"
    adjusted = exponent - _EXPONENT_BIAS
    value = Decimal(f"{sign}{digits[0]}.{digits[1:] or '0'}E{adjusted}")
    return _canonical(value)
