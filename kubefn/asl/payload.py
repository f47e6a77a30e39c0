"""A state's input and output processing, in Step Functions' order.

InputPath picks from the raw input, Parameters builds the effective input; the
task's result goes through ResultSelector, ResultPath puts it into the raw input,
and OutputPath picks the state's output. The engine calls:

    effective = payload.effective_input(state, raw, context=ctx)
    result = <run the task on effective>        # Pass: payload.pass_result(state, effective)
    output = payload.state_output(state, raw, result, context=ctx)

Choice, Wait and Succeed have no result: they pass the effective input as the
result, which the default ResultPath `$` hands to OutputPath unchanged. A Map
state's `Parameters` is its per-item selector (the old name of ItemSelector), so
`effective_input` does not apply it; the engine applies it to each item with
`apply_template`. The payload size check stays with the engine
(`errors.check_size`).

Nothing here changes its arguments, and the outputs of `effective_input`,
`state_output` and `pass_result` share no objects with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubefn.asl import errors, intrinsic_functions, intrinsics, jsonpath

_ITEM_SELECTING_TYPES = frozenset({"Map"})
"""States whose `Parameters` applies to each item, not to the state's input."""


def effective_input(
    state: Mapping[str, Any],
    raw_input: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """InputPath (null gives {}), then Parameters: what the state works on."""
    selected = _select(state, "InputPath", raw_input, context=context, variables=variables)
    if "Parameters" in state and state.get("Type") not in _ITEM_SELECTING_TYPES:
        return apply_template(
            state["Parameters"], selected, context=context, field="Parameters", variables=variables
        )
    return jsonpath.copied(selected)


def apply_template(
    template: Any,
    data: Any,
    *,
    context: Mapping[str, Any],
    field: str,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Parameters, ResultSelector or ItemSelector applied to `data`.

    A key ending `.$` takes the value of its path, or of its intrinsic call when
    the text starts `States.`, under the key without `.$`; nested objects and
    arrays are processed alike; other values are copied as they are. A path that
    matches nothing is States.ParameterPathFailure. `field` names the state field
    in messages.
    """
    if isinstance(template, dict):
        built: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                built[key[:-2]] = _dynamic(
                    key, value, data, context=context, field=field, variables=variables
                )
            else:
                built[key] = apply_template(
                    value, data, context=context, field=field, variables=variables
                )
        return built
    if isinstance(template, list):
        return [
            apply_template(item, data, context=context, field=field, variables=variables)
            for item in template
        ]
    return template


def state_output(
    state: Mapping[str, Any],
    raw_input: Any,
    result: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """ResultSelector on `result`, ResultPath into `raw_input`, then OutputPath.

    ResultPath null keeps the raw input and drops the result; it defaults to `$`
    (the result replaces the input). OutputPath null gives {}.
    """
    if "ResultSelector" in state:
        result = apply_template(
            state["ResultSelector"],
            result,
            context=context,
            field="ResultSelector",
            variables=variables,
        )
    result_path = state.get("ResultPath", "$")
    if result_path is None:
        combined = jsonpath.copied(raw_input)
    else:
        combined = jsonpath.write(raw_input, result_path, result)
    return _select(state, "OutputPath", combined, context=context, variables=variables)


def pass_result(state: Mapping[str, Any], effective_input: Any) -> Any:
    """A Pass state's result: its `Result` when it has one, else its effective input."""
    if "Result" in state:
        return jsonpath.copied(state["Result"])
    return effective_input


def _select(
    state: Mapping[str, Any],
    field: str,
    data: Any,
    *,
    context: Mapping[str, Any],
    variables: Mapping[str, Any] | None,
) -> Any:
    """InputPath or OutputPath: absent is `$`, null is {}, a miss is States.Runtime."""
    path = state.get(field, "$")
    if path is None:
        return {}
    if path == "$":
        return data
    try:
        return jsonpath.read(path, data, context=context, variables=variables)
    except jsonpath.PathNotFound:
        raise errors.StatesError(
            errors.RUNTIME,
            f"The JSONPath '{path}' specified for the field '{field}' could not be found "
            f"in the input '{errors.encoded(data)}'",
        ) from None


def _dynamic(
    key: str,
    value: Any,
    data: Any,
    *,
    context: Mapping[str, Any],
    field: str,
    variables: Mapping[str, Any] | None,
) -> Any:
    """The value of one `.$` key: a path read from `data` or an intrinsic call."""
    if not isinstance(value, str):
        raise errors.StatesError(
            errors.RUNTIME,
            f"The value of the field '{key}' in {field} must be a path or an intrinsic call "
            f"(got {errors.encoded(value)})",
        )
    if intrinsics.is_call(value):
        evaluated = intrinsic_functions.evaluate_text(
            value, data, context=context, variables=variables
        )
        return jsonpath.copied(evaluated)
    try:
        found = jsonpath.read(value, data, context=context, variables=variables)
    except jsonpath.PathNotFound:
        source = context if value.startswith("$$") else data
        raise errors.StatesError(
            errors.PARAMETER_PATH_FAILURE,
            f"The JSONPath '{value}' specified for the field '{key}' could not be found "
            f"in the input '{errors.encoded(source)}'",
        ) from None
    return jsonpath.copied(found)
