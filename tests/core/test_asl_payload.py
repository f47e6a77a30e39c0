"""Input and output processing in Step Functions' order, with the AWS guide's worked examples."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubefn.asl import errors, payload

CONTEXT: dict[str, Any] = {
    "Execution": {"Id": "arn:exec:1", "Input": {"original": True}},
    "State": {"Name": "Step", "EnteredTime": "2026-01-01T00:00:00Z"},
    "Task": {"Token": "token-1"},
}


def run_state(state: dict[str, Any], raw: Any, task: Any = None) -> Any:
    """Effective input, the task (a function of it, or a constant), then the output."""
    effective = payload.effective_input(state, raw, context=CONTEXT)
    if state["Type"] == "Pass":
        result = payload.pass_result(state, effective)
    elif callable(task):
        result = task(effective)
    else:
        result = effective if task is None else task
    return payload.state_output(state, raw, result, context=CONTEXT)


def test_the_guides_inputpath_resultpath_outputpath_example() -> None:
    state = {
        "Type": "Task",
        "InputPath": "$.lambda",
        "ResultPath": "$.data.lambdaresult",
        "OutputPath": "$.data",
    }
    raw = {
        "comment": "An input comment.",
        "data": {"val1": 23, "val2": 17},
        "extra": "foo",
        "lambda": {"who": "AWS Step Functions"},
    }
    seen = []

    def hello(event: Any) -> str:
        seen.append(event)
        return f"Hello, {event['who']}!"

    output = run_state(state, raw, hello)
    assert seen == [{"who": "AWS Step Functions"}]
    assert output == {"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}


def test_the_guides_inputpath_example() -> None:
    raw = {
        "comment": "Example for InputPath.",
        "dataset1": {"val1": 1, "val2": 2, "val3": 3},
        "dataset2": {"val1": "a", "val2": "b", "val3": "c"},
    }
    effective = payload.effective_input(
        {"Type": "Task", "InputPath": "$.dataset2"}, raw, context=CONTEXT
    )
    assert effective == {"val1": "a", "val2": "b", "val3": "c"}


def test_the_guides_parameters_example() -> None:
    raw = {
        "comment": "Example for Parameters.",
        "product": {
            "details": {"color": "blue", "size": "small", "material": "cotton"},
            "availability": "in stock",
            "sku": "2317",
            "cost": "$23",
        },
    }
    state = {
        "Type": "Task",
        "Parameters": {
            "comment": "Selecting what I care about.",
            "MyDetails": {
                "size.$": "$.product.details.size",
                "exists.$": "$.product.availability",
                "StaticValue": "foo",
            },
        },
    }
    assert payload.effective_input(state, raw, context=CONTEXT) == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
    }


def test_the_specs_parameters_example_with_an_index_and_a_slice() -> None:
    state = {
        "Type": "Pass",
        "Parameters": {"flagged": True, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[3:]"}},
    }
    raw = {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}
    assert payload.effective_input(state, raw, context=CONTEXT) == {
        "flagged": True,
        "parts": {"first": 0, "last3": [30, 40, 50]},
    }


def test_the_guides_resultselector_example() -> None:
    state = {
        "Type": "Task",
        "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        "ResultPath": "$.EMROutput",
    }
    result = {
        "resourceType": "elasticmapreduce",
        "resource": "createCluster.sync",
        "output": {
            "SdkHttpMetadata": {"HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": "1234-5678-9012"},
            "ClusterId": "AKIAIOSFODNN7EXAMPLE",
        },
    }
    output = payload.state_output(state, {"Existing": "Value"}, result, context=CONTEXT)
    assert output == {
        "Existing": "Value",
        "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"},
    }


RAW = {"comment": "This is a test", "details": "Default example", "who": "Step Functions"}


@pytest.mark.parametrize(
    "fields, expected",
    [
        pytest.param({}, "Hello, Step Functions!", id="default-resultpath-replaces"),
        pytest.param({"ResultPath": "$"}, "Hello, Step Functions!", id="root-replaces"),
        pytest.param({"ResultPath": None}, RAW, id="null-keeps-the-input"),
        pytest.param(
            {"ResultPath": "$.taskresult"},
            {**RAW, "taskresult": "Hello, Step Functions!"},
            id="adds-to-the-input",
        ),
        pytest.param(
            {"ResultPath": "$.strings.lambdaresult"},
            {**RAW, "strings": {"lambdaresult": "Hello, Step Functions!"}},
            id="into-new-nested-objects",
        ),
        pytest.param(
            {"ResultPath": "$.who"},
            {**RAW, "who": "Hello, Step Functions!"},
            id="replaces-a-field",
        ),
        pytest.param({"OutputPath": None}, {}, id="null-outputpath-is-empty-object"),
        pytest.param(
            {"ResultPath": "$.r", "OutputPath": "$.r"},
            "Hello, Step Functions!",
            id="outputpath-picks-the-result",
        ),
        pytest.param(
            {"InputPath": "$.who", "ResultPath": "$.r", "OutputPath": "$.comment"},
            "This is a test",
            id="resultpath-writes-into-the-raw-input-not-the-effective-one",
        ),
    ],
)
def test_resultpath_and_outputpath_as_the_guide_shows(
    fields: dict[str, Any], expected: Any
) -> None:
    state = {"Type": "Task", **fields}
    output = run_state(state, copy.deepcopy(RAW), "Hello, Step Functions!")
    assert output == expected


def test_inputpath_null_gives_an_empty_object() -> None:
    state = {"Type": "Task", "InputPath": None}
    assert payload.effective_input(state, RAW, context=CONTEXT) == {}


def test_inputpath_null_then_parameters_sees_an_empty_object() -> None:
    state = {
        "Type": "Task",
        "InputPath": None,
        "Parameters": {"static": 1, "id.$": "$$.Execution.Id"},
    }
    assert payload.effective_input(state, RAW, context=CONTEXT) == {"static": 1, "id": "arn:exec:1"}


def test_an_indefinite_inputpath_gives_the_list_of_matches() -> None:
    state = {"Type": "Task", "InputPath": "$.items[?(@.ok)].id"}
    raw = {"items": [{"id": 1, "ok": True}, {"id": 2}, {"id": 3, "ok": False}]}
    assert payload.effective_input(state, raw, context=CONTEXT) == [1, 3]


@pytest.mark.parametrize(
    "template, expected",
    [
        pytest.param({"a": 1, "b": "x.$"}, {"a": 1, "b": "x.$"}, id="static-values"),
        pytest.param({"v.$": "$.value"}, {"v": {"deep": [1]}}, id="path"),
        pytest.param({"all.$": "$"}, {"all": {"value": {"deep": [1]}, "n": 3}}, id="whole-input"),
        pytest.param({"n.$": "$.value.deep[0]"}, {"n": 1}, id="index-path"),
        pytest.param({"token.$": "$$.Task.Token"}, {"token": "token-1"}, id="context-token"),
        pytest.param(
            {"input.$": "$$.Execution.Input"}, {"input": {"original": True}}, id="execution-input"
        ),
        pytest.param({"all.$": "$$"}, {"all": CONTEXT}, id="whole-context"),
        pytest.param(
            {"outer": {"inner": [{"n.$": "$.n"}, "lit", [{"m.$": "$.n"}]]}},
            {"outer": {"inner": [{"n": 3}, "lit", [{"m": 3}]]}},
            id="nested-objects-in-arrays",
        ),
        pytest.param({"msg.$": "States.Format('n={}', $.n)"}, {"msg": "n=3"}, id="intrinsic-call"),
        pytest.param(
            {"len.$": "States.ArrayLength($.value.deep)", "plain": "States.Format('x')"},
            {"len": 1, "plain": "States.Format('x')"},
            id="intrinsic-only-in-dollar-keys",
        ),
        pytest.param({"ids.$": "$.value.deep[*]"}, {"ids": [1]}, id="indefinite-path-list"),
        pytest.param({"none.$": "$.value.nothing[*]"}, {"none": []}, id="indefinite-no-match"),
        pytest.param("just text", "just text", id="scalar-template"),
    ],
)
def test_a_template_builds_its_value_from_the_input(template: Any, expected: Any) -> None:
    data = {"value": {"deep": [1]}, "n": 3}
    assert payload.apply_template(template, data, context=CONTEXT, field="Parameters") == expected


def test_a_template_path_that_matches_nothing_is_a_parameter_path_failure_in_aws_words() -> None:
    with pytest.raises(errors.StatesError) as caught:
        payload.apply_template(
            {"outer": {"address.$": "$.application.address"}},
            {"flagged": False},
            context=CONTEXT,
            field="Parameters",
        )
    assert caught.value.error == errors.PARAMETER_PATH_FAILURE
    assert caught.value.cause == (
        "The JSONPath '$.application.address' specified for the field 'address.$' "
        "could not be found in the input '{\"flagged\":false}'"
    )


def test_a_template_context_path_that_matches_nothing_shows_the_context() -> None:
    with pytest.raises(errors.StatesError) as caught:
        payload.apply_template(
            {"t.$": "$$.Task.Nope"}, {}, context={"Task": {}}, field="Parameters"
        )
    assert caught.value.error == errors.PARAMETER_PATH_FAILURE
    assert "'t.$'" in caught.value.cause and '{"Task":{}}' in caught.value.cause


def test_a_resultselector_path_that_matches_nothing_fails_too() -> None:
    state = {"Type": "Task", "ResultSelector": {"id.$": "$.Payload.id"}}
    with pytest.raises(errors.StatesError) as caught:
        payload.state_output(state, {}, {"Payload": {}}, context=CONTEXT)
    assert caught.value.error == errors.PARAMETER_PATH_FAILURE
    assert "'id.$'" in caught.value.cause


def test_a_dollar_key_whose_value_is_no_string_fails_at_runtime() -> None:
    with pytest.raises(errors.StatesError) as caught:
        payload.apply_template({"x.$": 5}, {}, context=CONTEXT, field="ResultSelector")
    assert caught.value.error == errors.RUNTIME
    assert "'x.$'" in caught.value.cause and "ResultSelector" in caught.value.cause


def test_an_intrinsic_failure_in_a_template_keeps_its_error() -> None:
    with pytest.raises(errors.StatesError) as caught:
        payload.apply_template(
            {"x.$": "States.ArrayGetItem($.a, 5)"}, {"a": [1]}, context=CONTEXT, field="Parameters"
        )
    assert caught.value.error == errors.INTRINSIC_FAILURE


@pytest.mark.parametrize(
    "state, raw",
    [
        pytest.param({"Type": "Task", "InputPath": "$.missing"}, {"a": 1}, id="inputpath"),
        pytest.param({"Type": "Task", "OutputPath": "$.missing"}, {"a": 1}, id="outputpath"),
        pytest.param({"Type": "Pass", "InputPath": "$.a[3]"}, {"a": [1]}, id="inputpath-index"),
    ],
)
def test_an_inputpath_or_outputpath_that_matches_nothing_is_states_runtime(
    state: dict[str, Any], raw: Any
) -> None:
    with pytest.raises(errors.StatesError) as caught:
        run_state(state, raw)
    assert caught.value.error == errors.RUNTIME
    field = "InputPath" if "InputPath" in state else "OutputPath"
    path = state[field]
    assert caught.value.cause == (
        f"The JSONPath '{path}' specified for the field '{field}' could not be found "
        f"in the input '{errors.encoded(raw)}'"
    )


def test_resultpath_through_a_string_is_a_result_path_match_failure() -> None:
    state = {"Type": "Task", "ResultPath": "$.name.result"}
    with pytest.raises(errors.StatesError) as caught:
        run_state(state, {"name": "text"}, {"ok": True})
    assert caught.value.error == errors.RESULT_PATH_MATCH_FAILURE


@pytest.mark.parametrize(
    "state, expected",
    [
        pytest.param({"Type": "Pass"}, {"a": 1}, id="no-result-passes-the-input"),
        pytest.param({"Type": "Pass", "Result": {"r": 2}}, {"r": 2}, id="result-replaces"),
        pytest.param(
            {"Type": "Pass", "Result": "done", "ResultPath": "$.status"},
            {"a": 1, "status": "done"},
            id="result-at-resultpath",
        ),
        pytest.param(
            {"Type": "Pass", "Parameters": {"b.$": "$.a"}},
            {"b": 1},
            id="parameters-become-the-result",
        ),
        pytest.param(
            {"Type": "Pass", "Parameters": {"b.$": "$.a"}, "ResultPath": "$.p"},
            {"a": 1, "p": {"b": 1}},
            id="parameters-at-resultpath",
        ),
        pytest.param(
            {"Type": "Pass", "Parameters": {"b.$": "$.a"}, "Result": "wins"},
            "wins",
            id="result-wins-over-parameters",
        ),
        pytest.param(
            {"Type": "Pass", "InputPath": "$.a", "ResultPath": "$.copy"},
            {"a": 1, "copy": 1},
            id="inputpath-then-resultpath",
        ),
    ],
)
def test_a_pass_state_output(state: dict[str, Any], expected: Any) -> None:
    assert run_state(state, {"a": 1}) == expected


@pytest.mark.parametrize(
    "state, expected",
    [
        pytest.param({"Type": "Choice"}, {"a": {"b": 1}, "c": 2}, id="no-paths"),
        pytest.param({"Type": "Wait", "InputPath": "$.a"}, {"b": 1}, id="inputpath"),
        pytest.param({"Type": "Succeed", "OutputPath": "$.c"}, 2, id="outputpath"),
        pytest.param(
            {"Type": "Choice", "InputPath": "$.a", "OutputPath": "$.b"}, 1, id="both-paths"
        ),
    ],
)
def test_states_without_a_result_apply_inputpath_then_outputpath(
    state: dict[str, Any], expected: Any
) -> None:
    assert run_state(state, {"a": {"b": 1}, "c": 2}) == expected


def test_a_map_states_parameters_select_each_item_not_the_state_input() -> None:
    state = {
        "Type": "Map",
        "InputPath": "$.detail",
        "ItemsPath": "$.shipped",
        "Parameters": {"item.$": "$$.Map.Item.Value", "partner.$": "$.delivery-partner"},
    }
    raw = {"detail": {"delivery-partner": "UQS", "shipped": [{"prod": "R31"}, {"prod": "S39"}]}}
    effective = payload.effective_input(state, raw, context=CONTEXT)
    assert effective == raw["detail"]
    item_context = {**CONTEXT, "Map": {"Item": {"Index": 1, "Value": {"prod": "S39"}}}}
    selected = payload.apply_template(
        state["Parameters"], effective, context=item_context, field="ItemSelector"
    )
    assert selected == {"item": {"prod": "S39"}, "partner": "UQS"}


def test_parallel_and_task_parameters_apply_to_the_state_input() -> None:
    for kind in ("Task", "Parallel"):
        state = {"Type": kind, "InputPath": "$.in", "Parameters": {"x.$": "$.v"}}
        assert payload.effective_input(state, {"in": {"v": 5}}, context=CONTEXT) == {"x": 5}


def test_processing_never_changes_the_raw_input_the_result_or_the_definition() -> None:
    raw = {"keep": {"list": [1]}, "sub": {"v": 1}}
    result = {"out": {"list": [2]}}
    state = {
        "Type": "Task",
        "Parameters": {"whole.$": "$", "static": {"list": [3]}},
        "ResultSelector": {"picked.$": "$.out", "fixed": [4]},
        "ResultPath": "$.sub.result",
    }
    before = copy.deepcopy((raw, result, state))
    effective = payload.effective_input(state, raw, context=CONTEXT)
    effective["whole"]["keep"]["list"].append(99)
    effective["static"]["list"].append(99)
    output = payload.state_output(state, raw, result, context=CONTEXT)
    output["keep"]["list"].append(99)
    output["sub"]["result"]["picked"]["list"].append(99)
    output["sub"]["result"]["fixed"].append(99)
    assert (raw, result, state) == before


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({"Type": "Pass"}, id="plain-pass"),
        pytest.param({"Type": "Pass", "ResultPath": None}, id="resultpath-null"),
        pytest.param({"Type": "Pass", "InputPath": "$.a"}, id="inputpath"),
    ],
)
def test_the_output_shares_no_objects_with_the_raw_input(state: dict[str, Any]) -> None:
    raw = {"a": {"list": [1]}}
    output = run_state(state, raw)
    inner = output["list"] if "InputPath" in state else output["a"]["list"]
    inner.append(99)
    assert raw == {"a": {"list": [1]}}


def test_a_pass_result_is_a_copy_of_the_definitions_result() -> None:
    state = {"Type": "Pass", "Result": {"list": [1]}}
    result = payload.pass_result(state, {})
    result["list"].append(2)
    assert state["Result"] == {"list": [1]}


@pytest.mark.parametrize(
    "value, fits",
    [
        pytest.param("x" * (errors.PAYLOAD_BYTES_MAX - 2), True, id="exactly-256-kb"),
        pytest.param("x" * (errors.PAYLOAD_BYTES_MAX - 1), False, id="one-byte-over"),
        pytest.param("é" * ((errors.PAYLOAD_BYTES_MAX - 2) // 2), True, id="utf8-at-limit"),
        pytest.param("é" * ((errors.PAYLOAD_BYTES_MAX - 2) // 2 + 1), False, id="utf8-bytes-count"),
    ],
)
def test_the_payload_limit_counts_utf8_bytes_of_compact_json(value: str, fits: bool) -> None:
    if fits:
        errors.check_size(value, what="output of the state 'Step'")
        return
    with pytest.raises(errors.StatesError) as caught:
        errors.check_size(value, what="output of the state 'Step'")
    assert caught.value.error == errors.DATA_LIMIT_EXCEEDED
    cause = caught.value.cause
    assert "output of the state 'Step'" in cause and str(errors.PAYLOAD_BYTES_MAX) in cause
    assert str(len(errors.encoded(value).encode())) in cause


def test_encoded_is_compact_and_keeps_unicode() -> None:
    assert errors.encoded({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({"Type": "Task"}, id="no-inputpath"),
        pytest.param({"Type": "Task", "InputPath": "$.a"}, id="inputpath"),
        pytest.param({"Type": "Map", "Parameters": {"x": 1}}, id="map-without-parameters"),
    ],
)
def test_the_effective_input_shares_no_objects_with_the_raw_input(state: dict[str, Any]) -> None:
    raw = {"a": {"list": [1]}}
    effective = payload.effective_input(state, raw, context=CONTEXT)
    inner = effective["list"] if "InputPath" in state else effective["a"]["list"]
    inner.append(99)
    assert raw == {"a": {"list": [1]}}
