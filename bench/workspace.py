"""A throw-away folder per run: copies of the examples, state dirs, child logs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
"""The agent's invoke endpoint (docs/internals.md)."""


def gateway_invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


@dataclass
class Workspace:
    root: Path
    log: IO[bytes]
    """Where every child's stdout/stderr goes (function logs included)."""

    @classmethod
    def create(cls, root: Path) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, (root / "children.log").open("ab"))

    def functions(self, label: str, names: tuple[str, ...]) -> Path:
        """A folder of manifests holding copies of these examples (what `kubefn dev` reads)."""
        folder = self.root / label
        for name in names:
            shutil.copytree(EXAMPLES / name, folder / name, dirs_exist_ok=True)
        return folder

    def close(self) -> None:
        self.log.close()


def spec(folder: Path) -> dict[str, Any]:
    """The `spec` of the Function manifest in an example folder."""
    manifest = yaml.safe_load((folder / "function.yaml").read_text())
    result: dict[str, Any] = manifest["spec"]
    return result
