# Huge pages and pre-faulting through the binding (issue 17): pools on huge
# pages shared with forked children (anonymous and memfd), the shortage
# error and huge_pages='prefer' falling back, populate= on creation and on
# attach, page_size, and the values huge_pages= refuses.
#
# The positive tests need NEEDED free huge pages of the default size. As
# root this module reserves what it lacks (/proc/sys/vm/nr_hugepages) and
# takes back exactly what it added at the end, whatever else changed the
# count meanwhile; CI reserves 32 first (.ci/run). Not root and too few:
# those tests skip. A kernel without hugetlb skips the hugetlb tests.
#
# The shortage test never lowers nr_hugepages (a test running beside this
# one, such as tests/check_pages under make -j check, may be using them): it
# asks for more huge pages than the kernel could give even if every
# reserved one were free, which fails the same way "none reserved" does.
import ctypes
import errno
import fcntl
import os
import resource

import pytest

import shpool
from conftest import children, path  # noqa: F401

NR = "/proc/sys/vm/nr_hugepages"
# tests/check_pages and perl/t/14-hugepages.t compare the system's huge page
# counters before and after each pool; they and this module take turns.
LOCK = "/tmp/libshpool-hugepages.lock"
OVERCOMMIT = "/proc/sys/vm/nr_overcommit_hugepages"
NEEDED = 8  # huge pages the tests below hold at most at once
MIB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def meminfo(key):
    """A /proc/meminfo value (kB for sizes, a count for HugePages_*), None if
    the kernel does not report it."""
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == key:
                return int(v.split()[0])
    return None


def read_num(p):
    with open(p) as f:
        return int(f.read())


def write_num(p, v):
    with open(p, "w") as f:
        f.write("%d\n" % v)


def headroom():
    """Surplus huge pages the kernel may still add beyond the reserve."""
    over = read_num(OVERCOMMIT) if os.path.exists(OVERCOMMIT) else 0
    return max(over - meminfo("HugePages_Surp"), 0)


def available():
    """Huge pages nobody holds or has reserved: what a new pool can take."""
    return meminfo("HugePages_Free") - meminfo("HugePages_Rsvd") + headroom()


def kernel_page_size(view):
    """The size of the pages under view's first byte, from /proc/self/smaps:
    the kernel's own view, not what the library says."""
    c = (ctypes.c_char * 1).from_buffer(view)
    at = ctypes.addressof(c)
    del c  # its export of view
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= at < hi
            elif inside and head == "KernelPageSize:":
                return int(line.split()[1]) * 1024
    pytest.fail("no KernelPageSize for %#x in /proc/self/smaps" % at)


