"""mprotect: change the protection of a range, splitting VMAs and huge PMDs at its edges.

Models: mm/mprotect.c, v4.14 (do_mprotect_pkey, mprotect_fixup,
change_protection -> change_pmd_range -> change_pte_range / change_huge_pmd).
The 6.x "make exclusive anon pages writable at once" (MM_CP_TRY_CHANGE_WRITABLE)
is behind ``mprotect_try_change_writable``.
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_NR,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    pmd_bad,
    pmd_devmap,
    pmd_none,
    pmd_trans_huge,
    pte_dirty,
    pte_mkdirty,
    pte_mkwrite,
    pte_mkyoung,
    pte_modify,
    pte_pfn,
    pte_present,
    pte_protnone,
    pte_soft_dirty,
    pte_special,
    pte_write,
    pte_young,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.locking import down_write, spin_lock, spin_unlock, up_write
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.sched_fair import (
    NUMA_BALANCING_NORMAL,
    folio_use_access_time,
    folio_xchg_access_time,
    jiffies_to_msecs,
    node_is_toptier,
    numab,
)
from thpsim.kernel.tlbflush import flush_tlb_range
from thpsim.mm import huge_memory
from thpsim.mm.internal import FPB_RESPECT_SOFT_DIRTY, FPB_RESPECT_WRITE, folio_pte_batch
from thpsim.mm.memory import is_cow_mapping
from thpsim.mm.mm_types import (
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_EXEC,
    VM_HUGETLB,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_NORESERVE,
    VM_READ,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_WRITE,
    mm_struct,
    vm_area_struct,
    vm_get_page_prot,
)
from thpsim.mm.mmap import (
    PAGE_ALIGN,
    PROT_EXEC,
    PROT_GROWSDOWN,
    PROT_GROWSUP,
    PROT_READ,
    PROT_SEM,
    PROT_WRITE,
    calc_vm_prot_bits,
    populate_vma_page_range,
    split_vma_range,
    vma_merge_around,
)
from thpsim.mm.page_alloc import NUMA_NO_NODE
from thpsim.mm.page_flags import F_anon_exclusive
from thpsim.mm.pgtable_generic import (
    lookup_pmd_range,
    pmd_clear_bad,
    pmd_none_or_clear_bad,
    pmd_trans_unstable,
    pmdp_get,
)
from thpsim.mm.util import security_vm_enough_memory_mm
from thpsim.mm.vmstat import NUMA_HUGE_PTE_UPDATES


def change_pte_range(vma: vm_area_struct, pmd, addr: int, end: int, newprot: int,
                     try_writable: bool, prot_numa: bool = False,
                     target_node: int = NUMA_NO_NODE) -> KernelPath[int]:
    """Models: change_pte_range(): rewrite present PTEs, downgrade write migration entries.

    6.17+ (``mprotect_pte_batch``; Dev Jain, "mm: Optimize mprotect() by PTE batching"):
    the PTEs of one large folio go in batches (folio_pte_batch() with
    FPB_RESPECT_SOFT_DIRTY | FPB_RESPECT_WRITE); the
    batch's dirty and young bits are gathered (modify_prot_start_ptes(): pte_mkdirty(),
    which on x86 sets soft-dirty as well) and the result written to every PTE of the
    batch, so a dirty page makes the whole batch dirty and soft-dirty (the kernel
    oracle: 7.2 reports soft-dirty on every page of a PTE-mapped THP after mprotect;
    6.12 does not).

    ``prot_numa`` (MM_CP_PROT_NUMA, change_prot_numa(): ``newprot`` is PAGE_NONE): the
    NUMA scanner's pass. A PTE is left alone when it is PROT_NONE already, maps no
    normal page (the zero page), a page mapped more than once in a COW mapping
    (4.15+, C:859d4adc3415; applied in every era here), a page on ``target_node`` (the
    node of a single-threaded task), or, with NUMA balancing in tiering mode only
    (no NUMA_BALANCING_NORMAL), a page on a top-tier node; a page on a lower tier gets
    its scan time (folio_xchg_access_time()). 4.14 keeps a writable PTE's write bit in
    the PROT_NONE entry (pte_mk_savedwrite(), which is pte_mkwrite() on x86); 6.3+
    does not (do_numa_page() asks can_change_pte_writable()), modelled with
    ``mprotect_try_change_writable``. PTEs are taken one at a time (no 6.17 batch)."""
    mm = vma.vm_mm
    ctx = mm.kernel
    swp = ctx.swp
    t = ctx.mem.tables[table_entry_pfn(pmdp_get(pmd))]
    yield from spin_lock(t.ptl)
    pages = 0
    try:
        i = (addr >> PAGE_SHIFT) & 511
        a = addr
        while a < end:
            e = t[i]
            n = 1
            if e == 0:
                pass
            elif prot_numa and pte_present(e) and prot_numa_skip(ctx, vma, e, target_node):
                pass
            elif pte_present(e):
                if ctx.profile.mprotect_pte_batch and not pte_special(e) and not prot_numa:
                    n = folio_pte_batch(ctx, t, i, (end - a) >> PAGE_SHIFT,
                                        FPB_RESPECT_SOFT_DIRTY | FPB_RESPECT_WRITE)
                t[i] = 0  # ptep_modify_prot_start() (modify_prot_start_ptes())
                for k in range(1, n):
                    # the batch's dirty and young bits gather into the first entry;
                    # x86's pte_mkdirty() sets soft-dirty too
                    o = t[i + k]
                    t[i + k] = 0
                    if pte_dirty(o):
                        e = pte_mkdirty(e)
                    if pte_young(o):
                        e = pte_mkyoung(e)
                ne = pte_modify(e, newprot)
                if prot_numa and pte_write(e) and not ctx.profile.mprotect_try_change_writable:
                    ne = pte_mkwrite(ne)  # 4.14 pte_mk_savedwrite()
                if (try_writable and not pte_write(ne) and vma.vm_flags & VM_WRITE
                        and (vma.vm_flags & VM_SOFTDIRTY or pte_soft_dirty(e))):
                    # can_change_pte_writable(): not while soft-dirty tracking needs the
                    # write fault (pte_needs_soft_dirty_wp(): clear_refs 4 cleared
                    # VM_SOFTDIRTY and this PTE's bit)
                    if not pte_special(e) and ctx.pages.flags[
                        ctx.pages.compound_head(pte_pfn(e))
                    ] & F_anon_exclusive:
                        ne = pte_mkwrite(ne)
                for k in range(n):
                    t[i + k] = ne + (k << PAGE_SHIFT)  # ptep_modify_prot_commit(), set_ptes()
                pages += n
            else:
                entry = swp.pte_to_swp_entry(e)
                if swp.is_writable_migration_entry(entry):
                    ne = swp.swp_entry_to_pte(
                        swp.make_readable_migration_entry(swp.pfn_swap_entry_pfn(entry))
                    )
                    if swp.pte_swp_soft_dirty(e):
                        ne = swp.pte_swp_mksoft_dirty(ne)
                    t[i] = ne
                    pages += 1
            i += n
            a += n * PAGE_SIZE
    finally:
        spin_unlock(t.ptl)
    return pages


def pmd_none_or_clear_bad_unless_trans_huge(ctx, pmd) -> bool:
    """Models: mm/mprotect.c pmd_none_or_clear_bad_unless_trans_huge() (5.6,
    C:8b272b3cbbb5; folded into pte_offset_map() in 6.5): one read of the PMD; none,
    or cleared as bad unless it is a swap (migration) entry, trans-huge or devmap."""
    v = pmdp_get(pmd)
    if pmd_none(v):
        return True
    if is_swap_pmd(v) or pmd_trans_huge(v) or pmd_devmap(v):
        return False
    if pmd_bad(v, ctx.profile.pmd_bad_ignores_accessed):
        pmd_clear_bad(ctx, pmd)
        return True
    return False


def _change_pmd_none_or_clear_bad_multiread(ctx, pmd) -> KernelPath[bool]:
    """B15 (``bug_b15_change_pmd_multiread``): 4.14's ``!is_swap_pmd(*pmd) &&
    !pmd_trans_huge(*pmd) && !pmd_devmap(*pmd) && pmd_none_or_clear_bad(pmd)``, four
    loads of ``*pmd``. A PMD that turns huge (a fault, under the NUMA scan's mmap_sem
    read) or into a migration entry (under any mmap_sem) after the tests is "bad"."""
    if is_swap_pmd(pmdp_get(pmd)):
        return False
    yield PREEMPT  # window: another CPU may rewrite the PMD between the loads
    if pmd_trans_huge(pmdp_get(pmd)):
        return False
    yield PREEMPT  # window: as above
    if pmd_devmap(pmdp_get(pmd)):
        return False
    yield PREEMPT  # window: as above
    return pmd_none_or_clear_bad(ctx, pmd)


def prot_numa_skip(ctx, vma: vm_area_struct, pte: int, target_node: int) -> bool:
    """Whether the NUMA scanner leaves a present PTE alone (change_pte_range()'s
    ``prot_numa`` block; 6.12's prot_numa_skip()); a page it does not skip on a lower
    tier gets its scan time when NUMA balancing is in tiering mode.
    Models: mm/mprotect.c, 4.14 and 6.x (see change_pte_range()). Preempts: never."""
    if pte_protnone(pte):  # avoid a TLB flush: already a hinting entry
        return True
    if pte_special(pte):  # vm_normal_page(): the zero page
        return True
    pfn = pte_pfn(pte)
    pages = ctx.pages
    if is_cow_mapping(vma.vm_flags) and pages.page_mapcount(pfn) != 1:
        return True  # a shared copy-on-write page
    head = pages.compound_head(pfn)
    nid = ctx.mem.pfn_to_nid(head)
    if nid == target_node:
        return True  # already on the node the single-threaded task runs on
    if ctx.profile.numa_balancing_memory_tiering:
        if not ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_NORMAL and node_is_toptier(
                ctx, nid):
            return True  # tiering only: top-tier pages are not scanned
        if folio_use_access_time(ctx, head):
            folio_xchg_access_time(ctx, head, jiffies_to_msecs(numab(ctx).jiffies))
    return False


def change_protection(vma: vm_area_struct, start: int, end: int,
                      newprot: int, prot_numa: bool = False) -> KernelPath[int]:
    """Models: change_protection() -> change_pmd_range(), v4.14; ``prot_numa`` is
    MM_CP_PROT_NUMA (change_prot_numa(), the NUMA scanner): no MM_CP_TRY_CHANGE_WRITABLE,
    PTEs of a single-threaded task's pages on its node kept (target_node). Each huge PMD
    changed counts in numa_huge_pte_updates, whoever the caller (an mprotect()'s too,
    4.14 and 6.x alike: the oracle's hand-numa-01). Returns pages changed (a huge PMD
    512)."""
    mm = vma.vm_mm
    ctx = mm.kernel
    try_writable = (ctx.profile.mprotect_try_change_writable and bool(vma.vm_flags & VM_WRITE)
                    and not prot_numa)
    target_node = NUMA_NO_NODE
    if prot_numa and not vma.vm_flags & VM_SHARED and mm.mm_users == 1:
        target_node = ctx.numa_node_id()
    nr_huge_updates = 0
    pages = 0
    addr = start
    while addr < end:
        pmd, next_ = lookup_pmd_range(mm, addr, end)
        if pmd is None:  # an empty PGD or PUD entry: skipped whole
            addr = next_
            continue
        # The guard that keeps a huge PMD or a migration entry from being cleared as a
        # bad PMD: one read (5.6+, pmd_none_or_clear_bad_unless_trans_huge()), or B15's
        # separate ones
        if ctx.profile.bug_b15_change_pmd_multiread:
            if (yield from _change_pmd_none_or_clear_bad_multiread(ctx, pmd)):
                addr = next_
                continue
        elif pmd_none_or_clear_bad_unless_trans_huge(ctx, pmd):
            addr = next_
            continue
        v = pmdp_get(pmd)
        if is_swap_pmd(v) or pmd_trans_huge(v) or pmd_devmap(v):
            if next_ - addr != HPAGE_PMD_SIZE:
                yield from huge_memory.__split_huge_pmd(vma, pmd, addr, False)
                if pmd_trans_unstable(ctx, pmd):
                    addr = next_
                    continue
            else:
                n = yield from huge_memory.change_huge_pmd(vma, pmd, addr, newprot, prot_numa)
                if n:
                    if n == HPAGE_PMD_NR:
                        pages += HPAGE_PMD_NR
                        nr_huge_updates += 1
                    addr = next_
                    continue
        pages += yield from change_pte_range(vma, pmd, addr, next_, newprot, try_writable,
                                             prot_numa, target_node)
        addr = next_
        yield PREEMPT  # cond_resched()
    if nr_huge_updates:
        ctx.vmstat.count_vm_events(NUMA_HUGE_PTE_UPDATES, nr_huge_updates)
    if pages:
        yield from flush_tlb_range(vma, start, end)
    return pages


def do_mprotect(mm: mm_struct, start: int, length: int, prot: int) -> KernelPath[int]:
    """Models: mm/mprotect.c do_mprotect_pkey(), v4.14. Context: takes mmap_lock write
    in the caller. Returns 0 or -errno; VMAs before a hole keep their new protection,
    as Linux leaves them.
    """

    # do_mprotect_pkey()'s order: both PROT_GROWS* bits, start alignment (EINVAL),
    # len 0 (success, nothing done), the page-aligned end wrapping (ENOMEM), then
    # arch_validate_prot()'s unknown bits (EINVAL), then the VMAs.
    grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP)
    prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP)
    if grows == PROT_GROWSDOWN | PROT_GROWSUP:
        return -errno.EINVAL
    if start & (PAGE_SIZE - 1):
        return -errno.EINVAL
    if length == 0:
        return 0
    length = PAGE_ALIGN(length)
    end = (start + length) & ULONG_MAX
    if end <= start:
        return -errno.ENOMEM
    if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM):
        return -errno.EINVAL
    vma = mm.find_vma(start)
    if vma is None:
        return -errno.ENOMEM
    if grows & PROT_GROWSDOWN:
        # the model has no VM_GROWSDOWN VMAs: ENOMEM past the range, else EINVAL
        return -errno.ENOMEM if vma.vm_start >= end else -errno.EINVAL
    if vma.vm_start > start:
        return -errno.ENOMEM
    if grows & PROT_GROWSUP:
        return -errno.EINVAL  # x86-64 has no VM_GROWSUP
    newbits = calc_vm_prot_bits(prot)
    # Walk the range: stop at the first hole (ENOMEM) or forbidden VMA (EACCES).
    addr = start
    vmas = []
    v = vma
    err = 0
    while v is not None and v.vm_start < end:
        if v.vm_start > addr:
            break  # a hole
        newflags = (v.vm_flags & ~VM_ACCESS_FLAGS) | newbits
        if (newflags & ~(newflags >> 4)) & (VM_READ | VM_WRITE | VM_EXEC):
            err = -errno.EACCES
            break
        vmas.append((v, newflags))
        addr = v.vm_end
        i = mm.vma_index(v)
        v = mm.mmap[i + 1] if i + 1 < len(mm.mmap) else None
    if not err and addr < end:
        err = -errno.ENOMEM
    for v, newflags in vmas:
        if newflags == v.vm_flags:
            continue  # mprotect_fixup(): nothing changes, no split, no PMD touched
        s, e = max(start, v.vm_start), min(end, v.vm_end)
        # mprotect_fixup(): a private mapping turning writable is charged now (mmap did
        # not: it was not writable then); refused, this VMA and the rest stay as they are
        if newflags & VM_WRITE and not v.vm_flags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB
                                                     | VM_SHARED | VM_NORESERVE):
            if security_vm_enough_memory_mm(mm, (e - s) >> PAGE_SHIFT) < 0:
                return -errno.ENOMEM
            newflags |= VM_ACCOUNT
        elif (not newflags & VM_WRITE and v.vm_flags & VM_ACCOUNT and v.vma_is_anonymous()
              and v.anon_vma is None and mm.kernel.profile.mprotect_unaccount_unfaulted):
            # an anonymous VMA never faulted (no anon_vma) that stops being writable
            # gives its commit back (vm_unacct_memory(): Committed_AS sums VM_ACCOUNT)
            newflags &= ~VM_ACCOUNT
        oldflags = v.vm_flags
        parts = yield from split_vma_range(mm, s, e)
        for part in parts:
            part.vm_flags = newflags
            part.vm_page_prot = vm_get_page_prot(newflags)
            yield from change_protection(part, part.vm_start, part.vm_end, part.vm_page_prot)
            yield from vma_merge_around(mm, part)
        # mprotect_fixup(): a private VM_LOCKED VMA turning writable is populated now
        # (write faults break COW, so a later write does not fault); populate does
        # nothing for VM_LOCKONFAULT
        if ((oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED
                and newflags & VM_WRITE and not newflags & VM_LOCKONFAULT):
            merged = mm.find_vma(s)
            if merged is not None and merged.vm_start <= s:
                yield from populate_vma_page_range(merged, s, e)
    return err


def sys_mprotect(mm: mm_struct, start: int, length: int, prot: int) -> KernelPath[int]:
    """Models: SYSCALL_DEFINE3(mprotect): start and prot unsigned long, len size_t."""
    start, length, prot = ulong(start), ulong(length), ulong(prot)

    yield from down_write(mm.mmap_lock)
    try:
        return (yield from do_mprotect(mm, start, length, prot))
    finally:
        up_write(mm.mmap_lock)
