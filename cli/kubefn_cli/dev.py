"""`kubefn dev DIR` — the whole platform on one machine, reading the same manifests
a user applies with kubectl.

It plays the operator's part: compiles the folder's Functions, Tables and
StateMachines with the shared compile step, publishes them to Redis (the embedded server unless
REDIS_URL), runs the gateway, and republishes whenever a manifest or a code
file changes. In-flight invocations finish on the version they started on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from kubefn import config, manifests, redisserver, table, tabledata
from kubefn.resources import KINDS
from kubefn_gateway.app import PLATFORM, create_app
from kubefn_gateway.settings import GatewaySettings


def run(
    *,
    folder: Path,
    host: str,
    port: int,
    state_dir: Path,
    redis_url: str | None,
    idle_seconds: float,
    watch_interval: float,
    states_time_scale: float = 1.0,
) -> int:
    if not folder.is_dir():
        print(f"kubefn dev: {folder} is not a folder", file=sys.stderr)
        return 2
    embedded: redisserver.EmbeddedRedis | None = None
    if redis_url is None:
        embedded = redisserver.EmbeddedRedis(data_dir=state_dir.resolve() / "redis")
        embedded.start()
        redis_url = embedded.url
    try:
        return asyncio.run(
            _serve(
                folder=folder.resolve(),
                host=host,
                port=port,
                redis_url=redis_url,
                settings=GatewaySettings(
                    redis_url=redis_url,
                    state_dir=state_dir.resolve(),
                    idle_seconds=idle_seconds,
                    states_time_scale=states_time_scale,
                ),
                watch_interval=watch_interval,
            )
        )
    finally:
        if embedded is not None:
            embedded.stop()


async def _serve(
    *,
    folder: Path,
    host: str,
    port: int,
    redis_url: str,
    settings: GatewaySettings,
    watch_interval: float,
) -> int:
    try:
        await redisserver.ping(redis_url)
    except Exception as exc:
        print(f"kubefn dev: Redis at {redis_url} does not answer: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = aioredis.Redis.from_url(redis_url)
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=10)
    try:
        signature = _signature(folder)
        announcements = await sync(client, folder=folder, announce=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            print(f"kubefn dev: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
            return 2
        catalog = app[PLATFORM].catalog
        await catalog.wait_until_applied(await config.current_version(client))
        _say(announcements)
        bound = runner.addresses[0]
        print(
            f"kubefn dev ready at http://{bound[0]}:{bound[1]} (Redis {redis_url}) serving "
            + await _serving(client),
            flush=True,
        )
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), watch_interval)
            current = _signature(folder)
            if current != signature and not stop.is_set():
                signature = current
                announcements = await sync(client, folder=folder, announce=True)
                # Say "updated" only once the gateway serves it: a caller may act on the line.
                await catalog.wait_until_applied(await config.current_version(client))
                _say(announcements)
        return 0
    finally:
        await runner.cleanup()
        await client.aclose()


def _say(lines: list[str]) -> None:
    for line in lines:
        print(f"kubefn dev: {line}", flush=True)


PUBLISHED_KEY = "kubefn:dev:published"
"""Hash "<Kind>/<namespace>/<name>" -> the manifest file it came from: what `kubefn dev`
published itself, and so may withdraw. Tables created through the DynamoDB API
share the config with these and are never pruned."""


async def sync(client: aioredis.Redis, *, folder: Path, announce: bool) -> list[str]:
    """Make Redis hold exactly the valid resources of `folder` (like `kubectl apply --prune`).

    Only what an earlier sync published is withdrawn, and not while its file is
    refused: a broken edit keeps the last good version serving. Refusals are
    printed at once; what changed is returned, to be said once served.
    """
    loaded = manifests.load_folder(folder)
    for refused in loaded.refused:
        _complain(refused)
    current = await config.snapshot(client, kinds=tuple(KINDS))
    ours = {
        _text(ref): _text(source) for ref, source in (await client.hgetall(PUBLISHED_KEY)).items()
    }
    files = [str(path) for path in manifests.manifest_files(folder)]
    broken = {_file(refused.source, files=files) for refused in loaded.refused}
    said: list[str] = []
    keep: set[str] = set()
    for item in loaded.loaded:
        compiled, kind = item.compiled, KINDS[item.compiled.kind]
        ref = f"{compiled.kind}/{compiled.key}"
        keep.add(ref)
        published = current.resources[compiled.kind].get(compiled.key)
        problems = [] if published is None else kind.check_change(published.spec, compiled.spec)
        if problems:  # the published version keeps serving
            name = compiled.key.split("/", 1)[1]
            _complain(manifests.Refused(item.source, compiled.kind, name, tuple(problems)))
            continue
        await client.hset(PUBLISHED_KEY, ref, _file(item.source, files=files))
        result = await config.publish_compiled(client, compiled)
        if result.changed or not announce:
            verb = "updated" if announce else "loaded"
            said.append(f"{verb} {kind.singular} {compiled.key} revision {result.revision}")
    for ref in sorted(set(ours) - keep):
        if ours[ref] in broken:
            continue
        kind_name, key = ref.split("/", 1)
        published = current.resources.get(kind_name, {}).get(key)
        await config.remove(client, kind=kind_name, key=key)
        line = f"removed {KINDS[kind_name].singular} {key}" if kind_name in KINDS else ""
        if kind_name == table.KIND and published is not None:
            if table.deletes_items(published.spec):
                await tabledata.delete_data(client, key)
                line += " and its items (deletionPolicy Delete)"
            else:
                line += "; its items are kept (deletionPolicy Retain)"
        await client.hdel(PUBLISHED_KEY, ref)
        if line:
            said.append(line)
    return said


def _complain(refused: manifests.Refused) -> None:
    print(f"kubefn dev: {refused}", file=sys.stderr, flush=True)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _file(source: str, *, files: list[str]) -> str:
    """The manifest file a source label names ("<file>", "<file>#<n>" or "<file>:<line>")."""
    for path in files:
        if source == path or source.startswith((f"{path}#", f"{path}:")):
            return path
    return source


async def _serving(client: aioredis.Redis) -> str:
    """What `kubefn dev` has published, counted by kind: "4 functions, 1 table"."""
    refs = [_text(ref) for ref in await client.hkeys(PUBLISHED_KEY)]
    counts = [(sum(r.startswith(f"{k.kind}/") for r in refs), k) for k in KINDS.values()]
    return ", ".join(f"{n} {k.singular if n == 1 else k.plural}" for n, k in counts)


def _signature(folder: Path) -> frozenset[tuple[str, int, int]]:
    """What changes when any file below `folder` is written, added or removed."""
    entries = set()
    for path in folder.rglob("*"):
        if "__pycache__" in path.parts or any(
            p.startswith(".") for p in path.relative_to(folder).parts
        ):
            continue
        with contextlib.suppress(OSError):
            stat = path.stat()
            entries.add((str(path), stat.st_mtime_ns, stat.st_size))
    return frozenset(entries)
