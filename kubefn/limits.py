"""Lambda's limits, the numbers every check in kubefn refers to.

They are AWS Lambda's published quotas; an installation may raise or lower the
adjustable ones through its own configuration, never by editing call sites.
"""

from typing import Final

MEMORY_MB_MIN: Final = 128
MEMORY_MB_MAX: Final = 10240
MEMORY_MB_DEFAULT: Final = 128

TIMEOUT_SECONDS_MIN: Final = 1
TIMEOUT_SECONDS_MAX: Final = 900
TIMEOUT_SECONDS_DEFAULT: Final = 3

EPHEMERAL_STORAGE_MB_MIN: Final = 512
EPHEMERAL_STORAGE_MB_MAX: Final = 10240
EPHEMERAL_STORAGE_MB_DEFAULT: Final = 512

ENVIRONMENT_BYTES_MAX: Final = 4 * 1024
"""Total size of all environment variable names and values."""

SYNC_PAYLOAD_BYTES_MAX: Final = 6 * 1024 * 1024
ASYNC_PAYLOAD_BYTES_MAX: Final = 1024 * 1024
RESPONSE_BYTES_MAX: Final = 6 * 1024 * 1024
CLIENT_CONTEXT_BYTES_MAX: Final = 3583

ACCOUNT_CONCURRENCY: Final = 1000
UNRESERVED_CONCURRENCY_MIN: Final = 100

CODE_BUNDLE_BYTES_MAX: Final = 50 * 1024 * 1024
"""Zipped code, as for a direct upload to Lambda."""
CODE_UNZIPPED_BYTES_MAX: Final = 250 * 1024 * 1024

LOG_TAIL_BYTES: Final = 4 * 1024
"""What `X-Amz-Log-Type: Tail` returns: the last 4 KB of the invocation's log."""


def gb_seconds(*, billed_ms: float, memory_mb: int) -> float:
    """Lambda's pricing unit: billed duration (the runtime rounds it) times memory in GB."""
    return billed_ms / 1000.0 * memory_mb / 1024.0
