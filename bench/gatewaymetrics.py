"""The gateway's own cold-start counter (Prometheus text at /metrics): proof that a
warm figure contains no cold start and that a cold figure contains only those."""

from __future__ import annotations

from bench import httpload

LOOPBACK = "127.0.0.1"


def parse_cold_starts(exposition: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in exposition.splitlines():
        if line.startswith("kubefn_cold_starts_total{"):
            labels, _, value = line.rpartition(" ")
            name = labels.split('function="', 1)[1].split('"', 1)[0]
            counts[name] = int(float(value))
    return counts


async def cold_starts(port: int) -> dict[str, int]:
    """Cold starts so far, by function name."""
    connection = await httpload.Connection.open(LOOPBACK, port)
    try:
        request = httpload.request_bytes(LOOPBACK, port, "/metrics", b"", method="GET")
        reply = await connection.call(request)
    finally:
        connection.close()
    return parse_cold_starts(reply.body.decode())
