# Pools pickled to other processes: a file pool by its path (plain pickle
# too), a memfd pool with its descriptors through multiprocessing (spawn
# and forkserver workers of a ProcessPoolExecutor: the initargs at start,
# the arguments of submit() through its queue), its eventfd with it; an
# anonymous pool refused with a clear error.
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import mpworkers
import shpool
from conftest import path  # noqa: F401

METHODS = ["spawn", "forkserver"]


def executor(method, **kw):
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method), **kw)


def test_a_file_pool_pickles_as_its_path(path):
    p = shpool.Pool(path, "i64", 4)
    i = p.alloc_set(41)
    q = pickle.loads(pickle.dumps(p))
    assert q is not p and type(q) is shpool.Pool
    assert (q.path, q.kind, q.capacity, q.readonly) == (path, "i64", 4, False)
    assert q.incr(i) == 42 and p.get(i) == 42  # the same pool
    r = pickle.loads(pickle.dumps(shpool.Pool.open(path, readonly=True)))
    assert r.readonly and r.get(i) == 42


def test_an_anonymous_pool_cannot_be_pickled():
    p = shpool.Pool(None, "i64", 2)
    with pytest.raises(TypeError, match="anonymous.*forked.*memfd"):
        pickle.dumps(p)
    p.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(p)


@pytest.mark.parametrize("method", METHODS)
def test_a_file_pool_passed_to_a_worker(path, method):
    p = shpool.Pool(path, "i64", 4)
    with executor(method) as ex:
        i, pid, fds = ex.submit(mpworkers.store, p, 7).result(timeout=120)
    assert pid != os.getpid() and fds == (False, False)
    assert p.get(i) == 7 and p.owner(i) == pid


@pytest.mark.parametrize("method", METHODS)
def test_a_memfd_pool_passed_to_a_worker(method):
    p = shpool.Pool.memfd("pickled", "i64", 4, notify_on_free=True)
    p.eventfd()
    mine = p.alloc_set(5)
    # initargs travel when the worker starts (the descriptors go with the
    # new process), submit()'s arguments through the call queue later.
    with executor(method, initializer=mpworkers.adopt, initargs=(p,)) as ex:
        i, pid, fds = ex.submit(mpworkers.store_adopted, 7).result(timeout=120)
        assert pid != os.getpid() and fds == (True, True)
        assert p.get(i) == 7 and p.owner(i) == pid
        j, pid2, fds = ex.submit(mpworkers.store, p, 8).result(timeout=120)
        assert pid2 == pid and fds == (True, True) and p.get(j) == 8
        # The eventfd travelled too: the worker's free signals ours.
        assert p.consume() == 0
        ex.submit(mpworkers.free, p, mine).result(timeout=120)
        assert p.consume() == 1 and not p.is_allocated(mine)
