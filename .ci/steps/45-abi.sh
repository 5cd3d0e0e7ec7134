#!/usr/bin/env bash
# ABI guard: build the library with -g in a copy of the tree (this one is
# configured in-tree already) and compare its ABI with abi/libshpool.abi
# (abi/abi-check.sh: added interfaces pass, removed or changed ones fail).
# First prove the guard can fail: a copy with one public struct changed
# must be refused.
# Cost: about 1 minute on 2 idle cores (configure and two library builds).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

echo "-- installing abigail-tools"
apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
apt-get install -y -qq --no-install-recommends abigail-tools >/dev/null
abidiff --version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Tracked plus untracked, non-ignored files: no in-tree build products.
git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -c | tar -x -C "$work"
cd "$work"

echo "-- configure and build libshpool.la (gcc, -g -O2)"
{
	autoreconf --force --install &&
		./configure CC=gcc CFLAGS="-g -O2" &&
		make -j"$(nproc)" libshpool.la
} >build.log 2>&1 || {
	tail -n 40 build.log
	echo "45-abi: FAILED: build"
	exit 1
}

# The guard must notice a change it cannot see by names alone: a public
# struct that grows (shpool_stats_t, by one reserved word). If this edit no
# longer applies, the header changed: pick another public type here.
echo "-- self-test: a changed public struct must fail the check"
cp include/shpool.h shpool.h.orig
sed -i 's/^\(\tuint64_t reserved\)\[4\];/\1[5];/' include/shpool.h
if cmp -s include/shpool.h shpool.h.orig; then
	echo "45-abi: FAILED: self-test edit does not apply to include/shpool.h any more"
	exit 1
fi
make -s libshpool.la >>build.log 2>&1
if make -s abi-check >selftest.log 2>&1; then
	cat selftest.log
	echo "45-abi: FAILED: the guard accepted a changed public struct"
	exit 1
fi
# ... and for the right reason: abidiff's report names the struct.
if ! grep -E "struct shpool_stats' changed" selftest.log; then
	cat selftest.log
	echo "45-abi: FAILED: the self-test failed for another reason (above)"
	exit 1
fi
cp shpool.h.orig include/shpool.h
make -s libshpool.la >>build.log 2>&1

echo "-- abi-check against abi/libshpool.abi"
make -s abi-check || {
	echo "45-abi: FAILED: the ABI changed (report above); see abi/README.md"
	exit 1
}
echo "45-abi: OK: ABI compatible with the baseline"
