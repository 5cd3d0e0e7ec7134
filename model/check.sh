#!/bin/sh
# Model-check libshpool's allocation / wake-up protocol (model/shpool.pml)
# with Spin: the fixed protocol must satisfy every property in every
# scenario, and each OLD_* variant (one fix reverted) must violate the
# property its defect breaks. One line per run; exit 1 on any surprise.
#
# A run passes only if pan finished the whole search: exit status 0, a full
# (not bitstate / hash-compact) search of the property the run is about,
# "errors: 0" and none of the words pan prints when it stops short (a
# memory or depth bound, a time limit, a full hash table or queue). A run
# that must fail passes only with the expected kind of counterexample and
# its trail file. Before any run, model/check-refs.pl checks that every
# function and crash point the model cites exists in src/.
#
# usage: check.sh [-k] [MODEL_DIR [BUILD_DIR]]
#   MODEL_DIR  where shpool.pml is (default: this script's directory);
#              its ../src is the code the model's citations are checked in
#   BUILD_DIR  where pan is built and run (default: ./model-build)
#   -k         keep going after a failing run (still exits 1)
# Environment:
#   SPIN (spin), CC (gcc), PERL (perl)
#   PAN_CFLAGS    extra pan.c compile flags (after the defaults)
#   PAN_RUNFLAGS  extra pan run-time flags (after the defaults, so e.g.
#                 -m50 or -w16 replace -m300000 and -w26)
#   MODEL_FULL=1  lets every client die in every scenario (~12 minutes;
#                 its largest run takes 3.7 GB: see model/README)
#   MODEL_MEMLIM  pan's -DMEMLIM in MB (default 3500, with MODEL_FULL 8000)
#   MODEL_TIMEOUT seconds per pan run (default 300, with MODEL_FULL 1200)
#   MODEL_RUNS    only these runs (ids as printed in brackets, e.g.
#                 "fixed-safety-RECOV OLD_BATCH_WAKE-progress-BATCH");
#                 an id that names no run is an error
set -u

keep=0
[ "${1:-}" = "-k" ] && { keep=1; shift; }
model_dir=${1:-$(cd "$(dirname "$0")" && pwd)}
build_dir=${2:-model-build}
SPIN=${SPIN:-spin}
CC=${CC:-gcc}
PERL=${PERL:-perl}
PAN_CFLAGS=${PAN_CFLAGS:-}
PAN_RUNFLAGS=${PAN_RUNFLAGS:-}
MODEL_FULL=${MODEL_FULL:-0}
if [ "$MODEL_FULL" = 1 ]; then MODEL_MEMLIM=${MODEL_MEMLIM:-8000}; else MODEL_MEMLIM=${MODEL_MEMLIM:-3500}; fi
if [ "$MODEL_FULL" = 1 ]; then MODEL_TIMEOUT=${MODEL_TIMEOUT:-1200}; else MODEL_TIMEOUT=${MODEL_TIMEOUT:-300}; fi
MODEL_RUNS=${MODEL_RUNS:-}

