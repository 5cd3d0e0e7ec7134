#!/bin/sh
# SPDX-License-Identifier: MIT
# The flakiness guard (make check-repeat): run each test program N times on
# an idle machine, then N times beside a CPU hog (one busy loop per core),
# and fail on any failure, printing the failed run's output. A test that
# depends on timing fails here long before it fails a user's `make check`.
#
#   tests/repeat.sh N PROGRAM...
set -u

n=$1
shift
log=$(mktemp)
hogs=
cleanup() {
	[ -n "$hogs" ] && kill $hogs 2>/dev/null
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failed=0
round() { # label: run every program n times
	for prog in "$@"; do
		pass=0 start=$(date +%s)
		for i in $(seq "$n"); do
			if "$prog" >"$log" 2>&1; then
				pass=$((pass + 1))
			else
				failed=$((failed + 1))
				echo "repeat: $prog failed ($label, run $i of $n):"
				sed 's/^/    /' "$log"
			fi
		done
		echo "repeat: $prog $label: $pass of $n passed in $(($(date +%s) - start)) s"
	done
}

label=idle
round "$@"
for i in $(seq "$(nproc)"); do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
done
label="beside $(nproc) busy loops"
round "$@"
echo "repeat: $failed failed run(s)"
[ "$failed" -eq 0 ]