@pytest.fixture(scope="module", autouse=True)
def huge_page_lock():
    """Hold the lock the other huge page tests hold, for this module."""
    fd = os.open(LOCK, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def hpage():
    """The default huge page size in bytes; skips without hugetlb."""
    kb = meminfo("Hugepagesize")
    if not kb or not os.path.exists(NR):
        pytest.skip("this kernel has no hugetlb support (no Hugepagesize in "
                    "/proc/meminfo or no %s)" % NR)
    return kb * 1024


@pytest.fixture(scope="module")
def reserved(hpage):
    """hpage, with NEEDED huge pages free: as root, reserve what is lacking
    and give exactly that back afterwards."""
    lack = NEEDED - available()
    added = 0
    if lack > 0:
        if os.geteuid() != 0:
            pytest.skip("%d huge pages available, these tests need %d: reserve "
                        "them as root (echo %d > %s)"
                        % (available(), NEEDED, read_num(NR) + lack, NR))
        before = read_num(NR)
        write_num(NR, before + lack)
        added = read_num(NR) - before  # the kernel may grant fewer
    try:
        if available() < NEEDED:
            pytest.fail("%d huge pages available after reserving %d more, the "
                        "tests need %d" % (available(), added, NEEDED))
        yield hpage
    finally:
        if added:
            # Take back what was added, not "restore" a saved count: another
            # user may have changed it since.
            write_num(NR, read_num(NR) - added)


def fill(view, seed):
    n = len(view)
    view[:] = bytes([(seed + k) % 251 for k in range(251)]) * (n // 251) + \
        bytes([(seed + k) % 251 for k in range(n % 251)])


def filled(view, seed):
    n = len(view)
    return bytes(view) == bytes([(seed + k) % 251 for k in range(251)]) * (n // 251) + \
        bytes([(seed + k) % 251 for k in range(n % 251)])


# ---- huge pages shared with children -----------------------------------------

def test_anonymous_huge_shared_with_child(reserved, children):
    """An anonymous pool on huge pages: the child forked after creation maps
    the same huge pages, reads what the parent wrote through slot() and
    writes a slot the parent reads; the dead child's slot is recovered."""
    hpage = reserved
    p = shpool.Pool(None, "raw", 4, MIB, huge_pages=True)
    assert p.page_size == hpage == meminfo("Hugepagesize") * 1024
    st = p.stats()
    assert st["page_size"] == hpage and st["mmap_size"] % hpage == 0
    i = p.alloc(timeout=0)
    with p.slot(i) as v:
        assert kernel_page_size(v) == hpage
        fill(v, 7)

    def child():
        assert p.page_size == hpage  # inherited with the mapping
        with p.slot(i) as v:
            assert filled(v, 7)
            assert kernel_page_size(v) == hpage
        j = p.alloc(timeout=5)
        with p.slot(j) as v:
            fill(v, 100 + j)
        return 10 + j  # exits holding j

    c = children(child)
    code = c.wait()
    assert code >= 10, "child failed (exit %d)" % code
    j = code - 10
    assert j != i and p.owner(j) == c.pid
    with p.slot(j) as v:
        assert filled(v, 100 + j)
    assert p.recover_stale() == 1 and p.used == 1
    p.free(i)
    assert p.check() == []
    p.close()


def test_memfd_huge_shared_with_child(reserved, children):
    """A memfd pool on huge pages: a child attaches the inherited fd with
    from_fd(populate=True) and gets huge pages from the memfd itself."""
    hpage = reserved
    m = shpool.Pool.memfd("pytest-huge", "raw", 4, MIB, huge_pages=True, populate=True)
    assert m.page_size == hpage and m.stats()["page_size"] == hpage
    i = m.alloc(timeout=0)
    with m.slot(i) as v:
        assert kernel_page_size(v) == hpage
        fill(v, 3)
    fd = m.fd

    def child():
        q = shpool.Pool.from_fd(fd, populate=True)
        assert q.page_size == hpage
        with q.slot(i) as v:
            assert filled(v, 3)
        j = q.alloc(timeout=5)
        with q.slot(j) as v:
            assert kernel_page_size(v) == hpage
            fill(v, 50)
        q.free(i)  # a foreign free, through the child's own mapping
        q.close()
        return 10 + j

    c = children(child)
    code = c.wait()
    assert code >= 10, "child failed (exit %d)" % code
    j = code - 10
    assert not m.is_allocated(i) and m.owner(j) == c.pid
    # This process attaching the same fd, read-only and populated.
    r = shpool.Pool.from_fd(fd, readonly=True, populate=True)
    assert r.page_size == hpage
    with r.slot(j) as v:
        assert filled(v, 50)
    r.close()
    m.free(j)
    assert m.used == 0
    m.close()


def test_prefer_gets_huge_pages_when_there_are_some(reserved):
    hpage = reserved
    with shpool.Pool(None, "i64", 1000, huge_pages="prefer") as p:
        assert p.page_size == hpage
        i = p.alloc_set(42)
        assert p.get(i) == 42
    with shpool.Pool.memfd("pytest-prefer", "i64", 1000, huge_pages="PREFER") as m:
        assert m.page_size == hpage


# ---- too few huge pages --------------------------------------------------------

def beyond_reach(hpage):
    """Slots of 1 MiB spanning more huge pages than the kernel could give,
    even with every reserved one free (and a margin for the count growing
    meanwhile). Only address space: nothing is touched."""
    pages = 2 * (meminfo("HugePages_Total") + headroom()) + 64
    return pages * (hpage // MIB)


@pytest.mark.parametrize("backing", ["anonymous", "memfd"])
def test_shortage_raises_and_prefer_falls_back(hpage, backing):
    def make(huge):
        if backing == "memfd":
            return shpool.Pool.memfd("pytest-short", "raw", cap, MIB, huge_pages=huge)
        return shpool.Pool(None, "raw", cap, MIB, huge_pages=huge)

    cap = beyond_reach(hpage)
    with pytest.raises(OSError) as ei:
        make(True)
    e = ei.value
    # The binding's usual mapping: OSError with errno and the detail.
    assert type(e) is OSError and e.errno == errno.ENOMEM
    msg = str(e)
    assert "not enough huge pages" in msg and "/proc/sys/vm/nr_hugepages" in msg, msg
    assert "echo " in msg, msg  # how many to reserve
    assert "huge_pages='prefer'" in msg and "SHPOOL_HUGEPAGES_PREFER" not in msg, msg

    # 'prefer': normal pages, and page_size says so.
    with make("prefer") as p:
        assert p.page_size == PAGE and p.stats()["page_size"] == PAGE
        i = p.alloc(timeout=0)
        with p.slot(i) as v:
            assert kernel_page_size(v) == PAGE
            fill(v, 9)
            assert filled(v, 9)
        p.free(i)


def test_file_pool_off_hugetlbfs(hpage, path):
    """A file pool can only have huge pages on hugetlbfs (/dev/shm is
    tmpfs): huge_pages=True is ValueError and makes no file; 'prefer' gets
    normal pages."""
    with pytest.raises(ValueError) as ei:
        shpool.Pool(path, "raw", 4, 64, huge_pages=True)
    assert ei.value.errno == errno.EINVAL and "hugetlbfs" in str(ei.value)
    assert "huge_pages='prefer'" in str(ei.value)
    assert not os.path.exists(path)
    with shpool.Pool(path, "raw", 4, 64, huge_pages="prefer") as p:
        assert p.page_size == PAGE
    with shpool.Pool.open(path) as q:
        assert q.page_size == PAGE


# ---- populate, page_size, bad values --------------------------------------------

def minflt():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def touch_every_page(p):
    buf = p.buffer
    for off in range(0, len(buf), PAGE):
        buf[off] = 1
    buf.release()


def test_populate_faults_nothing_later():
    """populate=True: writing every page afterwards takes (next to) no page
    faults; the same pool without it takes one per page."""
    pages = 1024
    with shpool.Pool(None, "raw", pages, PAGE, zero=False) as plain:
        before = minflt()
        touch_every_page(plain)
        plain_faults = minflt() - before
    with shpool.Pool(None, "raw", pages, PAGE, zero=False, populate=True) as p:
        before = minflt()
        touch_every_page(p)
        faults = minflt() - before
    assert faults < pages // 16, \
        "%d faults touching %d populated pages (%d without populate)" % (
            faults, pages, plain_faults)


def test_populate_on_attach(path):
    """populate= is an attach flag too: open() and from_fd(), read-only
    included."""
    p = shpool.Pool(path, "i64", 100)
    i = p.alloc_set(7)
    with shpool.Pool.open(path, populate=True) as q:
        assert q.get(i) == 7 and q.page_size == PAGE
    with shpool.Pool.open(path, "i64", readonly=True, populate=True) as r:
        assert r.get(i) == 7 and r.readonly
    m = shpool.Pool.memfd("pytest-pop", "i64", 100, populate=True)
    with shpool.Pool.from_fd(m.fd, populate=True) as f:
        assert f.alloc_set(5) is not None
    assert m.used == 1
    m.close()
    p.close()


def test_page_size_of_normal_pool():
    p = shpool.Pool(None, "raw", 4, 64)
    assert p.page_size == PAGE == p.stats()["page_size"]
    assert isinstance(p.page_size, int)
    with pytest.raises(AttributeError):
        p.page_size = 4096  # read-only
    p.close()
    with pytest.raises(ValueError):
        p.page_size


@pytest.mark.parametrize("value,exc", [
    (1, TypeError), (0, TypeError), (None, TypeError), (2.0, TypeError),
    (b"prefer", TypeError), ("yes", ValueError), ("", ValueError),
    ("huge", ValueError),
])
def test_bad_huge_pages(value, exc):
    with pytest.raises(exc) as ei:
        shpool.Pool(None, "raw", 4, 64, huge_pages=value)
    assert "huge_pages" in str(ei.value)
    with pytest.raises(exc):
        shpool.Pool.memfd("pytest-bad", "raw", 4, 64, huge_pages=value)


def test_new_keywords_are_keyword_only(path):
    with pytest.raises(TypeError):
        shpool.Pool(None, "raw", 4, 64, 0o600, True, False, True)
    with pytest.raises(TypeError):
        shpool.Pool.open(path, "raw", False, True)
    with pytest.raises(TypeError):
        shpool.Pool.open(path, huge_pages=True)  # creation only
