#!/bin/sh
# SPDX-License-Identifier: MIT
# Every public call has a manual page, and every page is well formed.
#
#   doc/check-man.sh [-l libshpool.so] [-H shpool.h] [MANDIR]
#
# The calls are the shpool_* functions declared SHPOOL_API in the header
# (default: $srcdir/include/shpool.h) and, with -l, the shpool_* symbols the
# library exports (nm -D). MANDIR (default: $srcdir/doc) holds man3/ and
# man7/, as in the source tree or an installed share/man. For each call
# man3/<call>.3 must exist, either a full page or a one-line link
# ".so man3/<page>.3" to one, and the full page must name the call in its
# NAME section and declare it in its SYNOPSIS. Full pages need the sections
# a liburing-style page has; no page may document a call that does not
# exist. Run by `make check` (header only) and CI (installed pages, both).
set -eu

srcdir=${srcdir:-$(dirname "$0")/..}
header=$srcdir/include/shpool.h
lib=
while getopts l:H: opt; do
	case $opt in
	l) lib=$OPTARG ;;
	H) header=$OPTARG ;;
	*) echo "usage: $0 [-l libshpool.so] [-H shpool.h] [MANDIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mandir=${1:-$srcdir/doc}
# Names that are pages but not functions.
macros="SHPOOL_GUARD"

fail=0
bad() {
	echo "check-man: $*" >&2
	fail=1
}

# The declarations: join the header into one line, then take the name
# before the first "(" of each SHPOOL_API declaration.
calls=$(tr '\n' ' ' < "$header" |
	grep -o 'SHPOOL_API[^;(]*shpool_[A-Za-z0-9_]*[[:space:]]*(' |
	sed 's/.*\(shpool_[A-Za-z0-9_]*\)[[:space:]]*($/\1/' | sort -u)
[ -n "$calls" ] || { echo "check-man: no SHPOOL_API declarations in $header" >&2; exit 1; }

if [ -n "$lib" ]; then
	exported=$(nm -D --defined-only "$lib" | awk '$3 ~ /^shpool_/ { sub(/@.*/, "", $3); print $3 }' |
		sort -u)
	[ -n "$exported" ] || { echo "check-man: no shpool_* exports in $lib" >&2; exit 1; }
	for f in $exported; do
		echo "$calls" | grep -qx "$f" || bad "$f is exported by $lib but not declared in $header"
	done
	for f in $calls; do
		echo "$exported" | grep -qx "$f" || bad "$f is declared in $header but not exported by $lib"
	done
	calls=$(printf '%s\n%s\n' "$calls" "$exported" | sort -u)
fi

# Text of section $2 of page $1 (between ".SH $2" and the next .SH).
section() {
	awk -v want="$2" '
		/^\.SH/ { sub(/^\.SH[ \t]+/, ""); gsub(/"/, ""); on = ($0 == want); next }
		on' "$1"
}

# The page a name resolves to: the file itself, or the target of its .so.
# Runs in a subshell ($(...)): it reports, and the caller sets fail.
resolve() {
	page=$mandir/man3/$1.3
	if [ ! -f "$page" ]; then
		bad "$1: no manual page (want $page or a .so link to the page documenting it)"
		return 1
	fi
	if grep -q '^\.so' "$page"; then
		target=$(sed -n 's/^\.so[[:space:]]\{1,\}man3\/\([A-Za-z0-9_]*\.3\)[[:space:]]*$/\1/p' "$page")
		if [ "$(wc -l < "$page")" -ne 1 ] || [ -z "$target" ]; then
			bad "$page: a link page is exactly one line, .so man3/<page>.3"
			return 1
		fi
		page=$mandir/man3/$target
		if [ ! -f "$page" ] || grep -q '^\.so' "$page"; then
			bad "$mandir/man3/$1.3: links to $target, which is missing or a link itself"
			return 1
		fi
	fi
	echo "$page"
}

for f in $calls $macros; do
	page=$(resolve "$f") || { fail=1; continue; }
	section "$page" NAME | tr ',' ' ' | tr -s ' \t' '\n\n' | grep -qx "$f" ||
		bad "$page: NAME does not list $f"
	case " $macros " in *" $f "*) continue ;; esac
	section "$page" SYNOPSIS | grep -q "[^A-Za-z0-9_]$f(" ||
		bad "$page: SYNOPSIS does not declare $f()"
done

# Every page: a full page has the standard sections in order; every page's
# name is a call (or a macro above), so no page outlives its function.
for page in "$mandir"/man3/*.3; do
	name=$(basename "$page" .3)
	echo "$calls" | grep -qx "$name" || case " $macros " in
		*" $name "*) ;;
		*) bad "$page: no call named $name is declared or exported" ;;
	esac
	grep -q '^\.so' "$page" && continue
	want="NAME SYNOPSIS DESCRIPTION RETURN VALUE ERRORS SEE ALSO"
	have=$(grep '^\.SH' "$page" | sed 's/^\.SH[[:space:]]*//; s/"//g' |
		grep -x -e NAME -e SYNOPSIS -e DESCRIPTION -e 'RETURN VALUE' -e ERRORS -e 'SEE ALSO' |
		tr '\n' ' ' | sed 's/ $//')
	[ "$have" = "$want" ] || bad "$page: sections are \"$have\", want \"$want\" in that order"
done
[ -f "$mandir/man7/shpool.7" ] || bad "$mandir/man7/shpool.7 is missing"

if [ "$fail" -ne 0 ]; then
	echo "check-man: FAILED" >&2
	exit 1
fi
n=$(echo "$calls" | wc -l)
echo "check-man: all $n calls have a manual page in $mandir"
