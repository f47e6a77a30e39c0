"""Standard executions in Redis: every plan one Lua script on the execution's slot.

The scripts guard what the interpreter read: the execution must still be
running and the run's sequence number unchanged, so a step decided twice (two
replicas, a retry after a lost reply, a callback racing a worker) commits once.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from kubefn_gateway.stepfunctions.engine import layout
from kubefn_gateway.stepfunctions.engine.plan import Plan, fork_fields
from kubefn_gateway.stepfunctions.engine.runs import Run
from kubefn_gateway.stepfunctions.engine.store import (
    Execution,
    ForkState,
    Link,
    Loaded,
    StartOutcome,
)

HISTORY_MAX = 25_000
"""Step Functions' limit on one execution's history events."""

_COMMON = """
local function member(r) return ARGV[1] .. '|' .. r end
local function wake(runs, ready, r, now)
  redis.call('HINCRBY', runs, 'seq:' .. r, 1)
  redis.call('ZADD', ready, now, member(r))
end
-- A run's sequence number outlives it: a run made again under the same id (a retried
-- Parallel or Map) goes on counting, so a late commit of the old one is refused.
local function forget(runs, ready, r)
  redis.call('HDEL', runs, r, 'last:' .. r, 'tok:' .. r, 'cb:' .. r, 'hb:' .. r,
    'hbi:' .. r, 'dl:' .. r, 'ph:' .. r)
  redis.call('ZREM', ready, member(r))
end
-- A closed execution: nothing of it is due any more, its runs go, its record and history
-- stay for the retention period.
local function closed(meta, hist, runs, ready, retention)
  for _, field in ipairs(redis.call('HKEYS', runs)) do
    if not string.find(field, ':', 1, true) then redis.call('ZREM', ready, member(field)) end
  end
  redis.call('ZREM', ready, member('!timeout'))
  redis.call('DEL', runs)
  redis.call('EXPIRE', meta, retention)
  redis.call('EXPIRE', hist, retention)
end
"""

# KEYS: meta, history, runs, ready
# ARGV: execution id, run id, expected seq ('' = none), now ms, history max, event count,
#       whether the plan closes the execution, retention seconds, (chain run, event text) *
#       count, then ops (see plan.py).
_COMMIT = (
    _COMMON
    + """
local meta, hist, runs, ready = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local run, seq, now, hmax = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('HGET', meta, 'status') ~= 'RUNNING' then return -1 end
if seq ~= '' then
  local current = redis.call('HGET', runs, 'seq:' .. run)
  if current ~= seq or redis.call('HEXISTS', runs, run) == 0 then return 0 end
end
local n = tonumber(ARGV[6])
local length = redis.call('LLEN', hist)
local closing = ARGV[7] == '1'
local retention = tonumber(ARGV[8])
if hmax > 0 and (length + n > hmax or (length + n == hmax and not closing)) then
  -- As Step Functions: the events that still fit, then ExecutionFailed as the last one.
  local fit = hmax - 1 - length
  local i = 9
  for _ = 1, fit do
    length = length + 1
    local previous = redis.call('HGET', runs, 'last:' .. ARGV[i]) or '0'
    redis.call('RPUSH', hist,
      ARGV[i + 1] .. ',"id":' .. length .. ',"previousEventId":' .. previous .. '}')
    i = i + 2
  end
  length = length + 1
  local cause = 'The execution reached the limit of ' .. hmax .. ' events in its history.'
  redis.call('RPUSH', hist, '{"timestamp":' .. string.format('%.3f', now / 1000)
    .. ',"type":"ExecutionFailed","executionFailedEventDetails":{"error":"States.Runtime",'
    .. '"cause":"' .. cause .. '"},"id":' .. length .. ',"previousEventId":' .. (length - 1) .. '}')
  redis.call('HSET', meta, 'status', 'FAILED', 'stop', now, 'error', 'States.Runtime',
    'cause', cause, 'events', length)
  closed(meta, hist, runs, ready, retention)
  return -2
end
local i = 9
for _ = 1, n do
  local chain = ARGV[i]
  length = length + 1
  local previous = redis.call('HGET', runs, 'last:' .. chain) or '0'
  redis.call('RPUSH', hist,
    ARGV[i + 1] .. ',"id":' .. length .. ',"previousEventId":' .. previous .. '}')
  redis.call('HSET', runs, 'last:' .. chain, length)
  i = i + 2
