# Every call of shpool.Pool in one process (the cross-process behaviour is
# in test_procs.py and test_async.py).
import errno
import inspect
import math
import os
import struct

import pytest

import shpool
from conftest import children, path, wait_for  # noqa: F401 (fixtures)


def test_module():
    import importlib.metadata
    assert shpool.library_version() == shpool.__version__
    # The package's metadata (a dist-info beside it, made by make or pip)
    # says the library's version too.
    assert importlib.metadata.version("shpool") == shpool.__version__
    assert shpool.Pool.__module__ == "shpool" and shpool._shpool.__name__ == "shpool._shpool"
    assert (shpool.RAW, shpool.I64, shpool.I32, shpool.F64, shpool.STR) == (
        "raw", "i64", "i32", "f64", "str")
    assert shpool.MAX_CAPACITY == 1 << 32
    assert shpool.MAX_ELEM_SIZE == 1 << 30


def test_every_call_is_documented():
    names = [n for n in dir(shpool.Pool) if not n.startswith("_")]
    names += ["__enter__", "__exit__"]
    for name in names:
        doc = getattr(shpool.Pool, name).__doc__
        assert doc and len(doc) > 10, name
    for name in ("release", "disarm", "__enter__", "__exit__", "index"):
        assert getattr(shpool.SlotGuard, name).__doc__, name
    # Argument-clinic signatures: inspect reads them.
    assert str(inspect.signature(shpool.Pool.alloc)) == "(self, /, timeout=None)"
    assert "capacity" in inspect.signature(shpool.Pool).parameters
    assert "Pool(" in shpool.Pool.__doc__ or shpool.Pool.__text_signature__


def test_help_shows_the_mode_in_octal_and_warns_of_sigbus():
    import pydoc
    text = pydoc.render_doc(shpool.Pool, renderer=pydoc.plaintext)
    assert "mode=0o600" in text and "mode=384" not in text
    assert inspect.signature(shpool.Pool).parameters["mode"].default == 0o600
    assert shpool.DEFAULT_MODE == 0o600 and repr(shpool.DEFAULT_MODE) == "0o600"
    assert "SIGBUS" in text and "truncates" in text


def test_the_module_docstring_example_runs_and_cleans_up(path):
    """help(shpool)'s example, run as it is shown (at a test path): it
    leaves no pool file behind."""
    lines = [line[4:] for line in shpool.__doc__.splitlines() if line.startswith("    ")]
    src = "\n".join(lines)
    assert src.count("/dev/shm/frames") == 1
    exec(compile(src.replace("/dev/shm/frames", path), "<shpool.__doc__>", "exec"), {})
    assert not os.path.exists(path)


def test_anonymous_raw_pool():
    with shpool.Pool(None, "raw", capacity=4, elem_size=100) as p:
        assert (p.capacity, p.elem_size, p.kind, p.path, p.fd) == (4, 100, "raw", None, None)
        assert p.stride == 128
        assert (p.used, p.available, p.closed) == (0, 4, False)
        i = p.alloc()
        assert 0 <= i < 4
        assert p.is_allocated(i) and p.owner(i) == os.getpid()
        assert p.get(i) == bytes(100)  # zeroed on allocation
        p.set(i, b"hello")
        assert p.get(i)[:6] == b"hello\0"
        assert p.get_bytes(i) == p.get(i)
        p.set(i, bytearray(b"HE"))  # a prefix: the rest stays
        assert p.get(i)[:6] == b"HEllo\0"
        assert p.used == 1 and p.available == 3
        assert p.allocated_slots() == [i]
        p.free(i)
        assert not p.is_allocated(i) and p.owner(i) is None
        assert p.allocated_slots() == []
    assert p.closed
    with pytest.raises(ValueError, match="closed"):
        p.alloc()
    p.close()  # twice is fine


def test_no_zero():
    with shpool.Pool(None, "raw", 1, 8, zero=False) as p:
        i = p.alloc()
        p.set(i, b"12345678")
        p.free(i)
        assert p.alloc() == i
        assert p.get(i) == b"12345678"
    with shpool.Pool(None, "raw", 1, 8) as p:
        i = p.alloc()
        p.set(i, b"12345678")
        p.free(i)
        p.alloc()
        assert p.get(i) == bytes(8)


