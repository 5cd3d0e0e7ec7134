# Bad input for every argument: wrong types, negative, huge. Each must raise
# the documented exception, never crash, and leave the pool as it was.
import pytest

import shpool
from conftest import path  # noqa: F401

HUGE = 2**64
WRONG = [None, "1", 1.5, b"x", [], object()]


def pool(kind="i64", elem=None):
    return shpool.Pool(None, kind, 4, elem)


@pytest.mark.parametrize("kwargs,exc", [
    (dict(kind="i64"), TypeError),                       # capacity missing
    (dict(kind="raw", capacity=4), TypeError),           # elem_size missing
    (dict(kind="str", capacity=4), TypeError),
    (dict(kind="i65", capacity=4), ValueError),
    (dict(kind=3, capacity=4), TypeError),
    (dict(kind=None, capacity=4), TypeError),
    (dict(kind="i64", capacity=0), ValueError),
    (dict(kind="i64", capacity=-1), ValueError),
    (dict(kind="i64", capacity=HUGE), ValueError),
    (dict(kind="i64", capacity=2**33), ValueError),      # above MAX_CAPACITY
    (dict(kind="i64", capacity=1.0), TypeError),
    (dict(kind="i64", capacity="4"), TypeError),
    (dict(kind="raw", capacity=4, elem_size=0), ValueError),
    (dict(kind="raw", capacity=4, elem_size=-8), ValueError),
    (dict(kind="raw", capacity=4, elem_size=2**31), ValueError),
    (dict(kind="raw", capacity=4, elem_size=2**40), ValueError),
    (dict(kind="raw", capacity=4, elem_size=b"8"), TypeError),
    (dict(kind="i64", capacity=4, elem_size=16), ValueError),  # numeric kinds: implied
    (dict(kind="i64", capacity=4, mode=-1), ValueError),
    (dict(kind="i64", capacity=4, mode=0o17777), ValueError),
    (dict(kind="i64", capacity=4, mode="rw"), TypeError),
    (dict(kind="i64", capacity=4, zero="yes", nonsense=1), TypeError),
    (dict(kind="i64", capacity=4, path=3), TypeError),
    (dict(kind="i64", capacity=4, path="a\0b"), ValueError),
    (dict(kind="i64", capacity=4, path=""), ValueError),
])
def test_constructor(kwargs, exc):
    with pytest.raises(exc):
        shpool.Pool(**kwargs)


def test_constructor_positional_and_extra():
    with pytest.raises(TypeError):
        shpool.Pool(None, "i64", 4, None, 0o600)  # mode is keyword-only
    with pytest.raises(TypeError):
        shpool.Pool.memfd("m", "raw", 4, 8, True)
    with pytest.raises(ValueError):
        shpool.Pool.memfd("a\0b", "raw", 4, 8)
    with pytest.raises(TypeError):
        shpool.Pool.memfd(3, "raw", 4, 8)
    with pytest.raises(ValueError):
        shpool.Pool.memfd("m", "raw", 0, 8)


@pytest.mark.parametrize("arg,exc", [(None, TypeError), (3.0, TypeError), ("", ValueError),
                                     ("a\0b", ValueError), ([], TypeError)])
def test_open_path(arg, exc):
    with pytest.raises(exc):
        shpool.Pool.open(arg)


@pytest.mark.parametrize("kind,exc", [("x", ValueError), (1, TypeError), (b"i64", TypeError)])
def test_open_kind(path, kind, exc):
    shpool.Pool(path, "i64", 4)
    with pytest.raises(exc):
        shpool.Pool.open(path, kind)


@pytest.mark.parametrize("fd,exc", [(-1, ValueError), (2**40, OverflowError), ("3", TypeError),
                                    (None, TypeError), (1.0, TypeError)])
def test_from_fd(fd, exc):
    with pytest.raises(exc):
        shpool.Pool.from_fd(fd)


@pytest.mark.parametrize("timeout,exc", [(-1, ValueError), (-0.001, ValueError),
                                         (float("nan"), ValueError), ("1", TypeError),
                                         ([], TypeError), (b"", TypeError)])
def test_timeouts(timeout, exc):
    p = pool()
    p.alloc_n(4)
    for call in (lambda: p.alloc(timeout), lambda: p.alloc(timeout=timeout),
                 lambda: p.alloc_n(1, timeout), lambda: p.alloc_set(1, timeout),
                 lambda: p.slot_guard(timeout), lambda: p.alloc_async(timeout)):
        with pytest.raises(exc):
            call()
    assert p.used == 4


def test_huge_timeout_is_a_wait_not_an_error():
    p = pool()
    assert p.alloc(1e300) is not None
    assert p.alloc(float("inf")) is not None
    assert p.alloc(HUGE) is not None
    i = p.alloc(10**400)  # beyond a double: for ever, not OverflowError
    assert i is not None
    for call in (lambda t: p.alloc_n(1, t), lambda t: p.alloc_set(1, t),
                 lambda t: p.slot_guard(t), lambda t: p.alloc_async(t).close()):
        with pytest.raises(ValueError):
            call(-10**400)
    p.free(i)
    i = p.alloc_set(5, 10**400)  # the last free slot
    assert i is not None
    p.free(i)
    assert p.alloc_n(1, 10**400) == [i]
    p.free(i)
    with p.slot_guard(10**400) as j:
        assert j == i


