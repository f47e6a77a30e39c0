"""`kubefn table export|import` against a real gateway: round trips lose nothing, bad
input is refused naming the file and line, and nothing is written then."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from kubefn.redisserver import EmbeddedRedis
from kubefn_cli import table
from kubefn_cli.main import main
from kubefn_gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway, running_gateway


@dataclasses.dataclass
class Cli:
    gateway: Gateway
    client: Any
    capsys: pytest.CaptureFixture[str]

    async def kubefn(self, *args: str | Path) -> tuple[int, str]:
        """Run `kubefn ARGS --url <gateway>` (off the gateway's loop); (exit code, stderr)."""
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, [*map(str, args), "--url", self.gateway.url])
        return code, self.capsys.readouterr().err

    async def dynamodb(self, operation: str, **params: Any) -> Any:
        return await self.gateway.call(getattr(self.client, operation), **params)

    async def create(self, name: str, *keys: tuple[str, str], **extra: Any) -> None:
        kinds = ("HASH", "RANGE")
        await self.dynamodb(
            "create_table",
            TableName=name,
            KeySchema=[
                {"AttributeName": k, "KeyType": kind}
                for (k, _), kind in zip(keys, kinds, strict=False)
            ],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys],
            **({"BillingMode": "PAY_PER_REQUEST"} | extra),
        )

    async def put(self, name: str, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), 25):
            writes = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            await self.dynamodb("batch_write_item", RequestItems={name: writes})

    async def items(self, name: str) -> list[dict[str, Any]]:
        """Every item, in one order whatever the table stores them in."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
        while True:
            page = await self.dynamodb("scan", **params)
            found += page["Items"]
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=canonical)
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def canonical(item: dict[str, Any]) -> str:
    """An item as text that equal items share (sets in any order, bytes as base64)."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(value).decode()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    def ordered(value: dict[str, Any]) -> dict[str, Any]:
        ((type_, inner),) = value.items()
        if type_ in ("SS", "NS", "BS"):
            return {type_: sorted(inner)}
        if type_ == "M":
            return {"M": {k: ordered(v) for k, v in inner.items()}}
        if type_ == "L":
            return {"L": [ordered(v) for v in inner]}
        return value

    return json.dumps({k: ordered(v) for k, v in plain(item).items()}, sort_keys=True)


@pytest.fixture
async def cli(
    redis_server: EmbeddedRedis,
    redis_client: aioredis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[Cli]:
    settings = GatewaySettings(
        redis_url=redis_server.url,
        state_dir=tmp_path_factory.mktemp("state"),
        # A quarter second of burst capacity: a PROVISIONED table throttles an import at once.
        capacity_burst_seconds=0.25,
    )
    async with running_gateway(settings, redis_client) as gateway:
        yield Cli(gateway=gateway, client=gateway.client("dynamodb"), capsys=capsys)


def every_type(i: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"user#{i:03d}"},
        "sk": {"N": str(i * 7 - 100)},
        "big": {"N": "12345678901234567890123456789012345678"},
        "tiny": {"N": "-0.00000000000000000000000000000000000123"},
        "raw": {"B": bytes([0, 255, i % 256])},
        "text": {"S": 'ünïcødé "quoted", with\nnewline'},
        "empty": {"S": ""},
        "flag": {"BOOL": i % 2 == 0},
        "nothing": {"NULL": True},
        "tags": {"SS": ["a", "b", f"t{i}"]},
        "scores": {"NS": ["1", "2.5", "-3E+40"]},
        "blobs": {"BS": [b"\x00", b"\x01\x02"]},
        "profile": {"M": {"address": {"M": {"zip": {"S": "00100"}}}, "list": {"L": []}}},
        "history": {"L": [{"N": "1"}, {"S": "two"}, {"L": [{"BOOL": False}]}, {"M": {}}]},
    }


