"""/proc/PID/maps, smaps, smaps_rollup, numa_maps, pagemap and clear_refs.

Models: fs/proc/task_mmu.c, v4.14 (the ``seed`` profile) and current mainline
(``mainline``). Each view walks the page tables with mm/pagewalk.py's
:func:`~thpsim.mm.pagewalk.walk_page_range` and its own ``mm_walk_ops``, the
way the kernel does: ``mmap_lock`` for read (held for the whole file by
``m_start``; per 2 MiB chunk by ``pagemap_read``), then per PMD
``pmd_trans_huge_lock()`` for a huge PMD or PMD migration entry, else the PTE
table under its split lock. Each file's read or write is one generator (a kernel
path: ``pagemap_read``, ``clear_refs_write``, the seq_file reads over ``show_map``,
``show_smap``, ``show_numa_map`` and ``show_smaps_rollup``), holding a user
reference on the mm meanwhile (:func:`~thpsim.fs.proc.internal.proc_task_mm_read`);
the VFS runs it to completion in the opener's read(2) or write(2), or hands it to the
interleaving driver
(:meth:`~thpsim.fs.vfs.VFS.sys_read`, :meth:`~thpsim.fs.vfs.VFS.sys_write`).

Differences between the eras, where each is decided (mainline = ``mainline``):

* smaps: a PMD migration entry is not counted in 4.14 (``smaps_pte_range`` only
  looks at a present PMD); mainline counts it, as a non-present (shared) page
  (5.9+ ``smaps_pmd_entry``). mainline adds ``Pss_Dirty`` (6.0), ``KSM`` (6.?),
  ``FilePmdMapped`` (5.4) and ``THPeligible`` (5.0, 8-wide since 5.3).
* pagemap: mainline hides the swap/migration frame without CAP_SYS_ADMIN (5.14),
  sets PM_MMAP_EXCLUSIVE only for present entries and sets PM_FILE at the PMD
  level (the huge zero page is not anon); 4.14 sets neither at the PMD level and
  reports a migration entry's page as exclusive when its mapcount is 1.
* clear_refs: 4.14 takes ``mmap_lock`` for read (for write only to clear
  VM_SOFTDIRTY, then downgrades) and always flushes the TLB; mainline takes it
  for write and flushes only for soft-dirty (4).

Later correctness fixes applied to both eras (the ``seed`` profile keeps every
later fix, see profiles.py): smaps ``Locked`` is the locked Pss (4.14.0 printed
the Pss of every VMA); numa_maps does not count the huge zero page; pagemap
gives each subpage of a PMD-mapped THP its own PM_MMAP_EXCLUSIVE and each entry
of a PMD migration entry its own offset (PFN + index).

Simplified: anonymous private VMAs only (no file names, no ``[heap]``/``[stack]``,
no hugetlb, no shmem swap), no swap devices (every swap-format entry is a
migration or hwpoison entry), no uffd-wp or guard-region bits, no KSM.
"""

from __future__ import annotations

