"""Intrinsic function calls (`States.Format('{}', $.a)`) parsed into a small AST.

The validator reports a bad call; the interpreter later evaluates the same AST,
so both read one grammar. Arguments are string literals (with `\\'`, `\\{`,
`\\}`, `\\\\` escapes), numbers, true/false/null, paths and nested calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubefn.asl import paths


@dataclass(frozen=True)
class Literal:
    """A string, number, boolean or null written in the call."""

    value: Any


@dataclass(frozen=True)
class PathArg:
    """A path (`$.a`, `$$.Execution.Id`, `$var`) whose value the argument takes."""

    path: str


@dataclass(frozen=True)
class Call:
    """`States.<name>(args...)`; `name` without the `States.` prefix."""

    name: str
    args: tuple[Literal | PathArg | Call, ...]


Argument = Literal | PathArg | Call

ARITY: dict[str, tuple[int, int | None]] = {
    "Format": (1, None),
    "StringToJson": (1, 1),
    "JsonToString": (1, 1),
    "Array": (0, None),
    "ArrayPartition": (2, 2),
    "ArrayContains": (2, 2),
    "ArrayRange": (3, 3),
    "ArrayGetItem": (2, 2),
    "ArrayLength": (1, 1),
    "ArrayUnique": (1, 1),
    "Base64Encode": (1, 1),
    "Base64Decode": (1, 1),
    "Hash": (2, 2),
    "JsonMerge": (3, 3),
    "MathRandom": (2, 3),
    "MathAdd": (2, 2),
    "StringSplit": (2, 2),
    "UUID": (0, 0),
}
"""Function name -> (fewest, most) arguments; None: no upper bound."""

HASH_ALGORITHMS = ("MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512")

_FUNCTION = re.compile(r"States\.([A-Za-z0-9]+)\s*\(")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_KEYWORD = re.compile(r"(true|false|null)\b")
_ESCAPES = {"'": "'", "{": "\\{", "}": "\\}", "\\": "\\"}
"""`\\{` and `\\}` keep their backslash: States.Format reads them as literal braces."""


class IntrinsicError(ValueError):
    """A call that does not parse; the message says what and where."""


def parse(text: str) -> Call:
    """The AST of one intrinsic call; raises IntrinsicError on a syntax error."""
    parser = _Parser(text)
    call = parser.call()
    parser.skip_space()
    if parser.at < len(text):
        raise IntrinsicError(f"has unexpected text after the call at offset {parser.at}")
    return call


def problems(text: str) -> list[str]:
    """Every problem of the call `text` (syntax first; then names, arities, arguments)."""
    try:
        call = parse(text)
    except IntrinsicError as error:
        return [str(error)]
    return list(_check(call))


def is_call(text: str) -> bool:
    """Whether `text` is meant as an intrinsic call (it starts `States.`)."""
    return text.lstrip().startswith("States.")


def _check(call: Call) -> list[str]:
    found: list[str] = []
    low, high = ARITY.get(call.name, (-1, None))
    if low < 0:
        found.append(f"calls an unknown intrinsic function States.{call.name}")
    elif len(call.args) < low or (high is not None and len(call.args) > high):
        wanted = str(low) if low == high else f"{low} to {high}" if high else f"at least {low}"
        found.append(f"States.{call.name} takes {wanted} argument(s) (got {len(call.args)})")
    else:
        found.extend(_argument_rules(call))
    for arg in call.args:
        if isinstance(arg, Call):
            found.extend(_check(arg))
    return found


def _argument_rules(call: Call) -> list[str]:
    """Rules on literal arguments that the call can refuse before it runs."""
    args = call.args
    first = args[0] if args else None
    if call.name == "Format" and isinstance(first, Literal):
        if not isinstance(first.value, str):
            return ["States.Format needs a string template first"]
        holes = len(re.findall(r"(?<!\\)\{\}", first.value))
        if holes != len(args) - 1:
            return [
                f"States.Format template has {holes} '{{}}' placeholder(s) "
                f"but {len(args) - 1} value(s) follow"
            ]
    if call.name == "Hash" and isinstance(args[1], Literal):
        if args[1].value not in HASH_ALGORITHMS:
            allowed = ", ".join(HASH_ALGORITHMS)
            return [f"States.Hash algorithm must be one of {allowed} (got {args[1].value!r})"]
    if call.name == "JsonMerge" and isinstance(args[2], Literal) and args[2].value is not False:
        return [f"States.JsonMerge supports only a shallow merge: false (got {args[2].value!r})"]
    return []


class _Parser:
    """A recursive-descent parser over `text`; `at` is the current offset."""

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def skip_space(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def call(self) -> Call:
        self.skip_space()
        match = _FUNCTION.match(self.text, self.at)
        if not match:
            raise IntrinsicError(f"needs a call States.Name(...) at offset {self.at}")
        self.at = match.end()
        args: list[Argument] = []
        self.skip_space()
        if self.peek() == ")":
            self.at += 1
            return Call(match.group(1), ())
        while True:
            args.append(self.argument())
            self.skip_space()
            char = self.peek()
            self.at += 1
            if char == ")":
                return Call(match.group(1), tuple(args))
            if char != ",":
                where = "the end" if not char else f"{char!r} at offset {self.at - 1}"
                raise IntrinsicError(f"needs ',' or ')' after an argument (got {where})")

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def argument(self) -> Argument:
        self.skip_space()
        char = self.peek()
        if char == "'":
            return Literal(self.string())
        if char == "$":
            return PathArg(self.path())
        if self.text.startswith("States.", self.at):
            return self.call()
        number = _NUMBER.match(self.text, self.at)
        if number:
            self.at = number.end()
            literal = number.group()
            return Literal(float(literal) if number.group(1) or number.group(2) else int(literal))
        keyword = _KEYWORD.match(self.text, self.at)
        if keyword:
            self.at = keyword.end()
            return Literal({"true": True, "false": False, "null": None}[keyword.group()])
        got = "the end" if not char else f"{char!r} at offset {self.at}"
        raise IntrinsicError(f"needs an argument (got {got})")

    def string(self) -> str:
        start, self.at, out = self.at, self.at + 1, []
        while self.at < len(self.text):
            char = self.text[self.at]
            if char == "\\":
                escaped = self.text[self.at + 1 : self.at + 2]
                if escaped not in _ESCAPES:
                    raise IntrinsicError(f"has an invalid escape \\{escaped} at offset {self.at}")
                out.append(_ESCAPES[escaped])
                self.at += 2
                continue
            self.at += 1
            if char == "'":
                return "".join(out)
            out.append(char)
        raise IntrinsicError(f"has an unterminated string starting at offset {start}")

    def path(self) -> str:
        """A path runs to the ',' or ')' outside brackets, parentheses and quotes."""
        start, depth, quote = self.at, 0, ""
        while self.at < len(self.text):
            char = self.text[self.at]
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            self.at += 1
        text = self.text[start : self.at].strip()
        problem = paths.path_problem(text)
        if problem:
            raise IntrinsicError(f"argument {text!r} {problem}")
        return text
