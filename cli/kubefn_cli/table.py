"""`kubefn table export|import` — a table's items to a file and back, through the gateway.

Both speak DynamoDB's own API over HTTP (JSON 1.0, the requests boto3 sends), so
they work against any kubefn gateway and need nothing of the Redis layout.

- JSON lines (the default): one `{"Item": {...}}` per line in DynamoDB JSON, as
  DynamoDB's export to S3 writes them. Every type round-trips exactly: numbers
  stay the decimal strings DynamoDB JSON carries them as, binary stays base64.
- CSV: a header row of `name:TYPE` cells, then one row per item; TYPE is one of
  S, N, B (base64), BOOL (true|false) or NULL (true). An empty cell is an absent
  attribute. On import a header cell without a type is S, or the key's type when
  the column is a key attribute. A column holds one type, so export refuses what
  CSV cannot hold without loss (sets, maps, lists, mixed types in one attribute,
  empty strings) and names the attribute: export those tables as JSON lines.

An export pages through Scan: like DynamoDB's Scan it is not a snapshot of one
moment while writers are busy. An import validates the whole file before it
writes anything, creates the table when it does not exist (on-demand, with the key
schema given by --hash-key/--range-key), then writes 25 items per BatchWriteItem,
retrying unprocessed items and throttled requests with exponential backoff.

Exit codes: 0 done, 1 the gateway refused or failed, 2 bad input.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import decimal
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from kubefn_cli import awsjson

TARGET = "DynamoDB_20120810"
BATCH = 25
ATTEMPTS = 10
"""Tries of a request, or of a batch without progress, before the command gives up."""
RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
KEY_TYPES = ("S", "N", "B")
CSV_TYPES = ("S", "N", "B", "BOOL", "NULL")
FORMATS = ("jsonl", "csv")


class Failed(Exception):
    """The command failed; the message is for the user, `code` the exit status."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class Key(NamedTuple):
    name: str
    type: str


@dataclass(frozen=True)
class KeySchema:
    hash: Key
    range: Key | None

    @property
    def keys(self) -> tuple[Key, ...]:
        return (self.hash,) if self.range is None else (self.hash, self.range)

    @property
    def types(self) -> dict[str, str]:
        return {key.name: key.type for key in self.keys}


class Row(NamedTuple):
    line: int
    item: dict[str, Any]


def parse_key(text: str, *, flag: str) -> Key:
    """`NAME:TYPE` of --hash-key / --range-key."""
    name, _, type_ = text.rpartition(":")
    if not name or type_ not in KEY_TYPES:
        raise Failed(f"{flag} must be NAME:TYPE with TYPE one of S, N, B (got {text!r})", code=2)
    return Key(name, type_)


