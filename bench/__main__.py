"""`python -m bench`: run the benchmarks (see bench/run.py)."""

from bench.run import main

if __name__ == "__main__":  # not when a spawned worker re-imports this module (bench/tables.py)
    raise SystemExit(main())
