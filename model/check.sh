#!/bin/sh
# Model-check libshpool's allocation / wake-up protocol (model/shpool.pml)
# with Spin: the fixed protocol must satisfy every property in every
# scenario, and each OLD_* variant (one fix reverted) must violate the
# property its defect breaks. One line per run; exit 1 on any surprise.
#
# usage: check.sh [-k] [MODEL_DIR [BUILD_DIR]]
#   MODEL_DIR  where shpool.pml is (default: this script's directory)
#   BUILD_DIR  where pan is built and run (default: ./model-build)
#   -k         keep going after a failing run (still exits 1)
# Environment: SPIN (spin), CC (gcc), PAN_CFLAGS (extra pan.c flags),
#   MODEL_FULL=1 lets every client die in every scenario (slower, see
#   model/README), MODEL_TIMEOUT (seconds per pan run, default 300).
set -u

keep=0
[ "${1:-}" = "-k" ] && { keep=1; shift; }
model_dir=${1:-$(cd "$(dirname "$0")" && pwd)}
build_dir=${2:-model-build}
SPIN=${SPIN:-spin}
CC=${CC:-gcc}
PAN_CFLAGS=${PAN_CFLAGS:-}
MODEL_TIMEOUT=${MODEL_TIMEOUT:-300}
MODEL_FULL=${MODEL_FULL:-0}

case $model_dir in /*) ;; *) model_dir=$(pwd)/$model_dir ;; esac
command -v "$SPIN" >/dev/null 2>&1 || { echo "model: $SPIN not found (apt-get install spin)" >&2; exit 1; }
mkdir -p "$build_dir" || exit 1
cd "$build_dir" || exit 1
# Memory: COLLAPSE compression keeps the largest run near 1 GB; MEMLIM
# makes pan stop (and this script fail) rather than swap past 3.5 GB.
base_cflags="-O2 -w -DMEMLIM=3500 -DCOLLAPSE -DVECTORSZ=512"

failed=0
total_start=$(date +%s)

# run NAME SCENARIO VARIANT PROPERTY EXPECT [extra spin -D flags]
#   PROPERTY: safety | liveness | progress
#   EXPECT:   pass | fail
run() {
	name=$1 scen=$2 variant=$3 prop=$4 expect=$5
	shift 5
	dir=$name-$prop-$scen
	rm -rf "$dir" && mkdir "$dir" || exit 1
	defs="-DSCEN_$scen $*"
	[ "$variant" != fixed ] && defs="$defs -D$variant"
	case $prop in
	safety)   cflags="-DSAFETY"; panflags="-m300000 -w26" ;;
	liveness) cflags=""; panflags="-a -m300000 -w26"; defs="$defs -DLIVE" ;;
	progress) cflags="-DNP"; panflags="-l -m300000 -w26" ;;
	esac
	(
		cd "$dir" &&
			$SPIN -a $defs "$model_dir/shpool.pml" >spin.log 2>&1 &&
			$CC $base_cflags $cflags $PAN_CFLAGS -o pan pan.c >cc.log 2>&1
	) || {
		echo "model: $name $prop [$scen]: FAILED to build (see $build_dir/$dir)"
		cat "$dir/spin.log" "$dir/cc.log" 2>/dev/null | head -20
		failed=1
		return
	}
	start=$(date +%s)
	(cd "$dir" && timeout "$MODEL_TIMEOUT" ./pan $panflags >pan.out 2>&1)
	rc=$?
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) .*/\1/p' "$dir/pan.out" | tail -n 1)
	[ -n "$secs" ] || secs=$(($(date +%s) - start))
	errors=$(sed -n 's/.*errors: \([0-9]*\)$/\1/p' "$dir/pan.out" | tail -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/pan.out" | tail -n 1)
	what=$(grep -m1 -oE 'assertion violated.*|acceptance cycle|non-progress cycle|invalid end state|max search depth too small|out of memory' "$dir/pan.out")
	if [ $rc -eq 124 ] || [ -z "$errors" ] || grep -q 'out of memory\|max search depth too small' "$dir/pan.out"; then
		echo "model: $name $prop [$scen]: INCOMPLETE (pan rc $rc; ${what:-no result}; see $build_dir/$dir/pan.out)"
		failed=1
		return
	fi
	# What a counterexample of this property looks like.
	case $prop in
	safety) want="assertion violated|invalid end state" ;;
	liveness) want="acceptance cycle" ;;
	progress) want="non-progress cycle" ;;
	esac
	if [ "$expect" = pass ]; then
		if [ "$errors" -eq 0 ]; then
			echo "model: $name $prop [$scen]: 0 errors ($states states, $secs s)"
		else
			echo "model: $name $prop [$scen]: $errors error(s): $what  <-- FAILED ($build_dir/$dir; replay: cd $build_dir/$dir && $SPIN -t -p -g $defs $model_dir/shpool.pml)"
			failed=1
		fi
	else
		if [ "$errors" -gt 0 ] && echo "$what" | grep -qE "$want"; then
			echo "model: $name $prop [$scen]: $errors error(s) (expected: $what; $states states, $secs s)"
		else
			echo "model: $name $prop [$scen]: ${errors} errors${what:+ ($what)}  <-- FAILED: this variant must fail with a $prop violation"
			failed=1
		fi
	fi
	[ $failed -eq 0 ] || [ $keep -eq 1 ] || finish
}

finish() {
	if [ $failed -ne 0 ]; then
		echo "model: FAILED ($(($(date +%s) - total_start)) s)"
		exit 1
	fi
	echo "model: all runs as expected ($(($(date +%s) - total_start)) s)"
	exit 0
}

# Which clients may be killed, per scenario (bit p = client p). The
# default keeps `make check-model' near 5 minutes on two cores; each
# choice still kills the clients whose death the scenario is about (see
# model/README); MODEL_FULL=1 lets any client die everywhere.
if [ "$MODEL_FULL" = 1 ]; then
	c_full=7 c_recov=3 c_woken=7 c_batch=3 c_mix=7
else
	c_full=7 c_recov=3 c_woken=2 c_batch=3 c_mix=0
fi

# The fixed protocol: every property holds.
run fixed FULL fixed safety pass -DCRASH=$c_full
run fixed FULL fixed liveness pass -DCRASH=$c_full
run fixed RECOV fixed safety pass -DCRASH=$c_recov
run fixed RECOV fixed liveness pass -DCRASH=$c_recov
run fixed WOKEN fixed safety pass -DCRASH=$c_woken
run fixed WOKEN fixed liveness pass -DCRASH=$c_woken
run fixed BATCH fixed safety pass -DCRASH=$c_batch
run fixed BATCH fixed liveness pass -DCRASH=$c_batch
run fixed BATCH fixed progress pass -DCRASH=$c_batch
run fixed MIX fixed safety pass -DCRASH=$c_mix
run fixed MIX fixed liveness pass -DCRASH=$c_mix

# The old protocol, one fix reverted at a time: each defect is found.
run OLD_MARK_FULL FULL OLD_MARK_FULL liveness fail -DCRASH=0
run OLD_RECOVERY_WAKE RECOV OLD_RECOVERY_WAKE liveness fail -DCRASH=$c_recov
run OLD_RECOVERY_WAKE WOKEN OLD_RECOVERY_WAKE liveness fail -DCRASH=$c_woken
run OLD_BATCH_WAKE BATCH OLD_BATCH_WAKE progress fail -DCRASH=0

finish
