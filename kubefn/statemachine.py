"""The StateMachine resource: its schema, its compile step, and its rules.

A StateMachine holds an Amazon States Language definition, as an object
(`spec.definition`) or as the JSON text CreateStateMachine takes
(`spec.definitionString`); exactly one of the two. The definition is checked by
kubefn.asl, and every problem is reported under the field it came from:
`spec.definition.States.Check.Choices[1].Next: no state named 'Done'`.

The operator and `kubefn dev` call `compile_statemachine` on a manifest; the
Step Functions API will build a spec from CreateStateMachine and call
`compile_spec`. Both return what the data plane reads from Redis (kind
`StateMachine`, key `<namespace>/<name>`, see kubefn.config): the definition
always as an object, with `name`, `type` and `logging` filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefn import asl, config, function
from kubefn.schema import Invalid, Problem, Schema, prune_nulls, validate

__all__ = [
    "DEFINITION_FIELDS",
    "EXPRESS",
    "KIND",
    "LOG_LEVELS",
    "NAME_MAX",
    "SPEC_SCHEMA",
    "STANDARD",
    "STATUS_SCHEMA",
    "CompiledStateMachine",
    "InvalidStateMachine",
    "check_name",
    "check_spec",
    "compile_spec",
    "compile_statemachine",
    "definition_of",
    "is_definition_problem",
]

KIND = "StateMachine"

STANDARD, EXPRESS = "STANDARD", "EXPRESS"
LOG_LEVELS = ("ALL", "ERROR", "FATAL", "OFF")
DEFINITION_FIELDS = ("definition", "definitionString")
NAME_MAX = 80
"""Step Functions' limit on a state machine's name."""

_NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": NAME_MAX,
    "pattern": r"^[a-zA-Z0-9_\-]+$",
    "x-kubefn-pattern-hint": "must be letters, digits, '_' and '-' only",
}
"""A name CreateStateMachine takes. A manifest's metadata.name (a DNS label) always is one."""

SPEC_SCHEMA: Schema = {
    "type": "object",
    # The API server refuses both or neither; check_spec says the same in its own words.
    "oneOf": [{"required": ["definition"]}, {"required": ["definitionString"]}],
    "properties": {
        "definition": {
            "type": "object",
            "description": "The Amazon States Language definition, as an object.",
            "x-kubernetes-preserve-unknown-fields": True,
        },
        "definitionString": {
            "type": "string",
            "minLength": 1,
            "description": "The same definition as JSON text (as CreateStateMachine takes it).",
        },
        "type": {"type": "string", "enum": [STANDARD, EXPRESS], "default": STANDARD},
        "logging": {
            "type": "object",
            "properties": {
                "level": {"type": "string", "enum": list(LOG_LEVELS), "default": "OFF"},
            },
        },
    },
}

STATUS_SCHEMA: Schema = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "conditions": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        "observedGeneration": {"type": "integer"},
        "revision": {"type": "integer"},
        "executions": {
            "type": "object",
            "description": (
                "Executions by status (running, succeeded, failed, timed_out, aborted), "
                "as the gateways count them."
            ),
            "x-kubernetes-preserve-unknown-fields": True,
        },
    },
}


@dataclass(frozen=True)
class CompiledStateMachine(config.CompiledResource):
    """A validated StateMachine as the data plane runs it; `spec` has every default filled in."""

    @property
    def kind(self) -> str:
        return KIND


class InvalidStateMachine(Invalid):
    """A StateMachine manifest (or CreateStateMachine request) that breaks rules; every problem."""


def check_name(name: Any, *, path: str) -> list[Problem]:
    """A state machine name by Step Functions' rule (1-80 of letters, digits, '_', '-')."""
    if name is None or name == "":
        return [Problem(path, "is required")]
    return validate(name, _NAME, path=path)


def check_spec(spec: Any, path: str = "spec") -> list[Problem]:
    """Every problem with a StateMachine spec: the schema's, then the definition's.

    The definition is checked wherever it is given, even beside a second one, so
    one pass reports every problem.
    """
    spec = prune_nulls(spec, SPEC_SCHEMA)
    problems = validate(spec, SPEC_SCHEMA, path=path)
    if not isinstance(spec, Mapping):
        return problems
    given = [name for name in DEFINITION_FIELDS if name in spec]
    if not given:
        problems.append(Problem(path, "must have definition or definitionString"))
    elif len(given) > 1:
        problems.append(
            Problem(path, "must have only one of definition and definitionString (got both)")
        )
    broken = {p.path for p in problems}
    express = spec.get("type") == EXPRESS
    if "definition" in spec and f"{path}.definition" not in broken:
        found = asl.check_definition(spec["definition"], path=f"{path}.definition")
        if not found and express:
            found = _express_problems(spec["definition"], path=f"{path}.definition")
        problems += found
    if "definitionString" in spec and f"{path}.definitionString" not in broken:
        definition, found = asl.parse_definition_string(spec["definitionString"])
        if not found and express:
            found = _express_problems(definition, path="")
        problems += [_under(f"{path}.definitionString", p) for p in found]
    return problems


