"""DynamoDB values: validation messages, canonical numbers, size, order and key encoding."""

from __future__ import annotations

import base64
import random
from decimal import Decimal
from typing import Any

import pytest

from kubefn_gateway.dynamodb import values
from kubefn_gateway.dynamodb.errors import ValidationError

INVALID = "One or more parameter values were invalid: "
EMPTY = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
TWO = (
    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
    "the supported datatypes"
)
NOT_A_NUMBER = "A value provided cannot be converted into a number"
OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
DIGITS = "Attempting to store more than 38 significant digits in a Number"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("1", "1", id="integer"),
        pytest.param("1.50", "1.5", id="trailing-zero"),
        pytest.param("1.0", "1", id="integral-decimal"),
        pytest.param("1e2", "100", id="exponent"),
        pytest.param("1E+2", "100", id="exponent-plus"),
        pytest.param("-0", "0", id="negative-zero"),
        pytest.param("0.000", "0", id="zero-decimal"),
        pytest.param("0e5", "0", id="zero-exponent"),
        pytest.param("007", "7", id="leading-zeros"),
        pytest.param("+3", "3", id="plus-sign"),
        pytest.param(".5", "0.5", id="leading-dot"),
        pytest.param("5.", "5", id="trailing-dot"),
        pytest.param("-5.5e-3", "-0.0055", id="negative-small"),
        pytest.param(
            "12345678901234567890123456789012345678",
            "12345678901234567890123456789012345678",
            id="38-digits",
        ),
        pytest.param(
            "1000000000000000000000000000000000000000000",
            "1000000000000000000000000000000000000000000",
            id="many-trailing-zeros",
        ),
        pytest.param(
            "9.9999999999999999999999999999999999999E+125",
            "99999999999999999999999999999999999999" + "0" * 88,
            id="max",
        ),
        pytest.param(
            "-9.9999999999999999999999999999999999999E+125",
            "-99999999999999999999999999999999999999" + "0" * 88,
            id="min",
        ),
        pytest.param("1E-130", "0." + "0" * 129 + "1", id="smallest"),
    ],
)
def test_normalize_number(text: str, canonical: str) -> None:
    assert values.normalize_number(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", NOT_A_NUMBER, id="empty"),
        pytest.param("abc", NOT_A_NUMBER, id="letters"),
        pytest.param("1.2.3", NOT_A_NUMBER, id="two-dots"),
        pytest.param("NaN", NOT_A_NUMBER, id="nan"),
        pytest.param("Infinity", NOT_A_NUMBER, id="infinity"),
        pytest.param(" 1", NOT_A_NUMBER, id="space"),
        pytest.param("1e", NOT_A_NUMBER, id="bare-exponent"),
        pytest.param("0x10", NOT_A_NUMBER, id="hex"),
        pytest.param("--1", NOT_A_NUMBER, id="double-sign"),
        pytest.param("1E+126", OVERFLOW, id="overflow"),
        pytest.param("-1E+126", OVERFLOW, id="negative-overflow"),
        pytest.param("1E-131", UNDERFLOW, id="underflow"),
        pytest.param("123456789012345678901234567890123456789", DIGITS, id="39-digits"),
        pytest.param("1.00000000000000000000000000000000000001", DIGITS, id="39-digits-fraction"),
    ],
)
def test_normalize_number_refuses(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        values.normalize_number(text)
    assert caught.value.message == message


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"S": "a"}, id="S"),
        pytest.param({"S": ""}, id="empty-S"),
        pytest.param({"N": "-1.5e3"}, id="N"),
        pytest.param({"B": b64(b"\x00\xff")}, id="B"),
        pytest.param({"B": ""}, id="empty-B"),
        pytest.param({"BOOL": False}, id="BOOL"),
        pytest.param({"NULL": True}, id="NULL"),
        pytest.param({"SS": ["a", "b"]}, id="SS"),
        pytest.param({"NS": ["1", "2.5"]}, id="NS"),
        pytest.param({"BS": [b64(b"a"), b64(b"b")]}, id="BS"),
        pytest.param({"L": []}, id="empty-L"),
        pytest.param({"L": [{"S": "a"}, {"L": [{"N": "1"}]}]}, id="nested-L"),
        pytest.param({"M": {}}, id="empty-M"),
        pytest.param({"M": {"a": {"M": {"b": {"SS": ["x"]}}}}}, id="nested-M"),
    ],
)
def test_validate_value_accepts(value: dict[str, Any]) -> None:
    values.validate_value(value, path="a")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({}, EMPTY, id="no-type"),
        pytest.param({"X": "a"}, EMPTY, id="unknown-type"),
        pytest.param("a", EMPTY, id="not-a-map"),
        pytest.param({"S": "a", "N": "1"}, TWO, id="two-types"),
        pytest.param({"SS": []}, INVALID + "An string set  may not be empty", id="empty-SS"),
        pytest.param({"NS": []}, INVALID + "An number set  may not be empty", id="empty-NS"),
        pytest.param({"BS": []}, INVALID + "An binary set  may not be empty", id="empty-BS"),
        pytest.param(
            {"SS": ["a", "a"]},
            INVALID + "Input collection [a, a] contains duplicates.",
            id="dup-SS",
        ),
        pytest.param(
            {"NS": ["1", "1.0"]},
            INVALID + "Input collection [1, 1.0] contains duplicates.",
            id="dup-NS-numerically",
        ),
        pytest.param(
            {"BS": ["YQ==", "YQ=="]},
            INVALID + "Input collection [YQ==, YQ==] contains duplicates.",
            id="dup-BS",
        ),
        pytest.param(
            {"NULL": False},
            INVALID + "Null attribute value types must have the value of true",
            id="NULL-false",
        ),
        pytest.param({"N": "x"}, NOT_A_NUMBER, id="bad-N"),
        pytest.param({"NS": ["1", "y"]}, NOT_A_NUMBER, id="bad-NS-member"),
        pytest.param({"N": "1E+200"}, OVERFLOW, id="N-overflow"),
        pytest.param({"L": [{"N": "1E-200"}]}, UNDERFLOW, id="nested-underflow"),
        pytest.param(
            {"M": {"a": {"SS": []}}},
            INVALID + "An string set  may not be empty",
            id="nested-empty-set",
        ),
        pytest.param({"L": [{}]}, EMPTY, id="nested-empty-value"),
    ],
)
def test_validate_value_refuses_with_dynamodb_message(value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        values.validate_value(value, path="a")
    assert caught.value.message == message


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"S": 5}, id="S-number"),
        pytest.param({"N": 5}, id="N-json-number"),
        pytest.param({"B": "not base64!"}, id="B-invalid"),
        pytest.param({"B": "YQ"}, id="B-bad-padding"),
        pytest.param({"BOOL": "true"}, id="BOOL-string"),
        pytest.param({"NULL": "true"}, id="NULL-string"),
        pytest.param({"SS": "a"}, id="SS-not-list"),
        pytest.param({"SS": [1]}, id="SS-member-number"),
        pytest.param({"BS": ["!!"]}, id="BS-invalid-member"),
        pytest.param({"L": {"a": {"S": "x"}}}, id="L-map"),
        pytest.param({"M": [{"S": "x"}]}, id="M-list"),
    ],
)
def test_validate_value_refuses_wrong_json_types(value: Any) -> None:
    with pytest.raises(ValidationError, match="Invalid attribute value at a"):
        values.validate_value(value, path="a")


