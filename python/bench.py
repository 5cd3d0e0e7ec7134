#!/usr/bin/env python3
"""Benchmark of the shpool Python module against the standard library.

Each job is done in one run with shpool and with multiprocessing's
shared_memory + Queue; the ratio is baseline / shpool (higher: shpool
faster). Each figure is the median of --repeat runs, in ns per pair or
per frame.

  pair        allocate a buffer and give it back, in one process:
              Pool.alloc() + Pool.free() against taking an index from a
              multiprocessing.Queue of free buffers and putting it back.

  handoff_1m  a producer process hands 1 MiB frames to a consumer process,
              at most 4 frames in flight. Both sides do the whole job: the
              producer writes every byte of the frame (a 1 MiB pattern, its
              number in the first and last 8 bytes); the consumer receives
              the frames in order, compares every byte, and releases the
              frame. The verifying code is the same function for both.
              shpool: a pool of 4 x 1 MiB slots, and a second pool of 4
              tokens as the ready channel. The consumer holds every token;
              the producer allocates a frame (waiting while all 4 are out),
              fills it and frees the token with the frame's index; the
              consumer's alloc() on the token pool returns that index
              (waiting on the pool's futex only when nothing is ready), and
              it frees the frame, which the producer's next alloc() waits
              for. Tokens come back lowest index first, not in order: a
              frame that comes early is held until its turn (it seldom
              happens; it costs shpool, not the baseline).
              Baseline (shared_memory's own idiom): a new SharedMemory per
              frame, its name put on a Queue(maxsize=4); the consumer
              attaches by name, verifies, closes and unlinks it.

  handoff_1m_ring  the same job against a stronger baseline than the
              issue asks for: one SharedMemory of 4 x 1 MiB made once, the
              buffer indices passed over two Queues (free and ready), i.e.
              a hand-rolled pool. The shpool figure is the one above.

--channel pipe sends the index over a pipe instead of the token pool (the
previous idiom), to compare the two. --parts also prints where each side's
time goes (us per frame, producer and consumer separately; a side's wait
includes the other side's work). Run it as `make bench-python`
(BENCH_PY_FLAGS="--repeat 7 --parts"); on a shared machine as
`chrt -f 50 make bench-python`.
"""
import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing import resource_tracker, shared_memory

import shpool

MIB = 1 << 20
SLOTS = 4
now = time.perf_counter_ns

