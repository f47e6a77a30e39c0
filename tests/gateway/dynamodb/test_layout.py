"""The Redis layout keeps each table in one Redis Cluster slot, so every write script
(item, index entries, TTL schedule, counters, stream record) touches one slot."""

from __future__ import annotations

from redis.crc import key_slot

from tests.gateway.dynamodb.conftest import Dynamo, n, s


async def test_every_key_of_a_table_shares_one_slot(dynamo: Dynamo) -> None:
    await dynamo.table(
        "slotted",
        range_key=("sk", "N"),
        definitions={"g": "S", "rank": "N"},
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byG",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byRank",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "team", "Value": "red"}],
    )
    await dynamo(
        "update_time_to_live",
        TableName="slotted",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    )
    for i in range(20):
        await dynamo(
            "put_item",
            TableName="slotted",
            Item={"pk": s(f"p{i % 7}"), "sk": n(i), "g": s(f"g{i % 3}"), "rank": n(i),
                  "exp": n(4_000_000_000)},
        )  # fmt: skip
    await dynamo(
        "transact_write_items",
        TransactItems=[{"Put": {"TableName": "slotted", "Item": {"pk": s("t"), "sk": n(0)}}}],
        ClientRequestToken="token-1",
    )
    keys = [key async for key in dynamo.gateway.redis.scan_iter(match=b"kubefn:tbl:*")]
    kinds = {key.split(b"}:", 1)[1].split(b":", 1)[0] for key in keys}
    assert {b"meta", b"parts", b"p", b"i", b"l", b"c", b"g", b"ttl", b"stream", b"tags",
            b"txtoken"} <= kinds  # fmt: skip
    assert len({key_slot(key) for key in keys}) == 1
