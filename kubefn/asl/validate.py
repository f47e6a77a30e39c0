"""A state machine definition checked the way Step Functions' CreateStateMachine does.

One pass collects every problem with its path: top-level fields as `StartAt`,
states as `States.Check.Choices[1].Next`, branch states as
`States.P.Branches[0].States.X`. Transitions are scoped to their own (sub-)machine;
state names are unique across the whole definition.
"""

from __future__ import annotations

import re
from typing import Any

from kubefn.asl import choice, maps
from kubefn.asl.fields import (
    dynamic,
    exclusive,
    integer,
    is_jsonata,
    is_timestamp,
    join,
    json_path,
    kind,
    number,
    one_of,
    string,
    template,
    unknown,
)
from kubefn.schema import Problem, show

TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
QUERY_LANGUAGES = ("JSONPath", "JSONata")
STATE_NAME_MAX = 80
SECONDS_MAX = 99999999

_IO = ("InputPath", "OutputPath")
_RESULT = ("ResultPath", "ResultSelector")
_TRANSITION = ("Next", "End")
_COMMON = ("Type", "Comment", "QueryLanguage", "Assign")
_FIELDS: dict[str, tuple[str, ...]] = {
    "Task": (
        *_IO, *_RESULT, *_TRANSITION, "Resource", "Parameters", "Retry", "Catch",
        "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath",
        "Credentials",
    ),
    "Pass": (*_IO, *_TRANSITION, "Result", "ResultPath", "Parameters"),
    "Choice": (*_IO, "Choices", "Default"),
    "Wait": (*_IO, *_TRANSITION, "Seconds", "Timestamp", "SecondsPath", "TimestampPath"),
    "Succeed": _IO,
    "Fail": ("Error", "ErrorPath", "Cause", "CausePath"),
    "Parallel": (*_IO, *_RESULT, *_TRANSITION, "Branches", "Parameters", "Retry", "Catch"),
    "Map": (
        *_IO, *_RESULT, *_TRANSITION, "ItemProcessor", "Iterator", "ItemReader", "ItemsPath",
        "ItemSelector", "Parameters", "ItemBatcher", "ResultWriter", "MaxConcurrency",
        "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailureCountPath",
        "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "Label", "Retry", "Catch",
    ),
}  # fmt: skip
"""Type -> its fields besides _COMMON, under JSONPath."""

_JSONPATH_ONLY = {
    *_IO, *_RESULT, "Parameters", "ItemsPath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
    "SecondsPath", "TimestampPath", "ErrorPath", "CausePath", "MaxConcurrencyPath",
    "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "Iterator", "Result",
}  # fmt: skip
_JSONATA_EXTRA: dict[str, tuple[str, ...]] = {
    "Task": ("Arguments", "Output"),
    "Pass": ("Output",),
    "Choice": ("Output",),
    "Wait": ("Output",),
    "Succeed": ("Output",),
    "Parallel": ("Arguments", "Output"),
    "Map": ("Arguments", "Output", "Items"),
}
_TOP_LEVEL = ("StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage")
_SUB_MACHINE = ("StartAt", "States", "Comment", "QueryLanguage")

_ARN = re.compile(r"arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:\d*:.+")
_FUNCTION_NAME = re.compile(
    r"([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?"
)
"""A function's name, optionally with a qualifier, or `namespace/name` (kubefn's own key)."""
_RETRIER = (
    "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
    "JitterStrategy", "Comment",
)  # fmt: skip
_CATCHER = ("ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output")


