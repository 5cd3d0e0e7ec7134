# SPDX-License-Identifier: MIT
"""Pickling pools (Pool.__reduce__), for the processes multiprocessing starts.

- A file pool travels as its path (with its kind and readonly): the
  receiving process attaches it with Pool.open(), so plain pickle works too,
  as long as the file is still there.
- A memfd pool travels as its descriptors, the memfd and the handle's
  eventfd if it has one, through multiprocessing.reduction.DupFd: passed
  along when a spawn or forkserver child starts (Process arguments,
  ProcessPoolExecutor's initargs), or fetched from this process's resource
  sharer when the pool goes through a Queue or a Pipe (what
  ProcessPoolExecutor.submit() does). Only processes of this
  multiprocessing family can receive it, as with sockets.
- An anonymous pool cannot travel at all: TypeError. Only children forked
  after it was made share it (the fork start method, with the pool
  inherited rather than passed).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Tuple, Type

from ._shpool import Pool


def reduce_pool(pool: Pool[Any]) -> Tuple[Callable[..., Pool[Any]], Tuple[Any, ...]]:
    """Pool.__reduce__()."""
    cls = type(pool)
    if pool.fd is not None:
        from multiprocessing.reduction import DupFd

        efd = pool._event_fd
        return (_rebuild_memfd,
                (cls, DupFd(pool.fd), None if efd is None else DupFd(efd), pool.kind,
                 pool.readonly))
    if pool.path is not None:
        return (_rebuild_file, (cls, pool.path, pool.kind, pool.readonly))
    raise TypeError(
        "cannot pickle an anonymous shpool.Pool: only children forked after it was made "
        "share it; make it with a path or with Pool.memfd() to pass it to another process "
        "(spawn, forkserver, a Queue)")


def _rebuild_file(cls: Type[Pool[Any]], path: str, kind: str, readonly: bool) -> Pool[Any]:
    return cls.open(path, kind, readonly=readonly)


def _rebuild_memfd(cls: Type[Pool[Any]], dup: Any, dup_event: Optional[Any], kind: str,
                   readonly: bool) -> Pool[Any]:
    fd = dup.detach()
    try:
        pool = cls.from_fd(fd, kind, readonly=readonly)
    finally:
        os.close(fd)  # the pool holds its own duplicate
    if dup_event is not None:
        efd = dup_event.detach()
        try:
            pool.set_eventfd(efd)  # the pool owns it from now on
        except BaseException:
            os.close(efd)
            raise
    return pool
