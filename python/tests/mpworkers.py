# Functions the tests run in multiprocessing workers (spawn, forkserver):
# importable by name in a fresh interpreter.
import os

_pool = None


def adopt(pool):
    """ProcessPoolExecutor initializer: keep the pool passed in initargs."""
    global _pool
    _pool = pool


def store(pool, value):
    """Allocate a slot of pool and store value: (index, pid, fds)."""
    i = pool.alloc_set(value, timeout=10)
    return i, os.getpid(), (pool.fd is not None, pool._event_fd is not None)


def store_adopted(value):
    return store(_pool, value)


def free(pool, index):
    pool.free(index)
