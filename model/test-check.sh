#!/bin/sh
# SPDX-License-Identifier: MIT
# A test of model/check.sh itself: it must pass a search that pan finished,
# and fail every one that pan did not finish or that it cannot trust, even
# when pan prints "errors: 0" (issue 28: a search stopped at its -DMEMLIM
# bound used to pass). Each case runs check.sh on one small run (RECOV,
# ~44,000 states) with pan.c built -O0; about a second each.
# Skipped (77) without spin; `make check-model' and CI step 35 run it with.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# The checker under test (another copy of it, to see this test fail).
check=${MODEL_CHECK_SH:-$here/check.sh}
SPIN=${SPIN:-spin}
CC=${CC:-gcc}
if ! command -v "$SPIN" >/dev/null 2>&1; then
	echo "SKIP: no $SPIN (apt-get install spin)"
	exit 77
fi
command -v "$CC" >/dev/null 2>&1 || { echo "SKIP: no $CC"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0

# case NAME EXIT PATTERN [VAR=value ...]: check.sh, with these variables
# set, must exit EXIT and print a line matching PATTERN (an ERE).
case_() {
	name=$1 want=$2 pattern=$3
	shift 3
	n=$((n + 1))
	out=$(env SPIN="$SPIN" CC="$CC" "$@" sh "$check" "$here" "$tmp/$name" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && printf '%s\n' "$out" | grep -qE -- "$pattern"; then
		echo "ok $n - $name: exit $rc, $(printf '%s\n' "$out" | grep -E -m1 -- "$pattern")"
	else
		echo "not ok $n - $name: exit $rc (want $want and a line matching /$pattern/):"
		printf '%s\n' "$out" | sed 's/^/    /'
		fails=$((fails + 1))
	fi
}

safe=fixed-safety-RECOV
bad=OLD_RECOVERY_WAKE-liveness-RECOV
small=-w18      # a 2 MB hash table instead of 512 MB: these runs are tiny

# What must pass: a finished search, and a counterexample that must be found.
case_ complete 0 "^model: $safe: 0 errors \([0-9]+ states" \
	MODEL_RUNS=$safe PAN_CFLAGS=-O0 PAN_RUNFLAGS=$small
case_ counterexample 0 "^model: $bad: 1 error\(s\) \(expected: acceptance cycle" \
	MODEL_RUNS=$bad PAN_CFLAGS=-O0 PAN_RUNFLAGS=$small

# What must fail although pan says "errors: 0".
# The memory bound (issue 28): 3 MB holds ~40,000 of the 43,816 states.
case_ memlim 1 "^model: $safe: INCOMPLETE: .*reached -DMEMLIM bound" \
	MODEL_RUNS=$safe PAN_CFLAGS=-O0 MODEL_MEMLIM=3 "PAN_RUNFLAGS=-w16 -m10000"
# The same bound set the way the issue's report did, through PAN_CFLAGS.
case_ memlim-cflags 1 "^model: $safe: INCOMPLETE: .*Search not completed" \
	MODEL_RUNS=$safe "PAN_CFLAGS=-O0 -DMEMLIM=3" "PAN_RUNFLAGS=-w16 -m10000"
# The depth bound: the search reaches depth 227.
case_ depth 1 "^model: $safe: INCOMPLETE: .*max search depth too small" \
	MODEL_RUNS=$safe PAN_CFLAGS=-O0 "PAN_RUNFLAGS=$small -m50"
# An approximate search (bitstate, which excludes COLLAPSE), however many
# states it happens to see.
case_ bitstate 1 "^model: $safe: INCOMPLETE: not a full state-space search" \
	MODEL_RUNS=$safe "PAN_CFLAGS=-O0 -UCOLLAPSE -DBITSTATE" PAN_RUNFLAGS=$small
# pan's exit status: a pan that finishes its search, prints it all, then
# exits 3 (a CC that wraps the real pan in a script that does so).
cat >"$tmp/cc-exit3" <<EOF
#!/bin/sh
"$CC" "\$@" || exit
mv pan pan.real && printf '#!/bin/sh\n./pan.real "\$@"\nexit 3\n' >pan && chmod +x pan
EOF
chmod +x "$tmp/cc-exit3"
case_ exit-status 1 "^model: $safe: INCOMPLETE: pan exit status 3" \
	MODEL_RUNS=$safe PAN_CFLAGS=-O0 PAN_RUNFLAGS=$small CC="$tmp/cc-exit3"
# A run that must fail, cut short before its counterexample.
case_ counterexample-depth 1 "^model: $bad: 0 errors .*<-- FAILED: this variant must fail" \
	MODEL_RUNS=$bad PAN_CFLAGS=-O0 "PAN_RUNFLAGS=$small -m20"
# A run that does not exist is not a pass.
case_ unknown-run 1 "^model: MODEL_RUNS names no run: no-such-run" \
	"MODEL_RUNS=$safe no-such-run" PAN_CFLAGS=-O0 PAN_RUNFLAGS=$small

if [ $fails -ne 0 ]; then
	echo "test-check: $fails of $n cases FAILED"
	exit 1
fi
echo "test-check: all $n cases as expected"
