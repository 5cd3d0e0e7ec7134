#!/usr/bin/env bash
# Issue #7: the test suite under sanitizers (doc/hardening.md).
#  1. ASan + UBSan (gcc, -fno-sanitize-recover=all): every test program, the
#     fuzz replays and the examples; any report aborts the process, which
#     fails its test.
#  2. TSan (clang): the test programs that run threads (check_error,
#     check_stats, check_notify, check_alloc), and those whose tests ran in
#     one of them before tests/ was split by source file. check_recovery is
#     left out: it is about processes, which TSan cannot see into, and its
#     1000 fork+SIGKILL rounds take minutes under TSan; so are check_identity
#     (its liveness tests, once part of it) and check_wake.
# Built from `make distdir` copies (the tree itself is configured in-tree).
# Cost: 2 builds and 2 test runs, 101 s of CPU; measured 6.9 min wall on a
# 2-core machine shared with other builds (load average 20-25).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS

# clang's sanitizer runtimes are in libclang-rt-dev on Debian 12 (clang only
# recommends it); gcc's come with gcc.
if ! echo 'int main(void){return 0;}' |
	clang -x c -fsanitize=thread -o /dev/null - 2>/dev/null; then
	{ apt-get update -q || true; } && apt-get install -y -q clang libclang-rt-dev
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s distdir distdir="$work/src"

build() { # dir, configure arguments...
	local dir=$work/$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && "$work/src/configure" -q "$@" && make -s -j2)
}

# Sanitized code runs 2-10x slower: scale Check's tcase timeouts (and the
# hostile victims' alarms) by 4.
export CK_TIMEOUT_MULTIPLIER=4
export UBSAN_OPTIONS=print_stacktrace=1

echo "== ASan + UBSan (gcc): make check"
build asan CC=gcc --enable-werror --enable-sanitizers=address,undefined
make -s -C "$work/asan" -j2 check VERBOSE=1

echo "== TSan (clang): the threaded test programs"
build tsan CC=clang --enable-werror --enable-sanitizers=thread
# TSan needs the address layout it was built for: no ASLR surprises on
# kernels with large mmap_rnd_bits.
setarch "$(uname -m)" -R make -s -C "$work/tsan" -j2 check VERBOSE=1 \
	TESTS="tests/check_error tests/check_layout tests/check_bitmap tests/check_stats tests/check_notify \
		tests/check_segment tests/check_file tests/check_alloc tests/check_typed tests/check_guard \
		tests/check_hostile"

echo "== sanitizers: no reports ($((SECONDS - start)) s)"
