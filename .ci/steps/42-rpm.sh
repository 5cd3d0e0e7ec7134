#!/usr/bin/env bash
# RPM packages: libshpool.spec built with Debian's rpmbuild from `make
# dist`'s tarball (rpmbuild -ta, as a Fedora packager would; %check runs
# make check), with "installed but unpackaged files" an error. Then each
# package's `rpm -qpl` is checked: what it must hold (the soname and its
# ELF SONAME, the header, .pc, every tracked man page where it belongs, the
# tool, the Python module, the Perl module), no file in two packages, no
# libtool archive or static library; the soname is provided and required
# as it should be. Last, the packages are installed into a scratch root
# (rpm --root) and the installed tool, Python module and Perl module used.
# Debian has no RPM database of its build dependencies: --nodeps.
# Cost: about 1.5 minutes on 2 idle cores (the package build runs make check).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export DEBIAN_FRONTEND=noninteractive

if ! command -v rpmbuild >/dev/null || ! command -v rpmspec >/dev/null; then
	apt-get update -qq || echo "apt-get update reported errors (a mirror mid-sync?); installing anyway"
	apt-get install -y -qq --no-install-recommends rpm >/dev/null
fi
echo "-- $(rpmbuild --version)"

# The spec's Version is the release's.
ac_version=$(sed -n 's/^AC_INIT(\[libshpool\], \[\([^]]*\)\].*/\1/p' configure.ac)
spec_version=$(rpmspec -q --srpm --qf '%{version}' libshpool.spec)
if [ "$spec_version" != "$ac_version" ]; then
	echo "42-rpm: FAILED: libshpool.spec has Version $spec_version, configure.ac $ac_version"
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "-- make dist"
make -s dist >"$work/dist.log" 2>&1 || { cat "$work/dist.log"; exit 1; }
mv "libshpool-$ac_version.tar.gz" "$work/"

echo "-- rpmbuild -ta libshpool-$ac_version.tar.gz"
if ! rpmbuild -ta --nodeps --define "_topdir $work/rpmbuild" \
	--define '_unpackaged_files_terminate_build 1' \
	--define '_missing_doc_files_terminate_build 1' \
	"$work/libshpool-$ac_version.tar.gz" >"$work/build.log" 2>&1; then
	if grep -q "Installed (but unpackaged) file(s) found" "$work/build.log"; then
		sed -n '/Installed (but unpackaged) file(s) found/,$p' "$work/build.log" | head -n 30
		echo "42-rpm: FAILED: make install installs files that no package of libshpool.spec takes"
	else
		tail -n 60 "$work/build.log"
		echo "42-rpm: FAILED: rpmbuild (log above)"
	fi
	exit 1
fi
grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR)' "$work/build.log" || true

rpms=$work/rpmbuild/RPMS/$(rpm --eval '%{_arch}')
packages=(libshpool libshpool-devel shpool-tools python3-shpool perl-IPC-Shpool)
fail=0
for pkg in "${packages[@]}"; do
	f=$rpms/$pkg-$ac_version-1.$(rpm --eval '%{_arch}').rpm
	[ -f "$f" ] || { echo "42-rpm: FAILED: no $f"; exit 1; }
	# "MODE PATH", the mode's first letter telling directories (d) apart.
	rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$f" >"$work/$pkg.list"
	echo "-- rpm -qpl $pkg"
	awk '$1 !~ /^d/ { print "  " $2 }' "$work/$pkg.list"
done

expect() { # expect PACKAGE PATH-REGEX
	grep -Eq "^[^d][^ ]* $2\$" "$work/$1.list" || {
		echo "42-rpm: $1 lacks $2"
		fail=1
	}
}
libdir=$(rpm --eval '%{_libdir}')
mandir=$(rpm --eval '%{_mandir}')
# Where the spec put the bindings, as rpmbuild expanded it.
sitearch=$(rpmspec -P libshpool.spec | sed -n '/^%files -n python3-shpool/{n;s|/shpool\*$||p}')
vendorarch=$(rpmspec -P libshpool.spec | sed -n '/^%files -n perl-IPC-Shpool/{n;s|^%dir \(.*\)/IPC$|\1|p}')
[ -n "$sitearch" ] && [ -n "$vendorarch" ] || { echo "42-rpm: cannot read the spec's paths"; exit 1; }

expect libshpool "${libdir}/libshpool\\.so\\.1"
expect libshpool "${libdir}/libshpool\\.so\\.1\\.[0-9.]+"
expect libshpool "/usr/share/licenses/libshpool[^/]*/COPYING"
expect libshpool-devel "/usr/include/shpool\\.h"
expect libshpool-devel "${libdir}/libshpool\\.so"
expect libshpool-devel "${libdir}/pkgconfig/libshpool\\.pc"
while IFS= read -r page; do
	name=${page##*/}
	sec=${name##*.}
	case "$sec" in
	1 | 8) pkg=shpool-tools ;;
	*) pkg=libshpool-devel ;;
	esac
	expect "$pkg" "$mandir/man$sec/${name//./\\.}(\\.gz|\\.bz2|\\.xz|\\.zst)?"
