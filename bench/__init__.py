"""kubefn benchmarks: warm invoke latency through the gateway vs. straight to an agent,
and cold starts, each beside the physical floor measured in the same run.

Run with `.venv/bin/python -m bench` (or `.venv/bin/python bench/run.py`); results
go to bench/results/*.json and the tables to stdout. Not a test: nothing asserts
timings.
"""
