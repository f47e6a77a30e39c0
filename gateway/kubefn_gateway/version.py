"""A function version as the data plane runs it: one published revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubefn.config import Published


@dataclass(frozen=True)
class FunctionVersion:
    published: Published

    @property
    def key(self) -> str:
        return self.published.key

    @property
    def name(self) -> str:
        return self.published.name

    @property
    def namespace(self) -> str:
        return self.published.namespace

    @property
    def revision(self) -> int:
        return self.published.revision

    @property
    def spec(self) -> dict[str, Any]:
        return self.published.spec

    @property
    def memory_mb(self) -> int:
        return int(self.spec["memoryMB"])

    @property
    def timeout_seconds(self) -> int:
        return int(self.spec["timeoutSeconds"])

    @property
    def runtime(self) -> str:
        return str(self.spec["runtime"])

    def arn(self, *, region: str, account_id: str) -> str:
        return f"arn:aws:lambda:{region}:{account_id}:function:{self.name}"
