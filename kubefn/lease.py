"""A lease in Redis: at most one holder at a time, lost when the holder stops renewing.

Background work that must run on exactly one gateway replica (a table's TTL
sweeper, a stream trigger's consumer) holds a lease for it; a replica that dies
simply stops renewing, and another takes over once the lease lapses.
"""

from __future__ import annotations

import redis.asyncio as aioredis

# KEYS: lease; ARGV: owner, milliseconds. Take it when free, or extend it when ours.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease; ARGV: owner
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

PREFIX = "kubefn:{lease}"


class Lease:
    def __init__(self, client: aioredis.Redis, name: str, *, owner: str, seconds: float) -> None:
        self._client = client
        self.key = f"{PREFIX}:{name}"
        self.owner = owner
        self.seconds = seconds

    async def hold(self) -> bool:
        """Take or extend the lease; False while someone else holds it.

        Call it at least every `seconds / 3` while working, and stop working when
        it returns False.
        """
        held = await self._client.eval(
            _HOLD, 1, self.key, self.owner, max(1, int(self.seconds * 1000))
        )
        return bool(held)

    async def release(self) -> None:
        """Give the lease up now (a clean shutdown), so another holder need not wait."""
        await self._client.eval(_RELEASE, 1, self.key, self.owner)
