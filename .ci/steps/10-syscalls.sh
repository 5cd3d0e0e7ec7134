#!/usr/bin/env bash
# The fast path makes no system call: 1,000,000 uncontended alloc+free pairs
# must make exactly as many system calls as 1,000 (strace -c -f counts them).
set -euo pipefail
command -v strace >/dev/null || { { apt-get update -qq || true; } && apt-get install -y -qq strace >/dev/null; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/pairs.c" <<'C'
#include <shpool.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	shpool_t *p;
	if (shpool_create(&p, NULL, SHPOOL_RAW, 1024, 64, NULL) < 0)
		return 1;
	for (long i = 0; i < n; i++) {
		int64_t s = shpool_alloc(p, 0);
		if (s < 0 || shpool_free(p, (uint64_t)s) < 0)
			return 1;
	}
	shpool_close(p);
	return 0;
}
C
cc -O2 -Iinclude -o "$dir/pairs" "$dir/pairs.c" .libs/libshpool.a -pthread
calls() {
	strace -f -c -o "$dir/trace.$1" "$dir/pairs" "$1" >/dev/null
	awk '$NF == "total" { print $4 }' "$dir/trace.$1"
}
few=$(calls 1000)
many=$(calls 1000000)
echo "system calls: 1,000 pairs: $few; 1,000,000 pairs: $many"
if [ "$few" != "$many" ]; then
	echo "FAIL: the alloc/free fast path makes system calls"
	cat "$dir/trace.1000000"
	exit 1
fi
echo "OK: no system call on the fast path"
