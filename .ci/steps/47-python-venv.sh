#!/usr/bin/env bash
# The Python binding installed the ways Python users install things (issue
# 26), with Debian's Python packages only (no package index is reachable):
#  1. `make install prefix=DIR` puts the library and both bindings under
#     DIR, and nothing anywhere else;
#  2. pip in a venv (--system-site-packages over Debian's setuptools,
#     --no-build-isolation) builds python/ against the library installed in
#     a scratch root, found through pkg-config; then the package's metadata
#     says the library's version, mypy --strict accepts a sample program,
#     stubtest finds the stubs true, and the whole pytest suite passes
#     against the installed copy, the timing test included;
#  3. ./configure inside an active venv builds for the venv's python and
#     `make install` puts the package into the venv.
# Cost: about two minutes on 2 cores (3. builds the tree once more).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export DEBIAN_FRONTEND=noninteractive

echo "-- installing Debian's Python tools"
apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
apt-get install -y -qq --no-install-recommends python3-venv python3-pip python3-setuptools \
	python3-wheel python3-mypy python3-numpy python3-pytest python3-dev pkgconf >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=/usr/bin/python3

echo "-- 1. make install prefix=DIR (staged): every file under DIR"
make install prefix=/opt/shpool-ci DESTDIR="$work/stage" >"$work/install.log" 2>&1 || {
	cat "$work/install.log"; echo "47-python-venv: FAILED: make install prefix=DIR"; exit 1
}
outside=$(cd "$work/stage" && find . ! -type d ! -path './opt/shpool-ci/*')
if [ -n "$outside" ]; then
	echo "47-python-venv: FAILED: make install prefix=DIR wrote outside DIR:"
	echo "$outside"
	exit 1
fi
for pattern in '*/shpool/__init__.py' '*/shpool/_shpool.*.so' '*/shpool-*.dist-info/METADATA' \
	'*/IPC/Shpool.pm' '*/lib/libshpool.so.1'; do
	found=$(find "$work/stage/opt/shpool-ci" -path "$pattern" | head -n 1)
	[ -n "$found" ] || { echo "47-python-venv: FAILED: nothing like $pattern under DIR"; exit 1; }
	echo "  ${found#"$work/stage"}"
done
if find "$work/stage" -name '*.la' -path '*-packages*' | grep -q .; then
	echo "47-python-venv: FAILED: a libtool archive in site-packages"; exit 1
fi

echo "-- 2. pip install into a venv, against the library in a scratch root"
# The library as `make install` stages it; pkg-config finds it through its
# sysroot, so its flags are the only thing telling the build where it is.
make install DESTDIR="$work/root" >"$work/install.log" 2>&1 || {
	cat "$work/install.log"; echo "47-python-venv: FAILED: make install DESTDIR="; exit 1
}
libdir=$(pkg-config --variable=libdir ./libshpool.pc)
export PKG_CONFIG_SYSROOT_DIR="$work/root" PKG_CONFIG_PATH="$work/root$libdir/pkgconfig"
echo "\$ pkg-config --modversion --cflags --libs libshpool"
lib_version=$(pkg-config --modversion libshpool)
echo "$lib_version"; pkg-config --cflags --libs libshpool
# What is tracked under python/ (and the README its example test reads),
# outside the tree, so that nothing but the installed copy can be imported.
mkdir "$work/src"
git ls-files -z -- python README | tar --null -T - -c | tar -x -C "$work/src"
echo "\$ $python -m venv --system-site-packages venv"
"$python" -m venv --system-site-packages "$work/venv"
venv_py=$work/venv/bin/python
echo "\$ pip install --no-build-isolation --no-index ./python"
"$venv_py" -m pip install --no-build-isolation --no-index "$work/src/python" >"$work/pip.log" 2>&1 || {
	cat "$work/pip.log"; echo "47-python-venv: FAILED: pip install"; exit 1
}
grep -E '^(Successfully|  Created wheel)' "$work/pip.log"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
cd "$work"
echo "\$ python -c 'import shpool, importlib.metadata as m; print(m.version(\"shpool\"))'"
got=$("$venv_py" -c 'import shpool, importlib.metadata as m; print(m.version("shpool"))')
echo "$got"
[ "$got" = "$lib_version" ] || {
	echo "47-python-venv: FAILED: metadata version $got, library $lib_version"; exit 1
}
"$venv_py" - "$work/venv" <<'PY'
import sys
import shpool
assert shpool.__file__.startswith(sys.argv[1] + "/lib/"), shpool.__file__
assert shpool.__version__ == shpool.library_version(), shpool.__version__
with shpool.Pool(None, "i64", 4) as p:
    i = p.alloc_set(41, timeout=1)
    assert p.incr(i) == 42
print("import shpool: %s, built for and running over libshpool %s"
      % (shpool.__file__, shpool.library_version()))
PY
echo "\$ mypy --strict python/tests/typing/sample.py"
"$venv_py" -m mypy --strict --cache-dir "$work/mypy-cache" "$work/src/python/tests/typing/sample.py"
echo "\$ python -m mypy.stubtest shpool"
"$venv_py" -m mypy.stubtest shpool
echo "\$ pytest python/tests (the installed package; the timing test too)"
SHPOOL_TOOL="$top/tools/shpool" PYTHONDONTWRITEBYTECODE=1 \
	"$venv_py" -m pytest -p no:cacheprovider -ra -s "$work/src/python/tests" \
	>"$work/pytest.log" 2>&1 || {
	tail -n 60 "$work/pytest.log"; echo "47-python-venv: FAILED: pytest"; exit 1
}
grep -E 'Ctrl-C latency|^(SKIPPED|XFAIL)|passed|failed' "$work/pytest.log"
cd "$top"

echo "-- 3. ./configure in an active venv, make install into it"
mkdir "$work/tree"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -x -C "$work/tree"
"$python" -m venv --system-site-packages "$work/venv2"
(
	cd "$work/tree"
	export VIRTUAL_ENV="$work/venv2" PATH="$work/venv2/bin:$PATH"
	./autogen.sh >/dev/null 2>&1
	./configure --without-perl >"$work/configure.log"
	grep -E '^configure: ( |Python)' "$work/configure.log"
	make -j"$(nproc)" install >/dev/null
)
# The venv is the prefix, and its lib/ no directory the dynamic linker
# searches: LD_LIBRARY_PATH, as for any program linked to the library there.
LD_LIBRARY_PATH="$work/venv2/lib" "$work/venv2/bin/python" - "$work/venv2" <<'PY'
import importlib.metadata
import sys
import shpool
venv = sys.argv[1]
assert shpool.__file__.startswith(venv + "/lib/"), shpool.__file__
print("venv make install: %s, version %s" % (shpool.__file__, importlib.metadata.version("shpool")))
PY
echo "47-python-venv: OK: make install prefix=DIR, pip in a venv (metadata, mypy, stubtest, pytest), configure in a venv"
