"""The gateway's Prometheus metrics. Dashboards are built on these names: keep them stable.

Each gateway owns its registry, so several gateways can live in one process (tests).
Gauges that describe the pools are collected at scrape time from what this replica
observes (the same view it reports for the functions' status).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kubefn import observed

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10, 30, 60, 300, 900,
)  # fmt: skip


Observations = Callable[[], Mapping[str, observed.Observation]]
"""This replica's instances per function key ("namespace/name"), read at scrape time."""


class Metrics:
    def __init__(self, *, observations: Observations) -> None:
        self.registry = CollectorRegistry()
        labels = ("namespace", "function")
        self.invocations = Counter(
            "kubefn_invocations",
            "Invocations by outcome (success, error, timeout, oom, crash, init_error, throttled).",
            (*labels, "outcome"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "kubefn_invocation_duration_seconds",
            "Function run time of each invocation, as in Lambda's REPORT Duration.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cold_starts = Counter(
            "kubefn_cold_starts",
            "Invocations that had to initialise a new execution environment.",
            labels,
            registry=self.registry,
        )
        self.init_duration = Histogram(
            "kubefn_init_duration_seconds",
            "Init duration (code outside the handler) of each cold start.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.billed_gb_seconds = Counter(
            "kubefn_billed_gb_seconds",
            "Lambda's pricing unit: duration rounded up to 1 ms times memory in GB.",
            labels,
            registry=self.registry,
        )
        self.stream_batches = Counter(
            "kubefn_stream_batches",
            "Stream trigger invocations by outcome (success, partial, function_error, "
            "invoke_error, throttled) and batches given up on (discarded).",
            ("namespace", "table", "function", "outcome"),
            registry=self.registry,
        )
        self.ttl_deletions = Counter(
            "kubefn_ttl_deletions",
            "Items deleted because their Time to Live expired.",
            ("namespace", "table"),
            registry=self.registry,
        )
        self.executions_started = Counter(
            "kubefn_executions_started",
            "State machine executions started, by machine and type (STANDARD, EXPRESS).",
            ("namespace", "machine", "type"),
            registry=self.registry,
        )
        self.executions_closed = Counter(
            "kubefn_executions_closed",
            "State machine executions ended, by status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED).",
            ("namespace", "machine", "status"),
            registry=self.registry,
        )
        self.state_transitions = Counter(
            "kubefn_state_transitions",
            "States entered by executions (Step Functions' billing unit), by machine.",
            ("namespace", "machine"),
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(observations))
        self._series: dict[tuple[str, str], FunctionSeries] = {}

    def function(self, *, namespace: str, name: str) -> FunctionSeries:
        """One function's series, resolved once: `labels()` is costly on the request path."""
        key = (namespace, name)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = FunctionSeries(self, labels=key)
        return series


class FunctionSeries:
    """The labelled children of every per-function metric, for one function."""

    def __init__(self, metrics: Metrics, *, labels: tuple[str, str]) -> None:
        self._metrics = metrics
        self._labels = labels
        self._outcomes: dict[str, Counter] = {}
        self.duration = metrics.duration.labels(*labels)
        self.cold_starts = metrics.cold_starts.labels(*labels)
        self.init_duration = metrics.init_duration.labels(*labels)
        self.billed_gb_seconds = metrics.billed_gb_seconds.labels(*labels)

    def invocations(self, outcome: str) -> Counter:
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self._metrics.invocations.labels(
                *self._labels, outcome
            )
        return child


class _PoolCollector(Collector):
    def __init__(self, observations: Observations) -> None:
        self._observations = observations

    def collect(self) -> Iterator[GaugeMetricFamily]:
        instances = GaugeMetricFamily(
            "kubefn_instances",
            "Instances by state (starting, idle, busy).",
            labels=("namespace", "function", "state"),
        )
        concurrent = GaugeMetricFamily(
            "kubefn_concurrent_executions",
            "Invocations running right now.",
            labels=("namespace", "function"),
        )
        for key, seen in sorted(self._observations().items()):
            namespace, function = key.split("/", 1)
            for state, value in (
                ("starting", seen.starting),
                ("idle", seen.idle),
                ("busy", seen.busy),
            ):
                instances.add_metric((namespace, function, state), value)
            concurrent.add_metric((namespace, function), seen.busy)
        yield instances
        yield concurrent

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
