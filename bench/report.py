"""Markdown tables from the results, as pasted into BENCHMARKS.md.

python -m bench.report      # re-render from bench/results/*.json
"""

from __future__ import annotations

import json
from typing import Any

from bench.workspace import REPO

GATEWAY_P50_TARGET_MS = 1.0
HELLO_COLD_TARGET_MS = 150.0

_LABELS = {
    "floor_constant": "floor: aiohttp constant",
    "floor_proxy": "floor: + one aiohttp proxy hop",
    "direct": "agent directly",
    "proxy_agents": "bare aiohttp proxy -> agent",
    "raw_proxy_agents": "aiohttp server + raw upstream conn. -> agent",
    "gateway": "through the gateway",
}


def _pq(summary: dict[str, float]) -> str:
    return f"{summary['p50']:.2f} / {summary['p99']:.2f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cpu(cpu: dict[str, float]) -> str:
    shown = {k: v for k, v in cpu.items() if v >= 0.005}
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(shown.items(), key=lambda kv: -kv[1]))


def render_warm(data: dict[str, Any]) -> list[str]:
    rows = []
    for level in data["levels"]:
        for name, target in level["targets"].items():
            rows.append(
                [
                    str(level["concurrency"]),
                    _LABELS[name],
                    _pq(target["latency_ms"]),
                    f"{target['throughput_rps']:.0f}",
                    _cpu(target["cpu_ms_per_request"]),
                    f"{target['other_processes_cores']:.2f}",
                ]
            )
    out = ["### Warm invoke: latency and throughput", ""]
    out += _table(
        [
            "clients",
            "target",
            "p50 / p99 ms",
            "req/s",
            "CPU ms per request, by process",
            "others' load (cores)",
        ],
        rows,
    )
    rows = []
    for level in data["levels"]:
        gw = level["overhead"]["gateway_vs_direct"]
        bare = level["overhead"]["bare_proxy_vs_direct"]
        raw = level["overhead"]["raw_proxy_vs_direct"]
        floor = level["overhead"]["floor_proxy_vs_constant"]
        verdict = "met" if gw["p50_ms"] < GATEWAY_P50_TARGET_MS else "missed"
        rows.append(
            [
                str(level["concurrency"]),
                f"+{gw['p50_ms']:.2f} ms (x{gw['p50_ratio']:.2f})",
                f"+{gw['p99_ms']:.2f} ms (x{gw['p99_ratio']:.2f})",
                f"x{gw['throughput_ratio']:.2f}",
                f"+{bare['p50_ms']:.2f} ms / +{bare['p99_ms']:.2f} ms",
                f"+{raw['p50_ms']:.2f} ms / +{raw['p99_ms']:.2f} ms",
                f"+{floor['p50_ms']:.2f} ms / +{floor['p99_ms']:.2f} ms",
                f"{verdict} ({gw['p50_ms'] - GATEWAY_P50_TARGET_MS:+.2f} ms)",
            ]
        )
    out += ["", "### Gateway overhead (gateway minus agent directly)", ""]
    out += _table(
        [
            "clients",
            "p50",
            "p99",
            "throughput",
            "bare proxy -> agent p50 / p99",
            "raw-upstream proxy p50 / p99",
            "floor hop p50 / p99",
            f"target p50 < {GATEWAY_P50_TARGET_MS:g} ms",
        ],
        rows,
    )
    floor = data.get("ipc_floor")
    if floor:
        out += ["", "### Floor: one round trip between two processes (64 bytes, blocking)", ""]
        out += _table(
            ["transport", "round trip p50 / p99 ms", "send() p50 ms", "caller CPU ms"],
            [
                [
                    kind,
                    _pq(v["round_trip_ms"]),
                    f"{v['send_call_ms']['p50']:.3f}",
                    f"{v['caller_cpu_ms_per_round_trip']:.3f}",
                ]
                for kind, v in floor.items()
            ],
        )
    out += ["", "### Checks: warm means warm, connections are reused, no 40 ms stalls", ""]
    rows = []
    for level in data["levels"]:
        gateway = level["targets"]["gateway"]
        rows.append(
            [
                str(level["concurrency"]),
                str(level["gateway_instances"]),
                str(level["gateway_cold_starts_while_measuring"]),
                ", ".join(str(n) for n in gateway["gateway_sockets_opened_per_run"]),
                str(gateway["samples_over_35ms"]),
                str(sum(t["errors"] for t in level["targets"].values())),
            ]
        )
    out += _table(
        [
            "clients",
            "gateway instances",
            "cold starts while measuring",
            "sockets the gateway opened per run",
            "gateway samples > 35 ms",
            "errors",
        ],
        rows,
    )
    gap = data.get("extra", {}).get("idle_gap")
    if gap:
        out += ["", "### CPU per request of one agent vs. the gap between its requests", ""]
        out += _table(
            ["gap between requests", "agent CPU ms / request", "function process CPU ms / request"],
            [
                [
                    f"{row['gap_ms']:g} ms",
                    f"{row['agent_cpu_ms_per_request']:.3f}",
                    f"{row['function_cpu_ms_per_request']:.3f}",
                ]
                for row in gap["rows"]
            ],
        )
    boto = data.get("extra", {}).get("boto3_gateway_1_client")
    if boto:
        out += [
            "",
            f"boto3 `lambda.invoke` through the gateway, 1 client: p50 / p99 "
            f"{_pq(boto['latency_ms'])} ms, {boto['throughput_rps']:.0f} req/s "
            "(includes boto3's own client cost).",
        ]
    return out