def test_alloc_until_full_then_none():
    p = shpool.Pool(None, "i64", 3)
    got = [p.alloc(0), p.try_alloc(), p.alloc(timeout=0)]
    assert sorted(got) == [0, 1, 2]
    assert p.try_alloc() is None
    assert p.alloc(0) is None
    assert p.alloc(0.02) is None  # waits, then gives up
    assert p.alloc_n(1, timeout=0) is None
    st = p.stats()
    assert st["timeouts"] >= 1 and st["used"] == 3
    p.free(got[1])
    assert p.alloc(None) == got[1]


def test_alloc_n_free_n():
    p = shpool.Pool(None, "raw", 8, 16)
    assert p.alloc_n(0) == []
    a = p.alloc_n(5)
    assert len(a) == 5 and a == sorted(a) and len(set(a)) == 5
    assert p.alloc_n(4, timeout=0) is None  # all or nothing
    assert p.used == 5
    b = p.alloc_n(3, 0.5)
    assert sorted(a + b) == list(range(8))
    # Freed: those allocated; skipped: double entries, non-allocated ones.
    assert p.free_n(a[:2]) == 2
    assert p.free_n([a[0], a[1]]) == 0
    assert p.free_n(x for x in a[2:]) == 3
    assert p.free_n([]) == 0
    assert p.free_n(tuple(b)) == 3
    assert p.used == 0


def test_typed_i64():
    p = shpool.Pool(None, shpool.I64, 4)
    assert p.elem_size == 8 and p.stride == 8
    i = p.alloc_set(40)
    assert p.get(i) == 40
    assert p.add(i, 2) == 42
    assert p.incr(i) == 43
    assert p.decr(i) == 42
    assert p.cas(i, 42, 7) is True
    assert p.cas(i, 42, 8) is False and p.get(i) == 7
    assert p.cmpxchg(i, 7, 9) == 7 and p.get(i) == 9
    assert p.cmpxchg(i, 7, 1) == 9 and p.get(i) == 9
    assert p.xchg(i, -5) == 9 and p.get(i) == -5
    p.set(i, 2**63 - 1)
    assert p.incr(i) == -2**63  # wraps, as documented
    assert p.get_bytes(i) == struct.pack("=q", -2**63)
    with pytest.raises(OverflowError):
        p.set(i, 2**63)


def test_typed_i32():
    p = shpool.Pool(None, "I32", 4)  # kind names in any case
    assert p.kind == "i32" and p.elem_size == 4
    i = p.alloc_set(-3)
    assert p.add(i, 5) == 2 and p.incr(i) == 3 and p.decr(i) == 2
    assert p.cas(i, 2, 10) and p.cmpxchg(i, 10, 11) == 10 and p.xchg(i, 1) == 11
    p.set(i, 2**31 - 1)
    assert p.incr(i) == -2**31
    with pytest.raises(OverflowError):
        p.set(i, 2**31)
    with pytest.raises(OverflowError):
        p.add(i, -2**31 - 1)
    with pytest.raises(OverflowError):
        p.alloc_set(2**40)
    assert p.used == 1  # nothing allocated by the refused alloc_set


def test_typed_f64():
    p = shpool.Pool(None, "f64", 4)
    i = p.alloc_set(1.5)
    assert p.get(i) == 1.5
    for v in (-0.0, math.inf, -math.inf, 1e308, 5e-324, 3):
        p.set(i, v)
        assert p.get(i) == v and math.copysign(1, p.get(i)) == math.copysign(1, v)
    p.set(i, math.nan)
    assert math.isnan(p.get(i))
    with pytest.raises(ValueError):
        p.add(i, 1)  # no arithmetic on doubles: a wrong-kind call
    with pytest.raises(TypeError):
        p.set(i, "1.0")


