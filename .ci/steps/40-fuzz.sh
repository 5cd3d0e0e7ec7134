#!/usr/bin/env bash
# Issue #7: libFuzzer (clang, with ASan + UBSan) over the two fuzz targets,
# about a minute each from their seed corpora (doc/hardening.md says how to
# fuzz longer). A crash, leak, timeout or broken promise fails the step and
# leaves the input that caused it in the log.
# Cost: a clang build (about 30 s of CPU) and 60 s of fuzzing on each of
# the 2 cores; measured 2.8 min wall on a heavily loaded 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
seconds=${SHPOOL_FUZZ_SECONDS:-60}

# -fsanitize=fuzzer needs libFuzzer from libclang-rt-dev on Debian 12.
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' |
	clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
	{ apt-get update -q || true; } && apt-get install -y -q clang libclang-rt-dev
fi

work=$(mktemp -d)
# Removed only on success: a crashing input stays in $work.
make -s distdir distdir="$work/src"
mkdir "$work/build"
(cd "$work/build" && "$work/src/configure" -q CC=clang --enable-werror --enable-fuzzing &&
	make -s -j2 fuzz)

# Both targets at once, one per core.
pids=()
for target in attach ops; do
	corpus=$work/corpus-$target
	mkdir "$corpus"
	cp "$work/src/tests/fuzz/$target"/* "$corpus/"
	(cd "$work" && exec "$work/build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" \
		>"$work/fuzz_$target.log" 2>&1) &
	pids+=($!)
done
failed=0
for i in 0 1; do
	target=$([ "$i" = 0 ] && echo attach || echo ops)
	status=0
	wait "${pids[$i]}" || status=$?
	echo "== fuzz_$target: $seconds s, exit $status"
	# Progress lines left out; findings, stats and the end kept.
	grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' "$work/fuzz_$target.log" || true
	echo "fuzz_$target: corpus grew from $(find "$work/src/tests/fuzz/$target" -type f | wc -l)" \
		"to $(find "$work/corpus-$target" -type f | wc -l) inputs"
	[ "$status" -eq 0 ] || failed=1
done
if [ "$failed" -ne 0 ]; then
	echo "== fuzzing: FINDINGS; inputs and logs kept in $work"
	exit 1
fi

rm -rf "$work"
echo "== fuzzing: no findings ($((SECONDS - start)) s)"