done < <(git ls-files -- '*.[1-8]')
expect shpool-tools /usr/bin/shpool
expect shpool-tools "/usr/share/doc/shpool-tools[^/]*/systemd/shpool-pool@\\.service"
expect python3-shpool "$sitearch/shpool[^ ]*\\.so"
expect python3-shpool "$sitearch/shpool[^ ]*\\.pyi"
expect perl-IPC-Shpool "$vendorarch/IPC/Shpool\\.pm"
expect perl-IPC-Shpool "$vendorarch/auto/IPC/Shpool/Shpool\\.so"
expect perl-IPC-Shpool "$mandir/man3/IPC::Shpool\\.3pm(\\.gz|\\.bz2|\\.xz|\\.zst)?"

# Every file in exactly one package (directories may be shared), no
# libtool archive, no static library, nothing under /usr/local.
dups=$(cat "$work"/*.list | awk '$1 !~ /^d/ { print $2 }' | sort | uniq -d)
if [ -n "$dups" ]; then
	echo "42-rpm: in more than one package:"
	echo "$dups"
	fail=1
fi
if cat "$work"/*.list | awk '{ print $2 }' | grep -E '\.la$|\.a$|^/usr/local/'; then
	echo "42-rpm: a libtool archive, a static library or a /usr/local path is packaged (above)"
	fail=1
fi
# The bindings' files stay in their directories, whatever their layout.
if awk -v d="$sitearch/shpool" '$1 !~ /^d/ && index($2, d) != 1 && $2 !~ /^\/usr\/lib\/\.build-id\//' \
	"$work/python3-shpool.list" | grep .; then
	echo "42-rpm: python3-shpool has files outside $sitearch/shpool* (above)"
	fail=1
fi

# The soname: libshpool provides it, the others require it (and the
# symlink's target's SONAME is it: checked once installed, below).
rpm -qp --provides "$rpms"/libshpool-"$ac_version"-1.*.rpm >"$work/provides"
grep -Eq '^libshpool\.so\.1\(\)' "$work/provides" || { echo "42-rpm: libshpool does not provide libshpool.so.1"; fail=1; }
for pkg in shpool-tools python3-shpool perl-IPC-Shpool; do
	rpm -qp --requires "$rpms/$pkg-$ac_version"-1.*.rpm >"$work/$pkg.requires"
	grep -Eq '^libshpool\.so\.1\(\)' "$work/$pkg.requires" ||
		{ echo "42-rpm: $pkg does not require libshpool.so.1"; fail=1; }
	grep -Eq "^libshpool\\(.*\\) = $ac_version-1" "$work/$pkg.requires" ||
		{ echo "42-rpm: $pkg does not require libshpool of its own version"; fail=1; }
done
[ "$fail" = 0 ] || { echo "42-rpm: FAILED: the packages are not what the spec means (above)"; exit 1; }

echo "-- installed into a scratch root (rpm --root), used"
root=$work/root
mkdir "$root"
rpm --root "$root" --initdb
# (Debian's rpm warns that alien is the way to install RPMs on Debian.)
rpm --root "$root" --nodeps -i "$rpms"/*.rpm 2>&1 | grep -v -e 'use Alien instead' -e 'know what you are doing' || true
rpm --root "$root" -qa | sort | sed 's/^/  /'
soname=$(objdump -p "$root$libdir/libshpool.so.1" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != libshpool.so.1 ]; then
	echo "42-rpm: FAILED: $libdir/libshpool.so.1 has SONAME '$soname'"
	exit 1
fi
export LD_LIBRARY_PATH="$root$libdir"
"$root/usr/bin/shpool" create --kind i64 --capacity 4 "$work/pool"
"$root/usr/bin/shpool" info --json "$work/pool"
/usr/bin/python3 -I -c "
import sys; sys.path.insert(0, '$root$sitearch')
import shpool
assert shpool.__file__.startswith('$root'), shpool.__file__
p = shpool.Pool.open('$work/pool', 'i64')
i = p.alloc(timeout=1.0); p.set(i, 41); assert p.incr(i) == 42; p.free(i)
print('  python3-shpool: ok from', shpool.__file__)"
ROOT=$root POOL=$work/pool perl -I"$root$vendorarch" -MIPC::Shpool -e '
	my $from = $INC{"IPC/Shpool.pm"};
	index($from, $ENV{ROOT}) == 0 or die "not the packaged module: $from\n";
	my $p = IPC::Shpool::I64->new($ENV{POOL}, 4);
	my $i = $p->alloc // die "alloc\n";
	$p->free($i) or die "free\n";
	print "  perl-IPC-Shpool: ok from $from\n"'
"$root/usr/bin/shpool" rm "$work/pool"
echo "42-rpm: OK: RPMs built (make check passed in %check), every file in one package, installed and used"
