"""Small asyncio helpers for the background loops of both planes."""

from __future__ import annotations

import asyncio


def cancel_requested() -> bool:
    """True once someone asked the current task to stop.

    Background loops check this on every turn: a cancellation that arrives during
    a client call can be swallowed by the client (redis-py's PubSub.get_message
    returns None) or surface as a timeout or connection error that the loop
    recovers from, and the loop would otherwise run on forever with the request
    to stop already spent.
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
