# The package is typed (PEP 561: py.typed and stubs for the C half): mypy
# --strict accepts a program using it without casts, rejects the mistakes
# the stubs exist to catch, and stubtest finds the stubs true to the
# runtime. Skipped without mypy (Debian: python3-mypy).
import os
import re
import subprocess
import sys

import pytest

from conftest import path  # noqa: F401

mypy_api = pytest.importorskip("mypy.api")

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "typing")


def mypy(tmp_path, *files):
    out, err, rc = mypy_api.run(["--strict", "--cache-dir", str(tmp_path / "cache"),
                                 *[os.path.join(HERE, f) for f in files]])
    return out + err, rc


def test_mypy_strict_accepts_a_typed_program(tmp_path, path):
    out, rc = mypy(tmp_path, "sample.py")
    assert rc == 0, out
    # And it is a real program: it runs.
    r = subprocess.run([sys.executable, os.path.join(HERE, "sample.py"), path],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(path)


def test_mypy_strict_rejects_the_mistakes(tmp_path):
    with open(os.path.join(HERE, "rejected.py")) as f:
        expected = {n for n, line in enumerate(f, 1) if "# error:" in line}
    out, rc = mypy(tmp_path, "rejected.py")
    assert rc == 1
    reported = {int(m) for m in re.findall(r"rejected\.py:(\d+): error", out)}
    assert reported == expected, out


def test_stubtest_finds_the_stubs_true_to_the_runtime(tmp_path):
    # Its cache out of the build tree (make distcheck wants it clean).
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "shpool"], cwd=str(tmp_path),
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
