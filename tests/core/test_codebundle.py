"""Code bundles: deterministic zips, safe unpacking, folder reading, Lambda's size limits."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from kubefn import codebundle, limits

FILES = {
    "app.py": b"def handler(event, context):\n    return event\n",
    "lib/util.py": b"X = 1\n",
    "lib/data/words.txt": b"alpha\nbeta\n",
    "empty.txt": b"",
}


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(zipfile.ZipInfo(name), b"print('escaped')\n")
    return buffer.getvalue()


def test_pack_is_deterministic() -> None:
    assert codebundle.pack(FILES)[0] == codebundle.pack(dict(FILES))[0]


def test_pack_ignores_insertion_order() -> None:
    reordered = dict(reversed(list(FILES.items())))
    assert codebundle.pack(reordered)[0] == codebundle.pack(FILES)[0]


def test_pack_returns_the_content_digest() -> None:
    assert codebundle.pack(FILES)[1] == codebundle.digest_of(FILES)


def test_pack_stores_no_timestamps() -> None:
    with zipfile.ZipFile(io.BytesIO(codebundle.pack(FILES)[0])) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_pack_stores_files_in_name_order() -> None:
    with zipfile.ZipFile(io.BytesIO(codebundle.pack(FILES)[0])) as archive:
        assert archive.namelist() == sorted(FILES)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"ab": b"c"}, id="name-and-content-boundary"),
        pytest.param({"a": b"bc", "x": b""}, id="extra-empty-file"),
        pytest.param({"a": b"bC"}, id="content"),
        pytest.param({"A": b"bc"}, id="name"),
    ],
)
def test_digest_tells_different_code_apart(other: dict[str, bytes]) -> None:
    assert codebundle.digest_of(other) != codebundle.digest_of({"a": b"bc"})


def test_unpack_round_trips(tmp_path: Path) -> None:
    codebundle.unpack(codebundle.pack(FILES)[0], into=tmp_path / "code")
    assert codebundle.read_folder(tmp_path / "code") == FILES


def test_unpack_creates_the_folder(tmp_path: Path) -> None:
    codebundle.unpack(codebundle.pack(FILES)[0], into=tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b" / "app.py").is_file()


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("../escaped.py", id="parent"),
        pytest.param("lib/../../escaped.py", id="parent-inside"),
        pytest.param("/tmp/escaped.py", id="absolute"),
    ],
)
def test_unpack_refuses_an_entry_escaping_the_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"bundle entry escapes its folder: {name!r}")):
        codebundle.unpack(_zip("app.py", name), into=tmp_path / "code")


def test_unpack_writes_nothing_outside_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        codebundle.unpack(_zip("../escaped.py"), into=tmp_path / "code")
    assert not (tmp_path / "escaped.py").exists()


def test_read_folder_reads_every_file_by_posix_name(tmp_path: Path) -> None:
    _write(tmp_path, FILES)
    assert codebundle.read_folder(tmp_path) == FILES


@pytest.mark.parametrize(
    "skipped",
    [
        pytest.param("__pycache__/app.cpython-311.pyc", id="pycache"),
        pytest.param("lib/__pycache__/util.cpython-311.pyc", id="nested-pycache"),
        pytest.param(".git/HEAD", id="git"),
        pytest.param(".venv/bin/python", id="venv"),
        pytest.param("node_modules/left-pad/index.js", id="node-modules"),
        pytest.param("legacy.pyc", id="pyc"),
        pytest.param("lib/legacy.pyo", id="pyo"),
    ],
)
def test_read_folder_skips_caches_and_vcs(skipped: str, tmp_path: Path) -> None:
    _write(tmp_path, {**FILES, skipped: b"junk"})
    assert codebundle.read_folder(tmp_path) == FILES


def test_read_folder_keeps_dotfiles(tmp_path: Path) -> None:
    _write(tmp_path, {".env": b"A=1\n"})
    assert codebundle.read_folder(tmp_path) == {".env": b"A=1\n"}


def test_read_folder_of_an_empty_folder_is_empty(tmp_path: Path) -> None:
    assert codebundle.read_folder(tmp_path) == {}


def test_unzipped_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "CODE_UNZIPPED_BYTES_MAX", 10)
    with pytest.raises(codebundle.BundleTooLarge) as info:
        codebundle.pack({"a.py": b"x" * 6, "b.py": b"y" * 5})
    assert str(info.value) == "unzipped code must be at most 10 bytes (got 11 bytes)"


def test_unzipped_size_at_the_limit_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "CODE_UNZIPPED_BYTES_MAX", 10)
    assert codebundle.pack({"a.py": b"x" * 10})[1]


def test_zipped_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    zipped = len(codebundle.pack(FILES)[0])
    monkeypatch.setattr(limits, "CODE_BUNDLE_BYTES_MAX", zipped - 1)
    with pytest.raises(codebundle.BundleTooLarge) as info:
        codebundle.pack(FILES)
    assert str(info.value) == (
        f"zipped code must be at most {zipped - 1} bytes (got {zipped} bytes)"
    )


def test_zipped_size_at_the_limit_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    zipped = len(codebundle.pack(FILES)[0])
    monkeypatch.setattr(limits, "CODE_BUNDLE_BYTES_MAX", zipped)
    assert len(codebundle.pack(FILES)[0]) == zipped


def test_read_folder_size_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _write(tmp_path, {"a.py": b"x" * 6, "b.py": b"y" * 5, "c.py": b"z" * 100})
    monkeypatch.setattr(limits, "CODE_UNZIPPED_BYTES_MAX", 10)
    with pytest.raises(codebundle.BundleTooLarge) as info:
        codebundle.read_folder(tmp_path)
    # Reading stops at the first file over the limit, so the size is a lower bound.
    assert str(info.value) == "unzipped code must be at most 10 bytes (got at least 11 bytes)"


def test_limits_are_lambdas() -> None:
    assert (limits.CODE_BUNDLE_BYTES_MAX, limits.CODE_UNZIPPED_BYTES_MAX) == (
        50 * 1024 * 1024,
        250 * 1024 * 1024,
    )