def retry_delay(attempt: int, *, rand: float, base: float = 0.05, cap: float = 5.0) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): exponential with full jitter."""
    return rand * min(cap, base * 2 ** (attempt - 1))


class Client:
    """DynamoDB's JSON 1.0 API on a kubefn gateway, one blocking request per call."""

    def __init__(self, url: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url.rstrip("/")
        self._sleep = sleep

    def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One operation; throttled and failed requests are retried with backoff."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._send(operation, body)
            except awsjson.ServiceError as exc:
                if exc.code not in RETRYABLE or attempt == ATTEMPTS:
                    raise
            self._sleep(retry_delay(attempt, rand=random.random()))
        raise AssertionError("unreachable")

    def pause(self, attempt: int) -> None:
        self._sleep(retry_delay(attempt, rand=random.random()))

    def _send(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return awsjson.post(self.url, target=TARGET, operation=operation, body=body, timeout=60)
        except awsjson.Unreachable as exc:
            raise Failed(str(exc), code=1) from None


def describe(client: Client, name: str) -> KeySchema | None:
    """The table's key schema, or None when it does not exist."""
    try:
        table = client.call("DescribeTable", {"TableName": name})["Table"]
    except awsjson.ServiceError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    keys = {
        e["KeyType"]: Key(e["AttributeName"], types[e["AttributeName"]]) for e in table["KeySchema"]
    }
    return KeySchema(hash=keys["HASH"], range=keys.get("RANGE"))


# -- export


def export(*, client: Client, name: str, path: Path, fmt: str) -> int:
    """Write every item of table `name` to `path`; returns how many.

    The file appears only once complete (written beside it, then renamed), readable
    by its owner only: it holds the table's data.
    """
    schema = describe(client, name)
    if schema is None:
        raise Failed(f"table {name!r} does not exist at {client.url}", code=1)
    with _scratch(path) as out:
        if fmt == "csv":
            with _scratch(path) as scanned:
                count = _scan_to_jsonl(client, name, scanned)
                _jsonl_to_csv(scanned, out, schema=schema)
        else:
            count = _scan_to_jsonl(client, name, out)
        os.replace(out, path)
    return count


@contextlib.contextmanager
def _scratch(path: Path) -> Iterator[Path]:
    """A file beside `path`, gone after the block unless renamed."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise Failed(f"cannot write {path}: {exc.strerror}", code=2) from None
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _scan_to_jsonl(client: Client, name: str, path: Path) -> int:
    count = 0
    request: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
    with path.open("w", encoding="utf-8") as out:
        while True:
            page = client.call("Scan", request)
            for item in page.get("Items", []):
                out.write(json.dumps({"Item": item}, ensure_ascii=False) + "\n")
                count += 1
            if "LastEvaluatedKey" not in page:
                return count
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _jsonl_to_csv(source: Path, path: Path, *, schema: KeySchema) -> None:
    columns: dict[str, str] = {key.name: key.type for key in schema.keys}
    for row in read_jsonl(source, schema=schema):
        for attribute, value in row.item.items():
            type_, inner = next(iter(value.items()))
            problem = None
            if type_ not in CSV_TYPES:
                problem = f"is of type {type_}, and a CSV cell holds only S, N, B, BOOL or NULL"
            elif columns.setdefault(attribute, type_) != type_:
                problem = f"is {columns[attribute]} in one item and {type_} in another"
            elif inner == "":
                problem = f"is an empty {type_}, which CSV cannot tell from a missing attribute"
            if problem is not None:
                key = {k.name: row.item[k.name] for k in schema.keys}
                raise Failed(
                    f"cannot export as CSV: attribute {attribute!r} (item {json.dumps(key)}) "
                    f"{problem}; export as jsonl instead",
                    code=2,
                )
    keys = [key.name for key in schema.keys]
    names = keys + sorted(n for n in columns if n not in keys)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([f"{n}:{columns[n]}" for n in names])
        for row in read_jsonl(source, schema=schema):
            writer.writerow([_cell(row.item.get(n)) for n in names])


def _cell(value: Mapping[str, Any] | None) -> str:
    if value is None:
        return ""
    type_, inner = next(iter(value.items()))
    if type_ in ("BOOL", "NULL"):
        return "true" if inner else "false"
    return str(inner)


# -- import


def import_(
    *,
    client: Client,
    path: Path,
    name: str,
    fmt: str,
    hash_key: Key | None,
    range_key: Key | None,
) -> int:
    """Write every item of `path` into table `name` (created when missing); returns how many."""
    schema = describe(client, name)
    flags = KeySchema(hash=hash_key, range=range_key) if hash_key is not None else None
    if range_key is not None and hash_key is None:
        raise Failed("--range-key needs --hash-key", code=2)
    if schema is None and flags is None:
        raise Failed(
            f"table {name!r} does not exist at {client.url}: give --hash-key NAME:TYPE "
            "(and --range-key NAME:TYPE for a sort key) to create it",
            code=2,
        )
    if schema is not None and flags is not None and flags != schema:
        raise Failed(
            f"table {name!r} exists with key schema {_show(schema)}, not {_show(flags)}", code=2
        )
    effective = schema or flags
    assert effective is not None
    read = read_csv if fmt == "csv" else read_jsonl
    count = sum(1 for _ in read(path, schema=effective))  # every line valid before any write
    if schema is None:
        _create(client, name, effective)
    batch: list[Row] = []
    keys: set[str] = set()
    for row in read(path, schema=effective):
        key = json.dumps({k.name: row.item[k.name] for k in effective.keys}, sort_keys=True)
        if len(batch) == BATCH or key in keys:  # one batch may not write a key twice
            _write(client, name, path, batch)
            batch, keys = [], set()
        batch.append(row)
        keys.add(key)
    if batch:
        _write(client, name, path, batch)
    return count


def _show(schema: KeySchema) -> str:
    return ", ".join(f"{k.name}:{k.type}" for k in schema.keys)


def _create(client: Client, name: str, schema: KeySchema) -> None:
    key_schema = [{"AttributeName": schema.hash.name, "KeyType": "HASH"}]
    if schema.range is not None:
        key_schema.append({"AttributeName": schema.range.name, "KeyType": "RANGE"})
    client.call(
        "CreateTable",
        {
            "TableName": name,
            "KeySchema": key_schema,
            "AttributeDefinitions": [
                {"AttributeName": k.name, "AttributeType": k.type} for k in schema.keys
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    deadline = time.monotonic() + 300  # kubefn's tables are ACTIVE at once; DynamoDB's are not
    attempt = 0
    while client.call("DescribeTable", {"TableName": name})["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise Failed(f"table {name!r} did not become ACTIVE", code=1)
        attempt += 1
        client.pause(min(attempt, 6))


def _write(client: Client, name: str, path: Path, rows: list[Row]) -> None:
    """One BatchWriteItem, then its unprocessed items again until none are left.

    Gives up only after ATTEMPTS tries in a row that wrote nothing: a throttled
    table that accepts a few items per try still finishes.
    """
    pending = [{"PutRequest": {"Item": row.item}} for row in rows]
    where = f"{path}: lines {rows[0].line}-{rows[-1].line}"
    idle = 0
    while pending:
        try:
            answer = client.call("BatchWriteItem", {"RequestItems": {name: pending}})
        except awsjson.ServiceError as exc:
            raise Failed(f"{where}: {exc}", code=1) from None
        left = answer.get("UnprocessedItems", {}).get(name, [])
        idle = idle + 1 if len(left) == len(pending) else 0
        if idle == ATTEMPTS:
            raise Failed(f"{where}: {len(left)} items unprocessed after {idle} tries", code=1)
        pending = left
        if pending:
            client.pause(idle + 1)


# -- reading files


def read_jsonl(path: Path, *, schema: KeySchema) -> Iterator[Row]:
    """The items of a DynamoDB JSON lines file; Failed names the line of a malformed one."""
    with _opened(path) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("Item"), dict):
                    raise ValueError('expected an object {"Item": {...}}')
                item: dict[str, Any] = record["Item"]
                for attribute, value in item.items():
                    _check_value(value, path=attribute)
                _check_key(item, schema)
            except ValueError as exc:
                raise Failed(f"{path}:{number}: {exc}", code=2) from None
            yield Row(number, item)


def read_csv(path: Path, *, schema: KeySchema) -> Iterator[Row]:
    """The items of a CSV file with a header row (see the module's docstring)."""
    with _opened(path, newline="") as lines:
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
            if header is None:
                return
            columns = [_column(cell, schema) for cell in header]
            names = [column[0] for column in columns]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"header names {', '.join(repeated)} more than once")
        except ValueError as exc:
            raise Failed(f"{path}:1: {exc}", code=2) from None
        for cells in reader:
            if not cells:
                continue
            try:
                if len(cells) != len(columns):
                    raise ValueError(f"{len(cells)} cells, but the header has {len(columns)}")
                item = {
                    name: _value(cell, type_, column=name)
                    for (name, type_), cell in zip(columns, cells, strict=True)
                    if cell != ""
                }
                _check_key(item, schema)
            except ValueError as exc:
                raise Failed(f"{path}:{reader.line_num}: {exc}", code=2) from None
            yield Row(reader.line_num, item)


@contextlib.contextmanager
def _opened(path: Path, *, newline: str | None = None) -> Iterator[Any]:
    try:
        with path.open(encoding="utf-8", newline=newline) as lines:
            yield lines
    except OSError as exc:
        raise Failed(f"cannot read {path}: {exc.strerror}", code=2) from None
    except UnicodeDecodeError as exc:
        raise Failed(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", code=2) from None


def _column(cell: str, schema: KeySchema) -> tuple[str, str]:
    name, _, type_ = cell.rpartition(":")
    if name and type_ in CSV_TYPES:
        return name, type_
    if not cell:
        raise ValueError("a header cell is empty")
    return cell, schema.types.get(cell, "S")


def _value(cell: str, type_: str, *, column: str) -> dict[str, Any]:
    if type_ == "N":
        try:
            number = decimal.Decimal(cell)
        except decimal.InvalidOperation:
            number = decimal.Decimal("NaN")
        if not number.is_finite() or cell.strip() != cell:
            raise ValueError(f"column {column!r} is N, but {cell!r} is not a number")
    elif type_ == "B":
        try:
            base64.b64decode(cell, validate=True)
        except binascii.Error:
            raise ValueError(f"column {column!r} is B, but {cell!r} is not base64") from None
    elif type_ in ("BOOL", "NULL"):
        allowed = ("true", "false") if type_ == "BOOL" else ("true",)
        if cell.lower() not in allowed:
            raise ValueError(
                f"column {column!r} is {type_}, so a cell is {' or '.join(allowed)}, not {cell!r}"
            )
        return {type_: cell.lower() == "true"}
    return {type_: cell}


_STRING_TYPES = {"S", "N", "B"}
_SET_TYPES = {"SS", "NS", "BS"}


def _check_value(value: Any, *, path: str) -> None:
    """The shape of DynamoDB JSON, so a bad file fails at its line, not at the gateway."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f'attribute {path!r} is not a DynamoDB JSON value like {{"S": "x"}}')
    ((type_, inner),) = value.items()
    if type_ in _STRING_TYPES:
        ok = isinstance(inner, str)
    elif type_ in _SET_TYPES:
        ok = isinstance(inner, list) and bool(inner) and all(isinstance(m, str) for m in inner)
    elif type_ == "BOOL":
        ok = isinstance(inner, bool)
    elif type_ == "NULL":
        ok = inner is True
    elif type_ == "M":
        ok = isinstance(inner, dict)
        for name, member in inner.items() if ok else ():
            _check_value(member, path=f"{path}.{name}")
    elif type_ == "L":
        ok = isinstance(inner, list)
        for index, member in enumerate(inner if ok else ()):
            _check_value(member, path=f"{path}[{index}]")
    else:
        raise ValueError(f"attribute {path!r} has unknown type {type_!r}")
    if not ok:
        raise ValueError(f"attribute {path!r}: {json.dumps(inner)} is not a valid {type_} value")


def _check_key(item: Mapping[str, Any], schema: KeySchema) -> None:
    for key in schema.keys:
        value = item.get(key.name)
        if value is None:
            raise ValueError(f"the item has no key attribute {key.name!r}")
        if key.type not in value:
            raise ValueError(f"key attribute {key.name!r} must be {key.type}, not {value}")


# -- the commands


def run_export(*, url: str, name: str, path: Path, fmt: str | None) -> int:
    def work() -> str:
        count = export(client=Client(url), name=name, path=path, fmt=_format(path, fmt))
        return f"exported {count} items of {name} to {path}"

    return _run(work, command="export")


def run_import(
    *,
    url: str,
    path: Path,
    name: str,
    fmt: str | None,
    hash_key: str | None,
    range_key: str | None,
) -> int:
    def work() -> str:
        count = import_(
            client=Client(url),
            path=path,
            name=name,
            fmt=_format(path, fmt),
            hash_key=None if hash_key is None else parse_key(hash_key, flag="--hash-key"),
            range_key=None if range_key is None else parse_key(range_key, flag="--range-key"),
        )
        return f"imported {count} items of {path} into {name}"

    return _run(work, command="import")


def _format(path: Path, fmt: str | None) -> str:
    """The --format given, else csv for a `.csv` file, else jsonl."""
    if fmt is not None:
        return fmt
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _run(work: Callable[[], str], *, command: str) -> int:
    try:
        done = work()
    except Failed as exc:
        print(f"kubefn table {command}: {exc}", file=sys.stderr)
        return exc.code
    except (awsjson.ServiceError, OSError) as exc:  # OSError: the connection broke mid-request
        print(f"kubefn table {command}: {exc}", file=sys.stderr)
        return 1
    print(f"kubefn table {command}: {done}", file=sys.stderr)
    return 0
