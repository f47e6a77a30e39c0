"""The state-machine half of the Step Functions API, through boto3 against a running gateway."""

from __future__ import annotations

import datetime
import json
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from kubefn import config
from kubefn.statemachine import KIND
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.stepfunctions import machines
from kubefn_gateway.stepfunctions.machines import MachineCatalog
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.stepfunctions.conftest import (
    ROLE_ARN,
    StepFunctions,
    machine_arn,
    pass_chain,
)

LOG_GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:workflows:*"

BROKEN = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericEquals": 1, "Next": "One"},
                {"Variable": "$.n", "NumericEquals": 2, "Next": "Done"},
            ],
            "Default": "One",
        },
        "One": {"Type": "Pass", "Next": "Nowhere"},
    },
}
"""Two missing targets: States.Check.Choices[1].Next and States.One.Next."""


async def test_create_then_describe_answers_every_field(sfn: StepFunctions) -> None:
    text = (
        '{\n  "Comment": "kept as written",\n  "StartAt": "Only",\n'
        '  "States": {"Only": {"Type": "Pass", "End": true}}\n}'
    )
    created = await sfn.machine(
        "orders",
        text,
        type="EXPRESS",
        loggingConfiguration={
            "level": "ERROR",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
        },
        tracingConfiguration={"enabled": True},
    )
    assert created["stateMachineArn"] == machine_arn("orders")
    assert isinstance(created["creationDate"], datetime.datetime)

    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("orders"))

    assert {k: v for k, v in described.items() if k != "ResponseMetadata"} == {
        "stateMachineArn": machine_arn("orders"),
        "name": "orders",
        "status": "ACTIVE",
        "definition": text,
        "roleArn": ROLE_ARN,
        "type": "EXPRESS",
        "creationDate": created["creationDate"],
        "loggingConfiguration": {
            "level": "ERROR",
            "includeExecutionData": True,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
        },
        "tracingConfiguration": {"enabled": True},
        "revisionId": "1",
    }


async def test_a_created_machine_is_published_as_a_manifest_would_be(
    sfn: StepFunctions, gateway: Gateway
) -> None:
    await sfn.machine("orders", pass_chain("A", "B"))

    snapshot = await config.snapshot(gateway.redis, kinds=(KIND,))

    published = snapshot.resources[KIND]["default/orders"]
    assert published.spec == {
        "name": "orders",
        "definition": pass_chain("A", "B"),
        "type": "STANDARD",
        "logging": {"level": "OFF"},
    }


async def test_a_default_machine_is_standard_with_logging_and_tracing_off(
    sfn: StepFunctions,
) -> None:
    await sfn.machine("plain")

    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("plain"))

    assert described["type"] == "STANDARD"
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}


async def test_creating_the_same_machine_again_answers_the_first(sfn: StepFunctions) -> None:
    first = await sfn.machine("orders", pass_chain("A"))

    again = await sfn.machine(
        "orders", pass_chain("A"), roleArn="arn:aws:iam::000000000000:role/other"
    )

    assert again["stateMachineArn"] == first["stateMachineArn"]
    assert again["creationDate"] == first["creationDate"]
    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert described["roleArn"] == ROLE_ARN  # a different role is ignored, as on AWS
    assert described["revisionId"] == "1"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"definition": json.dumps(pass_chain("B"))}, id="definition"),
        pytest.param({"type": "EXPRESS"}, id="type"),
        pytest.param(
            {
                "loggingConfiguration": {
                    "level": "ALL",
                    "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
                }
            },
            id="logging",
        ),
        pytest.param({"tracingConfiguration": {"enabled": True}}, id="tracing"),
    ],
)
async def test_creating_a_different_machine_of_the_same_name_is_refused(
    sfn: StepFunctions, change: dict[str, Any]
) -> None:
    await sfn.machine("orders", pass_chain("A"))
    params = {"name": "orders", "definition": json.dumps(pass_chain("A")), "roleArn": ROLE_ARN}

    error = await sfn.error("create_state_machine", **{**params, **change})

    assert isinstance(error, sfn.client.exceptions.StateMachineAlreadyExists)
    assert error.response["Error"]["Message"] == (
        f"State Machine Already Exists: '{machine_arn('orders')}'"
    )


