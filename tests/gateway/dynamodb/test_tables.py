"""Table operations through boto3: create, describe, list, update, delete, TTL settings."""

from __future__ import annotations

from kubefn import config
from kubefn.table import KIND
from tests.gateway.dynamodb.conftest import Dynamo, s


async def test_create_describe_and_list(dynamo: Dynamo) -> None:
    created = await dynamo.table("Users", range_key=("sk", "N"))
    assert created["TableStatus"] == "ACTIVE"
    assert created["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert created["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/Users"
    described = (await dynamo("describe_table", TableName="Users"))["Table"]
    assert described["ItemCount"] == 0
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {"AttributeName": "sk", "AttributeType": "N"} in described["AttributeDefinitions"]
    assert (await dynamo("list_tables"))["TableNames"] == ["Users"]


async def test_a_created_table_is_published_like_a_manifest(dynamo: Dynamo) -> None:
    await dynamo.table("Orders")
    snapshot = await config.snapshot(dynamo.gateway.redis, kinds=(KIND,))
    published = snapshot.resources[KIND]["default/Orders"]
    assert published.spec["tableName"] == "Orders"
    assert published.spec["keySchema"][0]["attributeName"] == "pk"


async def test_creating_an_existing_table_is_refused(dynamo: Dynamo) -> None:
    await dynamo.table("Dup")
    error = await dynamo.error(
        "create_table",
        TableName="Dup",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert error["Code"] == "ResourceInUseException"
    assert "Dup" in error["Message"]


async def test_bad_definitions_are_refused_naming_the_problem(dynamo: Dynamo) -> None:
    missing = await dynamo.error(
        "create_table",
        TableName="Bad",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert missing["Code"] == "ValidationException"
    assert "pk" in missing["Message"]
    no_capacity = await dynamo.error(
        "create_table",
        TableName="Bad",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    assert "ReadCapacityUnits" in no_capacity["Message"]
    assert (await dynamo("list_tables"))["TableNames"] == []


async def test_list_tables_pages(dynamo: Dynamo) -> None:
    for name in ("t-a", "t-b", "t-c"):
        await dynamo.table(name)
    first = await dynamo("list_tables", Limit=2)
    assert first["TableNames"] == ["t-a", "t-b"]
    assert first["LastEvaluatedTableName"] == "t-b"
    rest = await dynamo("list_tables", Limit=2, ExclusiveStartTableName="t-b")
    assert rest["TableNames"] == ["t-c"]
    assert "LastEvaluatedTableName" not in rest


async def test_unknown_table_is_not_found(dynamo: Dynamo) -> None:
    error = await dynamo.error("describe_table", TableName="Nope")
    assert error["Code"] == "ResourceNotFoundException"
    assert "Nope" in error["Message"]
    error = await dynamo.error("get_item", TableName="Nope", Key={"pk": s("a")})
    assert error["Code"] == "ResourceNotFoundException"


async def test_delete_table_removes_it_and_its_items(dynamo: Dynamo) -> None:
    await dynamo.table("Gone")
    await dynamo("put_item", TableName="Gone", Item={"pk": s("a")})
    deleted = await dynamo("delete_table", TableName="Gone")
    assert deleted["TableDescription"]["TableStatus"] == "DELETING"
    assert (await dynamo.error("describe_table", TableName="Gone"))["Code"] == (
        "ResourceNotFoundException"
    )
    await dynamo.table("Gone")  # same name again: empty
    assert (await dynamo("scan", TableName="Gone"))["Items"] == []


async def test_update_table_changes_billing_and_stream(dynamo: Dynamo) -> None:
    await dynamo.table("Upd")
    updated = await dynamo(
        "update_table",
        TableName="Upd",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    table = updated["TableDescription"]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["LatestStreamArn"].startswith(
        "arn:aws:dynamodb:us-east-1:000000000000:table/Upd/stream/"
    )
    again = await dynamo.error(
        "update_table",
        TableName="Upd",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    assert again["Code"] == "ValidationException"


async def test_a_gsi_added_later_indexes_existing_items(dynamo: Dynamo) -> None:
    await dynamo.table("Late")
    for i in range(5):
        await dynamo("put_item", TableName="Late", Item={"pk": s(f"u{i}"), "team": s("red")})
    await dynamo(
        "update_table",
        TableName="Late",
        AttributeDefinitions=[{"AttributeName": "team", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "byTeam",
                    "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )
    found = await dynamo(
        "query",
        TableName="Late",
        IndexName="byTeam",
        KeyConditionExpression="team = :t",
        ExpressionAttributeValues={":t": s("red")},
    )
    assert found["Count"] == 5
    (index,) = (await dynamo("describe_table", TableName="Late"))["Table"]["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["ItemCount"]) == ("byTeam", 5)
    assert index["IndexSizeBytes"] == 5 * (len("pk") + 2 + len("team") + 3)
    await dynamo(
        "update_table",
        TableName="Late",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byTeam"}}],
    )
    error = await dynamo.error(
        "query",
        TableName="Late",
        IndexName="byTeam",
        KeyConditionExpression="team = :t",
        ExpressionAttributeValues={":t": s("red")},
    )
    assert error["Code"] == "ValidationException"


async def test_time_to_live_settings(dynamo: Dynamo) -> None:
    await dynamo.table("Ttl")
    off = await dynamo("describe_time_to_live", TableName="Ttl")
    assert off["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    await dynamo(
        "update_time_to_live",
        TableName="Ttl",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    on = await dynamo("describe_time_to_live", TableName="Ttl")
    assert on["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    twice = await dynamo.error(
        "update_time_to_live",
        TableName="Ttl",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    assert twice["Code"] == "ValidationException"


async def test_deletion_protection_refuses_delete_table_until_turned_off(dynamo: Dynamo) -> None:
    created = await dynamo.table("Kept", DeletionProtectionEnabled=True)
    assert created["DeletionProtectionEnabled"] is True
    error = await dynamo.error("delete_table", TableName="Kept")
    assert error["Code"] == "ValidationException"
    assert "DeletionProtectionEnabled" in error["Message"]
    assert (await dynamo("describe_table", TableName="Kept"))["Table"]["TableStatus"] == "ACTIVE"
    await dynamo("update_table", TableName="Kept", DeletionProtectionEnabled=False)
    await dynamo("delete_table", TableName="Kept")
    assert (await dynamo("list_tables"))["TableNames"] == []


async def test_tags_are_set_listed_and_removed(dynamo: Dynamo) -> None:
    arn = (await dynamo.table("Tagged", Tags=[{"Key": "team", "Value": "red"}]))["TableArn"]
    await dynamo(
        "tag_resource",
        ResourceArn=arn,
        Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "blue"}],
    )
    listed = await dynamo("list_tags_of_resource", ResourceArn=arn)
    assert listed["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "blue"}]
    await dynamo("untag_resource", ResourceArn=arn, TagKeys=["env"])
    listed = await dynamo("list_tags_of_resource", ResourceArn=arn)
    assert listed["Tags"] == [{"Key": "team", "Value": "blue"}]
    too_many = await dynamo.error(
        "tag_resource",
        ResourceArn=arn,
        Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)],
    )
    assert too_many["Code"] == "LimitExceededException"
    missing = await dynamo.error(
        "list_tags_of_resource", ResourceArn=arn.replace("Tagged", "Nowhere")
    )
    assert missing["Code"] == "ResourceNotFoundException"
    await dynamo("delete_table", TableName="Tagged")  # the tags go with the table
    assert not await dynamo.gateway.redis.exists(b"kubefn:tbl:{default/Tagged}:tags")
