# SPDX-License-Identifier: MIT
"""Pool.alloc_async(): allocating from asyncio without blocking the loop.

The coroutine strings together the Pool's own calls and asyncio's. All
waiters of one pool share one reader on the wake-up descriptor (a second
add_reader() on a descriptor would replace the first); each wake-up
drains it and lets every waiter look again. A waiter registers before its
last try_alloc(), so a free between that look and the wait still wakes it.

Where the wake-up comes from is decided in one place, wakeup_fd() (with
drain_wakeups() beside it). Today it is the handle's eventfd, which only
frees through handles sharing it signal (notify_on_free pools; see
Pool.eventfd()); a pool-wide descriptor woken by a free in any process can
take its place there without touching the rest.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

from ._shpool import Pool


def wakeup_fd(pool: Pool[Any]) -> int:
    """The descriptor alloc_async() waits on: readable when a slot may have
    come free. The handle's eventfd (made on first use)."""
    return pool.eventfd()


def drain_wakeups(pool: Pool[Any]) -> None:
    """Make wakeup_fd() unreadable again after a wake-up (read the eventfd's
    counter), before the waiters look."""
    pool.consume()


def _wake(pool: Pool[Any]) -> None:
    if not pool.closed:
        drain_wakeups(pool)
    for fut in list(pool._async_waiters or ()):
        if not fut.done():
            fut.set_result(None)


async def alloc_async(pool: Pool[Any], timeout: Optional[float]) -> Optional[int]:
    """The coroutine behind Pool.alloc_async(timeout): a slot's index, or
    None on timeout; timeout (seconds, None for ever) is already checked."""
    loop = asyncio.get_running_loop()
    slot = pool.try_alloc()
    if slot is not None or timeout == 0:
        return slot
    fd = wakeup_fd(pool)
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        fut: asyncio.Future[None] = loop.create_future()
        if pool._async_waiters is None:
            pool._async_waiters = set()
        if not pool._async_waiters:
            loop.add_reader(fd, _wake, pool)
        pool._async_waiters.add(fut)
        try:
            slot = pool.try_alloc()
            if slot is not None:
                return slot
            if deadline is None:
                await fut
            else:
                left = deadline - loop.time()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(fut, left)
                except asyncio.TimeoutError:
                    return None if pool.closed else pool.try_alloc()
        finally:
            waiters = pool._async_waiters
            if waiters is not None:
                waiters.discard(fut)
                if not waiters:
                    loop.remove_reader(fd)