async def test_export_then_import_loses_nothing(cli: Cli, tmp_path: Path) -> None:
    await cli.create("source", ("pk", "S"), ("sk", "N"))
    items = [every_type(i) for i in range(60)]
    # Three items of ~350 KB: Scan pages at 1 MB, so the export must follow LastEvaluatedKey.
    items += [
        {"pk": {"S": f"large{i}"}, "sk": {"N": "0"}, "pad": {"S": "x" * 350_000}} for i in range(4)
    ]
    await cli.put("source", items)
    backup = tmp_path / "source.jsonl"

    code, err = await cli.kubefn("table", "export", "source", backup)
    assert (code, err) == (0, f"kubefn table export: exported 64 items of source to {backup}\n")
    lines = backup.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 64
    assert all(set(json.loads(line)) == {"Item"} for line in lines)

    code, err = await cli.kubefn(
        "table", "import", backup, "copy", "--hash-key", "pk:S", "--range-key", "sk:N"
    )
    assert code == 0, err
    assert await cli.items("copy") == await cli.items("source")
    assert len(await cli.items("copy")) == 64
    described = (await cli.dynamodb("describe_table", TableName="copy"))["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


async def test_an_export_imports_into_an_existing_table_without_key_flags(
    cli: Cli, tmp_path: Path
) -> None:
    await cli.create("src", ("id", "N"))
    await cli.create("dst", ("id", "N"))
    await cli.put("src", [{"id": {"N": str(i)}, "v": {"S": "new"}} for i in range(30)])
    await cli.put("dst", [{"id": {"N": "1"}, "v": {"S": "old"}}, {"id": {"N": "99"}}])
    backup = tmp_path / "src.jsonl"
    assert (await cli.kubefn("table", "export", "src", backup))[0] == 0
    assert (await cli.kubefn("table", "import", backup, "dst"))[0] == 0
    assert len(await cli.items("dst")) == 31  # an import puts items; it deletes none
    got = await cli.dynamodb("get_item", TableName="dst", Key={"id": {"N": "1"}})
    assert got["Item"]["v"] == {"S": "new"}


async def test_a_file_that_writes_one_key_twice_keeps_the_last(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text(
        '{"Item": {"k": {"S": "a"}, "v": {"N": "1"}}}\n'
        "\n"
        '{"Item": {"k": {"S": "a"}, "v": {"N": "2"}}}\n'
    )
    code, err = await cli.kubefn("table", "import", path, "twice", "--hash-key", "k:S")
    assert code == 0, err
    assert await cli.items("twice") == [{"k": {"S": "a"}, "v": {"N": "2"}}]


async def test_csv_round_trip(cli: Cli, tmp_path: Path) -> None:
    await cli.create("people", ("id", "N"), ("name", "S"))
    items = [
        {
            "id": {"N": str(i)},
            "name": {"S": f'Ada, "the" {i}\nLovelace'},
            "balance": {"N": "98765432109876543210987654321098765432"},
            "photo": {"B": b"\x89PNG\x00"},
            "active": {"BOOL": i % 3 == 0},
            **({"nickname": {"S": "x:y"}, "gone": {"NULL": True}} if i % 2 else {}),
        }
        for i in range(40)
    ]
    await cli.put("people", items)
    backup = tmp_path / "people.csv"

    assert (await cli.kubefn("table", "export", "people", backup))[0] == 0
    header = backup.read_text(encoding="utf-8").splitlines()[0]
    assert header == "id:N,name:S,active:BOOL,balance:N,gone:NULL,nickname:S,photo:B"
    code, err = await cli.kubefn(
        "table", "import", backup, "people2", "--hash-key", "id:N", "--range-key", "name:S"
    )
    assert code == 0, err
    assert await cli.items("people2") == await cli.items("people")


async def test_a_hand_written_csv_types_untyped_columns_as_its_keys_or_strings(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "scores.txt"
    path.write_text("id,score:N,note\n7,1.50,hello\n8,,\n")
    code, err = await cli.kubefn(
        "table", "import", path, "scores", "--format", "csv", "--hash-key", "id:N"
    )
    assert code == 0, err
    assert await cli.items("scores") == [
        {"id": {"N": "7"}, "note": {"S": "hello"}, "score": {"N": "1.5"}},
        {"id": {"N": "8"}},
    ]


async def test_csv_export_refuses_what_csv_cannot_hold(cli: Cli, tmp_path: Path) -> None:
    await cli.create("sets", ("pk", "S"))
    await cli.put("sets", [{"pk": {"S": "a"}, "tags": {"SS": ["x"]}}])
    out = tmp_path / "out"
    out.mkdir()
    code, err = await cli.kubefn("table", "export", "sets", out / "sets.csv")
    assert code == 2
    assert "'tags'" in err and "SS" in err and "jsonl" in err
    assert list(out.iterdir()) == []  # no partial file, no scratch file


async def test_an_import_into_a_throttled_table_retries_until_every_item_is_in(
    cli: Cli, tmp_path: Path
) -> None:
    await cli.create(
        "slow",
        ("pk", "S"),
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1000, "WriteCapacityUnits": 100},
    )
    path = tmp_path / "slow.jsonl"
    path.write_text(
        "".join(json.dumps({"Item": {"pk": {"S": f"k{i}"}}}) + "\n" for i in range(150))
    )
    code, err = await cli.kubefn("table", "import", path, "slow")
    assert code == 0, err
    assert len(await cli.items("slow")) == 150


PK = table.KeySchema(hash=table.Key("pk", "S"), range=None)


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        pytest.param('{"Item": {"pk": {"S": "a"}}}\nnot json\n', 2, "Expecting value", id="json"),
        pytest.param('{"pk": {"S": "a"}}\n', 1, '{"Item"', id="no-item"),
        pytest.param('\n\n{"Item": {"pk": {"N": "1"}}}\n', 3, "must be S", id="key-type"),
        pytest.param('{"Item": {"other": {"S": "a"}}}\n', 1, "no key attribute 'pk'", id="no-key"),
        pytest.param('{"Item": {"pk": {"S": "a"}, "n": {"N": 5}}}\n', 1, "'n'", id="bare-number"),
        pytest.param(
            '{"Item": {"pk": {"S": "a"}, "m": {"M": {"x": {"Q": "1"}}}}}\n', 1, "'m.x'", id="nested"
        ),
        pytest.param('{"Item": {"pk": {"S": "a"}, "s": {"SS": []}}}\n', 1, "'s'", id="empty-set"),
    ],
)
def test_a_malformed_line_is_named(tmp_path: Path, content: str, line: int, words: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(table.Failed) as failed:
        list(table.read_jsonl(path, schema=PK))
    assert str(failed.value).startswith(f"{path}:{line}: ")
    assert words in str(failed.value)
    assert failed.value.code == 2


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        pytest.param("pk,n:N\na,1\nb,one\n", 3, "'one' is not a number", id="number"),
        pytest.param("pk,n:N\na,NaN\n", 2, "'NaN' is not a number", id="nan"),
        pytest.param("pk,b:B\na,%%%\n", 2, "not base64", id="binary"),
        pytest.param("pk,f:BOOL\na,yes\n", 2, "true or false", id="bool"),
        pytest.param("pk,x\na,1,2\n", 2, "3 cells, but the header has 2", id="cells"),
        pytest.param('pk,x\na,"two\nlines"\nb,1,2\n', 4, "3 cells", id="line-after-multiline"),
        pytest.param("pk,x,x:S\na,1,2\n", 1, "x more than once", id="header"),
        pytest.param("pk,x\n,1\n", 2, "no key attribute 'pk'", id="no-key"),
    ],
)
def test_a_malformed_csv_row_is_named(tmp_path: Path, content: str, line: int, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(table.Failed) as failed:
        list(table.read_csv(path, schema=PK))
    assert str(failed.value).startswith(f"{path}:{line}: ")
    assert words in str(failed.value)


async def test_a_file_with_a_malformed_line_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"Item": {"pk": {"S": "a"}}}\n{"Item": {"pk": {"S": 1}}}\n')
    code, err = await cli.kubefn("table", "import", path, "bad", "--hash-key", "pk:S")
    assert code == 2
    assert err == f"kubefn table import: {path}:2: attribute 'pk': 1 is not a valid S value\n"
    assert (await cli.dynamodb("list_tables"))["TableNames"] == []  # not even created


