#!/usr/bin/env bash
# Debian packages: build libshpool1, libshpool-dev, shpool-tools and
# libshpool-perl and python3-shpool from a fresh copy of the tree (this one
# is already configured in-tree), lintian them, install them, build and run
# an outside program against the installed package with pkg-config alone,
# use the Perl binding and the Python module from the system python3, then
# remove them again.
# Cost: about 3-4 minutes on 2 idle cores (the package build runs make check).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export DEBIAN_FRONTEND=noninteractive

echo "-- installing the packaging tools"
apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
apt-get install -y -qq --no-install-recommends \
	build-essential devscripts debhelper dh-autoreconf lintian fakeroot >/dev/null

work=$(mktemp -d)
installed=no
cleanup() {
	# The packages must not outlive this step: later steps build from the
	# tree and must not pick up a system copy of the library by accident.
	if [ "$installed" = yes ]; then
		apt-get purge -y -qq libshpool1 libshpool-dev shpool-tools libshpool-perl \
			python3-shpool >/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# The tracked files plus untracked, non-ignored ones (so a local run sees
# uncommitted work too); never the in-tree build's products. dpkg-buildpackage
# writes the .debs next to the source, into $work.
src="$work/libshpool"
mkdir "$src"
git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -c | tar -x -C "$src"

echo "-- installing Build-Depends"
apt-get build-dep -y -qq "$src" >/dev/null

echo "-- dpkg-buildpackage -us -uc -b"
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) werror" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log"
	echo "40-debian: FAILED: dpkg-buildpackage (log above)"
	exit 1
}
grep -E '^# (TOTAL|PASS|FAIL|ERROR)|^dpkg-gensymbols: warning' "$work/build.log" || true

cd "$work"
# Each listing goes to a file ("path [-> target]", path always followed by a
# space) that expect() greps directly: `dpkg-deb -c | grep -q` under pipefail
# fails whenever grep stops reading before dpkg-deb has written everything.
for deb in libshpool1 libshpool-dev shpool-tools libshpool-perl python3-shpool; do
	dpkg-deb -c "$deb"_*.deb | awk '{ print $6, $7, $8 }' >"$deb.list"
	echo "-- contents of $deb"
	awk '$1 !~ /\/$/ { print "  " $0 }' "$deb.list"
done

# Each tracked man page must be in its package, and the shpool program in
# shpool-tools.
fail=0
expect() { # expect PACKAGE PATH-REGEX
	grep -Eq "^\./$2 " "$1.list" || {
		echo "40-debian: $1 lacks $2"
		fail=1
	}
}
while IFS= read -r page; do
	name=${page##*/}
	sec=${name##*.}
	case "$sec" in
	1 | 8) pkg=shpool-tools ;;
	*) pkg=libshpool-dev ;;
	esac
	expect "$pkg" "usr/share/man/man$sec/${name//./\\.}(\\.gz)?"
done < <(cd "$top" && git ls-files -- '*.[1-8]')
expect shpool-tools 'usr/bin/shpool'
expect libshpool-perl 'usr/lib/[^/]+/perl5/[^/]+/IPC/Shpool\.pm'
expect libshpool-perl 'usr/lib/[^/]+/perl5/[^/]+/auto/IPC/Shpool/Shpool\.so'
expect libshpool-perl 'usr/share/man/man3/IPC::Shpool\.3pm(\.gz)?'
expect python3-shpool 'usr/lib/python3/dist-packages/shpool/_shpool\.cpython-[^ ]*\.so'
expect python3-shpool 'usr/lib/python3/dist-packages/shpool/_shpool\.pyi'
expect python3-shpool 'usr/lib/python3/dist-packages/shpool/py\.typed'
expect python3-shpool 'usr/lib/python3/dist-packages/shpool-[^/]*\.dist-info/METADATA'
[ "$fail" = 0 ] || { echo "40-debian: FAILED: packages lack files (above)"; exit 1; }

echo "-- lintian (fails on errors and warnings)"
lintian --allow-root --display-info --pedantic --fail-on error,warning \
	libshpool_*.changes || {
	echo "40-debian: FAILED: lintian (above)"
	exit 1
}

echo "-- installing the packages"
installed=yes
apt-get install -y -qq ./libshpool1_*.deb ./libshpool-dev_*.deb ./shpool-tools_*.deb \
	./libshpool-perl_*.deb ./python3-shpool_*.deb >/dev/null
objdump -p "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libshpool.so.1" | grep SONAME

echo "-- an outside program against the installed package (debian/tests/build-outside)"
AUTOPKGTEST_TMP="$work/outside" && mkdir "$AUTOPKGTEST_TMP" && export AUTOPKGTEST_TMP
"$src/debian/tests/build-outside"
echo "-- the Perl binding, installed (debian/tests/perl-use)"
"$src/debian/tests/perl-use"
perl -MIPC::Shpool -e 'my $p = IPC::Shpool::Str->new(undef, 2, 16);
	my $i = $p->alloc_set("installed") // die "alloc_set\n";
	$p->get($i) eq "installed" && $p->free($i) or die "round trip\n"; print "perl: alloc/free ok\n"'
echo "-- the Python module from the system python3 (python3-shpool)"
# From $work, so that no copy in the source tree can be imported instead.
/usr/bin/python3 - <<'PY'
import importlib.metadata
import os
import shpool

assert shpool.__file__.startswith("/usr/lib/python3/dist-packages/"), shpool.__file__
assert importlib.metadata.version("shpool") == shpool.__version__, "metadata"
with shpool.Pool(None, "i64", 4) as p:
    i = p.alloc(timeout=1.0)
    p.set(i, 41)
    assert p.incr(i) == 42 and p.owner(i) == os.getpid()
    p.free(i)
    assert p.used == 0 and p.check() == []
print("python3-shpool: shpool %s over libshpool %s from %s: ok"
      % (shpool.__version__, shpool.library_version(), shpool.__file__))
PY
if command -v shpool >/dev/null; then
	echo "-- installed: $(command -v shpool)"
fi

echo "40-debian: OK: packages built, lintian clean, installed and used (C and Python)"
