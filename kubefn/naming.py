"""How a Function's Kubernetes objects are named and labelled.

The operator creates them by these names and labels and the gateway's
KubernetesProvider finds them by the same ones, so both planes read them from
here rather than from each other.
"""

from __future__ import annotations

import hashlib

FUNCTION_LABEL = "kubefn.io/function"
REVISION_LABEL = "kubefn.io/revision"
"""On every pod: the revision its template runs, so a version takes only its own pods."""
NAME_PREFIX = "kubefn-fn-"
PORT_NAME = "http"
"""The agent's port, by name, in the pod, the Service and so in its EndpointSlices."""

_DNS_LABEL_MAX = 63
_HASH_CHARS = 8


def workload_name(function: str) -> str:
    """The name of a function's Deployment and Service.

    A Service name is a DNS label (at most 63 characters), so a long function name
    is cut and given a hash of the whole name to stay unique.
    """
    name = f"{NAME_PREFIX}{function}"
    if len(name) <= _DNS_LABEL_MAX:
        return name
    digest = hashlib.sha256(function.encode()).hexdigest()[:_HASH_CHARS]
    head = name[: _DNS_LABEL_MAX - _HASH_CHARS - 1].rstrip("-")
    return f"{head}-{digest}"
