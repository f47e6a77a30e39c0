"""Reading and writing JSON values by path, as Step Functions does.

Step Functions evaluates paths the way Jayway JsonPath does: a *definite* path
(names and indexes only) names one value and fails when it is missing; an
*indefinite* one (wildcard, deep scan, slice, union, filter) returns the list of
what it matches, possibly empty. `write` places a state's result at a reference
path (ResultPath). Parsed paths are cached: a machine reads the same few paths on
every transition.

Filters follow Jayway too: on an array they keep the elements that match, on an
object they keep the object itself when it matches; a comparison whose operand is
missing is false, and `!=` is the negation of `==`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefn.asl import errors

_NAME = re.compile(r"[^.\[\]\s()'\"]+")
"""A dotted name in a path: the characters kubefn.asl.paths accepts."""
_FILTER_NAME = re.compile(r"[^.\[\]\s()'\"=!<>&|,]+")
"""A dotted name inside a filter, where operators end it (`@.price<10`)."""
_INT = re.compile(r"\s*(-?\d+)\s*")
_SLICE = re.compile(r"\s*(-?\d*)\s*:\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?\]")
_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


class PathNotFound(LookupError):
    """A definite path that names nothing in the value it reads."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class InvalidPath(errors.StatesError):
    """A path this interpreter cannot parse (States.Runtime: the definition is at fault)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(errors.RUNTIME, f"Invalid path '{path}': {why}")
        self.path = path
        self.why = why


# ---------------------------------------------------------------- the parsed form


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class _Union:
    keys: tuple[int | str, ...]


@dataclass(frozen=True)
class _Filter:
    test: _Expression


_Selector = _Name | _Index | _Wildcard | _Slice | _Union | _Filter


@dataclass(frozen=True)
class _Step:
    selector: _Selector
    deep: bool = False


@dataclass(frozen=True)
class _Path:
    root: str  # "$", "$$", "@" (in filters) or "$name" (a variable)
    steps: tuple[_Step, ...]

    @property
    def definite(self) -> bool:
        return all(not s.deep and isinstance(s.selector, _Name | _Index) for s in self.steps)


@dataclass(frozen=True)
class _Const:
    value: Any


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Path | _Const
    right: _Path | _Const


@dataclass(frozen=True)
class _Exists:
    operand: _Path | _Const


@dataclass(frozen=True)
class _Not:
    operand: _Expression


@dataclass(frozen=True)
class _Logic:
    op: str  # "&&" or "||"
    parts: tuple[_Expression, ...]


_Expression = _Compare | _Exists | _Not | _Logic


# ---------------------------------------------------------------- public surface


def read(
    path: str,
    data: Any,
    *,
    context: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """The value `path` names: `$` reads `data`, `$$` the context object, `$name` a variable.

    A definite path returns its one value and raises PathNotFound when it is missing;
    an indefinite path returns the (possibly empty) list of its matches.
    """
    parsed = _compile(path)
    if parsed.root == "$":
        root = data
    elif parsed.root == "$$":
        if context is None:
            raise PathNotFound(path)
        # A context built on demand (a Mapping) becomes the plain object paths walk.
        root = context if isinstance(context, dict) else dict(context)
    else:
        name = parsed.root[1:]
        if variables is None or name not in variables:
            raise PathNotFound(path)
        root = variables[name]
    matches = _select(parsed.steps, [root], root)
    if not parsed.definite:
        return matches
    if not matches:
        raise PathNotFound(path)
    return matches[0]


def is_definite(path: str) -> bool:
    """Whether `path` names at most one value (names and indexes only)."""
    return _compile(path).definite


def problem(path: str) -> str | None:
    """Why this interpreter cannot evaluate `path` (filters included), or None."""
    try:
        _compile(path)
    except InvalidPath as invalid:
        return invalid.why
    return None


def write(data: Any, path: str, value: Any) -> Any:
    """`data` with `value` placed at the reference path `path` (ResultPath semantics).

    `$` gives `value` itself; objects missing on the way are created. The result is
    a fresh copy: neither `data` nor `value` is ever shared with it or changed.
    Raises StatesError(States.ResultPathMatchFailure) when the path runs through
    something that is not an object, or through an array index.
    """
    parsed = _compile(path)
    names: list[str] = []
    for step in parsed.steps:
        if step.deep or not isinstance(step.selector, _Name):
            raise _result_path_failure(path, data)
        names.append(step.selector.name)
    if parsed.root != "$":
        raise _result_path_failure(path, data)
    if not names:
        return copied(value)
    if not isinstance(data, dict):
        raise _result_path_failure(path, data)
    result = copied(data)
    node = result
    for name in names[:-1]:
        if name not in node:
            node[name] = {}
        elif not isinstance(node[name], dict):
            raise _result_path_failure(path, data)
        node = node[name]
    node[names[-1]] = copied(value)
    return result


def copied(value: Any) -> Any:
    """A deep copy of a JSON value (objects and arrays rebuilt, scalars shared)."""
    if isinstance(value, dict):
        return {key: copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copied(item) for item in value]
    return value


def _result_path_failure(path: str, data: Any) -> errors.StatesError:
    return errors.StatesError(
        errors.RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ResultPath '{path}' to input '{errors.encoded(data)}'",
    )


# ---------------------------------------------------------------- evaluation


def _select(steps: tuple[_Step, ...], nodes: list[Any], root: Any) -> list[Any]:
    for step in steps:
        found: list[Any] = []
        for node in nodes:
            if not step.deep:
                found.extend(_apply(step.selector, node, root))
            elif isinstance(step.selector, _Filter):
                test = step.selector.test
                found.extend(d for d in _descendants(node) if _holds(test, d, root))
            else:
                for each in _self_and_descendants(node):
                    found.extend(_apply(step.selector, each, root))
        nodes = found
    return nodes


def _apply(selector: _Selector, node: Any, root: Any) -> list[Any]:
    if isinstance(selector, _Name):
        if isinstance(node, dict) and selector.name in node:
            return [node[selector.name]]
        return []
    if isinstance(selector, _Index):
        return [node[selector.index]] if _has_index(node, selector.index) else []
    if isinstance(selector, _Wildcard):
        return _children(node)
    if isinstance(selector, _Slice):
        if not isinstance(node, list):
            return []
        return node[selector.start : selector.stop : selector.step]
    if isinstance(selector, _Union):
        found = []
        for key in selector.keys:
            if isinstance(key, int) and _has_index(node, key):
                found.append(node[key])
            elif isinstance(key, str) and isinstance(node, dict) and key in node:
                found.append(node[key])
        return found
    if isinstance(node, list):
        return [item for item in node if _holds(selector.test, item, root)]
    if isinstance(node, dict) and _holds(selector.test, node, root):
        return [node]
    return []


def _has_index(node: Any, index: int) -> bool:
    return isinstance(node, list) and -len(node) <= index < len(node)


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _self_and_descendants(node: Any) -> list[Any]:
    return [node, *_descendants(node)]


def _descendants(node: Any) -> list[Any]:
    """Every value below `node`, in document order (each before what it holds)."""
    found: list[Any] = []
    for child in _children(node):
        found.append(child)
        found.extend(_descendants(child))
    return found


def _holds(test: _Expression, node: Any, root: Any) -> bool:
    if isinstance(test, _Logic):
        if test.op == "&&":
            return all(_holds(part, node, root) for part in test.parts)
        return any(_holds(part, node, root) for part in test.parts)
    if isinstance(test, _Not):
        return not _holds(test.operand, node, root)
    if isinstance(test, _Exists):
        found, value = _operand(test.operand, node, root)
        return found and (not isinstance(test.operand, _Const) or value is True)
    found_left, left = _operand(test.left, node, root)
    found_right, right = _operand(test.right, node, root)
    equal = found_left and found_right and _same(left, right)
    if test.op == "==":
        return equal
    if test.op == "!=":
        return not equal
    if not (found_left and found_right):
        return False
    comparable = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not comparable:
        return False
    if test.op == "<":
        return bool(left < right)
    if test.op == "<=":
        return bool(left <= right)
    if test.op == ">":
        return bool(left > right)
    return bool(left >= right)


def _operand(operand: _Path | _Const, node: Any, root: Any) -> tuple[bool, Any]:
    """(found, value) of a filter operand on the element `node`."""
    if isinstance(operand, _Const):
        return True, operand.value
    start = node if operand.root == "@" else root
    matches = _select(operand.steps, [start], root)
    if not operand.definite:
        return True, matches
    return (True, matches[0]) if matches else (False, None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(left: Any, right: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is no number and "1" is no 1."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


# ---------------------------------------------------------------- parsing


@functools.lru_cache(maxsize=4096)
def _compile(path: str) -> _Path:
    if not isinstance(path, str):
        raise InvalidPath(str(path), "a path is a string")
    root, at = _root(path)
    steps, at = _steps(path, at, names=_NAME)
    if at < len(path):
        raise InvalidPath(path, f"unexpected {path[at]!r} at offset {at}")
    return _Path(root, steps)


def _root(path: str) -> tuple[str, int]:
    if path.startswith("$$"):
        return "$$", 2
    variable = _VARIABLE.match(path)
    if variable:
        return variable.group(), variable.end()
    if path.startswith("$"):
        return "$", 1
    raise InvalidPath(path, "a path starts with $")


def _steps(path: str, at: int, *, names: re.Pattern[str]) -> tuple[tuple[_Step, ...], int]:
    """The steps from offset `at` up to the first character that starts none."""
    steps: list[_Step] = []
    while at < len(path) and path[at] in ".[":
        deep = path.startswith("..", at)
        if path[at] == ".":
            at += 2 if deep else 1
            if path.startswith("*", at):
                steps.append(_Step(_Wildcard(), deep))
                at += 1
                continue
            if deep and path.startswith("[", at):
                selector, at = _bracket(path, at)
                steps.append(_Step(selector, deep=True))
                continue
            name = names.match(path, at)
            if not name:
                raise InvalidPath(path, f"a field name must follow '.' at offset {at}")
            steps.append(_Step(_Name(name.group()), deep))
            at = name.end()
        else:
            selector, at = _bracket(path, at)
            steps.append(_Step(selector))
    return tuple(steps), at


def _bracket(path: str, start: int) -> tuple[_Selector, int]:
    """The selector of the `[...]` at `start`, and the offset after its `]`."""
    at = start + 1
    if path.startswith("?(", at):
        inner_end = _filter_end(path, start)
        return _Filter(_FilterParser(path, at + 2, inner_end).expression()), inner_end + 2
    if path.startswith("(", at):
        raise InvalidPath(path, f"script expressions [(...)] are not supported (offset {start})")
    if path[at:].lstrip().startswith("*"):
        close = path.find("]", at)
        if close < 0 or path[at:close].strip() != "*":
            raise InvalidPath(path, f"invalid subscript at offset {start}")
        return _Wildcard(), close + 1
    piece = _SLICE.match(path, at)
    if piece:
        start_, stop, step = (int(g) if g else None for g in piece.groups())
        if step == 0:
            raise InvalidPath(path, f"a slice step cannot be 0 (offset {start})")
        return _Slice(start_, stop, step), piece.end()
    keys: list[int | str] = []
    while True:
        key, at = _key(path, at, start)
        keys.append(key)
        while at < len(path) and path[at].isspace():
            at += 1
        char = path[at : at + 1]
        at += 1
        if char == "]":
            break
        if char != ",":
            raise InvalidPath(path, f"invalid subscript at offset {start}")
    if len(keys) > 1:
        return _Union(tuple(keys)), at
    return (_Index(keys[0]) if isinstance(keys[0], int) else _Name(keys[0])), at


def _key(path: str, at: int, start: int) -> tuple[int | str, int]:
    """One quoted name or integer inside brackets."""
    while at < len(path) and path[at].isspace():
        at += 1
    quote = path[at : at + 1]
    if quote in ("'", '"'):
        text, at = _quoted(path, at)
        return text, at
    number = _INT.match(path, at)
    if number:
        return int(number.group(1)), number.end()
    raise InvalidPath(path, f"invalid subscript at offset {start}")


def _quoted(text: str, at: int) -> tuple[str, int]:
    """The string quoted at `at` (backslash escapes the quote and itself), and the end."""
    quote, at, out = text[at], at + 1, []
    while at < len(text):
        char = text[at]
        if char == "\\" and text[at + 1 : at + 2] in (quote, "\\"):
            out.append(text[at + 1])
            at += 2
            continue
        if char == quote:
            return "".join(out), at + 1
        out.append(char)
        at += 1
    raise InvalidPath(text, f"unterminated string at offset {at}")


def _filter_end(path: str, start: int) -> int:
    """Offset of the `)` that closes the filter `[?(` at `start` (a `]` follows it)."""
    depth, at, quote = 0, start + 2, ""
    while at < len(path):
        char = path[at]
        if quote:
            if char == "\\":
                at += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                if not path.startswith(")]", at):
                    raise InvalidPath(path, f"a filter must end with ')]' (offset {at})")
                return at
        at += 1
    raise InvalidPath(path, f"unterminated filter at offset {start}")


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<op>==|!=|<=|>=|&&|\|\||[<>!()])
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<string>'|")
    | (?P<keyword>true|false|null)\b
    | (?P<path>[@$])
    )""",
    re.VERBOSE,
)
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")


