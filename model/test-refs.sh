#!/bin/sh
# SPDX-License-Identifier: MIT
# A test of model/check-refs.pl: the model's citations of the C code resolve
# in this tree, and a citation that does not (a function renamed in src/, a
# crash point renamed, a name that src/ only mentions or calls, a line
# number) fails. Needs perl only; a fraction of a second.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$here/../src
PERL=${PERL:-perl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0

# case NAME EXIT PATTERN MODEL_DIR SRC_DIR
case_() {
	name=$1 want=$2 pattern=$3 m=$4 s=$5
	n=$((n + 1))
	out=$("$PERL" "$here/check-refs.pl" "$m" "$s" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && printf '%s\n' "$out" | grep -qE -- "$pattern"; then
		echo "ok $n - $name: $(printf '%s\n' "$out" | grep -E -m1 -- "$pattern")"
	else
		echo "not ok $n - $name: exit $rc (want $want and a line matching /$pattern/):"
		printf '%s\n' "$out" | sed 's/^/    /'
		fails=$((fails + 1))
	fi
}

# A copy of model/ whose shpool.pml has one more comment.
with_comment() {
	d=$tmp/model-$1
	mkdir -p "$d" && cp "$here/shpool.pml" "$here/README" "$d/" &&
		printf '/* %s */\n' "$2" >>"$d/shpool.pml"
	echo "$d"
}
# A copy of src/ with one sed edit.
src_with() {
	d=$tmp/src-$1
	mkdir -p "$d" && cp "$src"/*.c "$src"/*.h "$d/" && sed -i "$2" "$d"/*.c "$d"/*.h
	echo "$d"
}

case_ tree 0 '^check-refs: [0-9]+ functions and [0-9]+ crash points' "$here" "$src"
# shpool_summary_mark_full() is cited; rename it in src/ (definition and calls).
case_ renamed-function 1 'shpool_summary_mark_full\(\) is not a function defined' \
	"$here" "$(src_with fn 's/\bshpool_summary_mark_full(/shpool_summary_set_full(/g')"
case_ renamed-crash-point 1 'crash point "wait.counted" is not a SHPOOL_CRASH_POINT' \
	"$here" "$(src_with cp 's/"wait\.counted"/"wait.registered"/')"
# Only in a comment of src/: futex_wait() (the C function is futex_wait_until()).
case_ comment-only 1 'futex_wait\(\) is not a function defined' \
	"$(with_comment comment 'futex_wait() sleeps')" "$src"
# Called in src/, defined elsewhere (libc).
case_ call-only 1 'syscall\(\) is not a function defined' \
	"$(with_comment call 'syscall(SYS_futex)')" "$src"
case_ unknown-crash-point 1 'crash point "alloc.nowhere" is not' \
	"$(with_comment point 'crash point "alloc.nowhere"')" "$src"
case_ line-number 1 'line number cited: alloc\.c:520' \
	"$(with_comment line 'the bump, alloc.c:520')" "$src"
case_ missing-file 1 'src/bitmap_gone\.c does not exist' \
	"$(with_comment file 'see src/bitmap_gone.c')" "$src"

if [ $fails -ne 0 ]; then
	echo "test-refs: $fails of $n cases FAILED"
	exit 1
fi
echo "test-refs: all $n cases as expected"
