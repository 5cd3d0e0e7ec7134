# Pools shared by real processes: hand-off with a foreign free, recovery
# after SIGKILL, blocking and wake-ups, Ctrl-C in a wait, and a pool shared
# with a C program (tools/shpool) at the same time.
import json
import os
import signal
import subprocess
import time

import pytest

import shpool
from conftest import children, path, wait_for, waiters  # noqa: F401


def pipe_line(r):
    """Read one line from the raw pipe end r (a child's report)."""
    buf = b""
    while not buf.endswith(b"\n"):
        b = os.read(r, 1)
        if not b:
            raise EOFError("child closed the pipe")
        buf += b
    return json.loads(buf)


def report(w, **kw):
    os.write(w, (json.dumps(kw) + "\n").encode())


def test_handoff_with_foreign_free(path, children):
    """A producer process fills slots and sends indices; this process reads
    the payload in place and frees slots it did not allocate."""
    messages = 300
    p = shpool.Pool(path, "raw", capacity=4, elem_size=4096)
    r, w = os.pipe()

    def producer():
        os.close(r)
        q = shpool.Pool.open(path, "raw")  # attach by path, as a stranger
        for n in range(messages):
            i = q.alloc(timeout=30)
            assert i is not None
            v = q.slot(i)
            v[:8] = n.to_bytes(8, "little")
            v[8:4096] = bytes([n % 251]) * 4088
            v.release()
            os.write(w, i.to_bytes(8, "little"))
        q.close()

    c = children(producer)
    os.close(w)
    for n in range(messages):
        i = int.from_bytes(os.read(r, 8), "little")
        assert p.owner(i) == c.pid
        with p.slot(i) as v:
            assert int.from_bytes(v[:8], "little") == n
            assert v[8:4096] == bytes([n % 251]) * 4088
        p.free(i)  # a foreign free
    assert c.wait() == 0
    assert p.used == 0 and p.check() == []
    # Four slots and 300 messages: the producer must have waited for frees.
    assert p.stats()["allocs"] >= messages


def test_token_pool_as_ready_channel(path, children):
    """The hand-off of python/handoff.py and bench.py, no pipe: the consumer
    holds one token per frame slot, the producer (a process attached by
    path) frees token i when frame i is filled, the consumer's alloc() on
    the tokens returns i. Every frame arrives once, whole; a consumer asleep
    on an empty channel is woken by the producer's free."""
    frames_n, size = 200, 64 * 1024
    ready_path = path + ".ready"
    frames = shpool.Pool(path, "raw", 4, size, zero=False)
    ready = shpool.Pool(ready_path, "raw", 4, 1)
    assert sorted(ready.alloc_n(4)) == [0, 1, 2, 3]  # nothing is ready

    def producer():
        f, r = shpool.Pool.open(path), shpool.Pool.open(ready_path)
        wait_for(lambda: waiters(r) == 1, what="the consumer to sleep on the tokens")
        for n in range(frames_n):
            i = f.alloc(timeout=30)
            assert i is not None
            with f.slot(i) as v:
                v[:] = bytes([n % 251]) * size
                v[:8] = n.to_bytes(8, "little")
            r.free(i)  # a foreign free: the token is the consumer's

    try:
        c = children(producer)
        # Empty channel: the first alloc() sleeps until the first frame.
        assert ready.try_alloc() is None
        woken = ready.stats()["waits"]
        seen = set()
        for _ in range(frames_n):
            i = ready.alloc(timeout=30)
            assert i is not None and frames.is_allocated(i) and frames.owner(i) == c.pid
            with frames.slot(i) as v:
                n = int.from_bytes(v[:8], "little")
                assert v[8:].tobytes() == bytes([n % 251]) * (size - 8)
            assert n not in seen
            seen.add(n)
            frames.free(i)
        assert seen == set(range(frames_n))
        assert c.wait() == 0
        assert ready.stats()["waits"] > woken  # it did sleep on the channel
        assert frames.used == 0 and ready.used == 4  # every token back home
        assert frames.check() == [] and ready.check() == []
    finally:
        ready.close()
        os.unlink(ready_path)


