"""`kubefn invoke NAME` — one synchronous invocation through the gateway's Invoke API."""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def run(*, url: str, name: str, payload: str, show_log: bool) -> int:
    """Print the function's result; exit 1 on a function error, 2 on a refused request."""
    try:
        json.loads(payload)
    except ValueError as exc:
        print(f"kubefn invoke: --payload is not JSON: {exc}", file=sys.stderr)
        return 2
    target = (
        f"{url.rstrip('/')}/2015-03-31/functions/{urllib.parse.quote(name, safe='')}/invocations"
    )
    request = urllib.request.Request(
        target,
        data=payload.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Amz-Log-Type": "Tail" if show_log else "None",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=960) as response:
            body = response.read().decode(errors="replace")
            function_error = response.headers.get("X-Amz-Function-Error")
            log_result = response.headers.get("X-Amz-Log-Result")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        kind = exc.headers.get("x-amzn-ErrorType", str(exc.code))
        print(f"kubefn invoke: {kind}: {detail}", file=sys.stderr)
        return 2
    except urllib.error.URLError as exc:
        print(f"kubefn invoke: cannot reach {url}: {exc.reason}", file=sys.stderr)
        return 2
    if show_log and log_result:
        sys.stderr.write(base64.b64decode(log_result).decode(errors="replace"))
    print(body)
    return 1 if function_error else 0