def test_validate_item_checks_every_attribute() -> None:
    values.validate_item({"id": {"S": "a"}, "n": {"N": "1"}})
    with pytest.raises(ValidationError, match="Input collection"):
        values.validate_item({"id": {"S": "a"}, "tags": {"SS": ["x", "x"]}})


def test_validate_item_refuses_a_non_map() -> None:
    with pytest.raises(ValidationError, match=r"^Key must be a map"):
        values.validate_item([], field="Key")


def test_normalize_item_canonicalises_numbers_everywhere() -> None:
    item = {
        "n": {"N": "1.50"},
        "ns": {"NS": ["2.0", "1e1"]},
        "l": {"L": [{"N": "-0"}, {"M": {"x": {"N": "0100"}}}]},
        "s": {"S": "1.50"},
    }
    assert values.normalize_item(item) == {
        "n": {"N": "1.5"},
        "ns": {"NS": ["2", "10"]},
        "l": {"L": [{"N": "0"}, {"M": {"x": {"N": "100"}}}]},
        "s": {"S": "1.50"},
    }


@pytest.mark.parametrize(
    ("item", "size"),
    [
        pytest.param({}, 0, id="empty"),
        pytest.param({"id": {"S": "abc"}}, 2 + 3, id="S"),
        pytest.param({"id": {"S": "é"}}, 2 + 2, id="S-utf8"),
        pytest.param({"é": {"S": ""}}, 2, id="name-utf8"),
        pytest.param({"b": {"B": b64(b"\x00" * 10)}}, 1 + 10, id="B-raw-bytes"),
        pytest.param({"t": {"BOOL": True}}, 1 + 1, id="BOOL"),
        pytest.param({"z": {"NULL": True}}, 1 + 1, id="NULL"),
        pytest.param({"n": {"N": "1"}}, 1 + 2, id="N-one-digit"),
        pytest.param({"n": {"N": "12"}}, 1 + 2, id="N-two-digits"),
        pytest.param({"n": {"N": "123"}}, 1 + 3, id="N-three-digits"),
        pytest.param({"n": {"N": "1000"}}, 1 + 2, id="N-trailing-zeros-trimmed"),
        pytest.param({"n": {"N": "0.001"}}, 1 + 2, id="N-leading-zeros-trimmed"),
        pytest.param({"ss": {"SS": ["ab", "c"]}}, 2 + 3, id="SS"),
        pytest.param({"ns": {"NS": ["1", "123"]}}, 2 + 2 + 3, id="NS"),
        pytest.param({"bs": {"BS": [b64(b"ab"), b64(b"c")]}}, 2 + 3, id="BS"),
        pytest.param({"l": {"L": []}}, 1 + 3, id="empty-L"),
        pytest.param(
            {"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}, 1 + 3 + (1 + 2) + (1 + 1), id="L"
        ),
        pytest.param({"m": {"M": {}}}, 1 + 3, id="empty-M"),
        pytest.param({"m": {"M": {"ab": {"S": "c"}}}}, 1 + 3 + 1 + 2 + 1, id="M"),
    ],
)
def test_item_size(item: dict[str, Any], size: int) -> None:
    assert values.item_size(item) == size


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        pytest.param({"N": "2"}, {"N": "10"}, -1, id="N-numeric-not-text"),
        pytest.param({"N": "1.0"}, {"N": "1"}, 0, id="N-equal"),
        pytest.param({"N": "-1"}, {"N": "-2"}, 1, id="N-negative"),
        pytest.param({"S": "b"}, {"S": "a"}, 1, id="S"),
        pytest.param({"S": "a"}, {"S": "ab"}, -1, id="S-prefix"),
        pytest.param({"S": "\uffff"}, {"S": "\U0001f600"}, -1, id="S-utf8-bytes-not-utf16"),
        pytest.param({"B": b64(b"\x01")}, {"B": b64(b"\xff")}, -1, id="B-unsigned"),
        pytest.param({"S": "1"}, {"N": "1"}, None, id="mixed-types"),
        pytest.param({"BOOL": True}, {"BOOL": False}, None, id="BOOL-not-orderable"),
        pytest.param({"L": []}, {"L": []}, None, id="L-not-orderable"),
    ],
)
def test_compare(a: dict[str, Any], b: dict[str, Any], result: int | None) -> None:
    assert values.compare(a, b) == result


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        pytest.param({"N": "1.50"}, {"N": "1.5"}, True, id="N-numeric"),
        pytest.param({"N": "1"}, {"S": "1"}, False, id="type-differs"),
        pytest.param({"SS": ["a", "b"]}, {"SS": ["b", "a"]}, True, id="SS-unordered"),
        pytest.param({"SS": ["a", "b"]}, {"SS": ["a"]}, False, id="SS-subset"),
        pytest.param({"NS": ["1", "2"]}, {"NS": ["2.0", "1.0"]}, True, id="NS-numeric"),
        pytest.param({"BS": [b64(b"a")]}, {"BS": [b64(b"a")]}, True, id="BS"),
        pytest.param({"L": [{"N": "1"}]}, {"L": [{"N": "1.0"}]}, True, id="L-deep"),
        pytest.param(
            {"L": [{"N": "1"}, {"N": "2"}]}, {"L": [{"N": "2"}, {"N": "1"}]}, False, id="L-ordered"
        ),
        pytest.param({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "1.0"}}}, True, id="M-deep"),
        pytest.param({"M": {"a": {"N": "1"}}}, {"M": {"b": {"N": "1"}}}, False, id="M-keys"),
        pytest.param({"BOOL": True}, {"BOOL": True}, True, id="BOOL"),
        pytest.param({"BOOL": True}, {"BOOL": False}, False, id="BOOL-differs"),
        pytest.param({"NULL": True}, {"NULL": True}, True, id="NULL"),
    ],
)
def test_equal(a: dict[str, Any], b: dict[str, Any], result: bool) -> None:
    assert values.equal(a, b) is result


