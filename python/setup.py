# SPDX-License-Identifier: MIT
"""Builds the extension shpool._shpool against an installed libshpool.

pyproject.toml holds the metadata; this file adds what only a program can
know: where libshpool is and which version it is, from pkg-config
(PKG_CONFIG_PATH finds a libshpool.pc outside the default directories;
PKG_CONFIG names another pkg-config, with arguments). The package's
version is the library's. When the library is in a directory the dynamic
linker does not search (pkg-config printed -L for it), the extension gets
a run path to it, so that it imports without LD_LIBRARY_PATH;
SHPOOL_NO_RUNPATH=1 leaves it out (packagers).

    PKG_CONFIG_PATH=/opt/shpool/lib/pkgconfig pip install ./python
"""
import glob
import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup


def pkg_config(*args):
    cmd = shlex.split(os.environ.get("PKG_CONFIG") or "pkg-config") + list(args) + ["libshpool"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        sys.exit("shpool: %s not found: the build needs pkg-config (Debian: apt-get install "
                 "pkgconf)" % cmd[0])
    if r.returncode != 0:
        sys.exit("shpool: pkg-config does not find libshpool (%s). Install it (Debian: "
                 "libshpool-dev; from its sources: ./configure && make install) and, if its "
                 "libshpool.pc is not in a default directory, point PKG_CONFIG_PATH at it."
                 % (r.stderr.strip() or "exit %d" % r.returncode))
    return r.stdout.strip()


version = pkg_config("--modversion")
cflags = shlex.split(pkg_config("--cflags"))
libs = shlex.split(pkg_config("--libs"))
library_dirs = [f[2:] for f in libs if f.startswith("-L")]

shpool_ext = Extension(
    "shpool._shpool",
    sources=sorted(glob.glob(os.path.join("src", "_shpool", "*.c"))),
    depends=[os.path.join("src", "_shpool", "module.h")],
    include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
    define_macros=[("SHPOOL_PY_VERSION", '"%s"' % version)],
    extra_compile_args=["-fvisibility=hidden"] + [f for f in cflags if not f.startswith("-I")],
    library_dirs=library_dirs,
    libraries=[f[2:] for f in libs if f.startswith("-l")],
    runtime_library_dirs=[] if os.environ.get("SHPOOL_NO_RUNPATH") else library_dirs,
    extra_link_args=[f for f in libs if not f.startswith(("-L", "-l"))],
)

setup(version=version, ext_modules=[shpool_ext])
