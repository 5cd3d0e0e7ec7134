#!/usr/bin/env bash
# The shpool(1) tool as installed: its man page lints clean (mandoc), the
# installed binary runs against a pool, and the page is where man looks.
# Cost: installing mandoc (a few seconds), one `make install`, a few runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

if ! command -v mandoc >/dev/null; then
	apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
	apt-get install -y -qq mandoc >/dev/null
fi
echo "-- mandoc -T lint -W warning doc/shpool.1"
mandoc -T lint -W warning doc/shpool.1

dest=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$dest" "$work"' EXIT
# DESTDIR, not prefix=: the Python module is linked for the configured
# pyexecdir, and libtool refuses to install it anywhere else.
if ! make install DESTDIR="$dest" >"$work/install.log" 2>&1; then
	cat "$work/install.log"
	echo "make install failed"
	exit 1
fi
# shellcheck disable=SC2016 # $(prefix) is for make, not the shell
prefix=$dest$(make -s -f Makefile -f <(printf 'print-prefix:\n\t@echo $(prefix)\n') print-prefix)
test -f "$prefix/share/man/man1/shpool.1"
shpool="$prefix/bin/shpool"
# Installed under DESTDIR: the binary's run path names the configured
# libdir, so point the loader at this one.
export LD_LIBRARY_PATH="$prefix/lib"
echo "-- $("$shpool" --version)"

# An error: exit status 2 and the library's detail.
set +e
"$shpool" info "$work/missing" 2>"$work/err"; rc=$?
set -e
if [ "$rc" -ne 2 ] || ! grep -q "No such file or directory" "$work/err"; then
	echo "installed shpool: wrong exit status ($rc) or message: $(cat "$work/err")"
	exit 1
fi
# A real pool, made by a program built against the installed library.
cat > "$work/mk.c" <<'C'
#include <shpool.h>
int main(int argc, char **argv)
{
	shpool_t *p;
	(void)argc;
	if (shpool_create(&p, argv[1], SHPOOL_I64, 8, 0, NULL) < 0 ||
	    shpool_alloc_set_i64(p, 42, 0) < 0)
		return 1;
	shpool_close(p);
	return 0;
}
C
cc -o "$work/mk" "$work/mk.c" -I"$prefix/include" -L"$prefix/lib" -lshpool \
	-Wl,-rpath,"$prefix/lib"
"$work/mk" "$work/pool"
out=$("$shpool" ls --data --json "$work/pool")
case "$out" in *'"value":42'*) ;; *) echo "installed shpool ls: $out"; exit 1 ;; esac
out=$("$shpool" stats "$work/pool")
case "$out" in *"used        1"*) ;; *) echo "installed shpool stats: $out"; exit 1 ;; esac
echo "== tool step passed: man page lints clean, installed shpool works"
