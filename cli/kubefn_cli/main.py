"""`kubefn` — run the platform on one machine, invoke functions, back up tables, run state
machines, write the CRDs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from kubefn_cli import dev, invoke, sm, table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubefn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "dev", help="run the platform on this machine with a folder of manifests"
    )
    run.add_argument(
        "dir", type=Path, help="folder of manifests (the YAML you would kubectl apply)"
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".kubefn"),
        help="embedded Redis data and unpacked code (default: .kubefn)",
    )
    run.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="use this Redis instead of the embedded one (default: $REDIS_URL)",
    )
    run.add_argument(
        "--idle-seconds",
        type=float,
        default=600.0,
        help="stop instances idle this long (scale to zero)",
    )
    run.add_argument(
        "--states-time-scale",
        type=float,
        default=float(os.environ.get("KUBEFN_STATES_TIME_SCALE", "1")),
        help="run workflow durations (Wait, Retry, timeouts) this many times faster",
    )
    run.add_argument(
        "--watch-interval",
        type=float,
        default=0.5,
        help="how often to look for changed manifests and code, in seconds",
    )

    call = commands.add_parser("invoke", help="invoke a function through the gateway")
    call.add_argument("name")
    call.add_argument("--payload", default="{}", help="event JSON (default: {})")
    call.add_argument("--url", default=os.environ.get("KUBEFN_URL", "http://127.0.0.1:8080"))
    call.add_argument("--log", action="store_true", help="also print the invocation's log tail")

    tables = commands.add_parser(
        "table", help="export a table's items to a file, or import them from one"
    ).add_subparsers(dest="table_command", required=True)
    export = tables.add_parser(
        "export",
        help="write every item to FILE",
        description=table.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("name", metavar="NAME")
    export.add_argument("file", metavar="FILE", type=Path)
    _gateway_and_format(export)
    load = tables.add_parser(
        "import",
        help="write FILE's items into a table, created when missing",
        description=table.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", metavar="FILE", type=Path)
    load.add_argument("name", metavar="NAME")
    _gateway_and_format(load)
    load.add_argument(
        "--hash-key", metavar="NAME:TYPE", help="partition key, to create a missing table (S|N|B)"
    )
    load.add_argument(
        "--range-key", metavar="NAME:TYPE", help="sort key, to create a missing table (S|N|B)"
    )

    sm.add_parser(commands)

    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions")
    crds.add_argument("--write", type=Path, metavar="DIR", help="write them into DIR instead")
    return parser  # fmt: skip


def _gateway_and_format(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--url",
        default=os.environ.get("KUBEFN_URL", "http://127.0.0.1:8080"),
        help="the gateway (default: $KUBEFN_URL or http://127.0.0.1:8080)",
    )
    command.add_argument(
        "--format",
        choices=table.FORMATS,
        help="jsonl (DynamoDB JSON lines, every type) or csv (scalar types only); "
        "default: csv for a .csv FILE, else jsonl",
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("KUBEFN_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "dev":
        return dev.run(
            folder=args.dir,
            host=args.host,
            port=args.port,
            state_dir=args.state_dir,
            redis_url=args.redis_url,
            idle_seconds=args.idle_seconds,
            watch_interval=args.watch_interval,
            states_time_scale=args.states_time_scale,
        )
    if args.command == "invoke":
        return invoke.run(url=args.url, name=args.name, payload=args.payload, show_log=args.log)
    if args.command == "table" and args.table_command == "export":
        return table.run_export(url=args.url, name=args.name, path=args.file, fmt=args.format)
    if args.command == "table" and args.table_command == "import":
        return table.run_import(
            url=args.url,
            path=args.file,
            name=args.name,
            fmt=args.format,
            hash_key=args.hash_key,
            range_key=args.range_key,
        )
    if args.command == "sm":
        return sm.run(args)
    if args.command == "crds":
        from kubefn import crds

        if args.write:
            for path in crds.write(args.write):
                print(path)
        else:
            sys.stdout.write("---\n".join(crds.files().values()))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
