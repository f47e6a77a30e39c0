"""The instance config (docs/internals.md), the agent's whole configuration, and the
environment Lambda gives a function process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNTIME_DIR = str(Path(__file__).resolve().parent.parent)
"""LAMBDA_RUNTIME_DIR: the folder holding kubefn_runtime."""


class ConfigError(ValueError):
    """The instance config is not usable; the message names the field."""


@dataclass(frozen=True)
class InstanceConfig:
    function: str
    code_dir: str
    runtime: str = "python3.11"
    handler: str | None = None
    command: tuple[str, ...] | None = None
    namespace: str = "default"
    version: str = "$LATEST"
    revision: int = 0
    memory_mb: int = 128
    timeout_seconds: float = 3.0
    environment: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "000000000000"
    instance_id: str = ""
    log_prefix: str = ""
    inherit_environment: bool = False
    """Pass the agent's own environment on to the function (kubefn-rie, like a container's
    environment). Off on the platform: a function never sees the platform's variables."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceConfig:
        """Read the JSON form; raises ConfigError naming the first bad field."""
        fields = {
            "function": _get(data, "function", str),
            "code_dir": _get(data, "codeDir", str),
            "runtime": _get(data, "runtime", str, cls.runtime),
            "handler": _get(data, "handler", str, None),
            "namespace": _get(data, "namespace", str, cls.namespace),
            "version": _get(data, "version", str, cls.version),
            "revision": _get(data, "revision", int, cls.revision),
            "memory_mb": _get(data, "memoryMB", int, cls.memory_mb),
            "timeout_seconds": float(
                _get(data, "timeoutSeconds", (int, float), cls.timeout_seconds)
            ),
            "region": _get(data, "region", str, cls.region),
            "account_id": _get(data, "accountId", str, cls.account_id),
            "instance_id": _get(data, "instanceId", str, cls.instance_id),
            "log_prefix": _get(data, "logPrefix", str, cls.log_prefix),
            "inherit_environment": _get(data, "inheritEnvironment", bool, cls.inherit_environment),
        }
        command = _get(data, "command", list, None)
        if command is not None:
            if not command or not all(isinstance(part, str) for part in command):
                raise ConfigError(f"command must be a non-empty list of strings (got {command!r})")
            fields["command"] = tuple(command)
        environment = _get(data, "environment", dict, {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items()):
            raise ConfigError("environment must map strings to strings")
        config = cls(environment=dict(environment), **fields)
        if config.provided and config.command is None:
            raise ConfigError(f"command is required for runtime {config.runtime}")
        if not config.provided and config.handler is None:
            raise ConfigError(f"handler is required for runtime {config.runtime}")
        if config.memory_mb <= 0 or config.timeout_seconds <= 0:
            raise ConfigError("memoryMB and timeoutSeconds must be positive")
        return config

    @property
    def provided(self) -> bool:
        """The function brings its own runtime client and speaks the Runtime API."""
        return self.runtime.startswith("provided")

    @property
    def function_arn(self) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function}"
        return arn if self.version == "$LATEST" else f"{arn}:{self.version}"

    def lambda_environment(self) -> dict[str, str]:
        """The variables Lambda sets for a function process (without per-invocation ones)."""
        stream_id = self.instance_id or os.urandom(16).hex()
        stream = f"{time.strftime('%Y/%m/%d')}/[{self.version}]{stream_id}"
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": self.function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": self.version,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": self.code_dir,
            "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "TZ": ":UTC",
        }
        if not self.provided:
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{self.runtime}"
        if self.handler is not None:
            env["_HANDLER"] = self.handler
        return env

    def process_environment(self, *, runtime_api: str | None = None) -> dict[str, str]:
        """The whole environment of a function process: a base, the user's, then Lambda's.

        The base is the agent's own environment only when `inherit_environment`;
        otherwise just what a Lambda function finds (PATH, LANG). The platform
        interpreter's folder comes first on PATH, so `python` in a command means
        the interpreter running kubefn (and its installed packages).
        """
        base = dict(os.environ) if self.inherit_environment else dict(_BASE_ENVIRONMENT)
        env = {**base, **self.environment, **self.lambda_environment()}
        if runtime_api is not None:
            env["AWS_LAMBDA_RUNTIME_API"] = runtime_api
        bin_dir = os.path.dirname(sys.executable)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
        return env


_BASE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _get(data: Mapping[str, Any], key: str, kind: Any, *default: Any) -> Any:
    if key not in data or data[key] is None:
        if default:
            return default[0]
        raise ConfigError(f"{key} is required")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{key} has the wrong type (got {value!r})")
    return value
