"""Which pods of a function are ready: its Service's EndpointSlices, followed.

A watch in a thread rather than list polling: a cold start waits for its pod to
become ready and a pod's death should be noticed at once, and a watch hears
both the moment the API server does, over one open connection per function,
where polling trades that latency against a list request every period. The
official client is synchronous, hence the thread; it is stopped by shutting its
connection down, so closing never waits for a read to time out.

Each round lists the slices and then watches from the list's resourceVersion.
When the watch ends (the server's timeout, a dropped connection, an ERROR event
such as 410 Gone) the next round lists again, so a missed event costs one list,
never a wrong view. Errors back off, up to a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kubernetes.client
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from kubefn.naming import PORT_NAME

log = logging.getLogger(__name__)

SERVICE_LABEL = "kubernetes.io/service-name"
"""Set by Kubernetes on every EndpointSlice: the Service it belongs to."""

WATCH_SECONDS = 240
"""The server ends each watch after this long; the client gives it a minute more."""
CONNECT_SECONDS = 10
QUICK_ROUND_SECONDS = 5.0
BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)

Ready = dict[str, str]
"""Pod name -> "host:port" of its agent, for every ready endpoint."""


def ready_endpoints(slices: Iterable[Mapping[str, Any]]) -> Ready:
    """The ready pods the slices list, with the address of their agent's port.

    An endpoint without a ready condition counts as ready, as the API documents;
    a terminating one is never ready. Only endpoints of pods count: they are the
    instances a stop can mark for deletion.
    """
    ready: Ready = {}
    for item in slices:
        port = next(
            (p.get("port") for p in item.get("ports") or () if p.get("name") == PORT_NAME), None
        )
        if port is None:
            continue
        for endpoint in item.get("endpoints") or ():
            target = endpoint.get("targetRef") or {}
            addresses = endpoint.get("addresses") or ()
            if target.get("kind") != "Pod" or not addresses:
                continue
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            host = addresses[0]
            ready[target["name"]] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ready


class SliceWatch:
    """Follows the EndpointSlices of one Service; reports each change of its ready pods.

    `on_change` runs on the event loop given to `start`, with the whole new view.
    """

    def __init__(
        self,
        *,
        client: kubernetes.client.ApiClient,
        namespace: str,
        service: str,
        on_change: Callable[[Ready], None],
    ) -> None:
        self._api = kubernetes.client.DiscoveryV1Api(client)
        self._namespace = namespace
        self._service = service
        self._on_change = on_change
        self._slices: dict[str, Mapping[str, Any]] = {}
        self._reported: Ready | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._response: urllib3.BaseHTTPResponse | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, name=f"endpointslices-{self._namespace}-{self._service}", daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        with self._lock:
            self._stopped.set()
            if self._response is not None:
                _shut_down(self._response)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, CONNECT_SECONDS)

    def _run(self) -> None:
        """Rounds until stopped; rounds that end quickly (errors, refusals) back off."""
        quick = 0
        while not self._stopped.is_set():
            began = time.monotonic()
            try:
                self._round()
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                if self._stopped.is_set():
                    return
                log.warning("endpointslices of %s/%s: %s", self._namespace, self._service, exc)
            quick = quick + 1 if time.monotonic() - began < QUICK_ROUND_SECONDS else 0
            if quick:
                self._stopped.wait(BACKOFF_SECONDS[min(quick, len(BACKOFF_SECONDS)) - 1])

    def _round(self) -> None:
        """List, then watch until the watch ends."""
        selector = f"{SERVICE_LABEL}={self._service}"
        listed = _raw(
            self._api.list_namespaced_endpoint_slice,
            self._namespace,
            label_selector=selector,
            _request_timeout=(CONNECT_SECONDS, CONNECT_SECONDS),
        )
        body = json.loads(listed.data)
        listed.release_conn()
        self._slices = {
            item["metadata"]["name"]: item for item in body.get("items") or () if self._ours(item)
        }
        self._report()
        response = _raw(
            self._api.list_namespaced_endpoint_slice,
            self._namespace,
            label_selector=selector,
            watch=True,
            allow_watch_bookmarks=True,
            resource_version=body.get("metadata", {}).get("resourceVersion"),
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=(CONNECT_SECONDS, WATCH_SECONDS + 60),
        )
        with self._lock:
            if self._stopped.is_set():
                response.close()
                return
            self._response = response
        try:
            for line in iter_resp_lines(response):
                if not self._apply(json.loads(line)):
                    return
        finally:
            with self._lock:
                self._response = None
            response.close()  # never back to the pool half read
            response.release_conn()

    def _apply(self, event: Mapping[str, Any]) -> bool:
        """Take one watch event in; False when the watch must start over."""
        kind, item = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            log.info("endpointslices of %s: watch ended: %s", self._service, item.get("message"))
            return False
        if kind not in ("ADDED", "MODIFIED", "DELETED") or not self._ours(item):
            return True  # BOOKMARK, or a slice of another Service
        name = item["metadata"]["name"]
        if kind == "DELETED":
            self._slices.pop(name, None)
        else:
            self._slices[name] = item
        self._report()
        return True

    def _ours(self, item: Mapping[str, Any]) -> bool:
        """Whether a slice is this Service's (the selector says so; kmock ignores selectors)."""
        labels = item.get("metadata", {}).get("labels") or {}
        return bool(labels.get(SERVICE_LABEL) == self._service)

    def _report(self) -> None:
        ready = ready_endpoints(self._slices.values())
        if ready == self._reported or self._loop is None:
            return
        self._reported = ready
        try:
            self._loop.call_soon_threadsafe(self._on_change, ready)
        except RuntimeError:  # the loop is closed: the gateway is gone
            self._stopped.set()


def _raw(request: Callable[..., Any], *args: Any, **kwargs: Any) -> urllib3.BaseHTTPResponse:
    """The HTTP response itself: JSON read as it comes, without the client's models."""
    response: urllib3.BaseHTTPResponse = request(*args, _preload_content=False, **kwargs)
    return response


def _shut_down(response: urllib3.BaseHTTPResponse) -> None:
    """Wake the thread blocked reading the watch: its read ends at once."""
    try:
        response.shutdown()
    except (ValueError, RuntimeError, OSError):
        pass  # already released: the thread is not blocked on it