def check_definition(definition: Any, *, path: str = "") -> list[Problem]:
    """Every problem of a definition; top-level fields are named under `path`."""
    checker = _Checker()
    checker.machine(definition, path, top=True, language="JSONPath")
    return checker.problems


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.names: dict[str, str] = {}
        """State name -> the path of its first definition (names are unique machine-wide)."""

    def add(self, found: list[Problem]) -> None:
        self.problems.extend(found)

    def refuse(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def machine(self, machine: Any, path: str, *, top: bool, language: str) -> None:
        """A whole (sub-)machine: its fields, its states, transitions and reachability."""
        if not isinstance(machine, dict):
            got = f"{kind(machine)} {show(machine)}"
            self.refuse(path or "definition", f"must be a JSON object (got {got})")
            return
        what = "a state machine" if top else "a branch"
        self.add(unknown(machine, path, _TOP_LEVEL if top else _SUB_MACHINE, what))
        for name in ("Comment", "Version"):
            if name in machine:
                self.add(string(machine[name], join(path, name)))
        if top and "TimeoutSeconds" in machine:
            self.add(
                integer(
                    machine["TimeoutSeconds"], join(path, "TimeoutSeconds"), low=0, high=SECONDS_MAX
                )
            )
        if "QueryLanguage" in machine:
            self.add(one_of(machine["QueryLanguage"], join(path, "QueryLanguage"), QUERY_LANGUAGES))
            if machine["QueryLanguage"] in QUERY_LANGUAGES:
                language = machine["QueryLanguage"]
        states = machine.get("States")
        states_path = join(path, "States")
        if "States" not in machine:
            self.refuse(path or "definition", "must have States")
            states = {}
        elif not isinstance(states, dict) or not states:
            self.refuse(states_path, f"must be a non-empty object (got {show(states)})")
            states = {}
        start = machine.get("StartAt")
        if "StartAt" not in machine:
            self.refuse(path or "definition", "must have StartAt")
        elif not isinstance(start, str):
            self.refuse(join(path, "StartAt"), f"must be a state name (got {show(start)})")
        elif states and start not in states:
            self.refuse(join(path, "StartAt"), f"no state named {show(start)}")
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            where = join(states_path, name)
            self.name(name, where)
            targets = self.state(state, where, language=language)
            edges[name] = []
            for target_path, target in targets:
                if target in states:
                    edges[name].append(target)
                else:
                    self.refuse(target_path, f"no state named {show(target)}")
        if isinstance(start, str) and start in states:
            self.reachable(start, edges, states_path)

    def name(self, name: str, path: str) -> None:
        if len(name) > STATE_NAME_MAX or not name:
            self.refuse(
                path, f"state name must be 1 to {STATE_NAME_MAX} characters (got {len(name)})"
            )
        if name in self.names:
            self.refuse(path, f"state name {show(name)} is already used at {self.names[name]}")
        self.names.setdefault(name, path)

    def reachable(self, start: str, edges: dict[str, list[str]], path: str) -> None:
        seen, todo = {start}, [start]
        while todo:
            for target in edges[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in edges:
            if name not in seen:
                self.refuse(join(path, name), "is not reachable from StartAt")

    def state(self, state: Any, path: str, *, language: str) -> list[tuple[str, str]]:
        """A state's problems; returns its transitions as [(path, target name)]."""
        if not isinstance(state, dict):
            self.refuse(path, f"must be an object (got {kind(state)} {show(state)})")
            return []
        type_ = state.get("Type")
        if "Type" not in state:
            self.refuse(path, f"must have Type, one of {', '.join(TYPES)}")
            return _loose_next(state, path)
        if type_ not in TYPES:
            self.refuse(
                join(path, "Type"), f"must be one of {', '.join(TYPES)} (got {show(type_)})"
            )
            return _loose_next(state, path)
        if "QueryLanguage" in state:
            self.add(one_of(state["QueryLanguage"], join(path, "QueryLanguage"), QUERY_LANGUAGES))
            if state["QueryLanguage"] == "JSONPath" and language == "JSONata":
                self.refuse(
                    join(path, "QueryLanguage"), "must not be JSONPath in a JSONata state machine"
                )
            elif state["QueryLanguage"] in QUERY_LANGUAGES:
                language = state["QueryLanguage"]
        jsonata = language == "JSONata"
        allowed = set(_COMMON) | set(_FIELDS[type_])
        if jsonata:
            allowed = (allowed - _JSONPATH_ONLY) | set(_JSONATA_EXTRA.get(type_, ()))
        self.add(
            unknown(
                state,
                path,
                sorted(allowed),
                f"a {type_} state" + (" in JSONata" if jsonata else ""),
            )
        )
        if "Comment" in state:
            self.add(string(state["Comment"], join(path, "Comment")))
        targets = self.transition(state, path, type_)
        self.io(state, path)
        if type_ == "Task":
            self.task(state, path, jsonata=jsonata)
        elif type_ == "Choice":
            found, more = choice.check_rules(
                state.get("Choices"), join(path, "Choices"), jsonata=jsonata
            )
            self.add(found)
            targets.extend(more)
            if "Default" in state:
                self.add(string(state["Default"], join(path, "Default")))
                if isinstance(state["Default"], str):
                    targets.append((join(path, "Default"), state["Default"]))
        elif type_ == "Wait":
            self.wait(state, path)
        elif type_ == "Fail":
            self.add(exclusive(state, path, ("Error", "ErrorPath")))
            self.add(exclusive(state, path, ("Cause", "CausePath")))
            for name in ("Error", "Cause"):
                if name in state:
                    self.add(string(state[name], join(path, name)))
        elif type_ == "Parallel":
            self.parallel(state, path, language=language)
        elif type_ == "Map":
            self.map(state, path, language=language, jsonata=jsonata)
        if type_ in ("Task", "Parallel", "Map"):
            self.retry(state.get("Retry"), join(path, "Retry"))
            targets.extend(self.catch(state.get("Catch"), join(path, "Catch")))
        return targets

    def transition(self, state: dict[str, Any], path: str, type_: str) -> list[tuple[str, str]]:
        """Exactly one of Next and End, for the types that move on."""
        if type_ not in ("Task", "Pass", "Wait", "Parallel", "Map"):
            return []
        has_next, end = "Next" in state, state.get("End")
        if has_next and "End" in state:
            self.refuse(path, "must have exactly one of Next and End (got both)")
        elif not has_next and "End" not in state:
            self.refuse(path, "must have exactly one of Next and End (got neither)")
        if "End" in state and end is not True:
            self.refuse(join(path, "End"), f"must be true (got {show(end)})")
        if not has_next:
            return []
        if not isinstance(state["Next"], str):
            self.add(string(state["Next"], join(path, "Next")))
            return []
        return [(join(path, "Next"), state["Next"])]

    def io(self, state: dict[str, Any], path: str) -> None:
        """Paths and payload templates, wherever the state has them."""
        for name in ("InputPath", "OutputPath", "ItemsPath"):
            if state.get(name) is not None:
                self.add(json_path(state[name], join(path, name), reference=name == "ItemsPath"))
        for name in ("ResultPath",):
            if state.get(name) is not None:
                self.add(json_path(state[name], join(path, name), reference=True))
        for name in (
            "TimeoutSecondsPath",
            "HeartbeatSecondsPath",
            "SecondsPath",
            "TimestampPath",
            "ErrorPath",
            "CausePath",
            "MaxConcurrencyPath",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentagePath",
        ):
            if name in state:
                self.add(_reference_or_intrinsic(state[name], join(path, name)))
        for name in ("Parameters", "ResultSelector", "ItemSelector", "Assign"):
            if name in state:
                value = state[name]
                if name != "Assign" and name != "Parameters" and not isinstance(value, dict):
                    self.refuse(join(path, name), f"must be an object (got {show(value)})")
                self.add(template(value, join(path, name)))

    def task(self, state: dict[str, Any], path: str, *, jsonata: bool) -> None:
        resource = state.get("Resource")
        if "Resource" not in state:
            self.refuse(path, "must have Resource")
        elif not isinstance(resource, str) or not (
            _ARN.fullmatch(resource) or _FUNCTION_NAME.fullmatch(resource)
        ):
            self.refuse(
                join(path, "Resource"), f"must be an ARN or a function name (got {show(resource)})"
            )
        self.add(exclusive(state, path, ("TimeoutSeconds", "TimeoutSecondsPath")))
        self.add(exclusive(state, path, ("HeartbeatSeconds", "HeartbeatSecondsPath")))
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        for name, value in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if name in state and not (jsonata and is_jsonata(value)):
                self.add(integer(value, join(path, name), low=1, high=SECONDS_MAX))
        if (
            isinstance(timeout, int)
            and isinstance(heartbeat, int)
            and not isinstance(timeout, bool)
            and heartbeat >= timeout
        ):
            self.refuse(
                join(path, "HeartbeatSeconds"),
                f"must be less than TimeoutSeconds {timeout} (got {show(heartbeat)})",
            )

    def wait(self, state: dict[str, Any], path: str) -> None:
        given = [n for n in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if n in state]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            self.refuse(
                path,
                "must have exactly one of Seconds, Timestamp, SecondsPath, "
                f"TimestampPath (got {got})",
            )
        seconds, timestamp = state.get("Seconds"), state.get("Timestamp")
        if "Seconds" in state and not is_jsonata(seconds):
            self.add(integer(seconds, join(path, "Seconds"), low=0, high=SECONDS_MAX))
        if "Timestamp" in state and not is_jsonata(timestamp):
            if not is_timestamp(timestamp):
                self.refuse(
                    join(path, "Timestamp"),
                    f"must be an RFC 3339 timestamp (got {show(timestamp)})",
                )

    def parallel(self, state: dict[str, Any], path: str, *, language: str) -> None:
        branches = state.get("Branches")
        where = join(path, "Branches")
        if "Branches" not in state:
            self.refuse(path, "must have Branches")
        elif not isinstance(branches, list) or not branches:
            self.refuse(where, f"must be a non-empty array of branches (got {show(branches)})")
        else:
            for i, branch in enumerate(branches):
                self.machine(branch, f"{where}[{i}]", top=False, language=language)

    def map(self, state: dict[str, Any], path: str, *, language: str, jsonata: bool) -> None:
        processors = [n for n in ("ItemProcessor", "Iterator") if n in state]
        if len(processors) != 1:
            got = ", ".join(processors) or "neither"
            self.refuse(path, f"must have exactly one of ItemProcessor and Iterator (got {got})")
        for name in processors:
            self.add(maps.processor_fields(state[name], join(path, name)))
            self.machine(_machine_part(state[name]), join(path, name), top=False, language=language)
        self.add(maps.check_map(state, path, jsonata=jsonata))

    def retry(self, retriers: Any, path: str) -> None:
        if retriers is None:
            return
        if not isinstance(retriers, list):
            self.refuse(path, f"must be an array of retriers (got {show(retriers)})")
            return
        for i, retrier in enumerate(retriers):
            where = f"{path}[{i}]"
            if not isinstance(retrier, dict):
                self.refuse(where, f"must be an object (got {show(retrier)})")
                continue
            self.add(unknown(retrier, where, _RETRIER, "a retrier"))
            self.errors(retrier, where, last=i == len(retriers) - 1)
            for name, low in (("IntervalSeconds", 1), ("MaxAttempts", 0), ("MaxDelaySeconds", 1)):
                if name in retrier:
                    self.add(integer(retrier[name], join(where, name), low=low, high=SECONDS_MAX))
            if "BackoffRate" in retrier:
                self.add(number(retrier["BackoffRate"], join(where, "BackoffRate"), low=1.0))
            if "JitterStrategy" in retrier:
                self.add(
                    one_of(
                        retrier["JitterStrategy"], join(where, "JitterStrategy"), ("FULL", "NONE")
                    )
                )

    def catch(self, catchers: Any, path: str) -> list[tuple[str, str]]:
        if catchers is None:
            return []
        if not isinstance(catchers, list):
            self.refuse(path, f"must be an array of catchers (got {show(catchers)})")
            return []
        targets: list[tuple[str, str]] = []
        for i, catcher in enumerate(catchers):
            where = f"{path}[{i}]"
            if not isinstance(catcher, dict):
                self.refuse(where, f"must be an object (got {show(catcher)})")
                continue
            self.add(unknown(catcher, where, _CATCHER, "a catcher"))
            self.errors(catcher, where, last=i == len(catchers) - 1)
            if "Next" not in catcher:
                self.refuse(where, "must have Next")
            elif not isinstance(catcher["Next"], str):
                self.add(string(catcher["Next"], join(where, "Next")))
            else:
                targets.append((join(where, "Next"), catcher["Next"]))
            if catcher.get("ResultPath") is not None:
                self.add(
                    json_path(catcher["ResultPath"], join(where, "ResultPath"), reference=True)
                )
            if "Assign" in catcher:
                self.add(template(catcher["Assign"], join(where, "Assign")))
        return targets

    def errors(self, handler: dict[str, Any], path: str, *, last: bool) -> None:
        """ErrorEquals: non-empty error names; States.ALL alone and in the last handler."""
        errors = handler.get("ErrorEquals")
        where = join(path, "ErrorEquals")
        if "ErrorEquals" not in handler:
            self.refuse(path, "must have ErrorEquals")
            return
        if (
            not isinstance(errors, list)
            or not errors
            or not all(isinstance(e, str) for e in errors)
        ):
            self.refuse(where, f"must be a non-empty array of error names (got {show(errors)})")
            return
        if "States.ALL" in errors and len(errors) > 1:
            self.refuse(where, f"States.ALL must appear alone (got {show(errors)})")
        if "States.ALL" in errors and not last:
            self.refuse(where, "States.ALL must be in the last handler of its list")


def _loose_next(state: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """The Next of a state whose Type is broken, so the states after it still count as reached."""
    target = state.get("Next")
    return [(join(path, "Next"), target)] if isinstance(target, str) else []


def _machine_part(processor: Any) -> Any:
    """The sub-machine of an ItemProcessor: its fields other than ProcessorConfig."""
    if not isinstance(processor, dict):
        return processor
    return {k: v for k, v in processor.items() if k != "ProcessorConfig"}


def _reference_or_intrinsic(value: Any, path: str) -> list[Problem]:
    if isinstance(value, str) and not value.startswith("States."):
        return json_path(value, path, reference=True)
    return dynamic(value, path)