def test_sigkilled_worker_slots_recovered_exactly(path, children):
    p = shpool.Pool(path, "i64", 32)
    mine = p.alloc_n(3)
    r, w = os.pipe()

    def worker():
        q = shpool.Pool.open(path)
        got = q.alloc_n(5)
        for i in got:
            q.set(i, os.getpid())
        report(w, slots=got)
        while True:  # hold them until killed
            signal.pause()

    c = children(worker)
    theirs = pipe_line(r)["slots"]
    assert all(p.owner(i) == c.pid for i in theirs)
    assert p.used == 8 and p.recover_stale() == 0  # alive: nothing freed
    c.kill(signal.SIGKILL)
    assert c.wait() == -signal.SIGKILL
    problems = p.check()
    assert len(problems) == 5 and all("dead" in s for s in problems), problems
    assert p.recover_stale() == 5
    assert p.used == 3 and p.allocated_slots() == mine
    assert all(p.owner(i) == os.getpid() for i in mine)
    assert p.check() == [] and p.stats()["recoveries"] >= 5
    assert p.recover_stale() == 0


def test_blocking_timeout_and_wakeup_across_processes(path, children):
    p = shpool.Pool(path, "raw", 2, 8)
    held = p.alloc_n(2)
    r, w = os.pipe()

    def waiter():
        q = shpool.Pool.open(path)
        t0 = time.monotonic()
        none = q.alloc(timeout=0.2)
        report(w, timed_out=none is None, waited=time.monotonic() - t0)
        report(w, slot=q.alloc(timeout=60))  # woken by our free
        report(w, slots=q.alloc_n(2, timeout=60))

    c = children(waiter)
    first = pipe_line(r)
    assert first["timed_out"] and first["waited"] >= 0.2
    wait_for(lambda: waiters(p) == 1, what="the child to block")
    p.free(held[1])
    assert pipe_line(r)["slot"] == held[1]
    # alloc_n is all or nothing: one free slot is not enough for it.
    wait_for(lambda: waiters(p) == 1, what="the child to block in alloc_n")
    p.free(held[0])
    time.sleep(0.05)
    assert p.used == 1 and waiters(p) == 1  # still waiting for the second
    p.free(held[1])
    assert sorted(pipe_line(r)["slots"]) == [0, 1]
    assert c.wait() == 0


def test_keyboard_interrupt_during_wait(path, children):
    p = shpool.Pool(path, "raw", 1, 8)
    p.alloc()
    r, w = os.pipe()

    def waiter():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        q = shpool.Pool.open(path)
        try:
            q.alloc()  # forever
            report(w, what="allocated")
        except KeyboardInterrupt:
            report(w, what="interrupted", used=q.used)

    c = children(waiter)
    wait_for(lambda: waiters(p) == 1, what="the child to block")
    c.kill(signal.SIGINT)
    msg = pipe_line(r)
    assert msg == {"what": "interrupted", "used": 1}
    assert c.wait() == 0
    assert p.used == 1 and p.check() == []
    assert waiters(p) == 0


def test_signal_handler_that_returns_keeps_waiting(path, children):
    p = shpool.Pool(path, "raw", 1, 8)
    i = p.alloc()
    r, w = os.pipe()

    def waiter():
        seen = []
        signal.signal(signal.SIGUSR1, lambda *a: seen.append(1) or report(w, handled=True))
        q = shpool.Pool.open(path)
        report(w, slot=q.alloc(timeout=60), handled=len(seen))

    c = children(waiter)
    wait_for(lambda: waiters(p) == 1, what="the child to block")
    c.kill(signal.SIGUSR1)
    assert pipe_line(r) == {"handled": True}  # the handler ran in the wait
    wait_for(lambda: waiters(p) == 1, what="the child to wait again")
    p.free(i)
    assert pipe_line(r) == {"slot": i, "handled": 1}
    assert c.wait() == 0


def test_anonymous_pool_shared_with_forked_child(children):
    p = shpool.Pool(None, "i64", 4)
    i = p.alloc_set(0)

    def child():
        for _ in range(1000):
            p.incr(i)
        j = p.alloc()
        p.set(j, 99)

    c = children(child)
    for _ in range(1000):
        p.incr(i)
    assert c.wait() == 0
    assert p.get(i) == 2000
    assert p.used == 2
    (j,) = [x for x in p.allocated_slots() if x != i]
    assert p.get(j) == 99 and p.owner(j) == c.pid
    assert p.recover_stale() == 1  # the child is gone
    assert p.used == 1


