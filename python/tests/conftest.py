# Shared helpers of the shpool tests: pool paths, child processes, waiting
# for a state (never for a fixed time).
import os
import signal
import sys
import time
import uuid

import pytest

import shpool


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "timing: asserts how fast something happens; left out of make check "
        "(python/run-pytest -m 'not timing'), run by CI step 47")


@pytest.fixture
def path():
    """A fresh pool path in /dev/shm, removed after the test."""
    p = "/dev/shm/shpool-pytest-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
    yield p
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def wait_for(cond, timeout=20.0, what="condition"):
    """Poll cond() until it is true; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for %s" % what)
        time.sleep(0.002)


class Child:
    """A forked child running fn(*args); its exit status is 0 when fn
    returns normally, 1 on an exception (printed), or fn's int result."""

    def __init__(self, fn, *args):
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                r = fn(*args)
                code = r if isinstance(r, int) else 0
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.status = None

    def wait(self, timeout=30.0):
        """Wait for the child's exit; returns its exit code, or -signal."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                pytest.fail("child %d did not exit" % self.pid)
            time.sleep(0.002)
        return self.status

    def kill(self, sig=signal.SIGKILL):
        os.kill(self.pid, sig)


@pytest.fixture
def children():
    """Children to reap (and kill if still running) after the test."""
    made = []

    def spawn(fn, *args):
        c = Child(fn, *args)
        made.append(c)
        return c

    yield spawn
    for c in made:
        if c.status is None:
            try:
                os.kill(c.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(c.pid, 0)


def waiters(pool):
    return pool.stats()["waiters"]