@pytest.mark.parametrize(
    ("a", "b", "subtract", "result"),
    [
        pytest.param("1.5", "2.5", False, "4", id="add"),
        pytest.param("1", "3", True, "-2", id="subtract"),
        pytest.param("0.1", "0.2", False, "0.3", id="exact-decimal"),
        pytest.param("1E+30", "1", False, "1000000000000000000000000000001", id="wide"),
    ],
)
def test_add_numbers(a: str, b: str, subtract: bool, result: str) -> None:
    assert values.add_numbers(a, b, subtract=subtract) == result


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        pytest.param(
            "9.9999999999999999999999999999999999999E+125", "1E+125", OVERFLOW, id="overflow"
        ),
        pytest.param("1E+20", "1E-20", DIGITS, id="too-many-digits"),
    ],
)
def test_add_numbers_refuses_out_of_range(a: str, b: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        values.add_numbers(a, b)
    assert caught.value.message == message


# key_member: order, no 0x00/0xFF, prefix rules, round trip; random values with a fixed seed.

_RNG = random.Random(20240611)


def _random_number(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 38)))
    sign = rng.choice(["", "-"])
    exponent = rng.randint(-120, 80)
    text = f"{sign}{digits}E{exponent}"
    return values.normalize_number(text)


def _random_string(rng: random.Random) -> str:
    alphabet = ["\x00", "\x01", "\x02", "a", "b", "z", "é", "\uffff", "\U0001f600", "~"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))


