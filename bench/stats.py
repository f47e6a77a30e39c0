"""Latency summaries. Nearest-rank percentiles: every figure is a latency that was
really observed, which matters for the small cold-start samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict


class Summary(TypedDict):
    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(values: Sequence[float]) -> Summary:
    """Summary of latencies in milliseconds, rounded to microseconds."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    return Summary(
        n=len(ordered),
        min=round(ordered[0], 3),
        p50=round(percentile(ordered, 0.50), 3),
        p90=round(percentile(ordered, 0.90), 3),
        p99=round(percentile(ordered, 0.99), 3),
        max=round(ordered[-1], 3),
        mean=round(sum(ordered) / len(ordered), 3),
    )
