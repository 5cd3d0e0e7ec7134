# numpy arrays as live views of a pool, and frames handed between processes.
import os

import pytest

import shpool
from conftest import children, path  # noqa: F401

np = pytest.importorskip("numpy")


def test_frombuffer_is_a_live_view_of_an_i64_pool():
    p = shpool.Pool(None, "i64", 8)
    a = np.frombuffer(p.buffer, dtype=np.int64)
    assert a.shape == (8,) and a.flags.writeable
    i = p.alloc_set(5)
    assert a[i] == 5
    a[i] = 7
    assert p.get(i) == 7
    assert p.incr(i) == 8 and a[i] == 8
    with pytest.raises(BufferError):
        p.close()
    del a
    p.close()


def test_f64_and_i32_views():
    p = shpool.Pool(None, "f64", 4)
    a = np.frombuffer(p.buffer, dtype=np.float64)
    i = p.alloc_set(0.5)
    assert a[i] == 0.5
    q = shpool.Pool(None, "i32", 4)
    # i32 slots are 8 bytes apart (stride): every other int32 is a value.
    b = np.frombuffer(q.buffer, dtype=np.int32)[::q.stride // 4]
    j = q.alloc_set(-3)
    assert b.shape == (4,) and b[j] == -3
    b[j] = 4
    assert q.get(j) == 4


def test_frame_handoff_between_processes(path, children):
    shape, dtype = (256, 256), np.float32
    frame_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    frames = 50
    p = shpool.Pool(path, "raw", capacity=3, elem_size=frame_bytes)
    r, w = os.pipe()

    def producer():
        q = shpool.Pool.open(path)
        for n in range(frames):
            i = q.alloc(timeout=30)
            f = np.frombuffer(q.slot(i), dtype=dtype).reshape(shape)
            f[:] = n
            f[n % 256, :] = -1  # a mark per frame
            del f
            os.write(w, i.to_bytes(8, "little"))

    c = children(producer)
    for n in range(frames):
        i = int.from_bytes(os.read(r, 8), "little")
        f = np.frombuffer(p.slot(i), dtype=dtype).reshape(shape)  # zero copy
        expect = np.full(shape, n, dtype=dtype)
        expect[n % 256, :] = -1
        assert np.array_equal(f, expect)
        del f
        p.free(i)  # the consumer frees the producer's slot
    assert c.wait() == 0
    assert p.used == 0 and p.check() == []
