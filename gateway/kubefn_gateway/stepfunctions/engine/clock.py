"""The engine's clock: real time, with durations optionally compressed.

A Wait of an hour or a Retry backing off for minutes takes `1/scale` of that in
real time when `scale` > 1, so long schedules are testable without waiting;
instants (timestamps in history, `Timestamp` waits) stay real.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    scale: float = 1.0

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def duration_ms(self, seconds: float) -> int:
        """Real milliseconds a duration of `seconds` takes."""
        return max(0, int(seconds * 1000 / self.scale))