end
redis.call('HSET', meta, 'events', length)
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'put' then
    local r = ARGV[i + 1]
    redis.call('HSET', runs, r, ARGV[i + 2], 'ph:' .. r, ARGV[i + 6])
    redis.call('HINCRBY', runs, 'seq:' .. r, 1)
    -- A callback and heartbeats belong to one task token: a new token forgets them.
    if redis.call('HGET', runs, 'tok:' .. r) ~= ARGV[i + 3] then
      redis.call('HDEL', runs, 'cb:' .. r, 'hb:' .. r)
    end
    if ARGV[i + 3] == '' then
      redis.call('HDEL', runs, 'tok:' .. r, 'hbi:' .. r, 'dl:' .. r)
    else
      redis.call('HSET', runs, 'tok:' .. r, ARGV[i + 3], 'hbi:' .. r, ARGV[i + 4],
        'dl:' .. r, ARGV[i + 5])
    end
    i = i + 7
  elseif op == 'drop' then
    forget(runs, ready, ARGV[i + 1])
    i = i + 2
  elseif op == 'due' then
    local at = ARGV[i + 2]
    -- A callback that came while the Task was being invoked is taken up at once.
    if redis.call('HEXISTS', runs, 'cb:' .. ARGV[i + 1]) == 1 then at = now end
    redis.call('ZADD', ready, at, member(ARGV[i + 1]))
    i = i + 3
  elseif op == 'undue' then
    redis.call('ZREM', ready, member(ARGV[i + 1]))
    i = i + 2
  elseif op == 'chain' then
    local from = redis.call('HGET', runs, 'last:' .. ARGV[i + 2]) or '0'
    redis.call('HSET', runs, 'last:' .. ARGV[i + 1], from)
    i = i + 3
  elseif op == 'fork' then
    local p = ARGV[i + 1]
    redis.call('HSET', runs, 'total:' .. p, ARGV[i + 2], 'tol:' .. p, ARGV[i + 3],
      'next:' .. p, ARGV[i + 4], 'done:' .. p, 0, 'failed:' .. p, 0)
    i = i + 5
  elseif op == 'finish' then
    local p, index, ok, value = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    local total = tonumber(redis.call('HGET', runs, 'total:' .. p))
    if total then
      redis.call('HSET', runs, 'out:' .. p .. ':' .. index, (ok == '1' and '+' or '!') .. value)
      if ok == '1' then redis.call('HINCRBY', runs, 'done:' .. p, 1)
      else redis.call('HINCRBY', runs, 'failed:' .. p, 1) end
      local done = tonumber(redis.call('HGET', runs, 'done:' .. p))
      local failed = tonumber(redis.call('HGET', runs, 'failed:' .. p))
      local tolerated = tonumber(redis.call('HGET', runs, 'tol:' .. p))
      if failed > tolerated or done + failed >= total then
        wake(runs, ready, p, now)
      else
        local nxt = tonumber(redis.call('HGET', runs, 'next:' .. p))
        if nxt < total then
          redis.call('HSET', runs, 'next:' .. p, nxt + 1)
          local child = p .. '/' .. nxt
          redis.call('HSET', runs, 'last:' .. child, redis.call('HGET', runs, 'last:' .. p) or '0')
          redis.call('ZADD', ready, now, member(child))
        end
      end
    end
    i = i + 5
  elseif op == 'unfork' then
    local p, total = ARGV[i + 1], tonumber(ARGV[i + 2])
    for c = 0, total - 1 do
      forget(runs, ready, p .. '/' .. c)
      redis.call('HDEL', runs, 'out:' .. p .. ':' .. c)
    end
    redis.call('HDEL', runs, 'total:' .. p, 'tol:' .. p, 'next:' .. p, 'done:' .. p, 'failed:' .. p)
    i = i + 3
  elseif op == 'close' then
    redis.call('HSET', meta, 'status', ARGV[i + 1], 'stop', ARGV[i + 2], 'output', ARGV[i + 3],
      'error', ARGV[i + 4], 'cause', ARGV[i + 5])
    i = i + 6
  else
    return redis.error_reply('unknown op ' .. op)
  end
