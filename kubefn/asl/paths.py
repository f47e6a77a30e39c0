"""Syntax of the paths a States Language definition holds.

Two grammars: a *path* (JSONPath, as InputPath, OutputPath and `.$` fields take;
filters, wildcards, slices and unions allowed) and a *reference path* (one node
only, as ResultPath and the `*Path` fields that name a value take). Both start at
`$` (the state's input), `$$` (the context object) or `$name` (a variable).
Each check returns the reason a text is no path, or None; callers add the where.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[^.\[\]\s()'\"]+")
_INDEX = re.compile(r"-?\d+")
_SLICE = re.compile(r"-?\d*:-?\d*(:-?\d+)?")
_UNION = re.compile(r"(-?\d+|'[^']*')(\s*,\s*(-?\d+|'[^']*'))+")
_VARIABLE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")


def path_problem(text: str) -> str | None:
    """Why `text` is not a JSONPath (filters, wildcards, slices allowed), or None."""
    return _scan(text, reference=False)


def reference_path_problem(text: str) -> str | None:
    """Why `text` is not a reference path (a single node: names and indexes only), or None."""
    return _scan(text, reference=True)


def _root(text: str) -> int | None:
    """The length of the root (`$$`, `$name` or `$`), or None when there is none."""
    if text.startswith("$$"):
        return 2
    variable = _VARIABLE.match(text)
    if variable:
        return variable.end()
    return 1 if text.startswith("$") else None


def _scan(text: str, *, reference: bool) -> str | None:
    start = _root(text)
    if start is None:
        return "must start with $"
    i = start
    while i < len(text):
        char = text[i]
        if char == ".":
            if text.startswith("..", i):
                if reference:
                    return "must not use the deep scan '..' (a reference path names one node)"
                i += 1
            i += 1
            if i < len(text) and text[i] == "*":
                if reference:
                    return "must not use the wildcard '*' (a reference path names one node)"
                i += 1
                continue
            name = _NAME.match(text, i)
            if not name:
                return f"needs a field name after '.' at offset {i}"
            i = name.end()
        elif char == "[":
            end, problem = _bracket(text, i, reference=reference)
            if problem:
                return problem
            i = end
        else:
            return f"has an unexpected {char!r} at offset {i}"
    return None


def _bracket(text: str, start: int, *, reference: bool) -> tuple[int, str | None]:
    """(offset after the closing ']', problem) for the bracket at `start`."""
    if text.startswith(("['", '["'), start):
        quote = text[start + 1]
        close = text.find(quote + "]", start + 2)
        if close < 0:
            return start, f"has an unterminated [{quote}...{quote}] at offset {start}"
        return close + 2, None
    if text.startswith("[?(", start) or text.startswith("[(", start):
        if reference:
            return start, "must not use a filter '[?(...)]' (a reference path names one node)"
        depth, i = 0, start + 1
        while i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0 and text[i] == ")" and text.startswith(")]", i):
                return i + 2, None
            i += 1
        return start, f"has an unterminated filter at offset {start}"
    close = text.find("]", start)
    if close < 0:
        return start, f"has an unterminated '[' at offset {start}"
    inner = text[start + 1 : close].strip()
    if _INDEX.fullmatch(inner):
        return close + 1, None
    wide = inner == "*" or _SLICE.fullmatch(inner) or _UNION.fullmatch(inner)
    if wide and reference:
        return start, f"must not use [{inner}] (a reference path names one node)"
    if wide:
        return close + 1, None
    return start, f"has an invalid subscript [{inner}] at offset {start}"
