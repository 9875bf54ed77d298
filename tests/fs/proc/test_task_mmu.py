"""/proc/PID/maps, smaps, smaps_rollup, numa_maps, pagemap and clear_refs
(fs/proc/task_mmu.c), read the way a kernel selftest reads them.

Layouts are drawn as ``[THP A][THP B]``: 2 MiB-aligned huge pages in one VMA.
"""

import errno

import pytest
from fs_helpers import (
    ANON,
    PM_FILE,
    PM_MMAP_EXCLUSIVE,
    PM_PFRAME_MASK,
    PM_PRESENT,
    PM_SOFT_DIRTY,
    PM_SWAP,
    RW,
    boot,
    key_values,
    map_small,
    map_thp_area,
    numa_maps_lines,
    pagemap,
    smaps_of,
    smaps_records,
)
from mm_helpers import finish_migration, start_migration

from thpsim import (
    MADV_DONTNEED,
    MADV_NOHUGEPAGE,
    MPOL_BIND,
    MPOL_INTERLEAVE,
    MPOL_MF_MOVE,
    PROT_READ,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.errors import KernelBug
from thpsim.kernel.locking import down_write, up_write
from thpsim.kernel.sched import run_to_completion


def one_thp(profile, **kw):
    """[THP A][  ]: a process with one written THP at ``a``."""
    m = boot(profile, **kw)
    p = m.spawn(cpu=0)
    a = map_thp_area(p)
    p.threads[0].write(a + 5 * PAGE_SIZE, 1)
    return m, p, a


# ---------------------------------------------------------------- maps
def test_maps_lines():
    m = boot()
    p = m.spawn()
    a = p.mmap(0, 8 * PAGE_SIZE, RW, ANON)
    p.mprotect(a, 2 * PAGE_SIZE, PROT_READ)
    assert p.fs.read("/proc/self/maps") == (
        f"{a:08x}-{a + 2 * PAGE_SIZE:08x} r--p 00000000 00:00 0 \n"
        f"{a + 2 * PAGE_SIZE:08x}-{a + 8 * PAGE_SIZE:08x} rw-p 00000000 00:00 0 \n"
    )


# ---------------------------------------------------------------- smaps
def test_smaps_one_pmd_mapped_thp(profile):
    m, p, a = one_thp(profile)
    text = p.fs.read("/proc/self/smaps")
    rec = smaps_records(text)[0]
    assert rec["Size"] == 4096 and rec["KernelPageSize"] == 4 and rec["MMUPageSize"] == 4
    assert rec["Rss"] == rec["Pss"] == rec["Anonymous"] == rec["AnonHugePages"] == 2048
    assert rec["Private_Dirty"] == rec["Referenced"] == 2048
    assert rec["Shared_Clean"] == rec["Shared_Dirty"] == rec["Private_Clean"] == 0
    assert rec["LazyFree"] == rec["Swap"] == rec["Locked"] == 0
    assert rec["VmFlags"] == "rd wr mr mw me ac sd"
    assert "Rss:                2048 kB\n" in text
    assert "AnonHugePages:      2048 kB\n" in text
    assert "Private_Hugetlb:       0 kB\n" in text
    if profile == "seed":  # the 4.14 field list
        assert "THPeligible" not in rec and "Pss_Dirty" not in rec and "KSM" not in rec
    else:
        assert rec["THPeligible"] == 1 and rec["Pss_Dirty"] == 2048
        assert "THPeligible:           1\n" in text
        assert list(rec)[-3:] == ["Locked", "THPeligible", "VmFlags"]


def test_smaps_zero_pages_are_not_rss(profile):
    """A read fault maps the huge zero page (THP VMA) or the zero page: no Rss."""
    m = boot(profile)
    p = m.spawn()
    a = map_thp_area(p)
    b = map_small(p, 4)
    p.read(a)
    p.read(b)
    for addr in (a, b):
        rec = smaps_of(p.fs, addr)
        assert rec["Rss"] == rec["Anonymous"] == rec["AnonHugePages"] == 0
    # pagemap (OV-6): present, the zero pages' PFNs, never exclusive; the huge zero
    # page is "not anon" in mainline's PMD path, so PM_FILE there
    huge, small = pagemap(p.fs, a)[0], pagemap(p.fs, b)[0]
    assert huge & PM_PFRAME_MASK == m.kernel.huge_zero_pfn
    assert small & PM_PFRAME_MASK == m.kernel.zero_pfn
    assert huge & PM_PRESENT and small & PM_PRESENT
    assert not (huge | small) & PM_MMAP_EXCLUSIVE
    assert not small & PM_FILE
    assert bool(huge & PM_FILE) == (profile == "mainline")
    # numa_maps counts neither (OV-10): the lines stop after the policy
    lines = numa_maps_lines(p.fs)
    assert lines[b] == f"{b:08x} default"
    start = p.mm.find_vma(a).vm_start
    assert lines[start] == f"{start:08x} default"


def test_smaps_shared_after_fork(profile):
    m, p, a = one_thp(profile)
    c = p.fork()
    for proc in (p, c):
        rec = smaps_of(proc.fs, a)
        assert rec["Rss"] == rec["AnonHugePages"] == 2048
        assert rec["Shared_Dirty"] == 2048 and rec["Private_Dirty"] == 0
        assert rec["Pss"] == 1024
    words = pagemap(p.fs, a, HPAGE_PMD_NR)
    assert all(w & PM_PRESENT and not w & PM_MMAP_EXCLUSIVE for w in words)
    assert "mapmax=2" in p.fs.read("/proc/self/numa_maps")


def test_smaps_pte_mapped_thp_is_not_anon_huge(profile):
    """[THP A|A'] split by mprotect of its second half: two VMAs, PTE-mapped."""
    m, p, a = one_thp(profile)
    p.threads[0].write(a + HPAGE_PMD_SIZE - PAGE_SIZE, 2)
    p.mprotect(a + HPAGE_PMD_SIZE // 2, HPAGE_PMD_SIZE // 2, PROT_READ)
    for addr in (a, a + HPAGE_PMD_SIZE // 2):
        rec = smaps_of(p.fs, addr)
        assert rec["Rss"] == rec["Anonymous"] == 1024
        assert rec["AnonHugePages"] == 0
    assert key_values(m.fs.read("/proc/meminfo"))["AnonHugePages"] == 0
    words = pagemap(p.fs, a, HPAGE_PMD_NR)
    assert [w & PM_PFRAME_MASK for w in words] == list(
        range(words[0] & PM_PFRAME_MASK, (words[0] & PM_PFRAME_MASK) + HPAGE_PMD_NR)
    )
    assert all(w & PM_MMAP_EXCLUSIVE for w in words)


def test_smaps_rollup_sums_the_vmas(profile):
    m, p, a = one_thp(profile)
    b = map_small(p, 4)
    p.threads[0].write(b, 1)
    text = p.fs.read("/proc/self/smaps_rollup")
    head, _, body = text.partition("\n")
    assert head.endswith(" [rollup]") and head.split()[1] == "---p"
    kv = key_values(body)
    assert kv["Rss"] == 2052 and kv["AnonHugePages"] == 2048
    assert ("Pss_Anon" in kv) == (profile == "mainline")


def test_smaps_locked(profile):
    m, p, a = one_thp(profile)
    assert smaps_of(p.fs, a)["Locked"] == 0
    p.mlock(a, HPAGE_PMD_SIZE)
    rec = smaps_of(p.fs, a)
    assert rec["Locked"] == rec["Pss"] == 2048
    assert "lo" in str(rec["VmFlags"]).split()


def test_smaps_takes_mmap_lock():
    """The walk runs under mmap_lock: with a writer holding it, a read cannot proceed
    (the sequential driver reports the wait as a deadlock)."""
    m, p, a = one_thp("seed")
    ctx = m.kernel
    ctx.current = p.task
    run_to_completion(down_write(p.mm.mmap_lock))
    ctx.current = None
    with pytest.raises(KernelBug, match="mmap_lock"):
        m.fs.read(f"/proc/{p.pid}/smaps")
    ctx.current = p.task
    up_write(p.mm.mmap_lock)
    ctx.current = None
    assert smaps_of(m.fs, a, p.pid)["Rss"] == 2048


# ---------------------------------------------------------------- pagemap
def test_pagemap_thp_root_and_unprivileged(profile):
    """512 present entries with consecutive PFNs for root; PFN 0 without CAP_SYS_ADMIN."""
    m = boot(profile)
    p = m.spawn(cpu=0)
    u = m.spawn(cpu=0, uid=1000, caps=frozenset())
    a, b = map_thp_area(p), map_thp_area(u)
    p.threads[0].write(a, 1)
    u.threads[0].write(b, 1)
    words = pagemap(p.fs, a, HPAGE_PMD_NR)
    head = words[0] & PM_PFRAME_MASK
    assert head % HPAGE_PMD_NR == 0
    assert m.kernel.pages.PageTransHuge(head)
    flags = PM_PRESENT | PM_MMAP_EXCLUSIVE | PM_SOFT_DIRTY
    assert words == [flags | (head + i) for i in range(HPAGE_PMD_NR)]  # OV-7
    assert pagemap(u.fs, b, HPAGE_PMD_NR) == [flags] * HPAGE_PMD_NR  # OV-1
    # root reading the user's pagemap sees the PFNs (the opener's capability counts)
    assert pagemap(m.fs, b, 1, pid=u.pid)[0] & PM_PFRAME_MASK != 0


def test_pagemap_holes_and_untouched(profile):
    m = boot(profile)
    p = m.spawn()
    a = p.mmap(0, 8 * PAGE_SIZE, RW, ANON)
    # [hole][untouched VMA x8][hole]: VM_SOFTDIRTY makes untouched pages soft-dirty (OV-3)
    words = pagemap(p.fs, a - PAGE_SIZE, 10)
    assert words == [0] + [PM_SOFT_DIRTY] * 8 + [0]
    # reading past the end of the user address space returns what is left
    top = (1 << 47) - PAGE_SIZE
    assert len(p.fs.read("/proc/self/pagemap", offset=(top >> 12) * 8 - 8, length=64)) == 8


def test_pagemap_short_reads_across_chunks():
    """A read spanning several 2 MiB walk chunks returns every entry, in order."""
    m = boot()
    p = m.spawn()
    a = map_thp_area(p, 2)
    p.threads[0].write(a + HPAGE_PMD_SIZE, 1)  # [untouched][THP B]
    words = pagemap(p.fs, a + HPAGE_PMD_SIZE - 4 * PAGE_SIZE, 8)
    assert words[:4] == [PM_SOFT_DIRTY] * 4
    assert all(w & PM_PRESENT for w in words[4:])
    assert [w & PM_PFRAME_MASK for w in words[5:]] == [(words[4] & PM_PFRAME_MASK) + i
                                                       for i in range(1, 4)]


# ---------------------------------------------------------------- clear_refs
def test_clear_refs_soft_dirty_thp(profile):
    """OV-4, OV-5: clear_refs 4 clears bit 55 without splitting; one write sets all 512."""
    m, p, a = one_thp(profile)
    b = map_small(p, 4)
    assert all(w & PM_SOFT_DIRTY for w in pagemap(p.fs, a, HPAGE_PMD_NR))
    split_before = m.kernel.vmstat.events["thp_split_pmd"]
    assert p.fs.write("/proc/self/clear_refs", "4\n") == 2
    words = pagemap(p.fs, a, HPAGE_PMD_NR)
    assert all(w & PM_PRESENT and not w & PM_SOFT_DIRTY for w in words)
    assert pagemap(p.fs, b, 4) == [0] * 4  # untouched: nothing at all now (OV-4)
    assert "sd" not in str(smaps_of(p.fs, a)["VmFlags"]).split()
    # the PMD was write-protected, not split
    assert smaps_of(p.fs, a)["AnonHugePages"] == 2048
    p.threads[0].write(a + 100 * PAGE_SIZE, 2)
    words = pagemap(p.fs, a, HPAGE_PMD_NR)
    assert all(w & PM_SOFT_DIRTY and w & PM_PRESENT for w in words)
    assert m.kernel.vmstat.events["thp_split_pmd"] == split_before
    assert smaps_of(p.fs, a)["AnonHugePages"] == 2048


def test_clear_refs_soft_dirty_ptes(profile):
    m = boot(profile, thp="never")
    p = m.spawn()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    for i in range(4):
        p.threads[0].write(a + i * PAGE_SIZE, i)
    p.fs.write("/proc/self/clear_refs", "4")
    assert [w & PM_SOFT_DIRTY for w in pagemap(p.fs, a, 4)] == [0] * 4
    p.threads[0].write(a + 2 * PAGE_SIZE, 7)
    assert [bool(w & PM_SOFT_DIRTY) for w in pagemap(p.fs, a, 4)] == [0, 0, 1, 0]
    assert p.threads[0].read(a + 3 * PAGE_SIZE) == 3


@pytest.mark.parametrize(
    "value, code",
    [("0", errno.EINVAL), ("6", errno.EINVAL), ("-1", errno.EINVAL), ("x", errno.EINVAL),
     ("", errno.EINVAL), ("4x", errno.EINVAL), ("99999999999", errno.ERANGE)],
)
def test_clear_refs_rejects(value, code):
    """OV-9: values outside 1..5 are EINVAL (the man page says "no effect")."""
    m, p, a = one_thp("seed")
    with pytest.raises(OSError) as e:
        p.fs.write("/proc/self/clear_refs", value)
    assert e.value.errno == code
    assert pagemap(p.fs, a)[0] & PM_SOFT_DIRTY  # nothing was cleared


def test_clear_refs_reads_twelve_characters():
    m, p, a = one_thp("seed")
    assert p.fs.write("/proc/self/clear_refs", " 4" + " " * 20) == 12


def test_clear_refs_referenced(profile):
    m, p, a = one_thp(profile)
    b = map_small(p, 4)
    p.threads[0].write(b, 1)
    assert smaps_of(p.fs, a)["Referenced"] == 2048
    assert p.fs.write("/proc/self/clear_refs", "1") == 1
    assert smaps_of(p.fs, a)["Referenced"] == smaps_of(p.fs, b)["Referenced"] == 0
    assert not m.kernel.pages.flags[pagemap(p.fs, a)[0] & PM_PFRAME_MASK] & (1 << 2)
    p.read(a)
    if profile == "seed":
        # 4.14 flushed the TLB, so the access walks the tables and sets A again
        assert smaps_of(p.fs, a)["Referenced"] == 2048
    # clear_refs 3 only touches file VMAs: the anonymous ones keep their bits (a fresh
    # mapping, so the access sets A whatever the era's TLB flush did)
    c = map_small(p, 4)
    p.threads[0].write(c, 2)
    ref = smaps_of(p.fs, c)["Referenced"]
    assert ref > 0
    p.fs.write("/proc/self/clear_refs", "3")
    assert smaps_of(p.fs, c)["Referenced"] == ref


def test_clear_refs_5_resets_peak_rss(profile):
    m = boot(profile)
    p = m.spawn()
    a = map_thp_area(p, 2)
    p.threads[0].write(a, 1)
    p.threads[0].write(a + HPAGE_PMD_SIZE, 1)
    assert p.fs.write("/proc/self/clear_refs", "5") == 1
    p.madvise(a + HPAGE_PMD_SIZE, HPAGE_PMD_SIZE, MADV_DONTNEED)
    st = key_values(p.fs.read("/proc/self/status"))
    assert st["VmRSS"] == 2048 and st["VmHWM"] == 4096


# ---------------------------------------------------------------- numa_maps
class _Formatted:
    """A policy object as the numa_maps hook sees one: it formats itself."""

    def mpol_to_str(self):
        return "bind:1"


def test_numa_maps(profile):
    m, p, a = one_thp(profile)
    b = map_small(p, 4)
    lines = numa_maps_lines(p.fs)
    start = p.mm.find_vma(a).vm_start
    assert lines[start] == f"{start:08x} default anon=512 dirty=512 N0=512 kernelpagesize_kB=4"
    assert lines[b] == f"{b:08x} default"  # untouched: stops after the policy
    # a VMA's own policy, through the policy object's mpol_to_str()
    p.mm.find_vma(b).vm_policy = _Formatted()
    assert numa_maps_lines(p.fs)[b] == f"{b:08x} bind:1"
    assert numa_maps_lines(p.fs)[start].startswith(f"{start:08x} default anon=512")


def test_numa_maps_shows_the_task_policy(profile):
    """OV-11: a VMA without its own policy shows the task's (set_mempolicy)."""
    m, p, a = one_thp(profile)
    if not hasattr(p, "set_mempolicy"):
        pytest.skip("set_mempolicy(2) is not in the API yet")
    b = map_small(p, 4)
    assert p.set_mempolicy(MPOL_INTERLEAVE, 0b11, 3) == 0
    lines = numa_maps_lines(p.fs)
    assert lines[b] == f"{b:08x} interleave:0-1"
    start = p.mm.find_vma(a).vm_start
    assert lines[start].startswith(f"{start:08x} interleave:0-1 anon=512 dirty=512 N0=512")
    assert p.mbind(b, 4 * PAGE_SIZE, MPOL_BIND, 0b10, 3) == 0
    assert numa_maps_lines(p.fs)[b] == f"{b:08x} bind:1"


def test_numa_maps_after_move_pages(profile):
    m, p, a = one_thp(profile)
    ret, status = p.move_pages(0, [a], [1], MPOL_MF_MOVE)
    assert status == [1]
    line = next(x for x in p.fs.read("/proc/self/numa_maps").splitlines() if "anon=" in x)
    assert "N1=512" in line and "N0=" not in line
    node0 = m.fs.read("/sys/devices/system/node/node0/meminfo")
    node1 = m.fs.read("/sys/devices/system/node/node1/meminfo")
    assert "Node 0 AnonHugePages:         0 kB\n" in node0
    assert "Node 1 AnonHugePages:      2048 kB\n" in node1


# ---------------------------------------------------------------- a THP under migration
def test_views_of_a_pmd_migration_entry(profile):
    """pagemap: 512 PM_SWAP entries, offset = PFN + index (root only in mainline);
    smaps: 4.14 does not count the THP, mainline counts it as shared."""
    m, p, a = one_thp(profile, check=False)  # writes happen with the migration half-way
    st, lst, head = start_migration(m, p, a)
    swp = m.kernel.swp
    words = pagemap(m.fs, a, HPAGE_PMD_NR, pid=p.pid)
    mtype = swp.SWP_MIGRATION_WRITE
    for i, w in enumerate(words):
        assert w & PM_SWAP and w & PM_SOFT_DIRTY and not w & PM_PRESENT
        assert w & PM_PFRAME_MASK == mtype | (head + i) << 5
        assert not w & PM_MMAP_EXCLUSIVE
    rec = smaps_of(m.fs, a, p.pid)
    if profile == "seed":
        assert rec["Rss"] == rec["AnonHugePages"] == 0
    else:
        assert rec["Rss"] == rec["Pss"] == 2048
        assert rec["Shared_Dirty"] == 2048 and rec["Private_Dirty"] == 0
    # clear_refs 4 clears the entry's soft-dirty bit
    m.fs.write(f"/proc/{p.pid}/clear_refs", "4")
    assert not pagemap(m.fs, a, 1, pid=p.pid)[0] & PM_SOFT_DIRTY
    finish_migration(m, st, lst)
    w = pagemap(m.fs, a, 1, pid=p.pid)[0]
    assert w & PM_PRESENT and m.kernel.mem.pfn_to_nid(w & PM_PFRAME_MASK) == 1
    # mainline restores the entry's dirty bit with pmd_mkdirty(), which sets soft-dirty
    # too: the migrated THP comes back soft-dirty after clear_refs 4 (the oracle's (1))
    assert bool(w & PM_SOFT_DIRTY) == (profile == "mainline")
    m.check_integrity()


def test_thp_under_migration_is_still_anon():
    """Mainline: the THP behind a PMD migration entry is anon (AnonHugePages, no PM_FILE)."""
    m, p, a = one_thp("mainline")
    st, lst, head = start_migration(m, p, a)
    try:
        assert smaps_of(m.fs, a, p.pid)["AnonHugePages"] == 2048
        assert not pagemap(m.fs, a, 1, pid=p.pid)[0] & PM_FILE
    finally:
        finish_migration(m, st, lst)


def test_unprivileged_pagemap_of_a_migration_entry(profile):
    m = boot(profile)
    u = m.spawn(uid=1000, caps=frozenset())
    a = map_thp_area(u)
    u.threads[0].write(a, 1)
    st, lst, head = start_migration(m, u, a)
    w = pagemap(u.fs, a)[0]
    assert w & PM_SWAP
    assert (w & PM_PFRAME_MASK == 0) == (profile == "mainline")
    finish_migration(m, st, lst)


def test_pagemap_after_madvise_nohugepage_split():
    m, p, a = one_thp("seed")
    p.madvise(a, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
    assert "nh" in str(smaps_of(p.fs, a)["VmFlags"]).split()
    assert smaps_of(p.fs, a)["AnonHugePages"] == 2048  # the advice does not split
