# A program using shpool as its users do, which mypy --strict must accept
# without a cast or an ignore (python/tests/test_typing.py, CI step 47).
import asyncio
import sys
from typing import Any, List, Optional

import shpool


def counters() -> int:
    with shpool.Pool(None, "i64", 4) as p:      # a Pool[int]
        i = p.alloc_set(40)
        assert i is not None
        total: int = p.get(i) + p.incr(i)       # get() is an int: no cast
        p.set(i, total)
        if p.cas(i, total, 0):
            p.free(i)
        return total


def floats() -> float:
    p = shpool.Pool(None, shpool.F64, 2)        # a Pool[float]
    i = p.alloc_set(0.5, timeout=1.0)
    assert i is not None
    p.set(i, 2)                                 # an int is a float
    return p.get(i) * 2.0


def strings() -> str:
    p = shpool.Pool.memfd("names", "str", 4, 32)  # a Pool[str]
    i = p.alloc_set("hello")
    assert i is not None
    p.set(i, b"bytes too")
    return p.get(i).upper()


def frames(path: str) -> bytes:
    with shpool.Pool(path, "raw", capacity=4, elem_size=64) as p:  # a Pool[bytes]
        with p.slot_guard(timeout=1.0) as i:
            view: memoryview = p.slot(i)
            view[:5] = b"hello"
            data: bytes = p.get(i)
        got: Optional[List[int]] = p.alloc_n(2, timeout=0)
        if got is not None:
            p.free_n(got)
        p.unlink()
        return data


def attached(path: str) -> Any:
    p = shpool.Pool.open(path)                  # kind unknown: a Pool[Any]
    q: shpool.Pool[int] = shpool.Pool.open(path, "i64", readonly=True)
    stats = p.stats()
    return p.get(0) if stats["used"] else q.capacity


async def waiter(p: "shpool.Pool[bytes]") -> Optional[int]:
    return await p.alloc_async(timeout=0.5)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "/dev/shm/typing-sample"
    print(counters(), floats(), strings(), frames(path))
    p = shpool.Pool(None, "raw", 1, 8, notify_on_free=True)
    print(asyncio.run(waiter(p)), shpool.library_version(), shpool.DEFAULT_MODE)


if __name__ == "__main__":
    main()