def test_str_pool():
    p = shpool.Pool(None, "str", 4, 12)
    assert p.elem_size == 12
    i = p.alloc_set("héllo")
    assert p.get(i) == "héllo"
    assert p.get_bytes(i) == "héllo".encode()
    p.set(i, b"a\0b")
    assert p.get(i) == "a\0b" and p.get_bytes(i) == b"a\0b"
    p.set(i, b"\xff\xfe")  # not UTF-8: round-trips through surrogates
    assert p.get(i).encode("utf-8", "surrogateescape") == b"\xff\xfe"
    p.set(i, p.get(i))
    assert p.get_bytes(i) == b"\xff\xfe"
    p.set(i, "x" * 12)
    with pytest.raises(ValueError) as e:
        p.set(i, "x" * 13)
    assert e.value.errno == errno.E2BIG
    assert p.get(i) == "x" * 12  # nothing written
    with pytest.raises(ValueError):
        p.alloc_set("y" * 13)
    assert p.used == 1
    with pytest.raises(ValueError):
        p.slot(i)
    with pytest.raises(ValueError):
        p.incr(i)


def test_wrong_kind_calls_are_valueerror():
    p = shpool.Pool(None, "raw", 2, 8)
    i = p.alloc()
    for call in (lambda: p.incr(i), lambda: p.add(i, 1), lambda: p.cas(i, 0, 1),
                 lambda: p.xchg(i, 1), lambda: p.cmpxchg(i, 0, 1), lambda: p.decr(i)):
        with pytest.raises(ValueError, match="kind") as e:
            call()
        assert e.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        p.set(i, "text")  # raw slots take bytes


def test_slot_not_allocated():
    p = shpool.Pool(None, "i64", 2)
    for call in (lambda: p.get(0), lambda: p.set(0, 1), lambda: p.incr(0), lambda: p.free(0)):
        with pytest.raises(ValueError, match="not allocated") as e:
            call()
        assert e.value.errno == errno.ENOENT


def test_out_of_range_is_indexerror():
    p = shpool.Pool(None, "i64", 2)
    for call in (lambda: p.get(2), lambda: p.free(2), lambda: p.is_allocated(5),
                 lambda: p.owner(2**64 - 1), lambda: p.slot(2), lambda: p.set(-1, 0),
                 lambda: p.free(2**64), lambda: p.incr(-(2**70))):
        with pytest.raises(IndexError):
            call()


def test_buffer_and_slot_views():
    p = shpool.Pool(None, "raw", 4, 100)
    buf = p.buffer
    assert isinstance(buf, memoryview) and not buf.readonly
    assert buf.nbytes == 4 * p.stride
    i = p.alloc()
    v = p.slot(i)
    assert v.nbytes == 100 and not v.readonly
    v[:3] = b"abc"  # in place
    assert p.get(i)[:3] == b"abc"
    assert bytes(buf[i * p.stride:i * p.stride + 3]) == b"abc"
    p.set(i, b"xyz")
    assert bytes(v[:3]) == b"xyz"
    assert (buf.format, buf.itemsize, buf.shape) == ("B", 1, (4 * p.stride,))
    # close() with views alive: closed at once, mapped until the last view
    # goes (test_close.py has the rest).
    stride = p.stride
    p.close()
    assert p.closed
    with pytest.raises(ValueError, match="closed"):
        p.get(i)
    with pytest.raises(ValueError):
        p.buffer
    v[:3] = b"abc"  # the views still work: the mapping is still there
    assert bytes(buf[i * stride:i * stride + 3]) == b"abc"
    buf.release()
    v.release()
    assert p.closed


def test_typed_slot_views():
    p = shpool.Pool(None, "i64", 4)
    i = p.alloc_set(5)
    with p.slot(i) as v:
        assert v.format == "q" and v[0] == 5
        v[0] = 6
    assert p.get(i) == 6
    q = shpool.Pool(None, "f64", 2)
    j = q.alloc_set(0.25)
    assert q.slot(j).format == "d" and q.slot(j)[0] == 0.25
    r = shpool.Pool(None, "i32", 2)
    k = r.alloc_set(-9)
    assert r.slot(k).format == "i" and r.slot(k)[0] == -9
    assert r.slot(k).tolist() == [-9] and r.slot(k).nbytes == 4
    r.slot(k)[0] = 12
    assert r.get(k) == 12
    p.close()