class _FilterParser:
    """Recursive descent over a filter's text: `||` binds looser than `&&`, then `!`."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self.path, self.at, self.end = path, start, end

    def expression(self) -> _Expression:
        test = self.either()
        self.skip_space()
        if self.at != self.end:
            raise self.fail("unexpected text")
        return test

    def either(self) -> _Expression:
        parts = [self.both()]
        while self.accept("||"):
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else _Logic("||", tuple(parts))

    def both(self) -> _Expression:
        parts = [self.unary()]
        while self.accept("&&"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _Logic("&&", tuple(parts))

    def unary(self) -> _Expression:
        if self.accept("!"):
            return _Not(self.unary())
        if self.accept("("):
            inner = self.either()
            if not self.accept(")"):
                raise self.fail("')' expected")
            return inner
        left = self.operand()
        for op in _COMPARISONS:
            if self.accept(op):
                return _Compare(op, left, self.operand())
        return _Exists(left)

    def operand(self) -> _Path | _Const:
        token = _TOKEN.match(self.path, self.at, self.end)
        if not token or token.group("op"):
            raise self.fail("an operand (@-path, number, string, true, false, null) expected")
        self.at = token.end()
        if token.group("number"):
            text = token.group("number")
            return _Const(float(text) if any(c in text for c in ".eE") else int(text))
        if token.group("string"):
            text, self.at = _quoted(self.path, token.start("string"))
            return _Const(text)
        if token.group("keyword"):
            return _Const({"true": True, "false": False, "null": None}[token.group("keyword")])
        steps, self.at = _steps(self.path, self.at, names=_FILTER_NAME)
        return _Path(token.group("path"), steps)

    def accept(self, op: str) -> bool:
        token = _TOKEN.match(self.path, self.at, self.end)
        if token and token.group("op") == op:
            self.at = token.end()
            return True
        return False

    def skip_space(self) -> None:
        while self.at < self.end and self.path[self.at].isspace():
            self.at += 1

    def fail(self, why: str) -> InvalidPath:
        return InvalidPath(self.path, f"filter: {why} at offset {self.at}")