def test_huge_timeout_waits_until_a_free():
    import threading
    from conftest import wait_for
    p = pool()
    held = p.alloc_n(4)
    t = threading.Thread(target=lambda: (wait_for(lambda: p.stats()["waiters"] == 1),
                                         p.free(held[2])))
    t.start()
    assert p.alloc(10**400) == held[2]
    t.join(30)


@pytest.mark.parametrize("idx,exc", [(-1, IndexError), (4, IndexError), (HUGE, IndexError),
                                     (-HUGE, IndexError), (2**64 - 1, IndexError),
                                     (1.0, TypeError), ("0", TypeError), (None, TypeError),
                                     (b"\0", TypeError)])
def test_slot_index_everywhere(idx, exc):
    p = pool()
    p.alloc_set(1)
    calls = [p.free, p.is_allocated, p.owner, p.get, p.get_bytes, p.slot, p.incr, p.decr,
             lambda i: p.set(i, 1), lambda i: p.add(i, 1), lambda i: p.xchg(i, 1),
             lambda i: p.cas(i, 1, 2), lambda i: p.cmpxchg(i, 1, 2)]
    if exc is TypeError or idx < 0:
        calls.append(lambda i: p.free_n([i]))  # out of range: skipped, see below
    for call in calls:
        with pytest.raises(exc):
            call(idx)
    assert p.used == 1 and p.get(0) == 1


def test_free_n_bad_items():
    p = pool()
    p.alloc_n(2)
    with pytest.raises(TypeError):
        p.free_n(5)
    with pytest.raises(TypeError):
        p.free_n([0, "1"])
    with pytest.raises(IndexError):
        p.free_n([0, -1])
    assert p.used == 2  # nothing freed by a refused call
    assert p.free_n([0, 4, 1]) == 2  # out of range ones are skipped
    # ... as the docstring says, which also says that a negative one raises.
    doc = shpool.Pool.free_n.__doc__
    assert "skipped" in doc and "beyond capacity" in doc and "IndexError for a negative" in doc


@pytest.mark.parametrize("n,exc", [(-1, ValueError), (5, ValueError), (HUGE, ValueError),
                                   (1.0, TypeError), ("1", TypeError), (None, TypeError)])
def test_alloc_n_count(n, exc):
    p = pool()
    with pytest.raises(exc):
        p.alloc_n(n)
    assert p.used == 0


@pytest.mark.parametrize("kind,value,exc", [
    ("i64", 2**63, OverflowError), ("i64", -2**63 - 1, OverflowError), ("i64", 1.0, TypeError),
    ("i64", "1", TypeError), ("i64", None, TypeError),
    ("i32", 2**31, OverflowError), ("i32", 1.5, TypeError),
    ("f64", "1.0", TypeError), ("f64", None, TypeError), ("f64", 2**1024, OverflowError),
    ("raw", "text", TypeError), ("raw", 5, TypeError), ("raw", b"x" * 9, ValueError),
    ("str", b"x" * 9, ValueError), ("str", 5, TypeError), ("str", None, TypeError),
])
def test_values(kind, value, exc):
    p = shpool.Pool(None, kind, 2, 8 if kind in ("raw", "str") else None)
    i = p.alloc()
    with pytest.raises(exc):
        p.set(i, value)
    with pytest.raises(exc):
        p.alloc_set(value)
    assert p.used == 1


def test_rmw_argument_counts_and_values():
    p = pool()
    i = p.alloc_set(0)
    for call in (lambda: p.cas(i, 1), lambda: p.cas(i), lambda: p.incr(i, 1),
                 lambda: p.add(i), lambda: p.xchg(), lambda: p.set(i),
                 lambda: p.cmpxchg(i, 1, 2, 3)):
        with pytest.raises(TypeError):
            call()
    for call in (lambda: p.add(i, 2**64), lambda: p.cas(i, 0, -2**64)):
        with pytest.raises(OverflowError):
            call()
    assert p.get(i) == 0


def test_closed_pool_refuses_everything():
    p = pool()
    p.close()
    for call in (p.alloc, p.try_alloc, lambda: p.free(0), lambda: p.alloc_n(1), p.stats,
                 p.check, p.reset, p.recover_stale, p.allocated_slots, lambda: p.get(0),
                 lambda: p.set(0, 1), lambda: p.incr(0), lambda: p.slot(0), p.eventfd,
                 p.fileno, p.consume, p.notify, p.sync, lambda: p.slot_guard(),
                 lambda: p.alloc_async(), lambda: p.capacity, lambda: p.buffer,
                 lambda: memoryview(p)):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert p.closed and "closed" in repr(p)


def test_wrong_method_arguments():
    p = pool()
    for call in (lambda: p.alloc(1, 2), lambda: p.alloc(timeout=1, other=2),
                 lambda: p.alloc(tmeout=1), lambda: p.try_alloc(1), lambda: p.stats(1),
                 lambda: p.free(), lambda: p.slot_guard(1, 2)):
        with pytest.raises(TypeError):
            call()


def test_unlink_and_sync_of_an_anonymous_pool():
    p = pool()
    with pytest.raises(ValueError):
        p.unlink()
    p.sync()  # nothing to write back: fine


def test_set_eventfd_bad():
    import os
    p = pool()
    r, w = os.pipe()
    with pytest.raises(ValueError):
        p.set_eventfd(r)  # not an eventfd
    with pytest.raises(TypeError):
        p.set_eventfd("3")
    os.close(r)
    os.close(w)
