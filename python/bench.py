#!/usr/bin/env python3
"""Benchmark of the shpool Python module against the standard library.

Two jobs, each done twice in one run, once with shpool and once with
multiprocessing.shared_memory + multiprocessing.Queue:

  pair        allocate a buffer and give it back, in one process:
              Pool.alloc() + Pool.free() against taking an index from a
              multiprocessing.Queue of free buffers and putting it back.
  handoff_1m  a producer process hands 1 MiB frames to a consumer process
              through 4 buffers: it takes a free buffer (blocking while all
              4 are out), stamps the frame in place, and passes the buffer's
              index; the consumer checks the stamp and gives the buffer
              back. shpool: a pool of 4 x 1 MiB slots (the blocking alloc is
              the free list; the consumer frees the producer's slot), the
              index over a pipe. Baseline: one SharedMemory of 4 MiB, the
              indices over two Queues (free and ready).
              --touch writes and reads the whole frame on both sides (then
              memory bandwidth dominates both).

Each figure is the median of --repeat runs, in ns per pair or per frame;
ratio is baseline / shpool (higher: shpool faster).
Run it as `make bench-python` (BENCH_PY_FLAGS="--repeat 7 --touch").
"""
import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from multiprocessing import shared_memory

import shpool

MIB = 1 << 20
SLOTS = 4


def pair_shpool(n):
    p = shpool.Pool(None, "raw", 64, 64)
    alloc, free = p.alloc, p.free
    t0 = time.perf_counter_ns()
    for _ in range(n):
        free(alloc())
    t = time.perf_counter_ns() - t0
    p.close()
    return t / n


def pair_baseline(n):
    q = mp.get_context("fork").Queue()
    for i in range(64):
        q.put(i)
    while q.empty():  # the feeder thread has not flushed yet
        time.sleep(0.001)
    get, put = q.get, q.put
    t0 = time.perf_counter_ns()
    for _ in range(n):
        put(get())
    t = time.perf_counter_ns() - t0
    q.close()
    q.join_thread()
    return t / n


def stamp_of(n):
    return n.to_bytes(8, "little")


def handoff_shpool(frames, touch):
    # zero=False: a frame is overwritten by its producer; zeroing 1 MiB on
    # every allocation would cost more than the hand-off (the baseline does
    # not zero either).
    pool = shpool.Pool(None, "raw", SLOTS, MIB, zero=False)
    stride = pool.stride
    r, w = os.pipe()
    payload = bytes(range(256)) * (MIB // 256)
    t0 = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:  # producer
        os.close(r)
        mv = pool.buffer
        for n in range(frames):
            i = pool.alloc()
            at = i * stride
            if touch:
                mv[at:at + MIB] = payload
            mv[at:at + 8] = stamp_of(n)
            os.write(w, i.to_bytes(4, "little"))
        os._exit(0)
    os.close(w)
    mv = pool.buffer
    rf = os.fdopen(r, "rb", buffering=65536)  # takes every index waiting at once
    for n in range(frames):
        i = int.from_bytes(rf.read(4), "little")
        at = i * stride
        if mv[at:at + 8] != stamp_of(n):
            raise SystemExit("handoff_shpool: frame %d corrupt" % n)
        if touch:
            bytes(mv[at:at + MIB])
        pool.free(i)
    t = time.perf_counter_ns() - t0
    os.waitpid(pid, 0)
    rf.close()
    mv.release()
    pool.close()
    return t / frames


def _producer(name, free_q, ready_q, frames, touch):
    shm = shared_memory.SharedMemory(name=name)
    mv = shm.buf
    payload = bytes(range(256)) * (MIB // 256)
    for n in range(frames):
        i = free_q.get()
        at = i * MIB
        if touch:
            mv[at:at + MIB] = payload
        mv[at:at + 8] = stamp_of(n)
        ready_q.put(i)
    del mv
    shm.close()


def handoff_baseline(frames, touch):
    ctx = mp.get_context("fork")
    shm = shared_memory.SharedMemory(create=True, size=SLOTS * MIB)
    free_q, ready_q = ctx.Queue(), ctx.Queue()
    for i in range(SLOTS):
        free_q.put(i)
    mv = shm.buf
    t0 = time.perf_counter_ns()
    proc = ctx.Process(target=_producer, args=(shm.name, free_q, ready_q, frames, touch))
    proc.start()
    for n in range(frames):
        i = ready_q.get()
        at = i * MIB
        if mv[at:at + 8] != stamp_of(n):
            raise SystemExit("handoff_baseline: frame %d corrupt" % n)
        if touch:
            bytes(mv[at:at + MIB])
        free_q.put(i)
    t = time.perf_counter_ns() - t0
    proc.join()
    del mv
    shm.close()
    shm.unlink()
    return t / frames


def median_of(fn, repeat, *args):
    return statistics.median(fn(*args) for _ in range(repeat))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    ap.add_argument("--pairs", type=int, default=1000000, help="alloc+free pairs per run")
    ap.add_argument("--frames", type=int, default=5000, help="frames per hand-off run")
    ap.add_argument("--touch", action="store_true", help="write and read whole frames")
    a = ap.parse_args()

    print("# shpool %s (libshpool %s), Python %s, %d CPUs" % (
        shpool.__version__, shpool.library_version(), sys.version.split()[0], os.cpu_count()))
    print("%-12s %12s %12s %8s" % ("case", "shpool_ns", "baseline_ns", "ratio"))
    s = median_of(pair_shpool, a.repeat, a.pairs)
    b = median_of(pair_baseline, a.repeat, max(a.pairs // 20, 1000))
    print("%-12s %12.1f %12.1f %8.1f" % ("pair", s, b, b / s))
    name = "handoff_1m" + ("_touch" if a.touch else "")
    s = median_of(handoff_shpool, a.repeat, a.frames, a.touch)
    b = median_of(handoff_baseline, a.repeat, a.frames, a.touch)
    print("%-12s %12.1f %12.1f %8.1f" % (name, s, b, b / s))


if __name__ == "__main__":
    main()
