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
from thpsim.kernel.tlbflush import flush_tlb_range
from thpsim.mm import huge_memory
from thpsim.mm.internal import FPB_RESPECT_SOFT_DIRTY, FPB_RESPECT_WRITE, folio_pte_batch
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
from thpsim.mm.page_flags import F_anon_exclusive
from thpsim.mm.pgtable_generic import (
    lookup_pmd_range,
    pmd_clear_bad,
    pmd_none_or_clear_bad,
    pmd_trans_unstable,
    pmdp_get,
)
from thpsim.mm.util import security_vm_enough_memory_mm


def change_pte_range(vma: vm_area_struct, pmd, addr: int, end: int, newprot: int,
                     try_writable: bool) -> KernelPath[int]:
    """Models: change_pte_range(): rewrite present PTEs, downgrade write migration entries.

    6.17+ (``mprotect_pte_batch``; Dev Jain, "mm: Optimize mprotect() by PTE batching"):
    the PTEs of one large folio go in batches (folio_pte_batch() with
    FPB_RESPECT_SOFT_DIRTY | FPB_RESPECT_WRITE); the
    batch's dirty and young bits are gathered (modify_prot_start_ptes(): pte_mkdirty(),
    which on x86 sets soft-dirty as well) and the result written to every PTE of the
    batch, so a dirty page makes the whole batch dirty and soft-dirty (the kernel
    oracle: 7.2 reports soft-dirty on every page of a PTE-mapped THP after mprotect;
    6.12 does not)."""
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
            elif pte_present(e):
                if ctx.profile.mprotect_pte_batch and not pte_special(e):
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


def change_protection(vma: vm_area_struct, start: int, end: int,
                      newprot: int) -> KernelPath[int]:
    """Models: change_protection() -> change_pmd_range(), v4.14. Returns pages changed."""
    mm = vma.vm_mm
    ctx = mm.kernel
    try_writable = ctx.profile.mprotect_try_change_writable and bool(vma.vm_flags & VM_WRITE)
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
                n = yield from huge_memory.change_huge_pmd(vma, pmd, addr, newprot, False)
                if n:
                    if n == HPAGE_PMD_NR:
                        pages += HPAGE_PMD_NR
                    addr = next_
                    continue
        pages += yield from change_pte_range(vma, pmd, addr, next_, newprot, try_writable)
        addr = next_
        yield PREEMPT  # cond_resched()
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