case $model_dir in /*) ;; *) model_dir=$(pwd)/$model_dir ;; esac
failed=0
total_start=$(date +%s)

finish() {
	if [ -n "$MODEL_RUNS" ]; then
		for id in $MODEL_RUNS; do
			case " $seen_runs " in
			*" $id "*) ;;
			*) echo "model: MODEL_RUNS names no run: $id"; failed=1 ;;
			esac
		done
	fi
	if [ $failed -ne 0 ]; then
		echo "model: FAILED ($(($(date +%s) - total_start)) s)"
		exit 1
	fi
	echo "model: all runs as expected ($(($(date +%s) - total_start)) s)"
	exit 0
}
seen_runs=

# The model's citations of the C code: function and crash-point names, not
# line numbers; each must exist in src/, so a rename fails here.
"$PERL" "$model_dir/check-refs.pl" "$model_dir" "$model_dir/../src" || {
	echo "model: citations of src/ in model/ do not resolve (see above)"
	failed=1
	[ $keep -eq 1 ] || finish
}

command -v "$SPIN" >/dev/null 2>&1 || { echo "model: $SPIN not found (apt-get install spin)" >&2; exit 1; }
mkdir -p "$build_dir" || exit 1
cd "$build_dir" || exit 1
# Memory: COLLAPSE compression keeps the largest default run near 1.1 GB
# (MODEL_FULL's: 3.7 GB); MEMLIM makes pan stop (and this script fail)
# rather than swap.
base_cflags="-w -DMEMLIM=$MODEL_MEMLIM -DCOLLAPSE -DVECTORSZ=512"

# What pan prints when a search stopped short or was approximate (pan.c of
# Spin 6.5: wrapup(), Malloc(), the depth check, the BFS and multi-core
# queues, the -Q time limit). "Search not completed" is also what a search
# that stopped at its first counterexample prints; only a run that must
# pass treats it as a truncation.
truncated='Warning: Search not completed|Warning: Search incomplete|reached -DMEMLIM bound|out of memory|out of non-shared memory|max search depth too small|depth limit reached|exceeds memory limit|Time limit of .* exceeded|hash table (is )?full|states lost|target q is full|stack incomplete|too small, recompile'

# run NAME SCENARIO VARIANT PROPERTY EXPECT [extra spin -D flags]
#   PROPERTY: safety | liveness | progress
#   EXPECT:   pass | fail
run() {
	name=$1 scen=$2 variant=$3 prop=$4 expect=$5
	shift 5
	dir=$name-$prop-$scen
	if [ -n "$MODEL_RUNS" ]; then
		case " $MODEL_RUNS " in *" $dir "*) ;; *) return ;; esac
	fi
	seen_runs="$seen_runs $dir"
	label=$dir
	rm -rf "$dir" && mkdir "$dir" || exit 1
	# pan.c takes 8 s to compile with -O2, 1 s with -O0: only the runs of
	# millions of states (fixed FULL and WOKEN, MODEL_FULL's MIX and PAIR)
	# gain by -O2.
	case $variant:$scen:$MODEL_FULL in
	fixed:FULL:* | fixed:WOKEN:* | fixed:PAIR:1 | fixed:MIX:1) opt=-O2 ;;
	*) opt=-O0 ;;
	esac
	defs="-DSCEN_$scen $*"
	[ "$variant" != fixed ] && defs="$defs -D$variant"
	# pan's header lines that say the search covered this property
	case $prop in
	safety)
		cflags="-DSAFETY"; panflags="-m300000 -w26"
		covers='assertion violations	\+$|invalid end states	\+$' ncovers=2 ;;
	liveness)
		cflags=""; panflags="-a -m300000 -w26"; defs="$defs -DLIVE"
		covers='never claim +	\+ \(live\)|acceptance +cycles +	\+' ncovers=2 ;;
	progress)
		cflags="-DNP"; panflags="-l -m300000 -w26"
		covers='never claim +	\+ \(:np_:\)|non-progress cycles +	\+' ncovers=2 ;;
	esac
	(
		cd "$dir" &&
			$SPIN -a $defs "$model_dir/shpool.pml" >spin.log 2>&1 &&
			$CC $opt $base_cflags $cflags $PAN_CFLAGS -o pan pan.c >cc.log 2>&1
	) || {
		echo "model: $label: FAILED to build (see $build_dir/$dir)"
		cat "$dir/spin.log" "$dir/cc.log" 2>/dev/null | head -20
		failed=1
		[ $keep -eq 1 ] || finish
		return
	}
	start=$(date +%s)
	(cd "$dir" && timeout "$MODEL_TIMEOUT" ./pan $panflags $PAN_RUNFLAGS >pan.out 2>&1)
	rc=$?
	out=$dir/pan.out
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) .*/\1/p' "$out" | tail -n 1)
	[ -n "$secs" ] || secs=$(($(date +%s) - start))
	errors=$(sed -n 's/.*errors: \([0-9]*\)$/\1/p' "$out" | tail -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | tail -n 1)
	mem=$(sed -n 's/^ *\([0-9.]*\)	total actual memory usage.*/\1/p' "$out" | tail -n 1)
	# pan's error lines: "pan:1: acceptance cycle (at depth 287)"
	what=$(sed -n 's/^pan:[0-9]*: \(.*\) (at depth [0-9]*)$/\1/p' "$out" | head -n 1)
	short=$(grep -oE "$truncated" "$out" | sort -u | tr '\n' ';' | sed 's/;$//; s/;/; /g')
	case $prop in
	safety) want="assertion violated|invalid end state" ;;
	liveness) want="acceptance cycle" ;;
	progress) want="non-progress cycle" ;;
	esac
	replay="cd $build_dir/$dir && $SPIN -t -p -g -k shpool.pml.trail $defs $model_dir/shpool.pml"
	stats="$states states, ${mem:-?} MB, $secs s"
	if [ $rc -eq 124 ]; then
		verdict="INCOMPLETE: timed out after $MODEL_TIMEOUT s"
	elif [ $rc -ne 0 ]; then
		verdict="INCOMPLETE: pan exit status $rc${short:+; $short}"
	elif [ -z "$errors" ] || [ -z "$states" ]; then
		verdict="INCOMPLETE: no result${short:+ ($short)}"
	elif [ "$expect" = pass ]; then
		if [ "$errors" -ne 0 ]; then
			verdict="$errors error(s): $what  <-- FAILED (replay: $replay)"
		elif [ -n "$short" ]; then
			verdict="INCOMPLETE: $short ($stats)"
		elif ! grep -q '^Full statespace search for:' "$out"; then
			verdict="INCOMPLETE: not a full state-space search ($(grep -m1 'search for:' "$out"))"
		elif [ "$(grep -cE "$covers" "$out")" -ne "$ncovers" ]; then
			verdict="INCOMPLETE: the search did not cover the $prop property"
		else
			verdict=ok
			echo "model: $label: 0 errors ($stats)"
		fi
	else
		# A counterexample is real however the search ended; pan must
		# have written its trail.
		if [ "$errors" -gt 0 ] && echo "$what" | grep -qE "$want" &&
			[ -n "$(ls "$dir"/*.trail 2>/dev/null)" ]; then
			verdict=ok
			echo "model: $label: $errors error(s) (expected: $what; $stats; replay: $replay)"
		else
			verdict="$errors errors${what:+ ($what)}${short:+ ($short)}  <-- FAILED: this variant must fail with a $prop violation"
		fi
	fi
	if [ "$verdict" != ok ]; then
		echo "model: $label: $verdict (see $build_dir/$out)"
		failed=1
		[ $keep -eq 1 ] || finish
	fi
}