def test_guard_frees_on_exit():
    p = shpool.Pool(None, "raw", 1, 8)
    with p.slot_guard(timeout=1.0) as i:
        assert i == 0 and p.used == 1
        with pytest.raises(TimeoutError) as e:
            with p.slot_guard(0.01):
                pass
        assert e.value.errno == errno.ETIMEDOUT
        with pytest.raises(TimeoutError):
            with p.slot_guard(0):
                pass
    assert p.used == 0
    # Freed on an exception too.
    with pytest.raises(RuntimeError):
        with p.slot_guard():
            raise RuntimeError
    assert p.used == 0
    g = p.slot_guard()
    assert g.index is None
    with g as i:
        assert g.index == i
        assert g.disarm() == i  # keep it
        assert g.index is None
    assert p.is_allocated(i)
    with pytest.raises(ValueError):
        g.release()
    p.free(i)
    with p.slot_guard() as i:
        g2 = p.slot_guard()
        with pytest.raises(TimeoutError):
            g2.__enter__() if False else p.slot_guard(0).__enter__()
    with p.slot_guard() as i:
        pass
    assert p.used == 0


def test_guard_release():
    p = shpool.Pool(None, "raw", 1, 8)
    g = p.slot_guard()
    with g as i:
        g.release()
        assert not p.is_allocated(i)
        assert p.alloc(0) == i  # someone else's now: exit must not free it
    assert p.is_allocated(i)


def test_guard_in_forked_child_does_not_free(children):
    p = shpool.Pool(None, "raw", 2, 8)
    with p.slot_guard() as i:
        def child():
            # The child inherited the guard: leaving the with block there,
            # or dropping the guard, must not free the parent's slot.
            return 0
        c = children(child)
        assert c.wait() == 0
        g = p.slot_guard()

        def child2():
            with g:  # allocates in the child: the child's to free
                pass
            return 0 if p.used == 1 else 3
        c2 = children(child2)
        assert c2.wait() == 0
        assert p.is_allocated(i)
    assert p.used == 0


def test_guard_exit_in_child_of_a_with_block(children):
    p = shpool.Pool(None, "raw", 2, 8)
    r, w = os.pipe()
    with p.slot_guard() as i:
        pid = os.fork()
        if pid == 0:  # the child runs the rest of the with block and leaves it
            os.close(r)
            code = 0
        if pid != 0:
            os.close(w)
            os.read(r, 1)  # the child has left the with block
            os.waitpid(pid, 0)
            assert p.is_allocated(i), "the child freed the parent's slot"
    if pid == 0:
        os.write(w, b"x")
        os._exit(code)
    assert not p.is_allocated(i)


def test_alloc_set_every_kind():
    for kind, elem, value in (("raw", 8, b"12"), ("i64", None, -1), ("i32", None, 7),
                              ("f64", None, 2.5), ("str", 4, "ab")):
        p = shpool.Pool(None, kind, 1, elem)
        i = p.alloc_set(value, timeout=0)
        assert i == 0
        assert p.get(i)[:2] == value if kind == "raw" else p.get(i) == value
        assert p.alloc_set(value, timeout=0) is None
        assert p.alloc_set(value, 0.01) is None
        p.free(i)
        assert p.alloc_set(value) == 0


def test_stats_check_reset_recover():
    p = shpool.Pool(None, "raw", 8, 8)
    st = p.stats()
    assert set(st) == {"capacity", "elem_size", "used", "available", "waiters", "mmap_size",
                       "allocs", "frees", "waits", "timeouts", "recoveries", "reset_frees",
                       "page_size"}
    assert st["capacity"] == 8 and st["used"] == 0 and st["mmap_size"] > 0
    p.alloc_n(3)
    st2 = p.stats()
    assert st2["used"] == 3 and st2["allocs"] >= 3
    assert p.check() == []
    assert p.recover_stale() == 0  # all held by this live process
    p.reset()
    assert p.used == 0 and p.check() == []
    st3 = p.stats()
    assert st3["reset_frees"] == 3
    assert st3["allocs"] - st3["frees"] - st3["recoveries"] - st3["reset_frees"] == st3["used"]


