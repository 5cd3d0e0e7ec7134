#!/usr/bin/env bash
# CI step: the manual pages (issue #8).
#  1. every full page passes `mandoc -T lint -W warning` without a message;
#  2. every page, links included, renders with `groff -ww` and `man -l`
#     without a warning, and no rendered line is wider than 80 columns;
#  3. after `make install`, every call the library exports and the header
#     declares has an installed page (doc/check-man.sh), and each page's
#     SYNOPSIS declares the calls exactly as the header does.
# Runs from the top of the configured, built tree (see .ci/run). Cost: the
# apt-get of mandoc/groff-base/man-db when missing (~20 s), then ~10 s on an
# idle 2-core machine (about a minute when it is heavily shared).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v mandoc >/dev/null || missing+=(mandoc)
command -v groff >/dev/null || missing+=(groff-base)
command -v man >/dev/null || missing+=(man-db)
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -e .libs/libshpool.so ] || make -s

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
problem() {
	echo "20-man: $*"
	fail=1
}

# Full pages and one-line .so link pages, relative to doc/ (where a link's
# ".so man3/X.3" resolves, as it does under an installed share/man).
cd doc
mapfile -t all < <(ls man3/*.3 man7/*.7)
mapfile -t full < <(grep -L '^\.so' "${all[@]}")
echo "20-man: ${#all[@]} pages, ${#full[@]} of them full pages, the rest .so links"

# 1. mandoc lint. Link pages are left out: mandoc warns about every .so
#    (".so is fragile") by design; doc/check-man.sh checks their form, and
#    groff and man below render them.
if ! out=$(mandoc -T lint -W warning "${full[@]}" 2>&1) || [ -n "$out" ]; then
	problem "mandoc -T lint -W warning:"
	echo "$out"
fi

# 2. groff and man(1), every page; warnings go to stderr, not the status.
for page in "${all[@]}"; do
	out=$(groff -man -ww -z -t "$page" 2>&1)
	[ -z "$out" ] || problem "groff -ww $page: $out"
	wide=$(MANWIDTH=80 man --warnings=w -l "$page" 2>"$tmp/err" | awk 'length($0) > 80')
	[ ! -s "$tmp/err" ] || problem "man -l $page: $(cat "$tmp/err")"
	[ -z "$wide" ] || problem "$page renders wider than 80 columns: $wide"
done
cd ..

# 3. Installed pages against the exports and the header.
# DESTDIR, not prefix=: the Python module is linked for the configured
# pyexecdir, and libtool refuses to install it anywhere else.
prefix=$tmp/inst
make -s install DESTDIR="$prefix" >/dev/null 2>&1
# shellcheck disable=SC2016 # $(mandir) is for make, not the shell
mandir=$prefix$(make -s -f Makefile -f <(printf 'print-mandir:\n\t@echo $(mandir)\n') print-mandir)
doc/check-man.sh -l .libs/libshpool.so -H include/shpool.h "$mandir" || fail=1

# The header's prototypes, one per line, whitespace normalised ...
tr '\n' ' ' < include/shpool.h | sed 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/::g' | tr ';' '\n' |
	grep 'SHPOOL_API' | sed 's/.*SHPOOL_API[[:space:]]*//' |
	sed 's/[[:space:]]\+/ /g; s/ *$//; s/( /(/g; s/ )/)/g' |
	grep 'shpool_[a-z0-9_]*(' | sort -u > "$prefix/header.txt"
# ... must each appear, verbatim, in some page's rendered SYNOPSIS.
for page in "${full[@]}"; do
	mandoc -T ascii "doc/$page" | col -b |
		awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
		grep -v -e '^[[:space:]]*#' -e 'Link with'
done | tr '\n' ' ' | tr ';' '\n' |
	sed 's/[[:space:]]\+/ /g; s/^ //; s/ *$//; s/( /(/g; s/ )/)/g' |
	grep 'shpool_[a-z0-9_]*(' | sort -u > "$prefix/synopsis.txt"
nproto=$(wc -l < "$prefix/header.txt")
if [ "$nproto" -eq 0 ]; then
	problem "no prototypes found in include/shpool.h"
fi
differ=$(comm -23 "$prefix/header.txt" "$prefix/synopsis.txt")
[ -z "$differ" ] || problem "header prototypes no SYNOPSIS declares verbatim:"$'\n'"$differ"

if [ "$fail" -ne 0 ]; then
	echo "== 20-man: FAILED"
	exit 1
fi
echo "== 20-man: ${#all[@]} pages lint clean, $nproto prototypes match the header, every call has a page"