# The frame pattern; frame n is PATTERN with n in its first and last 8 bytes.
PATTERN = bytes(range(251)) * (MIB // 251) + bytes(MIB % 251)
MIDDLE = PATTERN[8:MIB - 8]


def fill(frame, n):
    """Write every byte of a 1 MiB frame (a memoryview)."""
    stamp = n.to_bytes(8, "little")
    frame[:] = PATTERN
    frame[:8] = stamp
    frame[MIB - 8:] = stamp


def number_of(frame):
    return int.from_bytes(frame[:8], "little")


def verify(frame, n):
    """Compare every byte of frame with what fill(frame, n) wrote.
    bytes.startswith takes any buffer: a memcmp, no copy."""
    if not (number_of(frame) == n and int.from_bytes(frame[MIB - 8:], "little") == n
            and MIDDLE.startswith(frame[8:MIB - 8])):
        raise SystemExit("frame %d corrupt" % n)


class Parts:
    """Time spent per named part, summed; off unless --parts."""

    def __init__(self, on):
        self.on, self.t, self.sums = on, 0, {}

    def start(self):
        if self.on:
            self.t = now()

    def mark(self, name):
        if self.on:
            t = now()
            self.sums[name] = self.sums.get(name, 0) + t - self.t
            self.t = t

    def send(self, w):
        os.write(w, repr(self.sums).encode() + b"\n")

    @staticmethod
    def recv(r):
        buf = b""
        while not buf.endswith(b"\n"):
            buf += os.read(r, 4096)
        return eval(buf)  # a dict of ints, from our own child


def pair_shpool(n):
    p = shpool.Pool(None, "raw", 64, 64)
    alloc, free = p.alloc, p.free
    t0 = now()
    for _ in range(n):
        free(alloc())
    t = now() - t0
    p.close()
    return t / n


def pair_baseline(n):
    q = mp.get_context("fork").Queue()
    for i in range(64):
        q.put(i)
    while q.empty():  # the feeder thread has not flushed yet
        time.sleep(0.001)
    get, put = q.get, q.put
    t0 = now()
    for _ in range(n):
        put(get())
    t = now() - t0
    q.close()
    q.join_thread()
    return t / n


def handoff_shpool(frames, parts, channel):
    # zero=False: the producer overwrites the whole frame anyway.
    pool = shpool.Pool(None, "raw", SLOTS, MIB, zero=False)
    ready = shpool.Pool(None, "raw", SLOTS, 1)
    ready.alloc_n(SLOTS)  # the consumer holds every token: nothing is ready
    r, w = os.pipe()      # the index channel with --channel pipe
    pr, pw = os.pipe()    # the producer's --parts figures
    t0 = now()
    pid = os.fork()
    if pid == 0:  # the producer
        pt = Parts(parts)
        for n in range(frames):
            pt.start()
            i = pool.alloc()
            pt.mark("alloc")
            with pool.slot(i) as frame:
                fill(frame, n)
            pt.mark("fill")
            if channel == "pipe":
                os.write(w, i.to_bytes(4, "little"))
            else:
                ready.free(i)  # token i is free: frame i is ready
            pt.mark("send")
        pt.send(pw)
        os._exit(0)
    os.close(w)
    rf = os.fdopen(r, "rb", buffering=0)
    pt = Parts(parts)
    early = {}  # frames that came before their turn: number -> index
    for n in range(frames):
        pt.start()
        i = early.pop(n, None)
        while i is None:
            if channel == "pipe":
                i = int.from_bytes(rf.read(4), "little")
                break
            j = ready.alloc()  # a ready frame's index (takes its token back)
            with pool.slot(j) as frame:
                m = number_of(frame)
            if m == n:
                i = j
            elif n < m < frames and m not in early:
                early[m] = j
            else:  # a number seen before, or none we sent: never wait for it
                raise SystemExit("handoff_shpool: frame %d came as %d" % (n, m))
        pt.mark("receive")
        with pool.slot(i) as frame:
            verify(frame, n)
        pt.mark("verify")
        pool.free(i)  # the producer's slot, freed here
        pt.mark("free")
    t = now() - t0
    os.waitpid(pid, 0)
    prod = Parts.recv(pr) if parts else {}
    for fd in (pr, pw):
        os.close(fd)
    rf.close()
    if pool.used or ready.used != SLOTS:
        raise SystemExit("handoff_shpool: %d frames, %d tokens left" % (pool.used, ready.used))
    pool.close()
    ready.close()
    return t / frames, prod, pt.sums


def _producer_per_frame(q, frames, parts, pw):
    pt = Parts(parts)
    for n in range(frames):
        pt.start()
        shm = shared_memory.SharedMemory(create=True, size=MIB)
        pt.mark("create")
        fill(shm.buf, n)
        pt.mark("fill")
        shm.close()
        pt.mark("close")
        q.put(shm.name)  # waits while 4 frames are in flight
        pt.mark("send")
    pt.send(pw)


def handoff_per_frame(frames, parts):
    ctx = mp.get_context("fork")
    # One resource tracker, started here and inherited by the child: a
    # segment the child makes and this process unlinks is then forgotten.
    resource_tracker.ensure_running()
    q = ctx.Queue(SLOTS)
    pr, pw = os.pipe()
    t0 = now()
    proc = ctx.Process(target=_producer_per_frame, args=(q, frames, parts, pw))
    proc.start()
    pt = Parts(parts)
    for n in range(frames):
        pt.start()
        name = q.get()
        pt.mark("receive")
        shm = shared_memory.SharedMemory(name=name)
        pt.mark("attach")
        verify(shm.buf, n)
        pt.mark("verify")
        shm.close()
        shm.unlink()
        pt.mark("free")
    t = now() - t0
    proc.join()
    prod = Parts.recv(pr) if parts else {}
    os.close(pr)
    os.close(pw)
    return t / frames, prod, pt.sums


def _producer_ring(name, free_q, ready_q, frames, parts, pw):
    shm = shared_memory.SharedMemory(name=name)
    pt = Parts(parts)
    for n in range(frames):
        pt.start()
        i = free_q.get()
        pt.mark("alloc")
        fill(shm.buf[i * MIB:(i + 1) * MIB], n)
        pt.mark("fill")
        ready_q.put(i)
        pt.mark("send")
    shm.close()
    pt.send(pw)


def handoff_ring(frames, parts):
    ctx = mp.get_context("fork")
    resource_tracker.ensure_running()
    shm = shared_memory.SharedMemory(create=True, size=SLOTS * MIB)
    free_q, ready_q = ctx.Queue(), ctx.Queue()
    for i in range(SLOTS):
        free_q.put(i)
    pr, pw = os.pipe()
    t0 = now()
    proc = ctx.Process(target=_producer_ring,
                       args=(shm.name, free_q, ready_q, frames, parts, pw))
    proc.start()
    pt = Parts(parts)
    for n in range(frames):
        pt.start()
        i = ready_q.get()
        pt.mark("receive")
        verify(shm.buf[i * MIB:(i + 1) * MIB], n)
        pt.mark("verify")
        free_q.put(i)
        pt.mark("free")
    t = now() - t0
    proc.join()
    prod = Parts.recv(pr) if parts else {}
    os.close(pr)
    os.close(pw)
    shm.close()
    shm.unlink()
    return t / frames, prod, pt.sums


def median_run(fn, repeat, frames, *args):
    """The run with the median time: (ns per frame, producer parts,
    consumer parts), parts in ns per frame."""
    runs = sorted((fn(frames, *args) for _ in range(repeat)), key=lambda r: r[0])
    t, prod, cons = runs[len(runs) // 2]
    return (t, {k: v / frames for k, v in prod.items()},
            {k: v / frames for k, v in cons.items()})


def show_parts(name, prod, cons):
    for side, d in (("prod", prod), ("cons", cons)):
        print("# %-13s %s: %s" % (name if side == "prod" else "", side,
                                  " ".join("%s %.1f" % (k, v / 1000) for k, v in d.items())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    ap.add_argument("--pairs", type=int, default=1000000, help="alloc+free pairs per run")
    ap.add_argument("--frames", type=int, default=1000, help="frames per hand-off run")
    ap.add_argument("--channel", choices=("pool", "pipe"), default="pool",
                    help="shpool's index channel: a token pool (default) or a pipe")
    ap.add_argument("--parts", action="store_true", help="print where the time goes")
    a = ap.parse_args()

    print("# shpool %s (libshpool %s), Python %s, %d CPUs" % (
        shpool.__version__, shpool.library_version(), sys.version.split()[0], os.cpu_count()))
    print("%-16s %12s %12s %8s" % ("case", "shpool_ns", "baseline_ns", "ratio"))
    s = statistics.median(pair_shpool(a.pairs) for _ in range(a.repeat))
    b = statistics.median(pair_baseline(max(a.pairs // 20, 1000)) for _ in range(a.repeat))
    print("%-16s %12.1f %12.1f %8.1f" % ("pair", s, b, b / s))
    s, sp, sc = median_run(handoff_shpool, a.repeat, a.frames, a.parts, a.channel)
    b, bp, bc = median_run(handoff_per_frame, a.repeat, a.frames, a.parts)
    g, gp, gc = median_run(handoff_ring, a.repeat, a.frames, a.parts)
    print("%-16s %12.1f %12.1f %8.1f" % ("handoff_1m", s, b, b / s))
    print("%-16s %12.1f %12.1f %8.1f" % ("handoff_1m_ring", s, g, g / s))
    if a.parts:
        print("# where the time goes, us per frame (the median run of each),")
        print("# prod(ucer) and cons(umer); a side's wait holds the other's work:")
        show_parts("shpool/" + a.channel, sp, sc)
        show_parts("shm per frame", bp, bc)
        show_parts("shm ring", gp, gc)


if __name__ == "__main__":
    main()
