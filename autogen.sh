#!/bin/sh
# Generate ./configure. With --install-deps, first install whatever build
# dependencies are missing (Debian/Ubuntu, apt-get; as root or via sudo).
set -eu
cd "$(dirname "$0")"

# Debian packages the build and `make check` need (libperl-dev: the Perl
# binding). Extra names may be passed in SHPOOL_EXTRA_DEPS (CI adds clang,
# valgrind, ...).
DEPS="autoconf automake libtool make gcc pkg-config check libperl-dev ${SHPOOL_EXTRA_DEPS:-}"
# The Python module (python/) and its tests; numpy for the tests that use it.
DEPS="$DEPS python3-dev python3-pytest python3-numpy"

install_deps() {
	missing=""
	for pkg in $DEPS; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	echo "autogen.sh: installing:$missing"
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=
	elif command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "autogen.sh: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
	# A mirror in the middle of a sync can fail one index; the packages
	# needed are usually in the others.
	$SUDO apt-get update -qq || echo "autogen.sh: apt-get update reported errors; installing anyway" >&2
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
}

case "${1:-}" in
--install-deps) install_deps ;;
"") ;;
*) echo "usage: $0 [--install-deps]" >&2; exit 2 ;;
esac

autoreconf --force --install