async def test_list_pages_through_every_machine_in_order(sfn: StepFunctions) -> None:
    names = ["e", "a", "d", "c", "b"]
    for name in names:
        await sfn.machine(name)

    first = await sfn("list_state_machines", maxResults=2)
    second = await sfn("list_state_machines", maxResults=2, nextToken=first["nextToken"])
    third = await sfn("list_state_machines", maxResults=2, nextToken=second["nextToken"])

    pages = [first, second, third]
    assert [[m["name"] for m in p["stateMachines"]] for p in pages] == [
        ["a", "b"],
        ["c", "d"],
        ["e"],
    ]
    assert "nextToken" not in third
    entry = first["stateMachines"][0]
    assert set(entry) == {"stateMachineArn", "name", "type", "creationDate"}
    assert entry["stateMachineArn"] == machine_arn("a")


async def test_the_paginator_lists_every_machine(sfn: StepFunctions) -> None:
    for index in range(7):
        await sfn.machine(f"m{index}")
    paginator = sfn.client.get_paginator("list_state_machines")

    def collect() -> list[str]:
        pages = paginator.paginate(PaginationConfig={"PageSize": 3})
        return [m["name"] for page in pages for m in page["stateMachines"]]

    assert await sfn.gateway.call(collect) == [f"m{i}" for i in range(7)]


async def test_list_answers_100_by_default(sfn: StepFunctions) -> None:
    listed = await sfn("list_state_machines")

    assert listed["stateMachines"] == []
    assert "nextToken" not in listed


async def test_list_refuses_a_token_it_did_not_give(sfn: StepFunctions) -> None:
    error = await sfn.error("list_state_machines", nextToken="made-up")

    assert isinstance(error, sfn.client.exceptions.InvalidToken)
    assert "made-up" in error.response["Error"]["Message"]


async def test_list_refuses_more_than_1000_per_page(sfn: StepFunctions) -> None:
    error = await sfn.error("list_state_machines", maxResults=1001)

    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["Error"]["Message"] == (
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 1000"
    )


async def test_update_changes_the_definition_and_the_revision(sfn: StepFunctions) -> None:
    created = await sfn.machine("orders", pass_chain("A"))
    text = json.dumps(pass_chain("A", "B"), indent=2)

    updated = await sfn(
        "update_state_machine", stateMachineArn=machine_arn("orders"), definition=text
    )

    assert updated["revisionId"] == "2"
    assert updated["updateDate"] >= created["creationDate"]
    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert described["definition"] == text
    assert described["revisionId"] == "2"
    assert described["creationDate"] == created["creationDate"]
    assert sfn.gateway.platform.machines.get("default/orders").definition == pass_chain("A", "B")


async def test_update_changes_logging_role_and_tracing(sfn: StepFunctions) -> None:
    await sfn.machine("orders")
    role = "arn:aws:iam::000000000000:role/other"

    await sfn(
        "update_state_machine",
        stateMachineArn=machine_arn("orders"),
        roleArn=role,
        loggingConfiguration={
            "level": "FATAL",
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
        },
        tracingConfiguration={"enabled": True},
    )

    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert described["roleArn"] == role
    assert described["loggingConfiguration"]["level"] == "FATAL"
    assert described["tracingConfiguration"] == {"enabled": True}
    assert sfn.gateway.platform.machines.get("default/orders").logging_level == "FATAL"


async def test_update_without_a_change_is_refused(sfn: StepFunctions) -> None:
    await sfn.machine("orders")

    error = await sfn.error("update_state_machine", stateMachineArn=machine_arn("orders"))

    assert isinstance(error, sfn.client.exceptions.MissingRequiredParameter)


async def test_update_of_a_missing_machine_is_refused(sfn: StepFunctions) -> None:
    error = await sfn.error(
        "update_state_machine",
        stateMachineArn=machine_arn("ghost"),
        definition=json.dumps(pass_chain("A")),
    )

    assert isinstance(error, sfn.client.exceptions.StateMachineDoesNotExist)


async def test_update_to_a_broken_definition_is_refused_and_keeps_the_machine(
    sfn: StepFunctions,
) -> None:
    await sfn.machine("orders", pass_chain("A"))

    error = await sfn.error(
        "update_state_machine", stateMachineArn=machine_arn("orders"), definition=json.dumps(BROKEN)
    )

    assert isinstance(error, sfn.client.exceptions.InvalidDefinition)
    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert json.loads(described["definition"]) == pass_chain("A")


