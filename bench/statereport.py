"""Markdown tables of the Step Functions results, as pasted into BENCHMARKS.md.

python -m bench.statereport      # re-render from bench/results/states.json
"""

from __future__ import annotations

import json
from typing import Any

from bench.workspace import REPO

LABELS = {
    "kubefn_standard": "kubefn Standard",
    "kubefn_express": "kubefn Express (StartSyncExecution)",
    "moto_standard": "moto server Standard",
    "redis_per_transition": "raw Redis, 1 EVALSHA per transition",
    "redis_per_64": "raw Redis, 1 EVALSHA per 64 transitions",
    "map_standard": "kubefn Standard",
    "map_express": "kubefn Express (StartSyncExecution)",
    "invoke_floor": "the invocations alone (Invoke API)",
}
_ON_REDIS = {"kubefn_standard", "redis_per_transition", "redis_per_64", "map_standard"}


def _pq(summary: dict[str, float]) -> str:
    return f"{summary['p50']:.1f} / {summary['p99']:.1f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _cpu(cpu: dict[str, float], *, digits: int = 3) -> str:
    shown = {k: v for k, v in cpu.items() if v >= 0.5 * 10**-digits}
    ordered = sorted(shown.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v:.{digits}f}" for k, v in ordered)


def _evalsha(name: str, target: dict[str, Any]) -> str:
    if name not in _ON_REDIS:
        return "-"
    redis = target["redis"]
    return f"{redis['evalsha_per_execution']:g} x {redis['evalsha_us_per_call']:.0f} µs"


def render_chain(data: dict[str, Any]) -> list[str]:
    chain = data["chain"]
    rows = []
    for level in chain["levels"]:
        for name, t in level["targets"].items():
            rows.append(
                [
                    str(level["executions_at_once"]),
                    LABELS[name],
                    _pq(t["duration_ms"]),
                    _pq(t["client_ms"]),
                    f"{t['transitions_per_s']:.0f}",
                    f"{t['client_transitions_per_s']:.0f}",
                    _cpu(t["cpu_ms_per_transition"]),
                    _evalsha(name, t),
                    f"{t['machine_busy_cores']:.2f} / {t.get('others_cores', 0):.2f}",
                ]
            )
    states = chain["checks"]["kubefn_standard_history"]["states_entered"]
    out = [f"### {states}-state Pass chain: state transitions per second", ""]
    out += _table(
        [
            "at once",
            "target",
            "per execution p50 / p99 ms",
            "client-observed p50 / p99 ms",
            "transitions/s",
            "client-observed transitions/s",
            "CPU ms per transition, by process",
            "EVALSHA per execution x Redis time",
            "busy cores: machine / others",
        ],
        rows,
    )
    pure, alone = chain["pure_floor"], chain["interpreter_floor"]
    checks = chain["checks"]
    out += [
        "",
        f"Floors in one process, per execution at p50: the engine's interpreter building its "
        f"{alone['plans_per_execution']} plans without committing them "
        f"{alone['duration_ms']['p50']:.2f} ms ({alone['transitions_per_s_at_p50']:,} "
        f"transitions/s); kubefn.asl.payload alone {pure['duration_ms']['p50']:.2f} ms "
        f"({pure['transitions_per_s_at_p50']:,} transitions/s). "
        f"Histories: kubefn {checks['kubefn_standard_history']['events']} events, "
        f"{checks['kubefn_standard_history']['states_entered']} states entered; moto "
        f"{checks['moto_standard_history']['events']} events, "
        f"{checks['moto_standard_history']['states_entered']} states entered.",
    ]
    return out


def render_map(data: dict[str, Any]) -> list[str]:
    fan_out = data["map"]
    runs = {"first run (instances start on demand)": ("map_standard", fan_out["first_run"])}
    runs |= {LABELS[name]: (name, t) for name, t in fan_out["targets"].items()}
    rows = []
    for label, (name, t) in runs.items():
        per_s = f"{t['transitions_per_s']:.0f}"
        rows.append(
            [
                label,
                str(t["executions"]),
                f"{t['duration_ms']['p50']:.0f} ({t['duration_ms']['min']:.0f}-"
                f"{t['duration_ms']['max']:.0f})",
                f"{per_s} invocations/s" if name == "invoke_floor" else per_s,
                _cpu(t["cpu_ms_per_transition"]),
                _cpu(t.get("cores", {}), digits=2),
                _evalsha(name, t),
                f"{t['machine_busy_cores']:.2f} / {t.get('others_cores', 0):.2f}",
            ]
        )
    title = f"Map over {fan_out['items']:,} items, MaxConcurrency {fan_out['max_concurrency']}"
    out = [f"### {title}, each iteration a Task invoking a Python function", ""]
    out += _table(
        [
            "target",
            "runs",
            "wall ms p50 (min-max)",
            "transitions/s",
            "CPU ms per transition (per invocation), by process",
            "cores used, by process",
            "EVALSHA per execution x Redis time",
            "busy cores: machine / others",
        ],
        rows,
    )
    checks = fan_out["checks"]
    out += [
        "",
        f"History of a Standard run: {checks['history']['events']:,} events, "
        f"{checks['history']['states_entered']:,} states entered; output correct: "
        f"{'yes' if checks['output_correct'] else 'NO'}; function instances afterwards: "
        f"{checks['function_instances_after']}.",
    ]
    return out


def verdict(data: dict[str, Any]) -> str:
    target = data["target_transitions_per_s"]
    standard = [
        (level["targets"]["kubefn_standard"]["transitions_per_s"], level["executions_at_once"])
        for level in data["chain"]["levels"]
    ]
    best, at_once = max(standard)
    fan_out = data["map"]["targets"]["map_standard"]["transitions_per_s"]
    word = "met" if best >= target else "missed"
    return (
        f"Target: Standard at least {target:,.0f} transitions/s: {word} by the chain. Best "
        f"Standard chain figure {best:,.0f}/s ({at_once} at once, {best / target:.0%} of the "
        f"target); one execution at a time {standard[0][0]:,.0f}/s; Standard Map "
        f"{fan_out:,.0f}/s ({fan_out / target:.0%})."
    )


def idle(data: dict[str, Any]) -> str:
    found = data["idle_gateway"]
    return (
        f"An idle gateway (no execution anywhere) used {found['gateway_cores']:.3f} of a core "
        f"and made Redis run {found['evalsha_per_s']:.0f} scripts per second "
        f"({found['redis_cores']:.3f} of a core): its workers' polls for due steps."
    )


def render(data: dict[str, Any]) -> list[str]:
    return [*render_chain(data), "", *render_map(data), "", idle(data), "", verdict(data)]


def main() -> None:
    data = json.loads((REPO / "bench" / "results" / "states.json").read_text())
    print("\n".join(render(data)))


if __name__ == "__main__":
    main()
