# alloc_async(): an asyncio allocation that waits on the pool's eventfd and
# is woken by frees in another process.
import asyncio
import os

import pytest

import shpool
from conftest import children, wait_for  # noqa: F401


def full_pool(n=2):
    p = shpool.Pool(None, "raw", n, 64, notify_on_free=True)
    p.eventfd()  # before forking: the children's frees signal it
    return p, p.alloc_n(n)


def test_free_slot_without_waiting():
    p = shpool.Pool(None, "raw", 2, 8, notify_on_free=True)
    assert asyncio.run(p.alloc_async()) in (0, 1)
    assert asyncio.run(p.alloc_async(timeout=0)) in (0, 1)
    assert asyncio.run(p.alloc_async(timeout=0)) is None
    assert p._async_waiters in (None, set())


def test_woken_by_a_free_in_another_process(children):
    p, held = full_pool()
    go_r, go_w = os.pipe()

    def freer():
        os.read(go_r, 1)  # the parent's coroutine is waiting
        p.free(held[1])   # through the inherited handle: signals the eventfd

    c = children(freer)

    async def main():
        task = asyncio.ensure_future(p.alloc_async(timeout=60))
        while not p._async_waiters:  # registered on the eventfd
            await asyncio.sleep(0)
        assert not task.done()
        os.write(go_w, b"x")
        return await task

    assert asyncio.run(main()) == held[1]
    assert c.wait() == 0
    assert p.owner(held[1]) == os.getpid()
    assert not p._async_waiters


def test_two_waiters_one_loop(children):
    p, held = full_pool(3)
    go_r, go_w = os.pipe()

    def freer():
        os.read(go_r, 1)
        p.free(held[0])
        os.read(go_r, 1)
        p.free(held[2])

    c = children(freer)

    async def main():
        a = asyncio.ensure_future(p.alloc_async())
        b = asyncio.ensure_future(p.alloc_async())
        while len(p._async_waiters or ()) < 2:
            await asyncio.sleep(0)
        os.write(go_w, b"x")
        done, pending = await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
        assert len(done) == 1 and len(pending) == 1
        os.write(go_w, b"x")
        await asyncio.wait([a, b])
        return sorted([a.result(), b.result()])

    assert asyncio.run(main()) == [held[0], held[2]]
    assert c.wait() == 0


def test_timeout_returns_none():
    p, held = full_pool(1)

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        r = await p.alloc_async(timeout=0.1)
        return r, loop.time() - t0

    r, waited = asyncio.run(main())
    assert r is None and waited >= 0.1
    assert p.used == 1 and not p._async_waiters


def test_cancelled_wait_takes_nothing():
    p, held = full_pool(1)

    async def main():
        task = asyncio.ensure_future(p.alloc_async())
        while not p._async_waiters:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert not p._async_waiters
    p.free(held[0])
    assert p.used == 0


def test_bad_timeout():
    p, _ = full_pool(1)
    with pytest.raises(ValueError):
        p.alloc_async(timeout=-1)
    with pytest.raises(TypeError):
        p.alloc_async(timeout="soon")
