"""Pure pieces: log lines, the tail, and how a process's end is worded."""

from __future__ import annotations

import base64
import signal

import pytest

from kubefn_runtime import logs
from kubefn_runtime.protocol import LOG_TAIL_BYTES, describe_exit


@pytest.mark.parametrize(
    "code, words",
    [
        pytest.param(0, "exit status 0", id="clean"),
        pytest.param(3, "exit status 3", id="exit code"),
        pytest.param(-signal.SIGKILL, "signal: killed", id="sigkill"),
        pytest.param(-signal.SIGSEGV, "signal: segmentation fault", id="segfault"),
        pytest.param(-signal.SIGABRT, "signal: aborted", id="abort"),
    ],
)
def test_describe_exit(code: int, words: str) -> None:
    assert describe_exit(code) == words


def test_report_line_of_a_cold_start() -> None:
    line = logs.report_line("r", duration_ms=1.234, memory_mb=128, max_memory_mb=40, init_ms=150)
    assert line == (
        "REPORT RequestId: r\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 150.00 ms"
    )


def test_report_line_of_a_warm_start_has_no_init_duration() -> None:
    line = logs.report_line("r", duration_ms=0.2, memory_mb=128, max_memory_mb=40, init_ms=None)
    assert line.endswith("Billed Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB")


def test_tail_keeps_the_last_4_kb() -> None:
    tail = logs.LogTail()
    for n in range(1000):
        tail.add(f"line {n:04d}")
    text = base64.b64decode(tail.base64())
    assert len(text) == LOG_TAIL_BYTES
    assert text.endswith(b"line 0999\n")


def test_short_tail_is_whole() -> None:
    tail = logs.LogTail()
    tail.add("START")
    tail.add("END")
    assert base64.b64decode(tail.base64()) == b"START\nEND\n"