end
if closing then closed(meta, hist, runs, ready, retention) end
return 1
"""
)

# KEYS: meta, history, runs, ready. ARGV: execution id, run id, input, now ms, timeout due ms
# ('' = none), event text, run record, then meta field/value pairs.
_START = (
    _COMMON
    + """
local meta, hist, runs, ready = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local status = redis.call('HGET', meta, 'status')
if status then
  if status == 'RUNNING' and redis.call('HGET', meta, 'input') == ARGV[3] then return 'same' end
  return 'exists'
end
local now = ARGV[4]
for i = 8, #ARGV, 2 do redis.call('HSET', meta, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', meta, 'status', 'RUNNING', 'input', ARGV[3], 'events', 1)
redis.call('RPUSH', hist, ARGV[6] .. ',"id":1,"previousEventId":0}')
redis.call('HSET', runs, ARGV[2], ARGV[7], 'seq:' .. ARGV[2], 1, 'last:' .. ARGV[2], 0)
redis.call('ZADD', ready, now, member(ARGV[2]))
if ARGV[5] ~= '' then redis.call('ZADD', ready, ARGV[5], member('!timeout')) end
return 'started'
"""
)

# KEYS: ready. ARGV: now ms, lease ms, limit. Claims due members by pushing them a lease ahead.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local lease_end = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], lease_end, m) end
return due
"""

# KEYS: ready. ARGV: member, now ms, until ms. Extends a claim still held (due in the future).
_EXTEND = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
"""

# KEYS: meta, runs, ready. ARGV: execution id, run id, token, result, now ms
_CALLBACK = (
    _COMMON
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'RUNNING' then return -1 end
local r = ARGV[2]
if redis.call('HGET', KEYS[2], 'tok:' .. r) ~= ARGV[3] then return 0 end
local given = redis.call('HGET', KEYS[2], 'cb:' .. r)
if given then
  -- The same answer again (a client retrying a call whose reply it lost) is no error.
  if given == ARGV[4] then return 1 end
  return 0
end
redis.call('HSET', KEYS[2], 'cb:' .. r, ARGV[4])
-- While its Task is still being invoked, the worker invoking it takes the callback up
-- when it commits; waking the run now would let another worker race it.
if redis.call('HGET', KEYS[2], 'ph:' .. r) ~= 'invoke' then wake(KEYS[2], KEYS[3], r, ARGV[5]) end
return 1
"""
)

# KEYS: meta, runs, ready. ARGV: execution id, run id, token, now ms
_HEARTBEAT = (
    _COMMON
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'RUNNING' then return -1 end
local r = ARGV[2]
if redis.call('HGET', KEYS[2], 'tok:' .. r) ~= ARGV[3]
    or redis.call('HEXISTS', KEYS[2], 'cb:' .. r) == 1 then
  return 0
end
local now = tonumber(ARGV[4])
redis.call('HSET', KEYS[2], 'hb:' .. r, now)
local interval = tonumber(redis.call('HGET', KEYS[2], 'hbi:' .. r) or '')
if interval then
  local at = now + interval
  local deadline = tonumber(redis.call('HGET', KEYS[2], 'dl:' .. r) or '')
  if deadline and deadline < at then at = deadline end
  redis.call('ZADD', KEYS[3], 'GT', 'XX', at, member(r))
end
return 1
"""
)

# KEYS: meta, history, runs, ready. ARGV: execution id, event text, now ms, error, cause,
# retention seconds
_STOP = (
    _COMMON
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'RUNNING' then return 0 end
local length = redis.call('LLEN', KEYS[2]) + 1
redis.call('RPUSH', KEYS[2],
  ARGV[2] .. ',"id":' .. length .. ',"previousEventId":' .. (length - 1) .. '}')
redis.call('HSET', KEYS[1], 'status', 'ABORTED', 'stop', ARGV[3], 'error', ARGV[4],
  'cause', ARGV[5], 'events', length)
closed(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[6]))
return 1
"""
)

