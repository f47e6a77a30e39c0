"""`python -m kubefn_operator`: run the operator, configured from the environment
(REDIS_URL, KUBEFN_RUNTIME_IMAGE, KUBEFN_LOADER_IMAGE, ... see wiring.Config).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence

import kopf

from kubefn_operator import wiring


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m kubefn_operator",
        description="Reconcile kubefn's custom resources into pods and Redis config.",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); cluster-wide by default",
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument("--verbose", action="store_true", help="log Kopf's debug messages")
    args = parser.parse_args(argv)
    kopf.configure(verbose=args.verbose)
    asyncio.run(
        wiring.operate(
            config=wiring.Config.from_env(os.environ),
            namespaces=args.namespace,
            liveness_endpoint=args.liveness,
        )
    )


if __name__ == "__main__":
    main()