def _random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.choice([0, 1, 2, 0x7F, 0xFE, 0xFF]) for _ in range(rng.randint(0, 6)))


_EDGE_NUMBERS = ["0", "1", "-1", "1.5", "-1.5", "10", "-10", "0.1", "-0.1", "15", "-15", "2", "-2"]
_EXTREMES = ["1E-130", "-1E-130", "9.9999999999999999999999999999999999999E+125"]
_NUMBERS = [_random_number(_RNG) for _ in range(400)] + [
    values.normalize_number(text) for text in _EDGE_NUMBERS + _EXTREMES
]
_STRINGS = [_random_string(_RNG) for _ in range(400)] + ["", "a", "ab", "\x00", "\x01", "\x01\x01"]
_BINARIES = [_random_bytes(_RNG) for _ in range(400)] + [b"", b"\x00", b"\xff", b"\x00\x00"]

_SAMPLES: dict[str, list[dict[str, Any]]] = {
    "N": [{"N": n} for n in _NUMBERS],
    "S": [{"S": s} for s in _STRINGS],
    "B": [{"B": b64(b)} for b in _BINARIES],
}


def _pairs(type_: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(type_)
    samples = _SAMPLES[type_]
    return [(rng.choice(samples), rng.choice(samples)) for _ in range(3000)]


@pytest.mark.parametrize("type_", ["N", "S", "B"])
def test_key_member_preserves_order(type_: str) -> None:
    for a, b in _pairs(type_):
        order = values.compare(a, b)
        ka, kb = values.key_member(a), values.key_member(b)
        assert ((ka > kb) - (ka < kb)) == order, (a, b, ka, kb)


@pytest.mark.parametrize("type_", ["N", "S", "B"])
def test_key_member_has_no_0x00_or_0xff(type_: str) -> None:
    for value in _SAMPLES[type_]:
        member = values.key_member(value)
        assert b"\x00" not in member and b"\xff" not in member, value


@pytest.mark.parametrize("type_", ["N", "S", "B"])
def test_key_member_proper_prefix_sorts_first(type_: str) -> None:
    for a, b in _pairs(type_):
        ka, kb = values.key_member(a), values.key_member(b)
        if len(ka) < len(kb) and kb.startswith(ka):
            assert values.compare(a, b) == -1, (a, b)


def test_key_member_of_a_string_prefix_is_a_byte_prefix() -> None:
    for text in _STRINGS:
        for cut in range(len(text) + 1):
            prefix = values.key_member({"S": text[:cut]})
            assert values.key_member({"S": text}).startswith(prefix), text


def test_key_member_of_a_binary_prefix_is_a_byte_prefix() -> None:
    for raw in _BINARIES:
        for cut in range(len(raw) + 1):
            prefix = values.key_member({"B": b64(raw[:cut])})
            assert values.key_member({"B": b64(raw)}).startswith(prefix), raw


@pytest.mark.parametrize("type_", ["N", "S", "B"])
def test_key_value_inverts_key_member(type_: str) -> None:
    for value in _SAMPLES[type_]:
        assert values.key_value(values.key_member(value), type_) == value


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        pytest.param("-1.5", "-1", id="negative-longer-is-smaller"),
        pytest.param("-10", "-9", id="negative-exponent"),
        pytest.param("-1E-130", "0", id="negative-below-zero"),
        pytest.param("0", "1E-130", id="zero-below-positive"),
        pytest.param("1", "1.5", id="positive-prefix"),
        pytest.param("9", "10", id="positive-exponent"),
    ],
)
def test_key_member_number_examples(smaller: str, larger: str) -> None:
    assert values.key_member({"N": smaller}) < values.key_member({"N": larger})


def test_key_member_refuses_non_key_types() -> None:
    with pytest.raises(ValidationError):
        values.key_member({"BOOL": True})


def test_decimal_of_is_exact() -> None:
    assert values.decimal_of("0.1") + values.decimal_of("0.2") == Decimal("0.3")