async def test_delete_withdraws_the_machine(sfn: StepFunctions, gateway: Gateway) -> None:
    await sfn.machine("orders")

    await sfn("delete_state_machine", stateMachineArn=machine_arn("orders"))

    error = await sfn.error("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert isinstance(error, sfn.client.exceptions.StateMachineDoesNotExist)
    assert error.response["Error"]["Message"] == (
        f"State Machine Does Not Exist: '{machine_arn('orders')}'"
    )
    assert (await sfn("list_state_machines"))["stateMachines"] == []
    snapshot = await config.snapshot(gateway.redis, kinds=(KIND,))
    assert snapshot.resources[KIND] == {}


async def test_delete_is_idempotent(sfn: StepFunctions) -> None:
    await sfn.machine("orders")

    await sfn("delete_state_machine", stateMachineArn=machine_arn("orders"))
    await sfn("delete_state_machine", stateMachineArn=machine_arn("orders"))
    await sfn("delete_state_machine", stateMachineArn=machine_arn("never-was"))


async def test_a_machine_created_again_after_delete_is_new(sfn: StepFunctions) -> None:
    first = await sfn.machine("orders", tags=[{"key": "team", "value": "a"}])
    await sfn("delete_state_machine", stateMachineArn=machine_arn("orders"))

    second = await sfn.machine("orders")

    assert second["creationDate"] > first["creationDate"]
    tags = await sfn("list_tags_for_resource", resourceArn=machine_arn("orders"))
    assert tags["tags"] == []


async def test_validate_accepts_a_good_definition(sfn: StepFunctions) -> None:
    result = await sfn(
        "validate_state_machine_definition", definition=json.dumps(pass_chain("A", "B"))
    )

    assert result["result"] == "OK"
    assert result["diagnostics"] == []
    assert result["truncated"] is False


async def test_validate_reports_every_problem_with_its_location(sfn: StepFunctions) -> None:
    result = await sfn("validate_state_machine_definition", definition=json.dumps(BROKEN))

    assert result["result"] == "FAIL"
    assert result["truncated"] is False
    assert {(d["code"], d.get("location")) for d in result["diagnostics"]} == {
        ("MISSING_TRANSITION_TARGET", "/States/Check/Choices/1/Next"),
        ("MISSING_TRANSITION_TARGET", "/States/One/Next"),
    }
    assert all(d["severity"] == "ERROR" for d in result["diagnostics"])
    assert "'Done'" in next(
        d["message"] for d in result["diagnostics"] if d["location"].endswith("/1/Next")
    )


async def test_validate_reports_text_that_is_no_json(sfn: StepFunctions) -> None:
    result = await sfn("validate_state_machine_definition", definition="{not json")

    assert result["result"] == "FAIL"
    (diagnostic,) = result["diagnostics"]
    assert diagnostic["code"] == "INVALID_JSON_DESCRIPTION"
    assert "location" not in diagnostic


async def test_validate_truncates_to_max_results(sfn: StepFunctions) -> None:
    result = await sfn(
        "validate_state_machine_definition", definition=json.dumps(BROKEN), maxResults=1
    )

    assert len(result["diagnostics"]) == 1
    assert result["truncated"] is True


async def test_tags_are_added_listed_and_removed(sfn: StepFunctions) -> None:
    await sfn.machine("orders", tags=[{"key": "team", "value": "a"}])
    arn = machine_arn("orders")

    await sfn(
        "tag_resource",
        resourceArn=arn,
        tags=[{"key": "cost", "value": "7"}, {"key": "team", "value": "b"}],
    )
    tagged = await sfn("list_tags_for_resource", resourceArn=arn)
    await sfn("untag_resource", resourceArn=arn, tagKeys=["team", "absent"])
    untagged = await sfn("list_tags_for_resource", resourceArn=arn)

    assert tagged["tags"] == [{"key": "cost", "value": "7"}, {"key": "team", "value": "b"}]
    assert untagged["tags"] == [{"key": "cost", "value": "7"}]


async def test_more_than_50_tags_are_refused(sfn: StepFunctions) -> None:
    await sfn.machine("orders", tags=[{"key": f"k{i}", "value": ""} for i in range(49)])

    error = await sfn.error(
        "tag_resource",
        resourceArn=machine_arn("orders"),
        tags=[{"key": "k0", "value": "again"}, {"key": "x", "value": ""}, {"key": "y"}],
    )

    assert isinstance(error, sfn.client.exceptions.TooManyTags)
    assert error.response["Error"]["Message"] == (
        "Too many tags: a resource may have at most 50 tags; this request would make 51"
    )
    assert error.response["resourceName"] == machine_arn("orders")
    listed = await sfn("list_tags_for_resource", resourceArn=machine_arn("orders"))
    assert len(listed["tags"]) == 49


async def test_tags_of_a_missing_machine_are_not_found(sfn: StepFunctions) -> None:
    error = await sfn.error("list_tags_for_resource", resourceArn=machine_arn("ghost"))

    assert isinstance(error, sfn.client.exceptions.ResourceNotFound)
    assert error.response["resourceName"] == machine_arn("ghost")


@pytest.mark.parametrize(
    ("params", "exception", "message"),
    [
        pytest.param(
            {"name": "has space"},
            "InvalidName",
            "Invalid Name: 'has space' (a state machine name is 1 to 80 letters, digits, "
            "'_' or '-')",
            id="name-characters",
        ),
        pytest.param(
            {"name": "x" * 81},
            "ValidationException",
            f"1 validation error detected: Value '{'x' * 81}' at 'name' failed to satisfy "
            "constraint: Member must have length less than or equal to 80",
            id="name-length",
        ),
        pytest.param(
            {"type": "FAST"},
            "ValidationException",
            "1 validation error detected: Value 'FAST' at 'type' failed to satisfy "
            "constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]",
            id="type",
        ),
        pytest.param(
            {"roleArn": "workflows"},
            "InvalidArn",
            "Invalid Arn: 'Invalid ARN prefix: workflows'",
            id="role-arn",
        ),
        pytest.param(
            {"loggingConfiguration": {"level": "ALL"}},
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination if "
            "logging is enabled (level ALL)",
            id="logging-without-destination",
        ),
        pytest.param(
            {
                "loggingConfiguration": {
                    "level": "ALL",
                    "destinations": [
                        {"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}},
                        {"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}},
                    ],
                }
            },
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: destinations holds at most 1 log destination (got 2)",
            id="logging-two-destinations",
        ),
        pytest.param(
            {"definition": " " * 1048577},
            "ValidationException",
            "1 validation error detected: Value at 'definition' failed to satisfy "
            "constraint: Member must have length less than or equal to 1048576 (got 1048577)",
            id="definition-length",
        ),
        pytest.param(
            {"tags": [{"key": "k" * 129, "value": "v"}]},
            "ValidationException",
            f"1 validation error detected: Value '{'k' * 129}' at 'tags.1.member.key' failed to "
            "satisfy constraint: Member must have length between 1 and 128",
            id="tag-key",
        ),
        pytest.param(
            {"publish": True},
            "ValidationException",
            "1 validation error detected: Value at 'publish' failed to satisfy constraint: "
            "Member must be false: state machine versions are not supported",
            id="publish",
        ),
    ],
)
async def test_create_refuses_bad_input_naming_the_field(
    sfn: StepFunctions, params: dict[str, Any], exception: str, message: str
) -> None:
    request = {
        "name": "orders",
        "definition": json.dumps(pass_chain("A")),
        "roleArn": ROLE_ARN,
        **params,
    }

    error = await sfn.error("create_state_machine", **request)

    assert isinstance(error, getattr(sfn.client.exceptions, exception))
    assert error.response["Error"]["Message"] == message
    assert (await sfn("list_state_machines"))["stateMachines"] == []


async def test_create_refuses_a_broken_definition_listing_every_problem(
    sfn: StepFunctions,
) -> None:
    error = await sfn.error(
        "create_state_machine", name="orders", definition=json.dumps(BROKEN), roleArn=ROLE_ARN
    )

    assert isinstance(error, sfn.client.exceptions.InvalidDefinition)
    message = error.response["Error"]["Message"]
    assert message.startswith("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: ")
    assert "no state named 'Done' at /States/Check/Choices/1/Next" in message
    assert "no state named 'Nowhere' at /States/One/Next" in message


async def test_create_refuses_text_that_is_no_json(sfn: StepFunctions) -> None:
    error = await sfn.error("create_state_machine", name="orders", definition="{", roleArn=ROLE_ARN)

    assert isinstance(error, sfn.client.exceptions.InvalidDefinition)
    assert "INVALID_JSON_DESCRIPTION: is not valid JSON" in error.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("arn", "exception"),
    [
        pytest.param("orders", "InvalidArn", id="not-an-arn"),
        pytest.param(
            "arn:aws:states:us-east-1:000000000000:execution:orders:run",
            "InvalidArn",
            id="execution-arn",
        ),
        pytest.param(machine_arn("ghost"), "StateMachineDoesNotExist", id="missing"),
        pytest.param(
            "arn:aws:states:eu-west-1:000000000000:stateMachine:orders",
            "StateMachineDoesNotExist",
            id="other-region",
        ),
    ],
)
async def test_describe_refuses_what_names_no_machine(
    sfn: StepFunctions, arn: str, exception: str
) -> None:
    await sfn.machine("orders")

    error = await sfn.error("describe_state_machine", stateMachineArn=arn)

    assert isinstance(error, getattr(sfn.client.exceptions, exception))


async def test_errors_travel_in_the_services_own_shape(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            gateway.url,
            data=json.dumps({"stateMachineArn": machine_arn("ghost")}),
            headers={
                "X-Amz-Target": "AWSStepFunctions.DescribeStateMachine",
                "Content-Type": "application/x-amz-json-1.0",
            },
        )
        body = await response.json(content_type=None)

    assert response.status == 400
    assert body == {
        "__type": "com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist",
        "message": f"State Machine Does Not Exist: '{machine_arn('ghost')}'",
    }


async def test_a_manifest_machine_is_listed_and_described_like_any(sfn: StepFunctions) -> None:
    await sfn.machine("api-made")
    await sfn.apply(
        "from-manifest",
        {"type": "EXPRESS", "logging": {"level": "ERROR"}, "definition": pass_chain("A", "B")},
    )
    await sfn.apply("elsewhere", {"definition": pass_chain("A")}, namespace="team-a")

    listed = await sfn("list_state_machines")
    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("from-manifest"))
    other = await sfn(
        "describe_state_machine", stateMachineArn=machine_arn("elsewhere", namespace="team-a")
    )

    assert [(m["name"], m["stateMachineArn"]) for m in listed["stateMachines"]] == [
        ("api-made", machine_arn("api-made")),
        ("from-manifest", machine_arn("from-manifest")),
        ("elsewhere", machine_arn("elsewhere", namespace="team-a")),
    ]
    assert json.loads(described["definition"]) == pass_chain("A", "B")
    assert described["type"] == "EXPRESS"
    assert described["status"] == "ACTIVE"
    assert described["roleArn"] == "arn:aws:iam::000000000000:role/kubefn-gateway"
    assert described["loggingConfiguration"] == {"level": "ERROR", "includeExecutionData": False}
    assert other["name"] == "elsewhere"


async def test_a_manifest_edit_is_described_from_the_manifest(sfn: StepFunctions) -> None:
    text = json.dumps(pass_chain("A"), indent=4)
    await sfn.machine("orders", text)

    await sfn.apply("orders", {"definition": pass_chain("A", "B")})

    described = await sfn("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert json.loads(described["definition"]) == pass_chain("A", "B")
    assert described["revisionId"] == "2"


async def test_a_withdrawn_manifest_machine_is_gone_with_its_tags(
    sfn: StepFunctions, gateway: Gateway
) -> None:
    await sfn.apply("orders", {"definition": pass_chain("A")})
    await sfn("tag_resource", resourceArn=machine_arn("orders"), tags=[{"key": "k", "value": "v"}])

    await config.remove(gateway.redis, kind=KIND, key="default/orders")
    await gateway.until(lambda: gateway.platform.machines.get("default/orders") is None)

    error = await sfn.error("describe_state_machine", stateMachineArn=machine_arn("orders"))
    assert isinstance(error, sfn.client.exceptions.StateMachineDoesNotExist)
    assert not await gateway.redis.exists(machines.tags_key("default/orders"))
    assert not await gateway.redis.exists(machines.machine_key("default/orders"))


async def test_creation_date_survives_a_restart_and_agrees_across_replicas(
    gateway_settings: GatewaySettings, redis_client: aioredis.Redis
) -> None:
    async with running_gateway(gateway_settings, redis_client) as first:
        one = StepFunctions(gateway=first, client=first.client("stepfunctions"))
        created = await one.machine("orders")
        async with running_gateway(gateway_settings, redis_client) as second:
            two = StepFunctions(gateway=second, client=second.client("stepfunctions"))
            other = await two("describe_state_machine", stateMachineArn=created["stateMachineArn"])
    async with running_gateway(gateway_settings, redis_client) as restarted:
        three = StepFunctions(gateway=restarted, client=restarted.client("stepfunctions"))
        listed = await three("list_state_machines")

    assert other["creationDate"] == created["creationDate"]
    assert listed["stateMachines"][0]["creationDate"] == created["creationDate"]


async def test_a_replica_finds_what_another_published_before_its_follower_does(
    sfn: StepFunctions, redis_client: aioredis.Redis
) -> None:
    replica = MachineCatalog(redis_client)  # follows nothing: only find() can see machines
    await sfn.machine("orders")
    found = await replica.find("default/orders")
    await sfn("delete_state_machine", stateMachineArn=machine_arn("orders"))
    gone = await replica.find("default/orders")
    recreated = await sfn.machine("orders", pass_chain("B"))
    again = await replica.find("default/orders")

    assert found is not None and found.definition == pass_chain("Only")
    assert gone is None
    assert again is not None and again.definition == pass_chain("B")
    assert again.created == pytest.approx(recreated["creationDate"].timestamp(), abs=1e-5)
