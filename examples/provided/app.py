import sys


def handler(event, context):
    return {"echo": event, "runtime": "awslambdaric", "python": sys.version.split()[0]}
