"""Function code as an immutable, content-addressed zip bundle.

The digest covers file names and contents only (not timestamps), so the same
code always has the same digest, whichever machine packed it.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

from kubefn import limits

_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".venv", "node_modules"})
_EPOCH = (1980, 1, 1, 0, 0, 0)


class BundleTooLarge(ValueError):
    """Code over Lambda's size limits."""


def digest_of(files: Mapping[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def pack(files: Mapping[str, bytes]) -> tuple[bytes, str]:
    """Zip `files` deterministically; returns the bytes and the content digest."""
    unzipped = sum(len(data) for data in files.values())
    if unzipped > limits.CODE_UNZIPPED_BYTES_MAX:
        raise BundleTooLarge(
            f"unzipped code must be at most {limits.CODE_UNZIPPED_BYTES_MAX} bytes "
            f"(got {unzipped} bytes)"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    data = buffer.getvalue()
    if len(data) > limits.CODE_BUNDLE_BYTES_MAX:
        raise BundleTooLarge(
            f"zipped code must be at most {limits.CODE_BUNDLE_BYTES_MAX} bytes "
            f"(got {len(data)} bytes)"
        )
    return data, digest_of(files)


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative POSIX name, skipping VCS and cache folders."""
    files: dict[str, bytes] = {}
    total = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(root) / name
            data = path.read_bytes()
            total += len(data)
            if total > limits.CODE_UNZIPPED_BYTES_MAX:
                raise BundleTooLarge(
                    f"unzipped code must be at most {limits.CODE_UNZIPPED_BYTES_MAX} bytes "
                    f"(got at least {total} bytes)"
                )
            files[path.relative_to(folder).as_posix()] = data
    return files


def unpack(data: bytes, *, into: Path) -> None:
    """Extract a bundle into `into` (created), refusing names that escape it."""
    into.mkdir(parents=True, exist_ok=True)
    root = into.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            target = (root / info.filename).resolve()
            if root not in target.parents:
                raise ValueError(f"bundle entry escapes its folder: {info.filename!r}")
            archive.extract(info, root)