def test_file_pool_open_and_attach(path):
    p = shpool.Pool(path, "i32", 16, mode=0o640)
    assert p.path == path
    assert os.stat(path).st_mode & 0o777 == 0o640
    i = p.alloc_set(11)
    # Creating again with the same geometry attaches.
    q = shpool.Pool(path, "i32", 16)
    assert q.get(i) == 11
    with pytest.raises(ValueError, match="capacity"):
        shpool.Pool(path, "i32", 17)
    # open(): any kind, or the right one; a wrong kind is ValueError.
    with shpool.Pool.open(path) as o:
        assert o.kind == "i32" and o.capacity == 16 and o.get(i) == 11
    assert shpool.Pool.open(path, "i32").incr(i) == 12
    with pytest.raises(ValueError, match="kind"):
        shpool.Pool.open(path, "i64")
    assert shpool.Pool.open(os.fsencode(path)).get(i) == 12  # bytes path
    import pathlib
    assert shpool.Pool.open(pathlib.Path(path)).get(i) == 12  # PathLike
    q.sync()
    q.unlink()
    assert not os.path.exists(path)
    assert p.get(i) == 12  # still mapped
    with pytest.raises(FileNotFoundError):
        shpool.Pool.open(path)


def test_open_every_kind(path):
    for kind, elem in (("raw", 24), ("i64", None), ("i32", None), ("f64", None), ("str", 9)):
        with shpool.Pool(path, kind, 3, elem):
            with shpool.Pool.open(path) as o:
                assert o.kind == kind and o.capacity == 3
        os.unlink(path)


def test_open_errors(path, tmp_path):
    with open(path, "wb") as f:
        f.write(b"not a pool" * 1000)
    with pytest.raises(OSError) as e:
        shpool.Pool.open(path)
    assert e.value.errno == errno.EBADMSG and path in str(e.value)
    os.unlink(path)
    with pytest.raises(FileNotFoundError) as e:
        shpool.Pool.open(path)
    assert e.value.errno == errno.ENOENT
    d = tmp_path / "locked"
    d.mkdir(mode=0o700)
    if os.geteuid() != 0:
        os.chmod(d, 0)
        with pytest.raises(PermissionError):
            shpool.Pool(str(d / "p"), "i64", 4)
    with pytest.raises(IsADirectoryError if False else OSError):
        shpool.Pool.open(str(tmp_path))
    with pytest.raises(ValueError):
        shpool.Pool("", "i64", 4)


def test_readonly(path):
    w = shpool.Pool(path, "i64", 4)
    i = w.alloc_set(42)
    try:
        p = shpool.Pool.open(path, readonly=True)
    except NotImplementedError:  # a libshpool without shpool_attach()
        pytest.skip("libshpool has no read-only attach")
    assert p.readonly and not w.readonly
    assert p.kind == "i64" and p.get(i) == 42 and p.used == 1
    assert p.buffer.readonly and p.slot(i).readonly and p.slot(i)[0] == 42
    w.incr(i)
    assert p.get(i) == 43  # a live view of the writers' pool
    for call in (lambda: p.alloc(0), p.try_alloc, lambda: p.alloc(None), lambda: p.free(i),
                 lambda: p.set(i, 1), lambda: p.incr(i), lambda: p.alloc_n(1),
                 lambda: p.alloc_set(1, 0), p.reset, p.recover_stale):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EROFS
    with pytest.raises(TypeError):
        p.slot(i)[0] = 1  # the view is read-only too
    assert w.get(i) == 43 and w.used == 1
    os.chmod(path, 0o400)  # read permission is enough
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            shpool.Pool.open(path)
    assert shpool.Pool.open(path, "i64", readonly=True).get(i) == 43
    with pytest.raises(ValueError):
        shpool.Pool.open(path, "raw", readonly=True)
    m = shpool.Pool.memfd(kind="i64", capacity=2)
    assert shpool.Pool.from_fd(m.fd, readonly=True).readonly


