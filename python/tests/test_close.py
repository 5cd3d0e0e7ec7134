# close() and __exit__: the pool is closed at once, unmapped when nothing
# needs the mapping any more (the last view released, the last waiting
# thread out), and neither ever raises, so the exception that left a with
# block is the one that surfaces.
import gc
import os
import threading

import pytest

import shpool
from conftest import path, wait_for  # noqa: F401

np = pytest.importorskip("numpy")


def mapped(name):
    """How many of this process's mappings are of the pool file name (by
    inode: the library makes the file under another name first)."""
    ino = os.stat(name).st_ino
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if int(line.split()[4]) == ino)


def fd_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def test_the_bodys_exception_surfaces_with_a_live_numpy_view():
    with pytest.raises(RuntimeError, match="the body's") as e:
        with shpool.Pool(None, "raw", 4, 64) as p:
            a = np.frombuffer(p.buffer, dtype=np.uint8)
            raise RuntimeError("the body's")
    assert e.value.__context__ is None  # nothing raised over it
    assert p.closed
    a[0] = 1  # still mapped while the array lives
    assert a[0] == 1
    del a


def test_unmapped_when_the_last_view_goes(path):
    p = shpool.Pool(path, "i64", 4)
    i = p.alloc_set(3)
    efd = p.eventfd()
    v = p.slot(i)
    a = np.asarray(p)
    assert mapped(path) == 1
    p.close()
    p.close()  # twice is fine
    assert p.closed and "closed" in repr(p)
    with pytest.raises(ValueError, match="closed"):
        p.get(i)
    with pytest.raises(ValueError, match="closed"):
        memoryview(p)  # no new views of a closed pool
    assert mapped(path) == 1 and fd_open(efd)  # the views keep it
    assert v[0] == 3 and a[i] == 3
    v[0] = 4
    assert a[i] == 4
    v.release()
    assert mapped(path) == 1  # the array still needs it
    del a
    gc.collect()
    assert mapped(path) == 0 and not fd_open(efd)  # unmapped, descriptors closed
    q = shpool.Pool.open(path)  # the pool itself lives on
    assert q.get(i) == 4 and q.used == 1


def test_unmapped_at_once_without_views(path):
    p = shpool.Pool(path, "raw", 2, 8)
    assert mapped(path) == 1
    with p:
        pass
    assert mapped(path) == 0


def test_exit_returns_false_and_never_raises():
    p = shpool.Pool(None, "raw", 2, 8)
    v = p.buffer
    assert p.__exit__(None, None, None) is False
    assert p.__exit__(KeyError, KeyError("k"), None) is False  # closed already
    v.release()
    with pytest.raises(TypeError):
        p.__exit__()


def test_a_guards_exit_never_replaces_the_exception():
    p = shpool.Pool(None, "raw", 2, 8)
    with pytest.raises(KeyError) as e:
        with p.slot_guard() as i:
            p.free(i)  # the guard's free will fail: not allocated any more
            raise KeyError("body")
    assert e.value.__context__ is None
    with pytest.raises(LookupError) as e:
        with p, p.slot_guard():
            v = p.buffer
            raise LookupError("body")
    assert e.value.__context__ is None and p.closed
    v.release()


def test_close_with_a_view_and_a_waiting_thread(path):
    p = shpool.Pool(path, "raw", 1, 8)
    p.alloc()
    v = p.buffer
    err = []

    def waiter():
        try:
            p.alloc(timeout=60)
        except ValueError as e:
            err.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    wait_for(lambda: p.stats()["waiters"] == 1, what="the thread to block")
    p.close()
    t.join(30)
    assert not t.is_alive() and len(err) == 1 and "closed" in str(err[0])
    assert mapped(path) == 1  # the view still holds it
    v.release()
    assert mapped(path) == 0
