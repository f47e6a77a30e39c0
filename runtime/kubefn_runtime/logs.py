"""Function logs: the pipe a function process writes to, the tail an invocation
returns (X-Amz-Log-Result), and the lines Lambda frames each invocation with.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import time
from collections import deque
from collections.abc import Callable

from kubefn_runtime.protocol import LOG_TAIL_BYTES

LineSink = Callable[[list[str]], None]
"""Takes complete lines (without their line ends), as many as one read brought."""

_READ_BYTES = 65536


class LogPipe:
    """The read end of a function process's stdout and stderr, cut into lines.

    A lone carriage return also ends a line: awslambdaric joins the lines of one
    error report with it (CloudWatch shows them as one event).

    Read whenever the loop sees data. Everything the function wrote before it
    answered belongs to that invocation and never to the next: see finish().
    """

    def __init__(self, fd: int, on_lines: LineSink) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._on_lines = on_lines
        self._partial = b""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._read)

    def finish(self) -> None:
        """Pass on an unfinished last line, once the function process has answered.

        Everything else it wrote before answering is already read, without another
        read here: it wrote to the pipe before it sent its answer, so the loop's
        selector reports the pipe in the same pass as the answer or an earlier one,
        and the loop runs this pipe's reader in that pass, while whoever awaits the
        answer resumes only in a later pass. The reader stops only once the pipe is
        empty (a read that did not fill its buffer took everything).
        """
        if self._partial:
            self._on_lines([self._partial.rstrip(b"\r").decode(errors="replace")])
            self._partial = b""

    def drain(self) -> None:
        """Take everything written so far, including an unfinished last line."""
        if self._fd >= 0:
            self._read()
        self.finish()

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._fd, _READ_BYTES)
            except BlockingIOError:
                return
            if not data:
                self.close()
                return
            lines = (self._partial + data).splitlines(keepends=True)
            self._partial = b"" if lines[-1].endswith(b"\n") else lines.pop()
            if lines:
                self._on_lines([line.rstrip(b"\r\n").decode(errors="replace") for line in lines])
            if len(data) < _READ_BYTES:
                return  # the pipe is empty: no read that would only say so


class LogTail:
    """The last LOG_TAIL_BYTES of one invocation's log, kept as lines."""

    def __init__(self) -> None:
        self._lines: deque[bytes] = deque()
        self._size = 0

    def add(self, line: str) -> None:
        data = line.encode() + b"\n"
        self._lines.append(data)
        self._size += len(data)
        while self._size - len(self._lines[0]) >= LOG_TAIL_BYTES:
            self._size -= len(self._lines.popleft())

    def base64(self) -> str:
        return base64.b64encode(b"".join(self._lines)[-LOG_TAIL_BYTES:]).decode()


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None,
) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms(duration_ms)} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB"
    )
    return line if init_ms is None else f"{line}\tInit Duration: {init_ms:.2f} ms"


def timeout_line(request_id: str, seconds: float) -> str:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    millis = int(now * 1000) % 1000
    return f"{stamp}.{millis:03d}Z {request_id} Task timed out after {seconds:.2f} seconds"


def billed_ms(duration_ms: float) -> int:
    """Lambda bills each started millisecond."""
    return max(1, math.ceil(duration_ms))
