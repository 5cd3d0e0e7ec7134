#!/usr/bin/env bash
# Issue #7: every test program and fuzz replay under valgrind memcheck
# (make check-valgrind; doc/hardening.md). Forked children are checked too;
# any error or definite leak fails the run.
# Cost: a build and the test run, 210 s of CPU (check_recovery's 1000
# SIGKILLs and check_alloc's hammer dominate); measured 11.6 min wall on a
# 2-core machine shared with other builds (load average 20-25).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS

command -v valgrind >/dev/null || { { apt-get update -q || true; } && apt-get install -y -q valgrind; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s distdir distdir="$work/src"
mkdir "$work/build"
cd "$work/build"
"$work/src/configure" -q CC=gcc
make -s -j2
make -s -j2 check-valgrind VERBOSE=1

echo "== valgrind: no errors, no leaks ($((SECONDS - start)) s)"
