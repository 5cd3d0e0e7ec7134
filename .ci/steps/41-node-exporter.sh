#!/usr/bin/env bash
# shpool stats --format=prometheus as Prometheus gets it: Debian's
# prometheus-node-exporter, on 127.0.0.1 and a free port, with only its
# textfile collector, reads the tool's output from its directory (the
# operator's setup of doc/operations.md); /metrics is scraped, and every
# shpool sample the tool wrote must come back with the value it wrote,
# under a family that node_exporter types and documents exactly as the
# tool's # TYPE and # HELP say.
#
# The same check is then run on --format=openmetrics output, which
# node_exporter reads as Prometheus text: its counters must come out
# untyped and the check must fail (what operators met before issue 29), so
# the check is shown to tell.
# Cost: installing the package (a few seconds), two scrapes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

if ! command -v prometheus-node-exporter >/dev/null ||
	! /usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null; then
	apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
	# The package's maintainer scripts would start the system's exporter on
	# :9100 where an init system lets them; this step runs its own. A
	# policy-rc.d that refuses (exit 101) keeps them from it, if there is
	# none already.
	policy=/usr/sbin/policy-rc.d
	own_policy=no
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=yes
	fi
	apt-get install -y -qq --no-install-recommends prometheus-node-exporter \
		python3-prometheus-client >/dev/null
	[ "$own_policy" = no ] || rm -f "$policy"
fi
echo "-- $(prometheus-node-exporter --version 2>&1 | head -n 1)"

make -s tools/shpool tests/mkpool >/dev/null

work=$(mktemp -d)
exporter=
cleanup() {
	if [ -n "$exporter" ]; then
		kill "$exporter" 2>/dev/null || true
		wait "$exporter" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
textdir=$work/textfile
mkdir "$textdir"

# Pools with known contents, one with a label value that needs escaping.
tests/mkpool "$work/jobs" raw 100 16 5 2
tests/mkpool "$work/counts" i64 10 0 10 0
tests/mkpool "$work/odd \"name\" \\ here" str 7 24 1 1
pools=("$work/jobs" "$work/counts" "$work/odd \"name\" \\ here")

# What an operator's timer runs (doc/operations.md): written whole, then
# renamed into place, so the collector never reads half a file.
expose() { # expose FORMAT
	tools/shpool stats --format="$1" "${pools[@]}" >"$textdir/shpool.prom.$$"
	mv "$textdir/shpool.prom.$$" "$textdir/shpool.prom"
}

# A port nobody listens on now (the kernel's choice).
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expose prometheus
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" \
	--collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$textdir" >"$work/exporter.log" 2>&1 &
exporter=$!

# The check: the tool's file against node_exporter's /metrics. Waits (at
# most 30 s) for the exporter to answer; exit 1 with the differences.
cat >"$work/check.py" <<'PY'
import sys
import time
import urllib.request
from prometheus_client.parser import text_string_to_metric_families

url, path = sys.argv[1:]
text = open(path, encoding="utf-8").read()

def comments(text, kind):
    """{metric name: rest of line} of every '# HELP' or '# TYPE' line."""
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[0] == "#" and parts[1] == kind:
            out[parts[2]] = parts[3] if len(parts) > 3 else ""
    return out

def samples(text):
    """{(sample name, labels): value} of the shpool samples."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name.startswith("shpool_")}

deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            scraped = r.read().decode("utf-8")
        break
    except OSError as e:
        if time.monotonic() > deadline:
            sys.exit("no answer from %s: %s" % (url, e))
        time.sleep(0.1)

# What the tool says each sample is: the # TYPE and # HELP of the metric
# named as the sample, or (OpenMetrics) of its family, named without _total.
types, helps = comments(text, "TYPE"), comments(text, "HELP")
got_types, got_helps = comments(scraped, "TYPE"), comments(scraped, "HELP")
wrote, got = samples(text), samples(scraped)
problems = []
if 'node_textfile_scrape_error 0' not in scraped:
    problems.append("node_textfile_scrape_error is not 0")
if not wrote:
    problems.append("the tool wrote no shpool samples")
for name in sorted({n for n, _ in wrote}):
    family = name if name in types else name[:-len("_total")] if name.endswith("_total") else name
    want_type, want_help = types.get(family), helps.get(family)
    if got_types.get(name) != want_type:
        problems.append("%s: typed %r by node_exporter, %r by the tool"
                        % (name, got_types.get(name), want_type))
    if got_helps.get(name) != want_help:
        problems.append("%s: HELP %r by node_exporter, %r by the tool"
                        % (name, got_helps.get(name), want_help))
for key, value in sorted(wrote.items()):
    if got.get(key) != value:
        problems.append("%s%s: %r scraped, %r written" % (key[0], dict(key[1]), got.get(key), value))
for problem in problems:
    print("  " + problem)
if problems:
    sys.exit(1)
print("  %d samples of %d families: values, types and HELP as the tool wrote them"
      % (len(wrote), len({n for n, _ in wrote})))
PY

echo "-- --format=prometheus through node_exporter's textfile collector"
if ! /usr/bin/python3 "$work/check.py" "http://127.0.0.1:$port/metrics" "$textdir/shpool.prom"; then
	echo "-- node_exporter's log:"
	cat "$work/exporter.log"
	echo "41-node-exporter: FAILED: node_exporter does not keep what --format=prometheus says"
	exit 1
fi

echo "-- the same check on --format=openmetrics output (must fail: counters untyped)"
expose openmetrics
if /usr/bin/python3 "$work/check.py" "http://127.0.0.1:$port/metrics" \
	"$textdir/shpool.prom" >"$work/negative" 2>&1; then
	cat "$work/negative"
	echo "41-node-exporter: FAILED: the check passed OpenMetrics text, so it cannot tell"
	exit 1
fi
if ! grep -q "shpool_allocs_total: typed 'untyped' by node_exporter, 'counter' by the tool" \
	"$work/negative"; then
	cat "$work/negative"
	echo "41-node-exporter: FAILED: the check failed on OpenMetrics text, but not for the counters' types"
	exit 1
fi
grep -m 2 "untyped" "$work/negative"
echo "41-node-exporter: OK: node_exporter keeps every shpool family typed and documented"
