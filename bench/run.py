"""Run the benchmarks and write bench/results/<name>.json, then print the tables.

.venv/bin/python -m bench                # everything (~5 minutes)
.venv/bin/python -m bench warm --quick   # one part, shorter
.venv/bin/python -m bench tables         # DynamoDB's API: kubefn vs. moto vs. raw Redis
.venv/bin/python -m bench states         # Step Functions: transitions/s vs. moto and floors
.venv/bin/python bench/run.py            # the same, without -m
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import coldstart, ipc, machine, report, statereport, states, tables, warm
from bench.workspace import REPO, Workspace

RESULTS = REPO / "bench" / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", metavar="warm|cold|tables|states", help="default: all")
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its logs")
    return parser


async def _run(
    parts: list[str], quick: bool, ws: Workspace, header: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    if "warm" in parts:
        began = time.monotonic()
        floor = ipc.measure(1000 if quick else 5000)  # before any thread or child exists
        results["warm"] = {
            **header,
            "ipc_floor": floor,
            **await warm.run(
                ws,
                concurrencies=(1, 8, 32),
                seconds=0.5 if quick else 1.5,
                rounds=2 if quick else 3,
                warmup_seconds=0.3,
                boto3_seconds=0.5 if quick else 2.0,
            ),
            "wall_seconds": round(time.monotonic() - began, 1),
        }
    if "cold" in parts:
        began = time.monotonic()
        results["coldstart"] = {
            **header,
            **await coldstart.run(
                ws,
                template_samples={"hello": 10, "slow-init": 5}
                if quick
                else {"hello": 50, "slow-init": 30},
                gateway_samples={"hello": 5, "slow-init": 3}
                if quick
                else {"hello": 40, "slow-init": 20},
                interpreter_samples=5 if quick else 20,
                fork_samples=50 if quick else 300,
            ),
            "wall_seconds": round(time.monotonic() - began, 1),
        }
    if "tables" in parts:
        began = time.monotonic()
        sizes = tables.QUICK if quick else tables.FULL
        results["tables"] = {
            **header,
            **await asyncio.to_thread(
                tables.run, ws, sizes=sizes, progress=lambda line: print(line, file=sys.stderr)
            ),
            "wall_seconds": round(time.monotonic() - began, 1),
        }
    if "states" in parts:
        began = time.monotonic()
        results["states"] = {
            **header,
            **await asyncio.to_thread(
                states.run,
                ws,
                sizes=states.QUICK if quick else states.FULL,
                progress=lambda line: print(line, file=sys.stderr),
            ),
            "wall_seconds": round(time.monotonic() - began, 1),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    parts = args.parts or ["warm", "cold", "tables", "states"]
    if unknown := set(parts) - {"warm", "cold", "tables", "states"}:
        _parser().error(f"unknown part(s): {', '.join(sorted(unknown))}")
    root = Path(tempfile.mkdtemp(prefix="kubefn-bench-"))
    ws = Workspace.create(root)
    command = "python -m bench " + " ".join(args.parts) + (" --quick" if args.quick else "")
    header = {
        "machine": machine.describe(),
        "source": machine.source(),
        "command": " ".join(command.split()),
    }
    ok = False
    try:
        results = asyncio.run(_run(parts, args.quick, ws, header))
        for data in results.values():
            data["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        ok = True
    finally:
        ws.close()
        if ok and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"work folder and child logs kept in {root}", file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, data in results.items():
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {path.relative_to(REPO)}")
    print(report.render(results))
    if "states" in results:
        print("\n".join(statereport.render(results["states"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
