#!/bin/sh
# SPDX-License-Identifier: MIT
# shpool stats --format=prometheus and --format=openmetrics over several
# pools, each read by a real parser of its format: Debian's
# python3-prometheus-client (the Prometheus project's own Python client),
# whose prometheus_client.parser reads the Prometheus text format 0.0.4 as
# node_exporter's textfile collector does, and whose
# prometheus_client.openmetrics.parser reads OpenMetrics 1.0. Skipped (77)
# where it is not installed; CI installs it (.ci/run). CI step
# 41-node-exporter.sh feeds the same output to node_exporter itself.
#
# Three pools with known contents and one path that is no pool: each parse
# must succeed, every family must be typed as promised (a counter too: a
# counter whose # TYPE names another metric than its samples comes out
# untyped), with its HELP, and each pool's values under its pool="PATH"
# label (a path with a space, quotes and a backslash included); the broken
# path must show as shpool_up 0, and the exit status must say that one pool
# could not be read. And the check must tell the formats apart: the
# OpenMetrics output read as Prometheus text loses the counters' types
# (what node_exporter made of it before --format=prometheus existed).
set -eu

py=/usr/bin/python3
if ! [ -x "$py" ] ||
	! "$py" -c 'import prometheus_client.openmetrics.parser, prometheus_client.parser' \
		2>/dev/null; then
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

for format in prometheus openmetrics; do
	status=0
	tests/shpool_tool stats --format=$format "$a" "$b" "$c" "$missing" "$a" \
		>"$dir/$format" 2>"$dir/err" || status=$?
	if [ "$status" -ne 2 ]; then
		echo "FAIL: --format=$format: exit status $status, expected 2 (one pool unreadable)"
		cat "$dir/err"
		exit 1
	fi
	grep -q "$missing: No such file or directory" "$dir/err" || {
		echo "FAIL: --format=$format: stderr does not say why $missing is missing:"
		cat "$dir/err"
		exit 1
	}
done

"$py" - "$dir" "$a" "$b" "$c" "$missing" <<'PY'
import sys
from prometheus_client import parser as prometheus
from prometheus_client.openmetrics import parser as openmetrics

out, a, b, c, missing = sys.argv[1:]

types = {
    "shpool_up": "gauge", "shpool_capacity": "gauge", "shpool_elem_size_bytes": "gauge",
    "shpool_used": "gauge", "shpool_available": "gauge", "shpool_waiters": "gauge",
    "shpool_mmap_size_bytes": "gauge", "shpool_allocs": "counter",
    "shpool_frees": "counter", "shpool_waits": "counter", "shpool_timeouts": "counter",
    "shpool_recoveries": "counter", "shpool_reset_frees": "counter",
}
expect = {
    "shpool_up": {a: 1, b: 1, c: 1, missing: 0},
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
    "shpool_reset_frees": {a: 0, b: 0, c: 0},
}


def check(fmt, text, families):
    # Both parsers name a counter family without _total, and its samples
    # with it.
    assert set(families) == set(types), (fmt, sorted(families))
    for name, kind in types.items():
        fam = families[name]
        assert fam.type == kind, (fmt, name, fam.type)
        assert fam.documentation, (fmt, name)
        assert "approximate" not in fam.documentation, (fmt, name, fam.documentation)
        # HELP and TYPE once per family, however many pools, on the name
        # the format wants: Prometheus text names a counter as its samples.
        named = name + "_total" if fmt == "prometheus" and kind == "counter" else name
        assert text.count("# TYPE %s %s\n" % (named, kind)) == 1, (fmt, named)
        assert text.count("# HELP %s " % named) == 1, (fmt, named)
        got = {}
        for s in fam.samples:
            want = name + "_total" if kind == "counter" else name
            assert s.name == want, (fmt, s.name, want)
            assert set(s.labels) == {"pool"}, (fmt, s.labels)
            assert s.labels["pool"] not in got, (fmt, "sample repeated", s)
            got[s.labels["pool"]] = s.value
        if name == "shpool_mmap_size_bytes":
            assert set(got) == {a, b, c}, (fmt, got)
            assert all(v > 0 and v % 4096 == 0 for v in got.values()), (fmt, got)
        else:
            assert got == expect[name], (fmt, name, got, expect[name])


prom = open(out + "/prometheus", encoding="utf-8").read()
om = open(out + "/openmetrics", encoding="utf-8").read()

check("prometheus", prom, {f.name: f for f in prometheus.text_string_to_metric_families(prom)})
# OpenMetrics-only lines are not in the 0.0.4 text.
assert "# EOF" not in prom and "# UNIT" not in prom, prom

families = {f.name: f for f in openmetrics.text_string_to_metric_families(om)}
check("openmetrics", om, families)
assert families["shpool_mmap_size_bytes"].unit == "bytes"
assert om.endswith("# EOF\n")

# The negative control: the OpenMetrics text read as Prometheus text has
# its counters untyped ("unknown" in this client), so the check above
# would have failed on it.
misread = {f.name: f.type for f in prometheus.text_string_to_metric_families(om)}
assert misread.get("shpool_allocs_total") in ("untyped", "unknown"), misread
assert misread.get("shpool_used") == "gauge", misread
print("prometheus, openmetrics: %d families, 4 pools each, parsed by prometheus_client"
      % len(types))
PY
