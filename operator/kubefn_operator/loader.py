"""What the init container of a function's pod runs: copy the code bundle from
Redis into the code folder, before the runtime agent starts.

The agent is standard library only, so it cannot read Redis itself; the
operator's image can. Bundles are content-addressed and immutable, so the
digest in the pod template pins exactly the code of its revision.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import redis

from kubefn import codebundle, config


class BundleMissing(LookupError):
    """Redis holds no bundle with that digest (it is published before any pod asks)."""


def load(*, redis_url: str, digest: str, into: Path) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        data = client.get(config.code_key(digest))
    finally:
        client.close()
    if data is None:
        raise BundleMissing(f"no code bundle {digest} in Redis")
    assert isinstance(data, bytes)  # no decode_responses: values stay bytes
    codebundle.unpack(data, into=into)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m kubefn_operator.loader", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--digest", required=True, help="the bundle's content digest")
    parser.add_argument("--into", required=True, type=Path, help="the folder to unpack into")
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("loader: REDIS_URL is not set")
    try:
        load(redis_url=redis_url, digest=args.digest, into=args.into)
    except (BundleMissing, redis.RedisError) as exc:
        sys.exit(f"loader: {exc}")


if __name__ == "__main__":
    main()