import errno
import os
import sys
from array import array
from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_MASK,
    HPAGE_PMD_NR,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SIZE,
    TASK_SIZE,
    pmd_clear_soft_dirty,
    pmd_dirty,
    pmd_mkdirty,
    pmd_mkold,
    pmd_mkyoung,
    pmd_pfn,
    pmd_present,
    pmd_protnone,
    pmd_soft_dirty,
    pmd_wrprotect,
    pmd_young,
    pte_clear_soft_dirty,
    pte_dirty,
    pte_mkold,
    pte_pfn,
    pte_present,
    pte_soft_dirty,
    pte_wrprotect,
    pte_young,
)
from thpsim.arch.x86_64.swapops import (
    MAX_SWAPFILES_SHIFT,
    is_swap_pmd,
    is_swap_pte,
    swp_offset,
    swp_offset_pfn,
    swp_type,
)
from thpsim.fs.proc.base import PID_DIRS, task_dump_owner
from thpsim.fs.proc.internal import (
    get_proc_task,
    node_states_memory,
    proc_mem_open,
    proc_task_mm_read,
)
from thpsim.kernel.locking import (
    down_read,
    down_write,
    downgrade_write,
    spin_unlock,
    up_read,
    up_write,
)
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.task import CAP_SYS_ADMIN
from thpsim.kernel.tlbflush import flush_tlb_mm
from thpsim.lib.kstrtox import kstrtoint
from thpsim.lib.string import strstrip
from thpsim.mm.huge_memory import (
    is_huge_zero_pmd,
    pmd_trans_huge_lock,
    transparent_hugepage_enabled,
)
from thpsim.mm.memory import vm_normal_page
from thpsim.mm.mm_types import (
    MM_ANONPAGES,
    MM_FILEPAGES,
    MM_SHMEMPAGES,
    MM_SWAPENTS,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_HUGETLB,
    VM_LOCKED,
    VM_MAYSHARE,
    VM_PFNMAP,
    VM_READ,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_WRITE,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.page_flags import (
    F_active,
    F_dirty,
    F_referenced,
    F_reserved,
    F_swapbacked,
    F_unevictable,
    F_writeback,
    F_young,
    PG_owner_priv_1,
)
from thpsim.mm.pagewalk import (
    mm_walk,
    mm_walk_ops,
    walk_page_range,
    walk_page_vma,
    walk_pte_lock,
)
from thpsim.mm.pgtable_generic import (
    Ptr,
    pmd_trans_unstable,
    pmdp_get,
    pmdp_invalidate,
    ptep_get,
    ptep_get_and_clear,
    set_pmd_at,
    set_pte_at,
)
from thpsim.profiles import Profile

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = [
    "show_map",
    "show_smap",
    "show_smaps_rollup",
    "show_numa_map",
    "pagemap_read",
    "clear_refs_write",
    "task_mem",
    "mpol_to_str",
    "register",
]

#: fixed-point shift of the Pss accumulators (task_mmu.c)
PSS_SHIFT = 12
#: PageSwapCache(): PG_swapbacked and PG_swapcache (which aliases PG_owner_priv_1)
_SWAPCACHE = F_swapbacked | (1 << PG_owner_priv_1)


# ====================================================================== maps
#: show_smap_vma_flags(): the two-letter code of each vm_flags bit (x86-64);
#: a set bit without a code prints "??" (both eras).
_MNEMONICS: dict[int, str] = {
    0: "rd", 1: "wr", 2: "ex", 3: "sh", 4: "mr", 5: "mw", 6: "me", 7: "ms",
    8: "gd", 9: "um", 10: "pf", 11: "dw", 12: "uw", 13: "lo", 14: "io", 15: "sr",
    16: "rr", 17: "dc", 18: "de", 20: "ac", 21: "nr", 22: "ht", 23: "sf", 24: "ar",
    25: "wf", 26: "dd", 27: "sd", 28: "mm", 29: "hg", 30: "nh", 31: "mg",
}


def show_vma_header_prefix(start: int, end: int, flags: int, pgoff: int, dev: tuple[int, int],
                           ino: int) -> str:
    """Models: show_vma_header_prefix(): ``%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ``."""
    perms = (
        ("r" if flags & VM_READ else "-")
        + ("w" if flags & VM_WRITE else "-")
        + ("x" if flags & VM_EXEC else "-")
        + ("s" if flags & VM_MAYSHARE else "p")
    )
    return f"{start:08x}-{end:08x} {perms} {pgoff:08x} {dev[0]:02x}:{dev[1]:02x} {ino} "


#: seq_setwidth(m, 25 + sizeof(void *) * 6 - 1): the column a name is padded to.
_MAPS_NAME_COLUMN = 25 + 8 * 6 - 1


def show_map_vma(vma: vm_area_struct, name: str | None = None) -> str:
    """Models: show_map_vma(). An anonymous VMA prints pgoff 0, dev 00:00, inode 0 and no
    name; a name (``[rollup]``) is padded to column 73 (seq_pad)."""
    line = show_vma_header_prefix(vma.vm_start, vma.vm_end, vma.vm_flags, 0, (0, 0), 0)
    if name is not None:
        line = line.ljust(_MAPS_NAME_COLUMN) + name
    return line + "\n"


def _vmas_locked(mm: mm_struct | None, show) -> KernelPath[str]:
    """m_start()/m_next()/m_stop(): ``show`` each VMA under mmap_lock held for read.

    ``show(vma)`` returns the text, or a kernel path that returns it.
    """
    if mm is None:
        return ""
    yield from down_read(mm.mmap_lock)
    try:
        out = []
        for vma in list(mm.mmap):
            text = show(vma)
            out.append(text if isinstance(text, str) else (yield from text))
        return "".join(out)
    finally:
        up_read(mm.mmap_lock)


def show_map(vma: vm_area_struct) -> str:
    """Models: show_map() (one /proc/PID/maps line). Context: mmap_lock held."""
    return show_map_vma(vma)


# ====================================================================== smaps
class mem_size_stats:
    """Models: struct mem_size_stats (bytes; the pss fields carry PSS_SHIFT fraction bits)."""

    __slots__ = (
        "resident", "shared_clean", "shared_dirty", "private_clean", "private_dirty",
        "referenced", "anonymous", "lazyfree", "anonymous_thp", "shmem_thp", "file_thp",
        "swap", "shared_hugetlb", "private_hugetlb", "ksm", "pss", "pss_anon", "pss_file",
        "pss_shmem", "pss_dirty", "pss_locked", "swap_pss", "first_vma_start",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


def smaps_page_accumulate(mss: mem_size_stats, ctx: Any, head: int, size: int, pss: int,
                          dirty: bool, locked: bool, private: bool) -> None:
    """Models: smaps_page_accumulate() (5.9+; the same sums 4.14 made inline)."""
    mss.pss += pss
    if ctx.pages.PageAnon(head):
        mss.pss_anon += pss
    elif ctx.pages.flags[head] & F_swapbacked:
        mss.pss_shmem += pss
    else:
        mss.pss_file += pss
    if locked:
        mss.pss_locked += pss
    if dirty or ctx.pages.flags[head] & F_dirty:
        mss.pss_dirty += pss
        if private:
            mss.private_dirty += size
        else:
            mss.shared_dirty += size
    elif private:
        mss.private_clean += size
    else:
        mss.shared_clean += size


def smaps_account(mss: mem_size_stats, ctx: Any, page: int, compound: bool, young: bool,
                  dirty: bool, locked: bool, present: bool) -> None:
    """Account one PTE-mapped page or one PMD-mapped THP (``compound``, head PFN).

    Models: fs/proc/task_mmu.c smaps_account(), v4.14 and mainline: anon and
    LazyFree (anon, not swap-backed, clean), Rss, Referenced (the entry's young
    bit, PG_young or PG_referenced), then private/shared per page from the
    refcount and the mapcounts; with ``smaps_account_nonpresent_shared`` (5.16/6.10) a
    non-present entry (a migration entry) counts as shared with its full Pss (the
    mapcount cannot be trusted then).
    """
    pages = ctx.pages
    head = pages.compound_head(page)
    hflags = pages.flags[head]
    nr = HPAGE_PMD_NR if compound else 1
    size = nr << PAGE_SHIFT
    if pages.PageAnon(head):
        mss.anonymous += size
        if not hflags & F_swapbacked and not dirty and not hflags & F_dirty:
            mss.lazyfree += size
    mss.resident += size
    if young or pages.flags[page] & F_young or hflags & F_referenced:
        mss.referenced += size
    nonpresent_shared = ctx.profile.smaps_account_nonpresent_shared
    if pages.page_count(head) == 1 or (nonpresent_shared and not present):
        # page_count() == 1: mapped exactly once, by this entry
        smaps_page_accumulate(mss, ctx, head, size, size << PSS_SHIFT, dirty, locked,
                              present or not nonpresent_shared)
        return
    for p in range(page, page + nr):
        mapcount = pages.page_mapcount(p)
        pss = PAGE_SIZE << PSS_SHIFT
        if mapcount >= 2:
            pss //= mapcount
        smaps_page_accumulate(mss, ctx, head, PAGE_SIZE, pss, dirty, locked, mapcount < 2)


def smaps_pte_entry(mss: mem_size_stats, walk: mm_walk, pte: int, addr: int) -> None:
    """Models: smaps_pte_entry(): a present normal page (not the zero page), or the page
    a migration entry names (mainline: any PFN swap entry, hwpoison included)."""
    vma = walk.vma
    ctx = walk.mm.kernel
    present = True
    page = -1
    if pte_present(pte):
        page = vm_normal_page(vma, addr, pte)
    elif is_swap_pte(pte):
        swp = ctx.swp
        entry = swp.pte_to_swp_entry(pte)
        present = False
        if swp.is_migration_entry(entry) or (
            ctx.profile.pfn_swap_entry_hwpoison and swp.is_pfn_swap_entry(entry)
        ):
            page = swp.pfn_swap_entry_pfn(entry)
    if page < 0:
        return
    smaps_account(mss, ctx, page, False, pte_young(pte), pte_dirty(pte),
                  bool(vma.vm_flags & VM_LOCKED), present)


def smaps_pmd_entry(mss: mem_size_stats, walk: mm_walk, pmd: int) -> None:
    """Models: smaps_pmd_entry(): a PMD-mapped THP (the huge zero page is skipped:
    4.14 follow_trans_huge_pmd(FOLL_DUMP) fails on it, mainline vm_normal_page_pmd()
    returns NULL); mainline also the THP behind a PMD migration entry. A PROT_NONE
    PMD's THP counts unless ``smaps_pmd_counts_protnone`` is off (6.1)."""
    ctx = walk.mm.kernel
    present = pmd_present(pmd)
    if present:
        if is_huge_zero_pmd(ctx, pmd):
            return
        if pmd_protnone(pmd) and not ctx.profile.smaps_pmd_counts_protnone:
            return  # 6.1: follow_trans_huge_pmd(FOLL_DUMP) returns NULL
        page = pmd_pfn(pmd)
    elif is_swap_pmd(pmd):
        page = ctx.swp.pfn_swap_entry_pfn(ctx.swp.pmd_to_swp_entry(pmd))
    else:
        return
    if ctx.pages.PageAnon(page):
        mss.anonymous_thp += HPAGE_PMD_SIZE
    smaps_account(mss, ctx, page, True, pmd_young(pmd), pmd_dirty(pmd),
                  bool(walk.vma.vm_flags & VM_LOCKED), present)


def smaps_pte_range(pmd: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """Models: smaps_pte_range(). Context: mmap_lock held; takes the PMD lock for a huge
    PMD or PMD migration entry, else the PTE lock. Preempts: in the locks."""
    mss = walk.private
    ctx = walk.mm.kernel
    ptl = yield from pmd_trans_huge_lock(pmd, walk.vma)
    if ptl is not None:
        try:
            v = pmdp_get(pmd)
            # 4.14 counts a present PMD only; 5.8+ hands migration entries on too
            # (bug_b20: the 4.14 test in a later era)
            prof = ctx.profile
            if pmd_present(v) or (prof.smaps_pmd_migration_entry
                                  and not prof.bug_b20_smaps_skips_pmd_migration_entry):
                smaps_pmd_entry(mss, walk, v)
        finally:
            spin_unlock(ptl)
        return 0
    if pmd_trans_unstable(ctx, pmd):
        return 0
    (table, i), ptl = yield from walk_pte_lock(walk, pmd, addr)
    try:
        for k in range((end - addr) >> PAGE_SHIFT):
            smaps_pte_entry(mss, walk, table[i + k], addr + (k << PAGE_SHIFT))
    finally:
        spin_unlock(ptl)
    return 0


#: Models: smaps_walk_ops
smaps_walk_ops = mm_walk_ops(pmd_entry=smaps_pte_range)


def smap_gather_stats(vma: vm_area_struct, mss: mem_size_stats) -> KernelPath[None]:
    """Models: smap_gather_stats() (4.14: the walk inside show_smap). Context: mmap_lock."""
    yield from walk_page_vma(vma, smaps_walk_ops, mss)


def show_smap_vma_flags(vma: vm_area_struct) -> str:
    """Models: show_smap_vma_flags(): ``VmFlags: `` and a code plus a space per set bit."""
    flags = vma.vm_flags
    out = ["VmFlags: "]
    for bit in range(64):
        if flags >> bit & 1:
            out.append(_MNEMONICS.get(bit, "??") + " ")
    out.append("\n")
    return "".join(out)


def _kb(label: str, value: int, width: int = 8) -> str:
    """SEQ_PUT_DEC / "%-16s%8lu kB": the label (with colon) in 16 columns, bytes as kB."""
    return f"{label:<16}{value >> 10:>{width}} kB\n"


def __show_smap(mss: mem_size_stats, profile: Profile, rollup: bool) -> str:
    """Models: __show_smap() (mainline; the same lines 4.14 printed inline), each line
    added after 4.14 behind its profile switch."""
    pss = mss.pss >> PSS_SHIFT
    out = [_kb("Rss:", mss.resident), _kb("Pss:", pss)]
    if profile.smaps_pss_dirty:
        out.append(_kb("Pss_Dirty:", mss.pss_dirty >> PSS_SHIFT))
    if rollup and profile.smaps_rollup_pss_split:
        out += [_kb("Pss_Anon:", mss.pss_anon >> PSS_SHIFT),
                _kb("Pss_File:", mss.pss_file >> PSS_SHIFT),
                _kb("Pss_Shmem:", mss.pss_shmem >> PSS_SHIFT)]
    out += [
        _kb("Shared_Clean:", mss.shared_clean),
        _kb("Shared_Dirty:", mss.shared_dirty),
        _kb("Private_Clean:", mss.private_clean),
        _kb("Private_Dirty:", mss.private_dirty),
        _kb("Referenced:", mss.referenced),
        _kb("Anonymous:", mss.anonymous),
    ]
    if profile.smaps_ksm:
        out.append(_kb("KSM:", mss.ksm))
    out += [_kb("LazyFree:", mss.lazyfree), _kb("AnonHugePages:", mss.anonymous_thp),
            _kb("ShmemPmdMapped:", mss.shmem_thp)]
    if profile.file_thp_stats:
        out.append(_kb("FilePmdMapped:", mss.file_thp))
    out += [
        _kb("Shared_Hugetlb:", mss.shared_hugetlb),
        _kb("Private_Hugetlb: ", mss.private_hugetlb, 7),  # one column wider
        _kb("Swap:", mss.swap),
        _kb("SwapPss:", mss.swap_pss >> PSS_SHIFT),
        _kb("Locked:", mss.pss_locked >> PSS_SHIFT),
    ]
    return "".join(out)


def thp_vma_allowable(vma: vm_area_struct) -> bool:
    """What smaps prints as THPeligible. Models: thp_vma_allowable_order(vma, vm_flags,
    TVA_SMAPS | TVA_ENFORCE_SYSFS, PMD_ORDER) for an anonymous VMA: the sysfs mode and
    MADV_(NO)HUGEPAGE allow it, and the VMA holds one aligned 2 MiB range."""
    if not transparent_hugepage_enabled(vma):
        return False
    haddr = (vma.vm_start + HPAGE_PMD_SIZE - 1) & HPAGE_PMD_MASK
    return haddr + HPAGE_PMD_SIZE <= vma.vm_end


def show_smap(vma: vm_area_struct) -> KernelPath[str]:
    """One /proc/PID/smaps record. Models: show_smap(). Context: mmap_lock held for read.

    Preempts: in the page-table locks of the walk.
    """
    profile = vma.vm_mm.kernel.profile
    mss = mem_size_stats()
    yield from smap_gather_stats(vma, mss)
    out = [
        show_map_vma(vma),
        _kb("Size:", vma.vm_end - vma.vm_start),
        _kb("KernelPageSize:", PAGE_SIZE),
        _kb("MMUPageSize:", PAGE_SIZE),
        __show_smap(mss, profile, False),
    ]
    if profile.smaps_thp_eligible:
        out.append(f"{'THPeligible:':<16}{int(thp_vma_allowable(vma)):>8}\n")
    out.append(show_smap_vma_flags(vma))
    return "".join(out)


def show_smaps_rollup(mm: mm_struct | None) -> KernelPath[str]:
    """/proc/PID/smaps_rollup. Models: show_smaps_rollup() (4.14: show_smap in rollup
    mode): the header spans the first VMA's start to the last one's end, flags
    ``---p``, name ``[rollup]``; then the sums. Context: takes mmap_lock for read."""
    if mm is None:
        return ""
    ctx = mm.kernel
    yield from down_read(mm.mmap_lock)
    try:
        mss = mem_size_stats()
        vmas = list(mm.mmap)
        for vma in vmas:
            yield from smap_gather_stats(vma, mss)
        start = vmas[0].vm_start if vmas else 0
        end = vmas[-1].vm_end if vmas else 0
    finally:
        up_read(mm.mmap_lock)
    head = show_vma_header_prefix(start, end, 0, 0, (0, 0), 0)
    return head.ljust(_MAPS_NAME_COLUMN) + "[rollup]\n" + __show_smap(
        mss, ctx.profile, True
    )


# ====================================================================== numa_maps
def mpol_to_str(pol: Any) -> str:
    """The policy token of a numa_maps line. Models: the call of mm/mempolicy.c
    mpol_to_str() in show_numa_map(): no policy (None) is ``default``; a policy
    object formats itself (``mempolicy.mpol_to_str()``, thpsim.mm.mempolicy)."""
    return "default" if pol is None else pol.mpol_to_str()


class numa_maps:
    """Models: struct numa_maps (counts in base pages)."""

    __slots__ = ("pages", "anon", "active", "writeback", "mapcount_max", "dirty", "swapcache",
                 "node")

    def __init__(self) -> None:
        self.pages = self.anon = self.active = self.writeback = 0
        self.mapcount_max = self.dirty = self.swapcache = 0
        self.node: dict[int, int] = {}


def gather_stats(ctx: Any, page: int, md: numa_maps, pte_dirty_: bool, nr_pages: int) -> None:
    """Models: gather_stats(): page flags are the (compound) head's."""
    pages = ctx.pages
    head = pages.compound_head(page)
    hf = pages.flags[head]
    count = pages.page_mapcount(page)
    md.pages += nr_pages
    if pte_dirty_ or hf & F_dirty:
        md.dirty += nr_pages
    if hf & _SWAPCACHE == _SWAPCACHE:
        md.swapcache += nr_pages
    if hf & (F_active | F_unevictable):
        md.active += nr_pages
    if hf & F_writeback:
        md.writeback += nr_pages
    if pages.PageAnon(head):
        md.anon += nr_pages
    if count > md.mapcount_max:
        md.mapcount_max = count
    nid = ctx.mem.pfn_to_nid(page)
    md.node[nid] = md.node.get(nid, 0) + nr_pages


def can_gather_numa_stats(ctx: Any, page: int, with_memory: list[int]) -> bool:
    """Models: can_gather_numa_stats(): not reserved, on a node with memory."""
    if page < 0 or ctx.pages.flags[page] & F_reserved:
        return False
    return ctx.mem.pfn_to_nid(page) in with_memory


def gather_pte_stats(pmd: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """Models: gather_pte_stats(). Context: mmap_lock held; PMD or PTE lock taken."""
    md, with_memory = walk.private
    vma = walk.vma
    ctx = walk.mm.kernel
    ptl = yield from pmd_trans_huge_lock(pmd, vma)
    if ptl is not None:
        try:
            v = pmdp_get(pmd)
            # can_gather_numa_stats_pmd(): present, not the huge zero page
            if pmd_present(v) and not is_huge_zero_pmd(ctx, v):
                page = pmd_pfn(v)
                if can_gather_numa_stats(ctx, page, with_memory):
                    gather_stats(ctx, page, md, pmd_dirty(v), HPAGE_PMD_NR)
        finally:
            spin_unlock(ptl)
        return 0
    if pmd_trans_unstable(ctx, pmd):
        return 0
    (table, i), ptl = yield from walk_pte_lock(walk, pmd, addr)
    try:
        for k in range((end - addr) >> PAGE_SHIFT):
            pte = table[i + k]
            if not pte_present(pte):
                continue
            page = vm_normal_page(vma, addr + (k << PAGE_SHIFT), pte)
            if can_gather_numa_stats(ctx, page, with_memory):
                gather_stats(ctx, page, md, pte_dirty(pte), 1)
    finally:
        spin_unlock(ptl)
    return 0


#: Models: show_numa_ops
show_numa_ops = mm_walk_ops(pmd_entry=gather_pte_stats)


def show_numa_map(vma: vm_area_struct, task_mempolicy: Any) -> KernelPath[str]:
    """One /proc/PID/numa_maps line. Models: show_numa_map().

    The VMA's policy (``vma.vm_policy``), else the task's (``task.mempolicy``),
    through :func:`mpol_to_str`. Context: mmap_lock held for read.
    """
    ctx = vma.vm_mm.kernel
    pol = vma.vm_policy
    line = [f"{vma.vm_start:08x} {mpol_to_str(pol if pol is not None else task_mempolicy)}"]
    if vma.vm_flags & VM_HUGETLB:
        line.append(" huge")
    md = numa_maps()
    with_memory = node_states_memory(ctx)
    yield from walk_page_vma(vma, show_numa_ops, (md, with_memory))
    if md.pages:
        if md.anon:
            line.append(f" anon={md.anon}")
        if md.dirty:
            line.append(f" dirty={md.dirty}")
        if md.pages != md.anon and md.pages != md.dirty:
            line.append(f" mapped={md.pages}")
        if md.mapcount_max > 1:
            line.append(f" mapmax={md.mapcount_max}")
        if md.swapcache:
            line.append(f" swapcache={md.swapcache}")
        if md.active < md.pages and not vma.vm_flags & VM_HUGETLB:
            line.append(f" active={md.active}")
        if md.writeback:
            line.append(f" writeback={md.writeback}")
        for nid in with_memory:
            if md.node.get(nid):
                line.append(f" N{nid}={md.node[nid]}")
        line.append(f" kernelpagesize_kB={PAGE_SIZE >> 10}")
    line.append("\n")
    return "".join(line)


# ====================================================================== pagemap
PM_ENTRY_BYTES = 8
PM_PFRAME_BITS = 55
PM_PFRAME_MASK = (1 << PM_PFRAME_BITS) - 1
PM_SOFT_DIRTY = 1 << 55
PM_MMAP_EXCLUSIVE = 1 << 56
PM_FILE = 1 << 61
PM_SWAP = 1 << 62
PM_PRESENT = 1 << 63
#: pagemap_read() walks (and takes mmap_lock) per PMD-sized chunk
PAGEMAP_WALK_SIZE = PMD_SIZE
PAGEMAP_WALK_MASK = PMD_MASK


class pagemapread:
    """Models: struct pagemapread: the entries of one chunk, and whether to show PFNs."""

    __slots__ = ("buffer", "show_pfn")

    def __init__(self, show_pfn: bool):
        self.buffer = array("Q")
        self.show_pfn = show_pfn


def make_pme(frame: int, flags: int) -> int:
    return (frame & PM_PFRAME_MASK) | flags


def pagemap_pte_hole(start: int, end: int, walk: mm_walk) -> int:
    """Models: pagemap_pte_hole(): 0 outside VMAs; PM_SOFT_DIRTY inside a VM_SOFTDIRTY VMA."""
    pm = walk.private
    mm = walk.mm
    addr = start
    while addr < end:
        vma = mm.find_vma(addr)
        hole_end = min(end, vma.vm_start) if vma is not None else end
        if hole_end > addr:  # in bulk: zeroed bytes, no per-entry objects
            pm.buffer.frombytes(bytes(((hole_end - addr) >> PAGE_SHIFT) * PM_ENTRY_BYTES))
            addr = hole_end
        if vma is None:
            break
        pme = make_pme(0, PM_SOFT_DIRTY) if vma.vm_flags & VM_SOFTDIRTY else 0
        stop = min(end, vma.vm_end)
        if stop > addr:
            pm.buffer.extend(array("Q", (pme,)) * ((stop - addr) >> PAGE_SHIFT))
            addr = stop
    return 0


def pte_to_pagemap_entry(pm: pagemapread, vma: vm_area_struct, addr: int, pte: int) -> int:
    """Models: pte_to_pagemap_entry(). The zero page is present with its PFN but, having
    no normal page, gets neither PM_FILE nor PM_MMAP_EXCLUSIVE."""
    ctx = vma.vm_mm.kernel
    profile = ctx.profile
    frame = flags = 0
    page = -1
    if pte_present(pte):
        if pm.show_pfn:
            frame = pte_pfn(pte)
        flags |= PM_PRESENT
        page = vm_normal_page(vma, addr, pte)
        if pte_soft_dirty(pte):
            flags |= PM_SOFT_DIRTY
    elif is_swap_pte(pte):
        swp = ctx.swp
        if swp.pte_swp_soft_dirty(pte):
            flags |= PM_SOFT_DIRTY
        entry = swp.pte_to_swp_entry(pte)
        if pm.show_pfn or not profile.pagemap_hides_swap_offset:
            # 6.1+ swp_offset_pfn() drops the young/dirty bits a migration entry keeps
            # above the PFN; 4.14's swp_offset() equals it, having no such bits
            offset = swp_offset_pfn(entry) if swp.is_pfn_swap_entry(entry) else (
                swp_offset(entry)
            )
            frame = swp_type(entry) | (offset << MAX_SWAPFILES_SHIFT)
        if swp.is_migration_entry(entry) or (
            profile.pfn_swap_entry_hwpoison and swp.is_pfn_swap_entry(entry)
        ):
            page = swp.pfn_swap_entry_pfn(entry)
        flags |= PM_SWAP
    if page >= 0:
        pages = ctx.pages
        if not pages.PageAnon(page):
            flags |= PM_FILE
        if (flags & PM_PRESENT or not profile.pagemap_exclusive_present_only) and (
            pages.page_mapcount(page) == 1
        ):
            flags |= PM_MMAP_EXCLUSIVE
    if vma.vm_flags & VM_SOFTDIRTY:
        flags |= PM_SOFT_DIRTY
    return make_pme(frame, flags)


def pagemap_pmd_range(pmdp: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """Models: pagemap_pmd_range(). Context: mmap_lock held; PMD or PTE lock taken.

    A huge PMD gives one entry per 4 KiB: PFN = PMD PFN + index, the PMD's
    soft-dirty bit for all; a PMD migration entry gives PM_SWAP entries whose
    offset is the THP's PFN + index.
    """
    pm = walk.private
    vma = walk.vma
    ctx = walk.mm.kernel
    profile = ctx.profile
    show_swap = pm.show_pfn or not profile.pagemap_hides_swap_offset
    ptl = yield from pmd_trans_huge_lock(pmdp, vma)
    if ptl is not None:
        try:
            pmd = pmdp_get(pmdp)
            idx = (addr & ~PMD_MASK) >> PAGE_SHIFT
            flags = PM_SOFT_DIRTY if vma.vm_flags & VM_SOFTDIRTY else 0
            frame = 0
            page = -1
            if pmd_present(pmd):
                page = pmd_pfn(pmd)
                flags |= PM_PRESENT
                if pmd_soft_dirty(pmd):
                    flags |= PM_SOFT_DIRTY
                if pm.show_pfn:
                    frame = pmd_pfn(pmd) + idx
            elif is_swap_pmd(pmd):
                swp = ctx.swp
                entry = swp.pmd_to_swp_entry(pmd)
                if show_swap:
                    offset = swp_offset_pfn(entry) + idx
                    frame = swp_type(entry) | (offset << MAX_SWAPFILES_SHIFT)
                flags |= PM_SWAP
                if swp.pmd_swp_soft_dirty(pmd):
                    flags |= PM_SOFT_DIRTY
                ctx.bug_on(not swp.is_pmd_migration_entry(pmd), f"pagemap: swap PMD {pmd:#x}")
                page = swp.pfn_swap_entry_pfn(entry)
            pages = ctx.pages
            if profile.pagemap_pmd_pm_file and page >= 0 and not pages.PageAnon(page):
                flags |= PM_FILE  # the huge zero page is not anon
            # the next subpage's frame: PFN + 1, or swap offset + 1
            if flags & PM_PRESENT:
                step = 1 if pm.show_pfn else 0
            else:
                shown = flags & PM_SWAP and show_swap
                step = 1 << MAX_SWAPFILES_SHIFT if shown else 0
            exclusive_ok = flags & PM_PRESENT or not profile.pagemap_exclusive_present_only
            buf = pm.buffer
            for k in range((end - addr) >> PAGE_SHIFT):
                cur = flags
                if page >= 0 and exclusive_ok and (
                    pages.page_mapcount(page + idx + k) == 1
                ):
                    cur |= PM_MMAP_EXCLUSIVE
                buf.append(make_pme(frame, cur))
                frame += step
        finally:
            spin_unlock(ptl)
        return 0
    if pmd_trans_unstable(ctx, pmdp):
        # 4.14 returns without entries for this range (a race-only short read);
        # the walk of a pmd that became none or huge meanwhile
        return 0
    (table, i), ptl = yield from walk_pte_lock(walk, pmdp, addr)
    try:
        buf = pm.buffer
        for k in range((end - addr) >> PAGE_SHIFT):
            buf.append(pte_to_pagemap_entry(pm, vma, addr + (k << PAGE_SHIFT), table[i + k]))
    finally:
        spin_unlock(ptl)
    return 0


#: Models: pagemap_ops
pagemap_ops = mm_walk_ops(pmd_entry=pagemap_pmd_range, pte_hole=pagemap_pte_hole)


def pagemap_read(f: File, ppos: int, count: int) -> KernelPath[bytes]:
    """/proc/PID/pagemap read. Models: pagemap_read(): no mm -> nothing; offset and
    count must be multiples of 8 (EINVAL); PFNs only for a CAP_SYS_ADMIN opener; then
    the chunk loop: mmap_lock for read per 2 MiB chunk.

    Context: the read(2) of the opener (``current``).
    Preempts: taking mmap_lock for each chunk (the address space may change
    between chunks, as in the kernel), and in the page-table locks.
    """
    return proc_task_mm_read(f, lambda mm: _pagemap_read(f, mm, ppos, count))


def _pagemap_read(f: File, mm: mm_struct | None, ppos: int, count: int) -> KernelPath[bytes]:
    """pagemap_read() over ``mm`` (a reference held by the caller)."""
    if mm is None:
        return b""
    if ppos % PM_ENTRY_BYTES or count % PM_ENTRY_BYTES:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
    if not count:
        return b""
    pm = pagemapread(show_pfn=f.capable(CAP_SYS_ADMIN))
    out = bytearray()
    svpfn = ppos // PM_ENTRY_BYTES
    start_vaddr = svpfn << PAGE_SHIFT
    end_vaddr = TASK_SIZE
    if svpfn > end_vaddr >> PAGE_SHIFT:
        start_vaddr = end_vaddr
    while count and start_vaddr < end_vaddr:
        end = (start_vaddr + PAGEMAP_WALK_SIZE) & PAGEMAP_WALK_MASK
        if end < start_vaddr or end > end_vaddr:
            end = end_vaddr
        # Model-only: stop the walk where the user buffer ends (the kernel stops
        # filling at PM_END_OF_BUFFER; the entries are the same)
        walk_end = min(end, start_vaddr + (count // PM_ENTRY_BYTES << PAGE_SHIFT))
        pm.buffer = array("Q")
        yield from down_read(mm.mmap_lock)
        try:
            yield from walk_page_range(mm, start_vaddr, walk_end, pagemap_ops, pm)
        finally:
            up_read(mm.mmap_lock)
        start_vaddr = end
        if sys.byteorder != "little":  # pragma: no cover
            pm.buffer.byteswap()
        chunk = pm.buffer.tobytes()[:count]
        out += chunk
        count -= len(chunk)
    return bytes(out)


# ====================================================================== clear_refs
CLEAR_REFS_ALL = 1
CLEAR_REFS_ANON = 2
CLEAR_REFS_MAPPED = 3
CLEAR_REFS_SOFT_DIRTY = 4
CLEAR_REFS_MM_HIWATER_RSS = 5
CLEAR_REFS_LAST = 6
#: fs/proc/internal.h PROC_NUMBUF: the write buffer holds 12 characters and a NUL
PROC_NUMBUF = 13


def clear_soft_dirty(vma: vm_area_struct, addr: int, pte: Ptr) -> KernelPath[None]:
    """Write-protect a present PTE and clear its soft-dirty bit; clear a swap entry's.

    Models: clear_soft_dirty(), v4.14 (mainline also skips DMA-pinned pages; the
    model has no pins here). Context: PTE lock held. Preempts: between
    ptep_modify_prot_start() and _commit().
    """
    ptent = ptep_get(pte)
    mm = vma.vm_mm
    if pte_present(ptent):
        old = ptep_get_and_clear(mm, addr, pte)  # ptep_modify_prot_start()
        yield PREEMPT  # window: the PTE is clear; another CPU's walk faults and waits on the PTL
        ptent = pte_clear_soft_dirty(pte_wrprotect(old))
        set_pte_at(mm, addr, pte, ptent)  # ptep_modify_prot_commit()
    elif is_swap_pte(ptent):
        set_pte_at(mm, addr, pte, mm.kernel.swp.pte_swp_clear_soft_dirty(ptent))


def clear_soft_dirty_pmd(vma: vm_area_struct, addr: int, pmdp: Ptr) -> KernelPath[None]:
    """Write-protect a huge PMD and clear its soft-dirty bit, keeping A and D (the THP
    stays whole); clear the soft-dirty bit of a PMD migration entry.

    Models: clear_soft_dirty_pmd(), v4.14 and mainline. Context: PMD lock held.
    Preempts: in pmdp_invalidate()'s flush.
    """
    mm = vma.vm_mm
    pmd = pmdp_get(pmdp)
    if pmd_present(pmd):
        old = yield from pmdp_invalidate(vma, addr & HPAGE_PMD_MASK, pmdp)
        if pmd_dirty(old):
            pmd = pmd_mkdirty(pmd)
        if pmd_young(old):
            pmd = pmd_mkyoung(pmd)
        pmd = pmd_clear_soft_dirty(pmd_wrprotect(pmd))
        set_pmd_at(mm, addr, pmdp, pmd)
    elif mm.kernel.swp.is_pmd_migration_entry(pmd):
        set_pmd_at(mm, addr, pmdp, mm.kernel.swp.pmd_swp_clear_soft_dirty(pmd))


def _clear_page_young_referenced(ctx: Any, page: int) -> None:
    """test_and_clear_page_young(page) (PG_young of the page itself) and
    ClearPageReferenced(page) (the compound head's flag)."""
    pages = ctx.pages
    pages.clear(page, F_young)
    pages.clear(pages.compound_head(page), F_referenced)


def clear_refs_pte_range(pmd: Ptr, addr: int, end: int, walk: mm_walk) -> KernelPath[int]:
    """Models: clear_refs_pte_range(). Context: mmap_lock held; PMD or PTE lock taken."""
    cp_type = walk.private
    vma = walk.vma
    ctx = walk.mm.kernel
    ptl = yield from pmd_trans_huge_lock(pmd, vma)
    if ptl is not None:
        try:
            if cp_type == CLEAR_REFS_SOFT_DIRTY:
                yield from clear_soft_dirty_pmd(vma, addr, pmd)
                return 0
            v = pmdp_get(pmd)
            if not pmd_present(v):
                return 0
            if pmd_young(v):  # pmdp_test_and_clear_young()
                set_pmd_at(vma.vm_mm, addr, pmd, pmd_mkold(v))
            _clear_page_young_referenced(ctx, pmd_pfn(v))
        finally:
            spin_unlock(ptl)
        return 0
    if pmd_trans_unstable(ctx, pmd):
        return 0
    (table, i), ptl = yield from walk_pte_lock(walk, pmd, addr)
    try:
        for k in range((end - addr) >> PAGE_SHIFT):
            a = addr + (k << PAGE_SHIFT)
            if cp_type == CLEAR_REFS_SOFT_DIRTY:
                yield from clear_soft_dirty(vma, a, (table, i + k))
                continue
            ptent = table[i + k]
            if not pte_present(ptent):
                continue
            page = vm_normal_page(vma, a, ptent)
            if page < 0:
                continue
            if pte_young(ptent):  # ptep_test_and_clear_young()
                table[i + k] = pte_mkold(ptent)
            _clear_page_young_referenced(ctx, page)
    finally:
        spin_unlock(ptl)
    return 0


def clear_refs_test_walk(start: int, end: int, walk: mm_walk) -> int:
    """Models: clear_refs_test_walk(): skip PFN maps; 2 only anon, 3 only file VMAs."""
    vma = walk.vma
    cp_type = walk.private
    if vma.vm_flags & VM_PFNMAP:
        return 1
    if cp_type == CLEAR_REFS_ANON and vma.vm_file is not None:
        return 1
    if cp_type == CLEAR_REFS_MAPPED and vma.vm_file is None:
        return 1
    return 0


#: Models: clear_refs_walk_ops
clear_refs_walk_ops = mm_walk_ops(pmd_entry=clear_refs_pte_range, test_walk=clear_refs_test_walk)


def reset_mm_hiwater_rss(mm: mm_struct) -> None:
    """Models: include/linux/mm.h reset_mm_hiwater_rss()."""
    mm.hiwater_rss = mm.get_mm_rss()


def _clear_vm_softdirty(mm: mm_struct) -> None:
    """``vma->vm_flags &= ~VM_SOFTDIRTY; vma_set_page_prot(vma)`` on every VMA.

    Simplified: vma_set_page_prot() changes nothing for a private VMA (write
    notification is for shared mappings), the only kind modelled.
    """
    for vma in mm.mmap:
        vma.vm_flags &= ~VM_SOFTDIRTY


def clear_refs_write(f: File, data: bytes) -> KernelPath[int]:
    """/proc/PID/clear_refs write. Models: clear_refs_write(): at most 12 characters
    are read, trimmed, parsed as an int (EINVAL / ERANGE); 1..5 else EINVAL; then,
    per era: v4.14 takes mmap_lock for read (for 4, if a VMA is VM_SOFTDIRTY, drops
    it, takes it for write to clear the flag on every VMA and downgrades), walks and
    flushes the whole TLB; 5.11+ holds mmap_lock for write throughout
    (``clear_refs_mmap_write_lock``) and calls flush_tlb_mm() only after a soft-dirty
    walk (``clear_refs_flush_soft_dirty_only``).

    Context: the write(2) of the opener (``current``).
    Preempts: taking mmap_lock, in the walk's locks, in the TLB flush.
    Returns: the count consumed.
    """
    count = min(len(data), PROC_NUMBUF - 1)
    err, cp_type = kstrtoint(strstrip(data[:count].decode("latin-1")), 10)
    if err:
        raise OSError(-err, os.strerror(-err), f.path)
    if not CLEAR_REFS_ALL <= cp_type < CLEAR_REFS_LAST:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
    return proc_task_mm_read(f, lambda mm: _clear_refs(mm, cp_type, count))


def _clear_refs(mm: mm_struct | None, cp_type: int, count: int) -> KernelPath[int]:
    """clear_refs_write()'s work over ``mm`` (a reference held by the caller)."""
    if mm is None:
        return count
    profile = mm.kernel.profile
    flush = cp_type == CLEAR_REFS_SOFT_DIRTY or not profile.clear_refs_flush_soft_dirty_only
    lock = mm.mmap_lock
    if cp_type == CLEAR_REFS_MM_HIWATER_RSS:
        yield from down_write(lock)
        try:
            reset_mm_hiwater_rss(mm)
        finally:
            up_write(lock)
        return count
    if profile.clear_refs_mmap_write_lock:
        yield from down_write(lock)
        try:
            if cp_type == CLEAR_REFS_SOFT_DIRTY:
                _clear_vm_softdirty(mm)
            if mm.mmap:
                yield from walk_page_range(mm, 0, mm.mmap[-1].vm_end, clear_refs_walk_ops,
                                           cp_type)
            if flush:
                yield from flush_tlb_mm(mm)
        finally:
            up_write(lock)
        return count
    yield from down_read(lock)
    held = "read"
    try:
        if cp_type == CLEAR_REFS_SOFT_DIRTY and any(v.vm_flags & VM_SOFTDIRTY for v in mm.mmap):
            up_read(lock)
            held = ""
            yield from down_write(lock)
            held = "write"
            _clear_vm_softdirty(mm)
            downgrade_write(lock)
            held = "read"
        if mm.mmap:
            yield from walk_page_range(mm, 0, mm.mmap[-1].vm_end, clear_refs_walk_ops, cp_type)
        if flush:
            yield from flush_tlb_mm(mm)
    finally:
        if held == "read":
            up_read(lock)
        elif held == "write":
            up_write(lock)
    return count


# ====================================================================== status (task_mem)
def _data_vm(mm: mm_struct) -> int:
    """mm->data_vm, recomputed: pages of private writable, non-stack VMAs
    (is_data_mapping(): VM_WRITE without VM_SHARED or VM_STACK)."""
    return sum(
        (v.vm_end - v.vm_start) >> PAGE_SHIFT
        for v in mm.mmap
        if v.vm_flags & (VM_WRITE | VM_SHARED | VM_GROWSDOWN) == VM_WRITE
    )


def task_mem(mm: mm_struct) -> str:
    """The Vm*/Rss* lines of /proc/PID/status. Models: task_mem(), v4.14 and mainline.

    VmHWM and VmPeak are the larger of the recorded high-water mark and the
    current value (mm maintains them only when about to lower the value).
    4.14 prints VmPTE (PTE tables) and VmPMD (PMD tables) apart; 4.16+ prints one
    VmPTE with every page-table level (mm_pgtables_bytes()).
    Simplified: no text, library or stack mappings (VmExe, VmLib, VmStk are 0).
    """
    kb = PAGE_SIZE >> 10
    anon = mm.rss_stat[MM_ANONPAGES]
    file = mm.rss_stat[MM_FILEPAGES]
    shmem = mm.rss_stat[MM_SHMEMPAGES]
    total_rss = anon + file + shmem
    hiwater_rss = max(total_rss, mm.hiwater_rss)
    hiwater_vm = max(mm.total_vm, mm.hiwater_vm)

    def line(label: str, value_kb: int) -> str:
        return f"{label}:\t{value_kb:>8} kB\n"

    out = [
        line("VmPeak", hiwater_vm * kb),
        line("VmSize", mm.total_vm * kb),
        line("VmLck", mm.locked_vm * kb),
        line("VmPin", mm.pinned_vm * kb),
        line("VmHWM", hiwater_rss * kb),
        line("VmRSS", total_rss * kb),
        line("RssAnon", anon * kb),
        line("RssFile", file * kb),
        line("RssShmem", shmem * kb),
        line("VmData", _data_vm(mm) * kb),
        line("VmStk", 0),
        line("VmExe", 0),
        line("VmLib", 0),
    ]
    if mm.kernel.profile.status_vmpte_all_levels:
        out.append(line("VmPTE", mm.pgtables_bytes() >> 10))
    else:
        out.append(line("VmPTE", mm.nr_ptes * kb))
        out.append(line("VmPMD", mm.nr_pmds * kb))
    out.append(line("VmSwap", mm.rss_stat[MM_SWAPENTS] * kb))
    out.append(line("HugetlbPages", 0))
    return "".join(out)


# ====================================================================== registration
# The seq_file reads: kernel paths the VFS runs in the opener's read(2), each over the
# task's mm with a reference held (m_start()/m_stop()).
def _maps_read(f: File) -> KernelPath[str]:
    return proc_task_mm_read(f, lambda mm: _vmas_locked(mm, show_map))


def _smaps_read(f: File) -> KernelPath[str]:
    return proc_task_mm_read(f, lambda mm: _vmas_locked(mm, show_smap))


def _smaps_rollup_read(f: File) -> KernelPath[str]:
    return proc_task_mm_read(f, show_smaps_rollup)


def _numa_maps_read(f: File) -> KernelPath[str]:
    pol = get_proc_task(f).mempolicy  # hold_task_mempolicy(): get_task_policy()
    return proc_task_mm_read(f, lambda mm: _vmas_locked(mm, lambda vma: show_numa_map(vma, pol)))


def register(vfs: VFS) -> None:
    """Register the files of fs/proc/base.c's tgid_base_stuff/tid_base_stuff modelled here."""
    for d in PID_DIRS:
        vfs.register_file(f"{d}/maps", _maps_read, mode=0o444, owner=task_dump_owner,
                          open=proc_mem_open)
        vfs.register_file(f"{d}/smaps", _smaps_read, mode=0o444, owner=task_dump_owner,
                          open=proc_mem_open)
        vfs.register_file(f"{d}/smaps_rollup", _smaps_rollup_read, mode=0o444,
                          owner=task_dump_owner, open=proc_mem_open)
        vfs.register_file(f"{d}/numa_maps", _numa_maps_read, mode=0o444,
                          owner=task_dump_owner, open=proc_mem_open)
        vfs.register_file(f"{d}/pagemap", pagemap_read, mode=0o400, owner=task_dump_owner,
                          binary=True, open=proc_mem_open)
        vfs.register_file(f"{d}/clear_refs", None, clear_refs_write, mode=0o200,
                          owner=task_dump_owner)