def render_cold(data: dict[str, Any]) -> list[str]:
    template, gateway = data["template"], data["gateway"]
    rows = []
    for name in (k for k in template if isinstance(template[k], dict)):
        parts = template[name]
        via = gateway.get(name)
        rows.append(
            [
                name,
                _pq(parts["process_start_ms"]),
                _pq(parts["init_ms"]),
                _pq(parts["first_request_ms"]),
                _pq(parts["total_ms"]),
                f"{_pq(via['latency_ms'])} (n={via['latency_ms']['n']}, "
                f"{via['cold_starts_counted']}/{via['invocations']} counted cold)"
                if via
                else "-",
                str(parts["total_ms"]["n"]),
                f"{parts['machine_busy_cores']:.2f} / "
                + (f"{via['machine_busy_cores']:.2f}" if via else "-"),
            ]
        )
    out = ["### Cold start (first invocation on a new instance), p50 / p99 ms", ""]
    out += _table(
        [
            "function",
            "process start",
            "init (overlaps)",
            "first request",
            "total",
            "through the gateway",
            "n",
            "machine busy (cores)",
        ],
        rows,
    )
    for name, parts in template.items():
        if isinstance(parts, dict) and "user_init_ms" in parts:
            out += [
                "",
                f"{name}: of its init, the function's own code took "
                f"{_pq(parts['user_init_ms'])} ms and the platform "
                f"{_pq(parts['platform_init_ms'])} ms (p50 / p99).",
            ]
            beyond = gateway.get(name, {}).get("latency_minus_user_init_ms")
            if beyond:
                out[-1] += (
                    f" Through the gateway, everything but the function's own init: "
                    f"{_pq(beyond)} ms."
                )
    hello = gateway.get("hello", {}).get("latency_ms")
    if hello:
        verdict = "met" if hello["p50"] < HELLO_COLD_TARGET_MS else "missed"
        out += [
            "",
            f"Target: hello cold start under {HELLO_COLD_TARGET_MS:g} ms: {verdict} "
            f"(p50 {hello['p50']:.1f} ms, p99 {hello['p99']:.1f} ms through the gateway). "
            f"Template boot, once per gateway and interpreter: "
            f"{template['template_boot_ms']:.1f} ms; the first invocation after the "
            f"gateway started took {gateway['first_invocation_ms']:.1f} ms.",
        ]
    base = data["baselines"]
    out += ["", "### Cold start floors, same run", ""]
    out += _table(
        ["what", "p50 / p99 ms", "n"],
        [
            [label, _pq(base[key]), str(base[key]["n"])]
            for key, label in (
                ("python_import_asyncio_ms", '`sys.executable -c "import asyncio"`'),
                ("python_import_agent_ms", '`sys.executable -c "import kubefn_runtime.agent"`'),
                ("fork_exit_wait_ms", "`os.fork()` + child `_exit` + `waitpid`"),
                (
                    "fork_exit_wait_agent_loaded_ms",
                    "the same, in an interpreter that imported the agent (as the template)",
                ),
            )
        ],
    )
    return out