def test_memfd_and_from_fd():
    p = shpool.Pool.memfd("frames", "raw", 4, 64)
    assert p.path is None and p.fd is not None and p.fd >= 0
    i = p.alloc()
    p.set(i, b"via memfd")
    q = shpool.Pool.from_fd(p.fd)
    assert q.kind == "raw" and q.get(i)[:9] == b"via memfd"

    class F:
        def fileno(self):
            return p.fd
    assert shpool.Pool.from_fd(F(), "raw").capacity == 4
    with pytest.raises(ValueError):
        shpool.Pool.from_fd(p.fd, "i64")
    r, w = os.pipe()
    with pytest.raises(ValueError, match="not a regular file"):
        shpool.Pool.from_fd(r)
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as e:
        shpool.Pool.from_fd(r)
    assert e.value.errno == errno.EBADF
    m = shpool.Pool.memfd(kind="i64", capacity=2)
    assert m.kind == "i64"


def test_eventfd_calls():
    p = shpool.Pool(None, "raw", 2, 8, notify_on_free=True)
    with pytest.raises(OSError) as e:
        p.consume()  # no eventfd yet
    assert e.value.errno == errno.EBADF
    fd = p.eventfd()
    assert fd >= 0 and p.eventfd() == fd and p.fileno() == fd
    assert os.get_blocking(fd) is False
    assert p.consume() == 0
    i, j = p.alloc_n(2)
    p.free(i)
    p.free_n([j])
    assert p.consume() == 2
    p.notify()
    assert p.consume() == 1
    import select
    assert select.select([p], [], [], 0)[0] == []  # a Pool is select()able
    p.notify()
    assert select.select([p], [], [], 0)[0] == [p]
    # Adopt an eventfd from elsewhere (it replaces under the same number).
    fd2 = os.eventfd(0) if hasattr(os, "eventfd") else None
    if fd2 is not None:
        assert p.set_eventfd(fd2) == fd
    p.close()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed with the pool


def test_without_notify_frees_signal_nothing():
    p = shpool.Pool(None, "raw", 2, 8)
    p.eventfd()
    p.free(p.alloc())
    assert p.consume() == 0


def test_repr_and_weakref():
    import weakref
    p = shpool.Pool(None, "i64", 3)
    assert "anonymous" in repr(p) and "i64" in repr(p) and "capacity=3" in repr(p)
    r = weakref.ref(p)
    assert r() is p
    p.close()
    assert "closed" in repr(p)


def test_subclass():
    class MyPool(shpool.Pool):
        pass
    p = MyPool(None, "i64", 2)
    assert type(p) is MyPool and type(MyPool.memfd(kind="i64", capacity=2)) is MyPool


def test_threads_wait_without_the_gil():
    import threading
    p = shpool.Pool(None, "raw", 1, 8)
    i = p.alloc()
    got = []
    t = threading.Thread(target=lambda: got.append(p.alloc(timeout=30)))
    t.start()
    wait_for(lambda: p.stats()["waiters"] == 1, what="the thread to block")
    # This thread runs Python while the other waits; its free wakes it.
    n = sum(1 for _ in range(100000))
    p.free(i)
    t.join(30)
    assert n == 100000 and got == [i]


def test_close_while_a_thread_waits():
    import threading
    p = shpool.Pool(None, "raw", 1, 8)
    p.alloc()
    err = []

    def waiter():
        try:
            p.alloc()
        except ValueError as e:
            err.append(e)
    t = threading.Thread(target=waiter)
    t.start()
    wait_for(lambda: p.stats()["waiters"] == 1, what="the thread to block")
    p.close()  # deferred: the waiter leaves with ValueError and unmaps
    assert p.closed
    t.join(30)
    assert not t.is_alive() and len(err) == 1 and "closed" in str(err[0])
