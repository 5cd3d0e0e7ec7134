#!/usr/bin/env bash
# The Spin model of the allocation / wake-up protocol (model/README): the
# checker is tested first (model/test-refs.sh: the model's citations of
# src/ must resolve, and a renamed function or crash point must fail them;
# model/test-check.sh: a search pan did not finish must fail, whatever it
# printed), then the fixed protocol must verify (safety, liveness, no
# endless batch wake-ups) and each OLD_* variant must still fail, so a
# model change that stops seeing the old defects is caught too. Runs the
# scripts directly: they need no configured tree, only spin, gcc and perl.
# Cost: about 3 minutes of one core (the largest run is ~10 M states,
# ~1.1 GB).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

command -v spin >/dev/null || { { apt-get update -qq || true; } && apt-get install -y -qq spin >/dev/null; }
spin -V

sh model/test-refs.sh
sh model/test-check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh model/check.sh "$PWD/model" "$work/model-build"