_META_FIELDS = (
    "arn",
    "name",
    "machine",
    "machine_arn",
    "type",
    "status",
    "input",
    "definition",
    "start",
    "stop",
    "output",
    "error",
    "cause",
    "role",
    "parent",
    "trace",
    "events",
)


class RedisStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        history_max: int = HISTORY_MAX,
        retention_seconds: float = 90 * 86400,
    ) -> None:
        self._redis = redis
        self._history_max = history_max
        self._retention = max(1, int(retention_seconds))
        self._commit = redis.register_script(_COMMIT)
        self._start = redis.register_script(_START)
        self._claim = redis.register_script(_CLAIM)
        self._extend = redis.register_script(_EXTEND)
        self._callback = redis.register_script(_CALLBACK)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._stop = redis.register_script(_STOP)
        self._next_shard = 0

    async def start(
        self,
        execution: Execution,
        *,
        first_event: str,
        run: Run,
        timeout_ms: int | None,
        now_ms: int,
    ) -> str:
        keys = layout.execution_keys(execution.id)
        # Listed first: a crash before the start leaves a listing entry List skips, never
        # an execution nobody can list.
        listing = layout.listing_key(execution.machine_key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(listing, {execution.name: execution.start_ms}, nx=True)
            # Entries past the retention name executions whose keys have expired.
            pipe.zremrangebyscore(listing, "-inf", f"({now_ms - self._retention * 1000}")
            await pipe.execute()
        fields = {
            "arn": execution.arn,
            "name": execution.name,
            "machine": execution.machine_key,
            "machine_arn": execution.machine_arn,
            "type": execution.type,
            "definition": execution.definition,
            "start": str(execution.start_ms),
            "role": execution.role_arn,
            "trace": execution.trace_header,
            "parent": execution.parent.encode() if execution.parent else "",
        }
        args: list[Any] = [
            execution.id,
            run.id,
            execution.input,
            now_ms,
            "" if timeout_ms is None else timeout_ms,
            first_event,
            run.encode(),
        ]
        for name, value in fields.items():
            args += [name, value]
        outcome = await self._start(keys=list(keys), args=args)
        return _text(outcome)

    async def execution(self, execution_id: str) -> Execution | None:
        keys = layout.execution_keys(execution_id)
        values = await self._redis.hmget(keys.meta, _META_FIELDS)
        record = {name: _text(v) for name, v in zip(_META_FIELDS, values, strict=True) if v}
        if "status" not in record:
            return None
        return Execution(
            id=execution_id,
            arn=record["arn"],
            name=record["name"],
            machine_key=record["machine"],
            machine_arn=record["machine_arn"],
            type=record["type"],
            status=record["status"],
            input=record.get("input", "{}"),
            definition=record["definition"],
            start_ms=int(record["start"]),
            stop_ms=int(record["stop"]) if "stop" in record else None,
            output=record.get("output"),
            error=record.get("error"),
            cause=record.get("cause"),
            role_arn=record.get("role", ""),
            parent=Link.decode(record["parent"]) if record.get("parent") else None,
            trace_header=record.get("trace", ""),
            events=int(record.get("events", "0")),
        )

    async def load(self, execution_id: str, run_id: str) -> Loaded | None:
        keys = layout.execution_keys(execution_id)
        parent = run_id.rpartition("/")[0]
        fields = [run_id, f"seq:{run_id}", f"cb:{run_id}", f"hb:{run_id}"]
        if parent:
            fields.append(f"ph:{parent}")  # the parent still runs (an abort drops it)
        values = await self._redis.hmget(keys.runs, fields)
        if values[0] is None or values[1] is None or (parent and values[4] is None):
            return None
        return Loaded(
            run=Run.decode(values[0]),
            seq=int(values[1]),
            callback=_text(values[2]) if values[2] is not None else None,
            last_heartbeat_ms=int(values[3]) if values[3] is not None else None,
        )

    async def fork_state(self, execution_id: str, parent_id: str) -> ForkState:
        keys = layout.execution_keys(execution_id)
        counters = await self._redis.hmget(keys.runs, fork_fields(parent_id))
        total = int(counters[0] or 0)
        results: list[str | None] = []
        if total:
            raw = await self._redis.hmget(keys.runs, [f"out:{parent_id}:{i}" for i in range(total)])
            results = [_text(v) if v is not None else None for v in raw]
        return ForkState(
            total=total,
            done=int(counters[3] or 0),
            failed=int(counters[4] or 0),
            results=results,
            started=int(counters[2] or 0),
        )

    async def commit(
        self, execution_id: str, plan: Plan, *, now_ms: int, limit_history: bool = True
    ) -> int:
        keys = layout.execution_keys(execution_id)
        args: list[Any] = [
            execution_id,
            plan.run_id,
            "" if plan.seq is None else plan.seq,
            now_ms,
            self._history_max if limit_history else 0,
            len(plan.events),
            "1" if any(op[0] == "close" for op in plan.ops) else "0",
            self._retention,
        ]
        for chain, text in plan.events:
            args += [chain, text]
        for op in plan.ops:
            args += list(op)
        return int(await self._commit(keys=list(keys), args=args))

    async def claim(self, *, now_ms: int, lease_ms: int, limit: int) -> list[str]:
        """Due runs from every shard in one round trip; each shard may give up to `limit`,
        and what is claimed beyond `limit` is handed back at once."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in range(layout.SHARDS):
                await self._claim(
                    keys=[layout.ready_key(shard)], args=[now_ms, lease_ms, limit], client=pipe
                )
            found = await pipe.execute()
        claimed = [_text(m) for shard in found for m in shard]
        if len(claimed) > limit:
            # Fair enough across shards: a random start keeps any shard from starving.
            start = self._next_shard % len(claimed)
            self._next_shard += 1
            claimed = claimed[start:] + claimed[:start]
            spare = claimed[limit:]
            claimed = claimed[:limit]
            async with self._redis.pipeline(transaction=False) as pipe:
                for member in spare:
                    execution, _ = layout.split_member(member)
                    pipe.zadd(layout.execution_keys(execution).ready, {member: now_ms}, xx=True)
                await pipe.execute()
        return claimed

    async def extend(self, member: str, *, now_ms: int, until_ms: int) -> None:
        execution, _ = layout.split_member(member)
        ready = layout.execution_keys(execution).ready
        await self._extend(keys=[ready], args=[member, now_ms, until_ms])

    async def release(self, member: str) -> None:
        execution, _ = layout.split_member(member)
        await self._redis.zrem(layout.execution_keys(execution).ready, member)

    async def callback(
        self, execution_id: str, run_id: str, *, token: str, result: str, now_ms: int
    ) -> int:
        keys = layout.execution_keys(execution_id)
        return int(
            await self._callback(
                keys=[keys.meta, keys.runs, keys.ready],
                args=[execution_id, run_id, token, result, now_ms],
            )
        )

    async def heartbeat(self, execution_id: str, run_id: str, *, token: str, now_ms: int) -> int:
        keys = layout.execution_keys(execution_id)
        return int(
            await self._heartbeat(
                keys=[keys.meta, keys.runs, keys.ready], args=[execution_id, run_id, token, now_ms]
            )
        )

    async def stop(
        self, execution_id: str, *, event: str, now_ms: int, error: str, cause: str
    ) -> bool:
        keys = layout.execution_keys(execution_id)
        stopped = await self._stop(
            keys=list(keys), args=[execution_id, event, now_ms, error, cause, self._retention]
        )
        return bool(stopped)

    async def history(self, execution_id: str, *, start: int, stop: int) -> list[str]:
        """Events [start, stop] by position (0-based, inclusive, as LRANGE)."""
        keys = layout.execution_keys(execution_id)
        return [_text(e) for e in await self._redis.lrange(keys.history, start, stop)]

    async def listing(
        self, machine_key: str, *, at_most_ms: int | None = None, offset: int = 0, count: int = 100
    ) -> list[tuple[str, int]]:
        """(execution name, start ms) of a machine's executions, newest first (names
        descending at one start), from those that started at or before `at_most_ms`."""
        raw = await self._redis.zrevrangebyscore(
            layout.listing_key(machine_key),
            "+inf" if at_most_ms is None else at_most_ms,
            "-inf",
            start=offset,
            num=count,
            withscores=True,
        )
        return [(_text(entry[0]), int(entry[1])) for entry in raw]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["HISTORY_MAX", "RedisStore", "StartOutcome"]
