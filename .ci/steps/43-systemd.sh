#!/usr/bin/env bash
# The systemd units of examples/systemd (doc/operations.md) load and verify
# clean with systemd-analyze verify (unit syntax, specifiers, the timers'
# services, executables that exist), each template through an instance as
# an operator names it; their /usr/bin/shpool is pointed at the tool just
# built. Then the commands the units run are run as written (systemd's
# specifiers and $$ replaced by hand) on pools in a scratch directory:
# create, an idempotent restart, the metrics file written and renamed with
# one pool unreadable, recover, rm at stop.
# Cost: a few seconds (installs systemd only where it is missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export DEBIAN_FRONTEND=noninteractive

if ! command -v systemd-analyze >/dev/null; then
	apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
	apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
make -s tools/shpool tests/mkpool >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
units=$work/units
mkdir "$units"
for f in examples/systemd/*; do
	sed "s|/usr/bin/shpool|$top/tools/shpool|g" "$f" >"$units/${f##*/}"
done

echo "-- systemd-analyze verify"
(cd "$units" && systemd-analyze verify --man=no shpool-pool@jobs.service \
	shpool-recover@dev-shm-jobs.service shpool-recover@dev-shm-jobs.timer \
	shpool-metrics.service shpool-metrics.timer) 2>&1 | tee "$work/verify.log"
if [ -s "$work/verify.log" ]; then
	echo "43-systemd: FAILED: systemd-analyze verify has complaints (above)"
	exit 1
fi

# The value of KEY= in unit file F (the first one).
unit_value() { sed -n "s/^$2=//p" "$units/$1" | head -n 1; }

echo "-- the units' commands, as written"
shm=$work/shm
mkdir -p "$shm/app"
# shpool-pool@jobs.service, with its default SHPOOL_ARGS; /dev/shm -> $shm.
args=$(unit_value shpool-pool@.service Environment | sed 's/^SHPOOL_ARGS="\(.*\)"$/\1/')
start=$(unit_value shpool-pool@.service ExecStart | sed "s|\$SHPOOL_ARGS|$args|; s|/dev/shm/%i|$shm/jobs|")
stop=$(unit_value shpool-pool@.service ExecStop | sed "s|^-||; s|/dev/shm/%i|$shm/jobs|")
echo "  start: $start"
$start
out=$($start) # a restart changes nothing
case "$out" in *"exists with this geometry, unchanged"*) ;; *) echo "restart: $out"; exit 1 ;; esac
# shpool-recover@.service on a pool with the slots of a dead process.
tests/mkpool "$shm/app/a" i64 8 0 3 1
recover=$(unit_value shpool-recover@.service ExecStart | sed "s|%f|$shm/app/a|")
echo "  recover: $recover"
out=$($recover)
case "$out" in *"recovered 2 slots"*) ;; *) echo "recover: $out"; exit 1 ;; esac
# shpool-metrics.service: $DIR and the glob pointed here, $$ is a $.
: >"$shm/app/not-a-pool"
metrics=$(unit_value shpool-metrics.service ExecStart |
	sed "s|/dev/shm/app|$shm/app|; s|\${DIR}|$work|g; s|\\\$\\\$|\$|g")
echo "  metrics: $metrics"
eval "$metrics"
grep -q "^shpool_up{pool=\"$shm/app/a\"} 1$" "$work/shpool.prom"
grep -q "^shpool_up{pool=\"$shm/app/not-a-pool\"} 0$" "$work/shpool.prom"
grep -q "^# TYPE shpool_allocs_total counter$" "$work/shpool.prom"
[ ! -e "$work/shpool.prom.tmp" ]
echo "  stop: $stop"
$stop
[ ! -e "$shm/jobs" ]
echo "43-systemd: OK: the example units verify clean and their commands work"
