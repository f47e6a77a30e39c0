"""LocalProvider: instances are local processes forked from a runtime template.

Used by `kubefn dev` and by the tests. Each instance is an agent process plus
its function process; code comes from the content-addressed bundle in Redis,
unpacked once per digest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from kubefn import codebundle, config
from kubefn_gateway.awserrors import InvalidRuntime, ResourceConflict
from kubefn_gateway.instance import Instance
from kubefn_gateway.providers import LostCallback
from kubefn_gateway.providers.template import Template, TemplateError
from kubefn_gateway.settings import GatewaySettings
from kubefn_gateway.version import FunctionVersion

log = logging.getLogger(__name__)


class LocalProvider:
    def __init__(self, *, settings: GatewaySettings, redis: aioredis.Redis) -> None:
        self._settings = settings
        self._redis = redis
        self._templates: dict[str, Template] = {}
        self._interpreters: dict[str, str] = {}
        self._lost: dict[int, tuple[Instance, LostCallback]] = {}
        self._exited: dict[int, asyncio.Event] = {}
        self._unpacking: dict[str, asyncio.Lock] = {}
        self._code_root = settings.state_dir / "code"

    async def prepare(self) -> None:
        """Boot the template of the platform's own interpreter (python3.X and provided).

        Its start (~120 ms: an interpreter importing the runtime) would otherwise fall
        on the first cold start after the gateway starts.
        """
        try:
            await self._template(sys.executable).start()
        except TemplateError as exc:
            log.warning("cannot boot the runtime template: %s", exc)

    async def start_instance(self, version: FunctionVersion, *, on_lost: LostCallback) -> Instance:
        interpreter = await self._interpreter(version.runtime)
        code_dir = await self._code_dir(version)
        template = self._templates.get(interpreter)
        if template is None:
            template = self._templates[interpreter] = Template(
                interpreter, on_exit=self._exited_pid
            )
        pid, port = await template.spawn(
            self._instance_config(version, code_dir=code_dir),
            timeout=self._settings.start_timeout_seconds,
        )
        instance = Instance(address=f"127.0.0.1:{port}", handle=pid)
        self._lost[pid] = (instance, on_lost)
        self._exited[pid] = asyncio.Event()
        return instance

    async def stop_instance(self, instance: Instance) -> None:
        pid = instance.handle
        assert isinstance(pid, int)
        instance.alive = False
        exited = self._exited.get(pid)
        if exited is None or exited.is_set():
            return
        _signal_group(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(exited.wait(), 5)
        except TimeoutError:
            _signal_group(pid, signal.SIGKILL)

    async def close(self) -> None:
        templates = list(self._templates.values())
        self._templates.clear()
        await asyncio.gather(*(t.close() for t in templates), return_exceptions=True)

    def _template(self, interpreter: str) -> Template:
        template = self._templates.get(interpreter)
        if template is None:
            template = self._templates[interpreter] = Template(
                interpreter, on_exit=self._exited_pid
            )
        return template

    def _exited_pid(self, pid: int, status: str) -> None:
        event = self._exited.pop(pid, None)
        if event is not None:
            event.set()
        entry = self._lost.pop(pid, None)
        if entry is not None:
            instance, on_lost = entry
            if instance.alive:
                on_lost(instance)

    # -- what an instance needs -----------------------------------------------------

    async def _interpreter(self, runtime: str) -> str:
        """The interpreter a runtime runs on here; `provided` uses the platform's own."""
        if runtime in self._interpreters:
            return self._interpreters[runtime]
        if runtime == "provided" or runtime == f"python{sys.version_info[0]}.{sys.version_info[1]}":
            found = sys.executable
        else:
            path = shutil.which(runtime)
            if path is None or not await _runs(path):
                raise InvalidRuntime(
                    f"runtime {runtime} needs the interpreter {runtime!r} on PATH, "
                    f"and this machine has none; kubefn dev runs on "
                    f"python{sys.version_info[0]}.{sys.version_info[1]}"
                )
            found = path
        self._interpreters[runtime] = found
        return found

    async def _code_dir(self, version: FunctionVersion) -> Path:
        code = version.spec["code"]
        if "bundle" not in code:
            raise ResourceConflict(
                f"function {version.name} runs code.image {code.get('image')!r}, which needs "
                "the Kubernetes provider; locally, give code as inline, path or configMapRef"
            )
        digest = str(code["bundle"])
        target = self._code_root / digest
        if target.is_dir():
            return target
        lock = self._unpacking.setdefault(digest, asyncio.Lock())
        async with lock:
            if target.is_dir():
                return target
            data = await config.fetch_code(self._redis, digest)
            if data is None:
                raise ResourceConflict(f"code bundle {digest} of {version.name} is not published")
            self._code_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=self._code_root, prefix=".unpack-"))
            await asyncio.to_thread(codebundle.unpack, data, into=staging)
            os.replace(staging, target)
        return target

    def _instance_config(self, version: FunctionVersion, *, code_dir: Path) -> dict[str, Any]:
        spec = version.spec
        return {
            "function": version.name,
            "namespace": version.namespace,
            "version": "$LATEST",
            "revision": version.revision,
            "runtime": spec["runtime"],
            "handler": spec.get("handler"),
            "command": spec.get("command"),
            "codeDir": str(code_dir),
            "memoryMB": spec["memoryMB"],
            "timeoutSeconds": spec["timeoutSeconds"],
            "environment": spec.get("environment") or {},
            "region": self._settings.region,
            "accountId": self._settings.account_id,
            "instanceId": uuid.uuid4().hex[:12],
            "logPrefix": f"[{version.name}] ",
        }


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


async def _runs(path: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        path, "-c", "pass", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return await process.wait() == 0
