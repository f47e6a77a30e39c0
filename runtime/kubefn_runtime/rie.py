"""kubefn-rie: a drop-in for AWS's Runtime Interface Emulator.

    kubefn-rie [--host 127.0.0.1] [--port 8080] -- COMMAND ...
    kubefn-rie [--host 127.0.0.1] [--port 8080] --handler app.handler

With a COMMAND it runs a provided runtime (awslambdaric, a `bootstrap`, any
Runtime API client) with AWS_LAMBDA_RUNTIME_API set; with --handler it runs
kubefn's own Python runtime. Invocations go to
POST /2015-03-31/functions/function/invocations, as with AWS's emulator, except
that concurrent invocations queue instead of crashing it. Configured from the
environment as AWS's emulator is; the current folder is the code folder.
"""

from __future__ import annotations

import argparse
import os
import sys

from kubefn_runtime import agent, httpserver
from kubefn_runtime.config import ConfigError, InstanceConfig
from kubefn_runtime.protocol import INVOKE_PATH


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command: list[str] = []
    if "--" in args:
        split = args.index("--")
        args, command = args[:split], args[split + 1 :]
    parser = argparse.ArgumentParser(prog="kubefn-rie", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--handler", help="module.function, run by kubefn's own Python runtime")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the runtime to start")
    options = parser.parse_args(args)
    command = command or options.command
    if not command and not options.handler:
        parser.error("give a COMMAND (after --) or --handler")
    env = os.environ
    version = sys.version_info
    try:
        config = InstanceConfig.from_dict(
            {
                "function": env.get("AWS_LAMBDA_FUNCTION_NAME", "function"),
                "codeDir": os.getcwd(),
                "runtime": "provided" if command else f"python{version.major}.{version.minor}",
                "handler": options.handler,
                "command": command or None,
                "memoryMB": int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")),
                "timeoutSeconds": int(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "300")),
                "region": env.get("AWS_REGION", "us-east-1"),
                "inheritEnvironment": True,
            }
        )
    except (ConfigError, ValueError) as exc:
        parser.error(str(exc))
    sock = httpserver.listen(options.host, options.port)
    url = f"http://{options.host}:{sock.getsockname()[1]}{INVOKE_PATH}"

    def ready() -> None:
        print(f"kubefn-rie ready: {url}", flush=True)

    try:
        agent.run(config, sock=sock, on_ready=ready)
    except KeyboardInterrupt:
        return 130
    return 0
