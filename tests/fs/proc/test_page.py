"""/proc/kpageflags and /proc/kpagecount (fs/proc/page.c)."""

from fs_helpers import PM_PFRAME_MASK, boot, map_thp_area, pagemap, words

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR
from thpsim.mm.page_alloc import (
    for_each_free_block,
)
from thpsim.mm.page_flags import F_hwpoison

KPF_REFERENCED = 1 << 2
KPF_UPTODATE = 1 << 3
KPF_LRU = 1 << 5
KPF_ACTIVE = 1 << 6
KPF_BUDDY = 1 << 10
KPF_MMAP = 1 << 11
KPF_ANON = 1 << 12
KPF_SWAPBACKED = 1 << 14
KPF_COMPOUND_HEAD = 1 << 15
KPF_COMPOUND_TAIL = 1 << 16
KPF_HWPOISON = 1 << 19
KPF_THP = 1 << 22
KPF_ZERO_PAGE = 1 << 24
KPF_PGTABLE = 1 << 26
KPF_RESERVED = 1 << 32


def kpageflags(fs, pfn: int, n: int = 1) -> list[int]:
    return words(fs.read("/proc/kpageflags", offset=pfn * 8, length=8 * n))


def kpagecount(fs, pfn: int, n: int = 1) -> list[int]:
    return words(fs.read("/proc/kpagecount", offset=pfn * 8, length=8 * n))


def thp(profile):
    m = boot(profile)
    p = m.spawn()
    a = map_thp_area(p)
    p.threads[0].write(a, 1)
    head = pagemap(p.fs, a)[0] & PM_PFRAME_MASK
    return m, p, a, head


def test_thp_head_and_tails(profile):
    """OV-8: head COMPOUND_HEAD|THP|ANON|LRU|MMAP; tails COMPOUND_TAIL|THP|ANON|MMAP (4.14
    reads each frame's own flags: LRU is the head's alone; mainline the folio's)."""
    m, p, a, head = thp(profile)
    flags = kpageflags(m.fs, head, HPAGE_PMD_NR)
    want_head = (KPF_COMPOUND_HEAD | KPF_THP | KPF_ANON | KPF_MMAP | KPF_LRU | KPF_ACTIVE
                 | KPF_UPTODATE | KPF_SWAPBACKED)
    assert flags[0] & want_head == want_head
    assert not flags[0] & (KPF_COMPOUND_TAIL | KPF_BUDDY | KPF_ZERO_PAGE)
    tail = KPF_COMPOUND_TAIL | KPF_THP | KPF_ANON | KPF_MMAP
    for f in flags[1:]:
        assert f & tail == tail and not f & KPF_COMPOUND_HEAD
        assert bool(f & KPF_LRU) == (profile == "mainline")
    if profile == "seed":
        assert set(flags[1:]) == {tail}
    assert kpagecount(m.fs, head, HPAGE_PMD_NR) == [1] * HPAGE_PMD_NR
    p.fork()
    assert kpagecount(m.fs, head, HPAGE_PMD_NR) == [2] * HPAGE_PMD_NR


def test_zero_pages(profile):
    m = boot(profile)
    p = m.spawn()
    p.read(map_thp_area(p))
    hz = m.kernel.huge_zero_pfn
    f = kpageflags(m.fs, hz, 2)
    assert f[0] == KPF_COMPOUND_HEAD | KPF_THP | KPF_ZERO_PAGE
    assert f[1] == KPF_COMPOUND_TAIL | KPF_THP | KPF_ZERO_PAGE
    assert kpageflags(m.fs, m.kernel.zero_pfn)[0] == KPF_ZERO_PAGE | KPF_RESERVED


def test_free_pages_and_page_tables(profile):
    m = boot(profile)
    blocks = [(pfn, order) for pfn, order in for_each_free_block(m.kernel) if order >= 2]
    pfn, order = blocks[0]
    f = kpageflags(m.fs, pfn, 3)
    assert all(x == KPF_BUDDY for x in f)  # the head, and frames inside (refcount 0)
    head_count = kpagecount(m.fs, pfn)[0]
    # 4.14 reports page_mapcount() of a PageBuddy head as is (-127); 4.18+ says 0
    assert head_count == (0 if profile == "mainline" else (1 << 64) - 127)
    assert kpagecount(m.fs, pfn + 1) == [0]
    p = m.spawn()
    table = p.mm.pgd.pfn
    assert bool(kpageflags(m.fs, table)[0] & KPF_PGTABLE) == (profile == "mainline")


def test_hwpoison_is_per_frame(profile):
    m, p, a, head = thp(profile)
    m.kernel.pages.flags[head + 3] |= F_hwpoison
    f = kpageflags(m.fs, head, 5)
    assert [bool(x & KPF_HWPOISON) for x in f] == [False, False, False, True, False]
    m.kernel.pages.flags[head + 3] &= ~F_hwpoison
