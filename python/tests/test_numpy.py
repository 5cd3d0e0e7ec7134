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
    p.close()  # closed, but mapped while the array lives (test_close.py)
    assert p.closed and a[i] == 8
    del a


@pytest.mark.parametrize("kind,dtype,values", [
    ("i64", np.int64, [7, -(2**63), 2**63 - 1, 0]),
    ("i32", np.int32, [7, 9, -(2**31), 2**31 - 1]),
    ("f64", np.float64, [0.5, -1e300, float("inf"), 3.0]),
])
def test_asarray_gives_the_values(kind, dtype, values):
    p = shpool.Pool(None, kind, len(values))
    for v in values:
        p.alloc_set(v)
    for a in (np.asarray(p), np.asarray(p.buffer), np.array(memoryview(p), copy=False)):
        assert a.dtype == dtype and a.shape == (len(values),)
        assert a.tolist() == values
        assert a.strides == (p.stride,) and a.flags.writeable
    a = np.asarray(p)
    a[1] = values[0]  # a live view: writes reach the slots
    assert p.get(1) == values[0]
    p.set(2, values[3])
    assert a[2] == values[3]
    m = memoryview(p)
    assert (m.format, m.itemsize, m.shape, m.strides, m.nbytes) == (
        {"i64": "q", "i32": "i", "f64": "d"}[kind], np.dtype(dtype).itemsize,
        (len(values),), (p.stride,), len(values) * np.dtype(dtype).itemsize)
    assert m.tolist() == np.asarray(p).tolist()


def test_i32_buffer_is_strided():
    q = shpool.Pool(None, "i32", 4)
    assert q.stride == 8 and q.elem_size == 4
    j = q.alloc_set(-3)
    q.alloc_set(4)
    b = np.asarray(q)
    assert b.tolist() == [-3, 4, 0, 0]  # not [-3, 0, 4, 0]: no padding
    assert not b.flags.c_contiguous
    b[j] = 4
    assert q.get(j) == 4
    # A consumer that cannot take strides is refused, not handed the
    # padding: frombuffer, a file's write().
    with pytest.raises(BufferError, match="contiguous|strided"):
        np.frombuffer(q.buffer, dtype=np.int32)
    import io
    with pytest.raises(BufferError, match="strided"):
        io.BytesIO().write(q)
    # Consumers that copy take the values, packed.
    assert bytes(q) == q.buffer.tobytes() == np.asarray(q).tobytes() == \
        np.array([4, 4, 0, 0], dtype=np.int32).tobytes()
    assert bytes(shpool.Pool(None, "i64", 1).buffer) == bytes(8)  # contiguous: fine


def test_raw_and_str_pools_export_bytes():
    r = shpool.Pool(None, "raw", 3, 10)
    a = np.asarray(r)
    assert a.dtype == np.uint8 and a.shape == (3 * r.stride,)
    i = r.alloc_set(b"abc")
    assert a[i * r.stride:i * r.stride + 3].tobytes() == b"abc"
    s = shpool.Pool(None, "str", 2, 8)
    assert memoryview(s).format == "B" and memoryview(s).nbytes == 2 * s.stride


def test_readonly_pool_exports_a_readonly_array(path):
    w = shpool.Pool(path, "i64", 2)
    w.alloc_set(42)
    r = shpool.Pool.open(path, readonly=True)
    a = np.asarray(r)
    assert a.tolist() == [42, 0] and not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    with pytest.raises(TypeError):
        memoryview(r)[0] = 1
    w.incr(0)
    assert a[0] == 43  # live all the same


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