_TABLE_TARGETS = {
    "kubefn": "kubefn gateway (boto3)",
    "moto": "moto server (boto3)",
    "redis": "raw Redis (redis-py)",
}
_TABLE_OPS = {
    "put": "PutItem",
    "get": "GetItem",
    "query": "Query (100 items)",
    "update": "UpdateItem (conditional)",
}


def _tables_part(data: dict[str, Any], part: str, title: str) -> list[str]:
    rows = [
        [
            _TABLE_OPS[op],
            _TABLE_TARGETS[name],
            _pq(target["latency_ms"]),
            f"{target['ops_per_s']:.0f}",
            _cpu(target["cpu_ms_per_op"]),
            f"{target['machine_busy_cores']:.2f}",
        ]
        for op, by_target in data[part].items()
        for name, target in by_target.items()
    ]
    out = [f"### {title}: latency and throughput", ""]
    out += _table(
        ["operation", "target", "p50 / p99 ms", "ops/s", "CPU ms per op, by process", "busy cores"],
        rows,
    )
    rows = []
    for op, ratio in data[f"{part}_ratios"].items():
        moto, raw = ratio["kubefn_vs_moto"], ratio["kubefn_vs_redis"]
        rows.append(
            [
                _TABLE_OPS[op],
                f"x{moto['p50']:.2f} / x{moto['p99']:.2f}",
                f"x{moto['ops_per_s']:.2f}",
                f"x{raw['p50']:.2f} / x{raw['p99']:.2f}",
                f"x{raw['ops_per_s']:.2f}",
                "met" if ratio["faster_than_moto"] else "missed",
            ]
        )
    out += ["", f"### {title}: ratios (kubefn divided by the other; latency < 1 is faster)", ""]
    out += _table(
        [
            "operation",
            "kubefn/moto p50 / p99",
            "kubefn/moto ops/s",
            "kubefn/raw Redis p50 / p99",
            "kubefn/raw Redis ops/s",
            "faster than moto",
        ],
        rows,
    )
    return out


def render_tables(data: dict[str, Any]) -> list[str]:
    out = _tables_part(data, "sequential", "Tables, one client")
    if "concurrent" in data:
        clients = data["concurrent_clients"]
        out += ["", *_tables_part(data, "concurrent", f"Tables, {clients} client processes")]
    verdicts = [r["faster_than_moto"] for r in data["sequential_ratios"].values()]
    verdicts += [r["faster_than_moto"] for r in data.get("concurrent_ratios", {}).values()]
    checks = data["checks"]["conditional_update_of_missing_item_refused"]
    out += [
        "",
        "Target: faster than moto at every operation (p50 and ops/s): "
        + ("met" if all(verdicts) else "missed")
        + f". CreateTable until ACTIVE: {data['create_table_until_active_ms']} ms. "
        + "UpdateItem of a missing item refused (ConditionalCheckFailedException): "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in checks.items())
        + ".",
    ]
    return out


def render(results: dict[str, dict[str, Any]]) -> str:
    out: list[str] = []
    if "warm" in results:
        out += [*render_warm(results["warm"]), ""]
    if "coldstart" in results:
        out += [*render_cold(results["coldstart"]), ""]
    if "tables" in results:
        out += [*render_tables(results["tables"]), ""]
    return "\n".join(out)


def main() -> None:
    results = {}
    for name in ("warm", "coldstart", "tables"):
        path = REPO / "bench" / "results" / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    print(render(results))


if __name__ == "__main__":
    main()
