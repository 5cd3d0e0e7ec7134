#!/bin/sh
# SPDX-License-Identifier: MIT
# shpool stats --format=openmetrics over several pools, read by a real
# OpenMetrics parser: Debian's python3-prometheus-client (the Prometheus
# project's own Python client). Skipped (77) where it is not installed;
# CI installs it (.ci/run).
#
# Three pools with known contents and one path that is no pool: the parse
# must succeed, every family must be typed as promised with each pool's
# values under its pool="PATH" label (a path with a space, quotes and a
# backslash included), the broken path must show as shpool_up 0, and the
# exit status must say that one pool could not be read.
set -eu

py=/usr/bin/python3
if ! [ -x "$py" ] ||
	! "$py" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
	echo "SKIP: no python3-prometheus-client (apt-get install python3-prometheus-client)"
	exit 77
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
a=$dir/a
b=$dir/b
c="$dir/c \"quoted\" \\ pool"
missing=$dir/missing

tests/mkpool "$a" raw 100 16 5 2
tests/mkpool "$b" i64 10 0 10 0
tests/mkpool "$c" str 7 24 1 1

status=0
tests/shpool_tool stats --format=openmetrics "$a" "$b" "$c" "$missing" "$a" \
	>"$dir/out" 2>"$dir/err" || status=$?
if [ "$status" -ne 2 ]; then
	echo "FAIL: exit status $status, expected 2 (one pool unreadable)"
	cat "$dir/err"
	exit 1
fi
grep -q "$missing: No such file or directory" "$dir/err" || {
	echo "FAIL: stderr does not say why $missing is missing:"
	cat "$dir/err"
	exit 1
}

"$py" - "$dir/out" "$a" "$b" "$c" "$missing" <<'PY'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families

out, a, b, c, missing = sys.argv[1:]
text = open(out, encoding="utf-8").read()
families = {f.name: f for f in text_string_to_metric_families(text)}

types = {
    "shpool_up": "gauge", "shpool_capacity": "gauge", "shpool_elem_size_bytes": "gauge",
    "shpool_used": "gauge", "shpool_available": "gauge", "shpool_waiters": "gauge",
    "shpool_mmap_size_bytes": "gauge", "shpool_allocs": "counter",
    "shpool_frees": "counter", "shpool_waits": "counter", "shpool_timeouts": "counter",
    "shpool_recoveries": "counter",
}
assert set(families) == set(types), sorted(families)
for name, kind in types.items():
    assert families[name].type == kind, (name, families[name].type)
    assert families[name].documentation, name
    # HELP and TYPE once per family, however many pools.
    assert text.count("# TYPE %s " % name) == 1, name
    assert text.count("# HELP %s " % name) == 1, name
assert families["shpool_mmap_size_bytes"].unit == "bytes"

def values(name):
    got = {}
    for s in families[name].samples:
        want = name + "_total" if types[name] == "counter" else name
        assert s.name == want, (s.name, want)
        assert set(s.labels) == {"pool"}, s.labels
        assert s.labels["pool"] not in got, ("sample repeated", s)
        got[s.labels["pool"]] = s.value
    return got

assert values("shpool_up") == {a: 1, b: 1, c: 1, missing: 0}, values("shpool_up")
expect = {
    "shpool_capacity": {a: 100, b: 10, c: 7},
    "shpool_elem_size_bytes": {a: 16, b: 8, c: 24},
    "shpool_used": {a: 3, b: 10, c: 0},
    "shpool_available": {a: 97, b: 0, c: 7},
    "shpool_waiters": {a: 0, b: 0, c: 0},
    "shpool_allocs": {a: 5, b: 10, c: 1},
    "shpool_frees": {a: 2, b: 0, c: 1},
    "shpool_waits": {a: 0, b: 0, c: 0},
    "shpool_timeouts": {a: 0, b: 0, c: 0},
    "shpool_recoveries": {a: 0, b: 0, c: 0},
}
for name, want in expect.items():
    assert values(name) == want, (name, values(name), want)
sizes = values("shpool_mmap_size_bytes")
assert set(sizes) == {a, b, c} and all(v > 0 and v % 4096 == 0 for v in sizes.values()), sizes
assert text.endswith("# EOF\n")
print("openmetrics: %d families, %d pools, parsed by prometheus_client" % (len(families), 4))
PY
