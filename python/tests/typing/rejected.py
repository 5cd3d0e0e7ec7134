# Mistakes mypy --strict must catch in a shpool program: each line marked
# "error:" must be reported on that line (python/tests/test_typing.py).
import shpool

p = shpool.Pool(None, "i64", 4)
r = shpool.Pool(None, "raw", 4, 8)
p.capacity = 5  # error: read-only property
p.set(0, "text")  # error: an i64 slot takes an int
r.incr(0)  # error: atomic integers are for integer pools
s: str = p.get(0)  # error: get() of an i64 pool is an int
p.alloc(timeout="1")  # error: a timeout is a number


class Mine(shpool.SlotGuard):  # error: SlotGuard is final
    pass
