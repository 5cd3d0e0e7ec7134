#!/usr/bin/env bash
# Issue #13: the flakiness guard (make check-repeat; tests/repeat.sh): the
# concurrency suites (check_identity, check_wake, check_stats, check_notify,
# check_alloc, check_recovery, check_hostile) 5 times on an otherwise idle
# machine, then 5 times beside a busy loop per core; any failed run fails
# CI and prints that run's output. Runs on the in-tree build that `make
# check` made. Cost: REPEAT=2 took 6.4 min on 2 cores shared with three
# other builds (load average ~10); on an idle machine a round is about 30 s
# idle and 50 s beside the busy loops, so about 7 minutes for 5.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
make -s check-repeat REPEAT=5
echo "== repeat: no failure ($((SECONDS - start)) s)"
