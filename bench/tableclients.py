"""The clients the tables benchmark drives with one workload: boto3's `dynamodb`
client (against kubefn's gateway or moto's server) and a raw redis-py client
doing the storage work kubefn does per operation, on kubefn's own layout
(kubefn/tabledata.py), with no DynamoDB API in between.

Every client offers the same four operations on a table with a string hash key
`pk` and a number range key `sk`; `worker` runs one of them in a loop for the
concurrent part (a process of its own per client, so boto3's CPU cost does not
serialise on one GIL).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
import redis
from botocore.config import Config

from kubefn import tabledata
from kubefn_gateway.dynamodb.values import item_size, key_member

OPERATIONS = ("put", "get", "query", "update")
QUERY_LIMIT = 100
_PAD = "x" * 150


def item(pk: str, sk: int) -> dict[str, Any]:
    """A ~200-byte item (DynamoDB's size) in DynamoDB JSON."""
    return {
        "pk": {"S": pk},
        "sk": {"N": str(sk)},
        "v": {"N": "0"},
        "owner": {"S": f"user-{sk:08d}"},
        "data": {"S": _PAD},
    }


class Client(Protocol):
    def put(self, pk: str, sk: int) -> None: ...

    def get(self, pk: str, sk: int) -> None: ...

    def query(self, pk: str) -> int: ...

    def update(self, pk: str, sk: int) -> None: ...


class Boto3Client:
    """boto3 `dynamodb`, retries off (a retried call would hide a failure in a latency)."""

    def __init__(self, endpoint: str, table: str) -> None:
        self.table = table
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"max_attempts": 1}, tcp_keepalive=True),
        )

    def create_table(self, *, timeout: float = 30.0) -> None:
        """CreateTable, then poll DescribeTable until ACTIVE (the waiter sleeps 20 s a try)."""
        self.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        deadline = time.monotonic() + timeout
        while self.dynamodb.describe_table(TableName=self.table)["Table"]["TableStatus"] != (
            "ACTIVE"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"table {self.table} did not become ACTIVE")
            time.sleep(0.01)  # polling DescribeTable

    def put(self, pk: str, sk: int) -> None:
        self.dynamodb.put_item(TableName=self.table, Item=item(pk, sk))

    def get(self, pk: str, sk: int) -> None:
        reply = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": pk}, "sk": {"N": str(sk)}}
        )
        if "Item" not in reply:
            raise RuntimeError(f"GetItem found no item {pk}/{sk}")

    def query(self, pk: str) -> int:
        reply = self.dynamodb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": pk}},
            Limit=QUERY_LIMIT,
        )
        return len(reply["Items"])

    def update(self, pk: str, sk: int) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": pk}, "sk": {"N": str(sk)}},
            UpdateExpression="SET v = v + :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def update_missing_fails(self) -> bool:
        """The condition really is checked: updating an absent item is refused."""
        try:
            self.update("absent", 0)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return True
        return False


# The range read kubefn's store runs (gateway/kubefn_gateway/dynamodb/store.py, _RANGE),
# reduced to a table's own partition: the sort keys, then each item, in one script.
_RANGE = """
local members = redis.call('ZRANGEBYLEX', KEYS[1], '-', '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(members) do
  local item = redis.call('HGET', ARGV[1] .. '\\0' .. m, 'i')
  if item then out[#out + 1] = item end
end
return out
"""

# A write guarded by the version read before it, as kubefn's commit script guards.
_GUARDED_SET = """
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[1] then return 1 end
redis.call('HSET', KEYS[1], 'i', ARGV[2], 'v', ARGV[3])
return 0
"""


