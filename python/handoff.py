#!/usr/bin/env python3
"""Two processes hand 1 MiB frames to each other through shared pools.

The producer allocates a frame slot and fills it in place (zero copy). A
second pool of one token per frame slot is the ready channel: the consumer
holds every token, the producer frees token i when frame i is ready, and
the consumer's alloc() returns i (waiting on the pool's futex while nothing
is ready). The consumer reads the frame where it lies and frees the slot,
which the producer's next alloc() waits for. No pipe: any process that can
open the two paths can take either side. Several ready frames come back
lowest index first, not in the order they were made; a consumer that needs
the order numbers its frames (python/bench.py does).

The block between the marks is the example as the documentation shows
it, verbatim (a test checks every copy).
"""
# README example: begin
import os, sys, shpool

FRAMES, FRAME = 100, 1 << 20
path = sys.argv[1] if len(sys.argv) > 1 else "/dev/shm/handoff"
ready_path = path + ".ready"
with shpool.Pool(path, "raw", 4, FRAME, zero=False) as frames, \
     shpool.Pool(ready_path, "raw", 4, 1) as ready:
    ready.alloc_n(4)                    # hold every token: nothing is ready
    if os.fork() == 0:                  # the producer
        with shpool.Pool.open(path) as f, shpool.Pool.open(ready_path) as r:
            for n in range(FRAMES):
                i = f.alloc(timeout=5)  # waits while all 4 frames are out
                with f.slot(i) as frame:        # a memoryview of the slot
                    frame[:] = bytes([n % 256]) * FRAME
                r.free(i)               # frame i ready: wake the consumer
        os._exit(0)
    for n in range(FRAMES):             # the consumer
        i = ready.alloc(timeout=5)      # waits for a ready frame's token
        with frames.slot(i) as frame:
            assert frame[0] == frame[FRAME - 1]
        frames.free(i)                  # frees the producer's slot
    os.wait()
    frames.unlink()
    ready.unlink()
    print("handed over %d frames; %d in use" % (FRAMES, frames.used))
# README example: end
