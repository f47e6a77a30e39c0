"""The init container's code loader, against a real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from kubefn import codebundle, config
from kubefn.redisserver import EmbeddedRedis
from kubefn_operator import loader

FILES = {"app.py": b"def handler(e, c): return 1\n", "lib/util.py": b"X = 2\n"}


def test_the_loader_unpacks_the_bundle_of_its_digest(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    bundle, digest = codebundle.pack(FILES)
    redis.Redis.from_url(redis_server.url).set(config.code_key(digest), bundle)
    into = tmp_path / "task"
    subprocess.run(
        [sys.executable, "-m", "kubefn_operator.loader", "--digest", digest, "--into", str(into)],
        env={**os.environ, "REDIS_URL": redis_server.url},
        check=True,
        timeout=60,
    )
    assert codebundle.read_folder(into) == FILES


def test_a_missing_bundle_fails_the_pod_start(
    redis_server: EmbeddedRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    with pytest.raises(SystemExit) as exited:
        loader.main(["--digest", "0" * 64, "--into", str(tmp_path / "task")])
    assert str(exited.value.code) == f"loader: no code bundle {'0' * 64} in Redis"
