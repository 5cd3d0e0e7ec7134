# SPDX-License-Identifier: MIT
"""One pool of fixed-size slots shared by many processes (libshpool).

    import shpool
    with shpool.Pool("/dev/shm/frames", "raw", capacity=8, elem_size=1 << 20) as p:
        i = p.alloc(timeout=1.0)      # index, or None on timeout
        p.slot(i)[:5] = b"hello"      # in place, zero copy
        p.free(i)                     # any process may free it
        p.unlink()                    # remove the file (attached processes keep the pool)

Any process may allocate, use and free slots: lock-free, no system call
unless the pool is full, then a futex wait with a timeout. Slots held by
dead processes come back with recover_stale(). Pools of kind i64, i32 and
f64 are arrays of atomic numbers (numpy.asarray(p) views them); a Pool
pickles to the processes multiprocessing starts. See help(shpool.Pool).

The pool is memory mapped: a process that truncates a pool file under the
others makes them die of SIGBUS (see help(shpool.Pool)); memfd pools are
sealed against that.
"""
from ._shpool import (
    F64,
    I32,
    I64,
    MAX_CAPACITY,
    MAX_ELEM_SIZE,
    RAW,
    STR,
    Pool,
    SlotGuard,
    __version__,
    library_version,
)


class _Octal(int):
    """An int that shows itself in octal, as file modes are written."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "0o%o" % self


#: The mode of a new pool file, 0o600. Pool()'s signature names it, so that
#: help(shpool.Pool) shows mode=0o600 rather than mode=384.
DEFAULT_MODE: int = _Octal(0o600)

__all__ = [
    "DEFAULT_MODE",
    "F64",
    "I32",
    "I64",
    "MAX_CAPACITY",
    "MAX_ELEM_SIZE",
    "Pool",
    "RAW",
    "STR",
    "SlotGuard",
    "__version__",
    "library_version",
]