class RawRedisClient:
    """redis-py (sync) on kubefn's layout: the least storage work each operation needs.

    - put: HSET item {i, v} + ZADD partition + ZADD parts + HINCRBY meta items and
      bytes, in one MULTI/EXEC round trip (kubefn first reads the item's version:
      two round trips);
    - get: HMGET item i v, JSON-decoded (kubefn: the same one command);
    - query: one script: ZRANGEBYLEX of the partition (LIMIT 100) and an HGET per
      item, each JSON-decoded (kubefn: the same script, one round trip);
    - update: HMGET item i v, check it exists, add 1 to v, then a script that
      writes only if the version did not move (kubefn: the same two round trips).
    """

    def __init__(self, url: str, table_id: str) -> None:
        self.redis = redis.Redis.from_url(url)
        self.table = table_id
        self._range = self.redis.register_script(_RANGE)
        self._guarded = self.redis.register_script(_GUARDED_SET)

    def _item_key(self, pk: str, sk: int) -> bytes:
        return tabledata.item_key(self.table, key_member({"S": pk}), key_member({"N": str(sk)}))

    def put(self, pk: str, sk: int) -> None:
        body = item(pk, sk)
        pkm, skm = key_member({"S": pk}), key_member({"N": str(sk)})
        meta = tabledata.meta_key(self.table)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(tabledata.item_key(self.table, pkm, skm), mapping={"i": _dump(body), "v": 1})
        pipe.zadd(tabledata.partition_key(self.table, pkm), {skm: 0})
        pipe.zadd(tabledata.parts_key(self.table), {pkm: 0})
        pipe.hincrby(meta, "items", 1)
        pipe.hincrby(meta, "bytes", item_size(body))
        pipe.execute()

    def get(self, pk: str, sk: int) -> None:
        raw, _version = self.redis.hmget(self._item_key(pk, sk), "i", "v")
        if raw is None:
            raise RuntimeError(f"no item {pk}/{sk}")
        json.loads(raw)

    def query(self, pk: str) -> int:
        pkm = key_member({"S": pk})
        prefix = tabledata.item_key(self.table, pkm, b"")[:-1]  # the partition's item keys
        found = self._range(keys=[tabledata.partition_key(self.table, pkm)], args=[prefix, 100])
        return len([json.loads(raw) for raw in found])

    def update(self, pk: str, sk: int) -> None:
        key = self._item_key(pk, sk)
        for _ in range(100):
            raw, version = self.redis.hmget(key, "i", "v")
            if raw is None:
                raise RuntimeError("ConditionalCheckFailed")  # attribute_exists(pk)
            body = json.loads(raw)
            body["v"] = {"N": str(int(body["v"]["N"]) + 1)}
            seen = version or b""
            if not self._guarded(keys=[key], args=[seen, _dump(body), int(seen or 0) + 1]):
                return
        raise RuntimeError("the item kept moving")

    def ensure_table(self) -> None:
        """What CreateTable leaves for a table's data: its meta hash."""
        self.redis.hset(tabledata.meta_key(self.table), mapping={"created": time.time()})


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Target:
    """Where a client connects: kind "boto3" (endpoint URL) or "redis" (Redis URL)."""

    kind: str
    address: str
    table: str

    def client(self) -> Boto3Client | RawRedisClient:
        if self.kind == "boto3":
            return Boto3Client(self.address, self.table)
        return RawRedisClient(self.address, self.table)


def call(client: Client, op: str, key: tuple[str, int]) -> None:
    """One operation on `key` (a query reads the key's partition)."""
    if op == "put":
        client.put(*key)
    elif op == "get":
        client.get(*key)
    elif op == "query":
        if (found := client.query(key[0])) != QUERY_LIMIT:
            raise RuntimeError(f"Query returned {found} items, not {QUERY_LIMIT}")
    else:
        client.update(*key)


@dataclass(frozen=True)
class Job:
    """One concurrent client's share: `op` on `keys` in a loop from `start_at` (epoch s)."""

    target: Target
    op: str
    keys: list[tuple[str, int]]
    start_at: float
    seconds: float


_clients: dict[Target, Boto3Client | RawRedisClient] = {}


def worker(job: Job) -> tuple[list[float], int]:
    """Run a Job in a pool process: (latencies in ms, CPU ns this process used)."""
    client = _clients.get(job.target) or _clients.setdefault(job.target, job.target.client())
    keys = list(job.keys)
    random.shuffle(keys)
    for n in range(10):  # a fresh connection and warm code before the clock starts
        call(client, job.op, ("warm", 10_000_000 + n) if job.op == "put" else keys[n])
    time.sleep(max(0.0, job.start_at - time.time()))  # start together with the others
    latencies: list[float] = []
    cpu_before = time.process_time_ns()
    stop_at = time.perf_counter() + job.seconds
    i = 0
    while time.perf_counter() < stop_at:
        began = time.perf_counter_ns()
        call(client, job.op, keys[i % len(keys)])
        latencies.append((time.perf_counter_ns() - began) / 1e6)
        i += 1
    return latencies, time.process_time_ns() - cpu_before


def ready(_: int) -> int:
    """A no-op that makes the pool start its processes (and import this module) early."""
    return 0