_WAITING_PATTERNS = (".sync", ".sync:2", ".waitForTaskToken")


def _express_problems(definition: Any, *, path: str) -> list[Problem]:
    """Express workflows run to completion at once: Step Functions refuses Tasks that wait
    for a nested execution (`.sync`) or a callback (`.waitForTaskToken`) in them."""
    problems: list[Problem] = []

    def walk(machine: Mapping[str, Any], where: str) -> None:
        for name, state in (machine.get("States") or {}).items():
            here = f"{where}States.{name}" if not where else f"{where}.States.{name}"
            resource = state.get("Resource")
            if isinstance(resource, str) and resource.endswith(_WAITING_PATTERNS):
                problems.append(
                    Problem(
                        f"{here}.Resource",
                        f"an EXPRESS state machine cannot wait for a task (got {resource!r}); "
                        "use a STANDARD one",
                    )
                )
            for index, branch in enumerate(state.get("Branches") or ()):
                walk(branch, f"{here}.Branches[{index}]")
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, Mapping):
                walk(
                    processor,
                    f"{here}.{'ItemProcessor' if 'ItemProcessor' in state else 'Iterator'}",
                )

    walk(definition, path)
    return problems


def _under(prefix: str, problem: Problem) -> Problem:
    """A problem of parse_definition_string, whose whole-definition path is `definition`,
    as a problem of the field holding the text."""
    if problem.path == "definition":
        return Problem(prefix, problem.message)
    separator = "" if problem.path.startswith("[") else "."
    return Problem(f"{prefix}{separator}{problem.path}", problem.message)


def definition_of(spec: Mapping[str, Any]) -> Any:
    """The definition a valid spec holds, as an object."""
    if "definition" in spec:
        return spec["definition"]
    definition, _ = asl.parse_definition_string(spec["definitionString"])
    return definition


def _compiled(namespace: str, name: str, spec: Mapping[str, Any]) -> CompiledStateMachine:
    pruned = prune_nulls(spec, SPEC_SCHEMA)
    logging = pruned.get("logging") or {}
    return CompiledStateMachine(
        namespace=namespace,
        name=name,
        spec={
            "name": name,
            "definition": definition_of(pruned),
            "type": pruned.get("type", STANDARD),
            "logging": {"level": logging.get("level", "OFF")},
        },
    )


def compile_spec(namespace: str, name: str, spec: Mapping[str, Any]) -> CompiledStateMachine:
    """Validate a spec (e.g. built from a CreateStateMachine request) and compile it.

    `name` is the state machine's API name, checked by Step Functions' rule.
    Raises InvalidStateMachine; paths start with `name` or `spec`.
    """
    problems = check_name(name, path="name") + check_spec(spec)
    if problems:
        raise InvalidStateMachine(problems)
    return _compiled(namespace, name, spec)


def compile_statemachine(manifest: Mapping[str, Any]) -> CompiledStateMachine:
    """Validate a StateMachine manifest and compile it; raises InvalidStateMachine listing
    every problem. The machine's API name is metadata.name."""
    metadata = manifest.get("metadata")
    problems = function.check_metadata(metadata)
    spec = manifest.get("spec")
    if spec is None:
        problems.append(Problem("spec", "is required"))
    else:
        problems += check_spec(spec)
    if problems:
        raise InvalidStateMachine(problems)
    assert isinstance(metadata, Mapping) and isinstance(spec, Mapping)
    return _compiled(metadata.get("namespace") or "default", metadata["name"], spec)


def is_definition_problem(problem: Problem, path: str = "spec") -> bool:
    """Whether a problem lies in the definition (rather than the rest of the spec)."""
    return any(
        problem.path == f"{path}.{name}"
        or problem.path.startswith((f"{path}.{name}.", f"{path}.{name}["))
        for name in DEFINITION_FIELDS
    )
