"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def _field(path: str, key: str, sep: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(sep)
            if name.strip() == key:
                return value.strip().strip('"')
    except OSError:
        pass
    return "unknown"


def source() -> dict[str, Any]:
    """Which code was measured: the commit, and the measured folders changed since it."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.rstrip()

    changed = git("status", "--porcelain", "--", "gateway", "runtime", "kubefn", "cli")
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted_changes": [line[3:] for line in changed.splitlines()],
    }


def describe() -> dict[str, Any]:
    mem_kb = _field("/proc/meminfo", "MemTotal", ":").split()[0]
    return {
        "nproc": os.cpu_count(),
        "cpu": _field("/proc/cpuinfo", "model name", ":"),
        "memory_gib": round(int(mem_kb) / 1024 / 1024, 1) if mem_kb.isdigit() else None,
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "os": _field("/etc/os-release", "PRETTY_NAME", "="),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