# Which clients may be killed, per scenario (bit p = client p). The
# default keeps `make check-model' near 2 minutes on two cores; each
# choice still kills the clients whose death the scenario is about (see
# model/README); MODEL_FULL=1 lets any client die everywhere.
if [ "$MODEL_FULL" = 1 ]; then
	c_full=7 c_recov=3 c_woken=7 c_batch=3 c_mix=7 c_pair=3
else
	c_full=7 c_recov=3 c_woken=2 c_batch=3 c_mix=0 c_pair=0
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

# STALE starts with its one dead process (no CRASH: nobody else dies).
run fixed STALE fixed safety pass
run fixed STALE fixed liveness pass
run fixed STALE fixed progress pass
# Two batches that each fit, not both: no slot lost, no lost wake-up (but
# see KNOWN_PAIR below).
run fixed PAIR fixed safety pass -DCRASH=$c_pair
run fixed PAIR fixed liveness pass -DCRASH=$c_pair

# The old protocol, one fix reverted at a time: each defect is found.
run OLD_MARK_FULL FULL OLD_MARK_FULL liveness fail -DCRASH=0
run OLD_RECOVERY_WAKE RECOV OLD_RECOVERY_WAKE liveness fail -DCRASH=$c_recov
run OLD_RECOVERY_WAKE WOKEN OLD_RECOVERY_WAKE liveness fail -DCRASH=$c_woken
run OLD_BATCH_WAKE BATCH OLD_BATCH_WAKE progress fail -DCRASH=0
# Not an old protocol: waiters counting clear bits only (as this model did
# before issue 28) would roll each other back on a dead claimant's slot
# until a recovery.
run WAIT_COUNTS_BITS STALE WAIT_COUNTS_BITS progress fail

# A limit of the fixed protocol, kept in view (model/README, "Findings"):
# two batches that each fit, but not together, can roll each other back
# for as long as the schedule interleaves their claims so.
run KNOWN_PAIR PAIR fixed progress fail -DCRASH=0

finish
