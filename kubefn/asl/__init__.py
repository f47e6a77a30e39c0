"""The Amazon States Language: definitions checked as Step Functions checks them.

`check_definition` returns every problem of a parsed definition, each with its
path (`StartAt`, `States.Check.Choices[1].Next`); `parse_definition_string` reads
the `definition` string of CreateStateMachine first. Intrinsic calls parse into
the AST in `kubefn.asl.intrinsics`, which the interpreter evaluates later.
"""

from __future__ import annotations

import json
from typing import Any

from kubefn.asl import intrinsics
from kubefn.asl.validate import check_definition
from kubefn.schema import Problem

__all__ = ["Problem", "check_definition", "intrinsics", "parse_definition_string"]


class _Duplicate(ValueError):
    """A JSON object names one key twice; Step Functions refuses such definitions."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def parse_definition_string(text: str) -> tuple[Any, list[Problem]]:
    """(definition, every problem) for a `definition` JSON string; None if it is not JSON."""
    try:
        definition = json.loads(text, object_pairs_hook=_no_duplicates)
    except _Duplicate as duplicate:
        return None, [Problem("definition", f"has the key {duplicate.args[0]!r} twice")]
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        return None, [Problem("definition", f"is not valid JSON: {error.msg} at {where}")]
    return definition, check_definition(definition)