async def test_unknown_tables_and_missing_flags(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    code, err = await cli.kubefn("table", "export", "nosuch", out / "x.jsonl")
    assert code == 1
    assert "table 'nosuch' does not exist" in err
    assert list(out.iterdir()) == []

    path = tmp_path / "items.jsonl"
    path.write_text('{"Item": {"pk": {"S": "a"}}}\n')
    code, err = await cli.kubefn("table", "import", path, "nosuch")
    assert code == 2
    assert "does not exist" in err and "--hash-key NAME:TYPE" in err

    code, err = await cli.kubefn("table", "import", path, "nosuch", "--hash-key", "pk")
    assert code == 2
    assert "--hash-key must be NAME:TYPE" in err

    await cli.create("keyed", ("id", "N"))
    code, err = await cli.kubefn("table", "import", path, "keyed", "--hash-key", "pk:S")
    assert code == 2
    assert "exists with key schema id:N, not pk:S" in err

    code, err = await cli.kubefn("table", "import", tmp_path / "absent.jsonl", "keyed")
    assert code == 2
    assert "cannot read" in err


async def test_an_unreachable_gateway_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["table", "export", "any", str(tmp_path / "t.jsonl"), "--url", "http://127.0.0.1:9"]
    assert main(argv) == 1
    assert "cannot reach the gateway at http://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("attempt", "rand", "delay"),
    [
        pytest.param(1, 1.0, 0.05, id="first"),
        pytest.param(3, 1.0, 0.2, id="doubles"),
        pytest.param(20, 1.0, 5.0, id="capped"),
        pytest.param(3, 0.5, 0.1, id="jitter"),
    ],
)
def test_retry_delay(attempt: int, rand: float, delay: float) -> None:
    assert table.retry_delay(attempt, rand=rand) == pytest.approx(delay)
