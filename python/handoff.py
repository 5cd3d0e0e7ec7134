#!/usr/bin/env python3
"""Two processes hand 1 MiB frames to each other through a shared pool.

The producer allocates a slot, fills the frame in place (zero copy) and
sends only the slot's index over a pipe; the consumer reads the frame where
it lies and frees the slot, which the producer's next alloc() waits for.
"""
import os
import sys

import shpool

FRAMES, FRAME = 100, 1 << 20
path = sys.argv[1] if len(sys.argv) > 1 else "/dev/shm/handoff-%d" % os.getpid()

with shpool.Pool(path, "raw", capacity=4, elem_size=FRAME, zero=False) as pool:
    r, w = os.pipe()
    if os.fork() == 0:                        # the producer
        with shpool.Pool.open(path) as p:     # attach by path, as any process can
            for n in range(FRAMES):
                i = p.alloc(timeout=5.0)      # waits while all 4 frames are out
                with p.slot(i) as frame:
                    frame[:] = bytes([n % 256]) * FRAME
                os.write(w, i.to_bytes(4, "little"))
        os._exit(0)
    for n in range(FRAMES):                   # the consumer
        i = int.from_bytes(os.read(r, 4), "little")
        with pool.slot(i) as frame:
            assert frame[0] == frame[FRAME - 1] == n % 256
        pool.free(i)                          # frees the producer's slot
    os.wait()
    pool.unlink()
    print("handed over %d frames of %d bytes; %d slots in use" % (FRAMES, FRAME, pool.used))
