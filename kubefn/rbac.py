"""RBAC rules as data: each plane lists what it does to the Kubernetes API, and the
chart grants exactly that (tests hold the chart's rules to these lists)."""

from __future__ import annotations

from typing import NamedTuple


class Permission(NamedTuple):
    group: str
    """The API group; "" is the core group."""
    resource: str
    verbs: tuple[str, ...]
