#!/usr/bin/env bash
# Issue #13: the flakiness guard (make check-repeat; tests/repeat.sh): the
# concurrency suites (check_alloc, check_recovery, check_notify,
# check_hostile, check_wakeup) 10 times on an otherwise idle machine, then
# 10 times beside a busy loop per core; any failed run fails CI and prints
# that run's output. Runs on the in-tree build that `make check` made.
# Cost: about 20 s a round idle and 35 s beside the busy loops on 2 cores,
# so 8-10 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
make -s check-repeat REPEAT=10
echo "== repeat: no failure ($((SECONDS - start)) s)"
