#!/bin/sh
# ABI guard: compare the ABI of a built libshpool.so with the baseline
# abi/libshpool.abi (libabigail's abidw/abidiff, package abigail-tools).
#
#   abi/abi-check.sh [LIBRARY]           check (make abi-check)
#   abi/abi-check.sh --update [LIBRARY]  rewrite the baseline (make abi-update)
#
# LIBRARY defaults to .libs/libshpool.so (the build in the current
# directory) and must carry DWARF (-g, configure's default CFLAGS). Only the
# types of the public headers count: struct shpool is opaque, its layout may
# change freely. Added interfaces pass; removed ones and any change to an
# existing one (parameter or return types, public structs, enum values)
# fail. See abi/README.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
baseline=$here/libshpool.abi

die() {
	echo "abi-check: $*" >&2
	exit 1
}

update=no
case ${1:-} in
--update) update=yes; shift ;;
-h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
-*) die "unknown option $1 (try --help)" ;;
esac
[ $# -le 1 ] || die "one library at most (try --help)"
lib=${1:-.libs/libshpool.so}

[ -f "$lib" ] || die "$lib: no such library; build first (make), or name it"
command -v abidw >/dev/null 2>&1 || die "abidw not found: apt-get install abigail-tools"
# Without DWARF abidw sees only symbol names: type changes would pass unseen.
readelf -S "$lib" | grep -q '\.debug_info' ||
	die "$lib has no debug info: build it with -g (CFLAGS=\"-g -O2\")"

current=$(mktemp)
trap 'rm -f "$current"' EXIT
# Stable output: no paths (the build directory differs run to run), no
# source locations (moving a declaration is not an ABI change), hash type
# ids (a new type does not renumber the others, so baseline diffs stay
# small), no libc functions the library calls (not its interface).
abidw --no-corpus-path --no-show-locs --type-id-style hash --drop-undefined-syms \
	--headers-dir "$top/include" --drop-private-types "$lib" |
	sed "s/ comp-dir-path='[^']*'//" >"$current"
# If the headers did not match the library's DWARF (built from another
# tree), every type would be dropped as private and nothing checked.
grep -q "<class-decl name='shpool_stats'" "$current" ||
	die "no public types found in $lib: was it built from $top?"

if [ "$update" = yes ]; then
	if cmp -s "$current" "$baseline"; then
		echo "abi-check: baseline already up to date"
	else
		cp "$current" "$baseline"
		echo "abi-check: wrote $baseline: review it (git diff) and commit it"
	fi
	exit 0
fi

[ -f "$baseline" ] || die "no baseline $baseline: create it with --update"

# --no-added-syms: new functions and variables are not changes to report,
# so they alone leave the exit status 0. Any other bit fails: 1 (error),
# 4 (ABI change: for C, a changed type in an existing interface), 8
# (incompatible: a removed interface).
status=0
report=$(abidiff --no-added-syms "$baseline" "$current" 2>&1) || status=$?
if [ "$status" -ne 0 ]; then
	printf '%s\n' "$report"
	if [ $((status & 1)) -ne 0 ]; then
		die "abidiff failed (exit status $status)"
	elif [ $((status & 8)) -ne 0 ]; then
		what="incompatible ABI change (an interface was removed)"
	else
		what="ABI change in existing interfaces (report above)"
	fi
	echo "abi-check: FAILED: $what" >&2
	echo "abi-check: if intended, it needs a new soname (configure.ac -version-info)" \
		"and a new baseline (make abi-update); see abi/README.md" >&2
	exit 1
fi

# The additions, for information: the baseline catches up at release time.
if ! abidiff "$baseline" "$current" >/dev/null 2>&1; then
	echo "abi-check: new interfaces since the baseline (allowed):"
	abidiff "$baseline" "$current" | grep -E '^  \[A\]' || true
	echo "abi-check: record them with make abi-update when they are released"
fi
echo "abi-check: OK: ABI compatible with $(basename "$baseline")"