def test_memfd_pool_passed_over_a_socket(children):
    import socket
    p = shpool.Pool.memfd("pass", "str", 4, 32)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def receiver():
        _, fds, _, _ = socket.recv_fds(b, 16, 1)
        q = shpool.Pool.from_fd(fds[0])
        os.close(fds[0])
        i = q.alloc_set("from the receiver")
        b.send(i.to_bytes(8, "little"))

    c = children(receiver)
    socket.send_fds(a, [b"pool"], [p.fd])
    i = int.from_bytes(a.recv(8), "little")
    assert p.get(i) == "from the receiver"
    assert c.wait() == 0


def tool():
    t = os.environ.get("SHPOOL_TOOL")
    if not t or not os.path.exists(t):
        pytest.skip("SHPOOL_TOOL (the built tools/shpool) not set")
    return t


def run_tool(*args):
    r = subprocess.run([tool(), "--json", *args], capture_output=True, text=True, timeout=60)
    return r.returncode, json.loads(r.stdout) if r.stdout else None


def test_pool_shared_with_a_c_program(path, children):
    """tools/shpool (C, linked to libshpool) and Python on one pool at once."""
    p = shpool.Pool(path, "i64", 16)
    mine = [p.alloc_set(v) for v in (10, 20, 30)]
    rc, ls = run_tool("ls", path)
    assert rc == 0 and ls["kind"].lower() == "i64" and ls["count"] == 3
    assert [(s["slot"], s["owner"], s["state"]) for s in ls["slots"]] == \
        [(i, os.getpid(), "alive") for i in mine]
    r, w = os.pipe()

    def worker():
        q = shpool.Pool.open(path)
        report(w, slots=q.alloc_n(2))
        while True:
            signal.pause()

    c = children(worker)
    theirs = pipe_line(r)["slots"]
    c.kill()
    c.wait()
    rc, chk = run_tool("check", path)
    assert rc == 1 and chk["problems"] == 2
    rc, rec = run_tool("recover", path)
    assert rc == 0 and rec["recovered"] == 2
    assert p.used == 3 and not any(p.is_allocated(i) for i in theirs)
    rc, chk = run_tool("check", path)
    assert rc == 0 and chk["problems"] == 0
    # And the other way: the C program resets, Python sees it.
    p.free_n(mine)
    rc, _ = run_tool("reset", "--force", path)
    assert rc == 0 and p.used == 0


def readme_example():
    """python/handoff.py's example, the lines between its marks. The README
    names the file; a document that shows the example (README or
    python/README) must show exactly those lines."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "handoff.py")) as f:
        src = f.read()
    begin, end = "# README example: begin\n", "# README example: end\n"
    assert src.count(begin) == 1 and src.count(end) == 1
    block = src[src.index(begin) + len(begin):src.index(end)]
    shown = "".join("    " + line if line.strip() else line
                    for line in block.splitlines(True))
    # A document that has any of the example's longer lines shows the
    # example: indented four spaces (README) or as it is (a fenced block).
    marks = [line.strip() for line in block.splitlines() if len(line.strip()) > 30]
    docs = {}
    for name in ("README", os.path.join("python", "README")):
        try:
            with open(os.path.join(here, "..", "..", name)) as f:
                docs[name] = f.read()
        except FileNotFoundError:
            pass
    assert "python/handoff.py" in docs["README"], "README does not name python/handoff.py"
    for name, text in docs.items():
        if any(m in text for m in marks):
            assert shown in text or block in text, \
                "%s's Python example differs from python/handoff.py" % name
    return block


def test_readme_example_runs(path):
    """python/handoff.py, the README's example, as a program of its own:
    100 frames through the token pool, both pools empty and gone after."""
    import sys
    readme_example()
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, os.path.join(here, "..", "handoff.py"), path],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "handed over 100 frames; 0 in use\n"
    assert not os.path.exists(path) and not os.path.exists(path + ".ready")
