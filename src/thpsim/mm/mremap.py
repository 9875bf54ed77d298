"""mremap: shrink, grow in place, or move a mapping with its page tables.

Models: mm/mremap.c, v4.14 (SYSCALL mremap, vma_to_resize, move_vma,
move_page_tables -> move_huge_pmd / move_ptes). The rmap lock (anon_vma) is
always taken around the page-table move (a superset of need_rmap_locks).
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SIZE,
    TASK_SIZE,
    pmd_none,
    pmd_trans_huge,
    pte_mksoft_dirty,
    pte_present,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd, pte_swp_mksoft_dirty
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.locking import down_write, spin_lock, spin_unlock, up_write
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.tlbflush import flush_tlb_range
from thpsim.mm import huge_memory
from thpsim.mm.memory import _addr_end
from thpsim.mm.mm_types import VM_LOCKED, mm_struct, vm_area_struct
from thpsim.mm.mmap import (
    PAGE_ALIGN,
    do_munmap,
    get_unmapped_area,
    populate_vma_page_range,
    split_vma_range,
    vma_merge_around,
)
from thpsim.mm.mmu_notifier import mmu_notifier_move_range
from thpsim.mm.pgtable_generic import __pte_alloc, lookup_pmd, pmdp_get, walk_to_pmd
from thpsim.mm.rmap import anon_vma_clone, anon_vma_lock_write, anon_vma_unlock_write

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4


def move_ptes(vma: vm_area_struct, old_pmd, old_addr: int, old_end: int, new_vma,
              new_pmd, new_addr: int) -> KernelPath[None]:
    """Models: mm/mremap.c move_ptes(): both PTE locks, move each entry, flush the old range."""
    mm = vma.vm_mm
    ctx = mm.kernel
    ot = ctx.mem.tables[table_entry_pfn(pmdp_get(old_pmd))]
    nt = ctx.mem.tables[table_entry_pfn(pmdp_get(new_pmd))]
    yield from spin_lock(ot.ptl)
    nested = nt.ptl is not ot.ptl
    if nested:
        yield from spin_lock(nt.ptl)
    flush = False
    try:
        oi = (old_addr >> PAGE_SHIFT) & 511
        ni = (new_addr >> PAGE_SHIFT) & 511
        for _ in range(old_addr, old_end, PAGE_SIZE):
            e = ot[oi]
            if e:
                ot[oi] = 0
                if pte_present(e):
                    flush = True
                    e = pte_mksoft_dirty(e)  # move_soft_dirty_pte()
                else:
                    e = pte_swp_mksoft_dirty(e)
                nt[ni] = e
            oi += 1
            ni += 1
        if flush:
            yield from flush_tlb_range(vma, old_addr, old_end)
    finally:
        if nested:
            spin_unlock(nt.ptl)
        spin_unlock(ot.ptl)


def move_page_tables(vma: vm_area_struct, old_addr: int, new_vma: vm_area_struct,
                     new_addr: int, length: int) -> KernelPath[int]:
    """Models: move_page_tables(), v4.14. Returns the bytes moved (all, or -ENOMEM)."""
    mm = vma.vm_mm
    notify = mm.kernel.mmu_notifiers
    old_end = old_addr + length
    moved = 0
    while old_addr < old_end:
        extent = _addr_end(old_addr, old_end, PMD_SIZE) - old_addr
        nxt = ((new_addr + PMD_SIZE) & ~(PMD_SIZE - 1)) - new_addr
        extent = min(extent, nxt)
        old_pmd = lookup_pmd(mm, old_addr)
        if old_pmd is None or pmd_none(pmdp_get(old_pmd)):
            if notify:  # nothing mapped: whatever the shadow holds moves too
                mmu_notifier_move_range(mm, old_addr, new_addr, extent)
            old_addr += extent
            new_addr += extent
            moved += extent
            continue
        new_pmd = yield from walk_to_pmd(mm, new_addr, True)
        if new_pmd is None:
            return -errno.ENOMEM
        v = pmdp_get(old_pmd)
        if pmd_trans_huge(v) or is_swap_pmd(v):
            if extent == HPAGE_PMD_SIZE:
                if (yield from huge_memory.move_huge_pmd(vma, old_addr, new_addr, old_end,
                                                         old_pmd, new_pmd)):
                    if notify:
                        mmu_notifier_move_range(mm, old_addr, new_addr, extent)
                    old_addr += extent
                    new_addr += extent
                    moved += extent
                    continue
            yield from huge_memory.__split_huge_pmd(vma, old_pmd, old_addr, False)
        if pmd_none(pmdp_get(new_pmd)):
            if (yield from __pte_alloc(mm, new_pmd)) < 0:
                return -errno.ENOMEM
        yield from move_ptes(vma, old_pmd, old_addr, old_addr + extent, new_vma, new_pmd,
                             new_addr)
        if notify:
            mmu_notifier_move_range(mm, old_addr, new_addr, extent)
        old_addr += extent
        new_addr += extent
        moved += extent
    return moved


def move_vma(mm: mm_struct, vma: vm_area_struct, old_addr: int, old_len: int,
             new_len: int, new_addr: int) -> KernelPath[int]:
    """Models: mm/mremap.c move_vma() (copy_vma, move_page_tables, unmap the old range)."""

    parts = yield from split_vma_range(mm, old_addr, old_addr + old_len)
    vma = parts[0]
    new_vma = vm_area_struct(mm, new_addr, new_addr + new_len, vma.vm_flags, vma.vm_pgoff)
    new_vma.vm_page_prot = vma.vm_page_prot
    new_vma.vm_policy = vma.vm_policy
    av = vma.anon_vma
    yield from anon_vma_lock_write(av)  # rmap walks see the old or the new place
    try:
        if av is not None:
            anon_vma_clone(new_vma, vma)
        mm.insert_vma(new_vma)
        moved = yield from move_page_tables(vma, old_addr, new_vma, new_addr, old_len)
    finally:
        anon_vma_unlock_write(av)
    if moved < 0:
        return moved
    locked = vma.vm_flags & VM_LOCKED
    mm.total_vm += new_len >> PAGE_SHIFT
    if locked:
        mm.locked_vm += new_len >> PAGE_SHIFT
    # The old range is empty now; unmapping it only removes the VMA (and accounting).
    yield from do_munmap(mm, old_addr, old_len)
    yield from vma_merge_around(mm, new_vma)
    return new_addr


def do_mremap(mm: mm_struct, addr: int, old_len: int, new_len: int, flags: int,
              new_addr: int) -> KernelPath[int]:
    """Models: mm/mremap.c SYSCALL mremap, v4.14 (MREMAP_DONTUNMAP is 5.7+: EINVAL here).

    Returns the new address or -errno.
    """

    if flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE):
        return -errno.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -errno.EINVAL
    if addr & (PAGE_SIZE - 1):
        return -errno.EINVAL
    old_len = PAGE_ALIGN(old_len)
    new_len = PAGE_ALIGN(new_len)
    if not new_len:
        return -errno.EINVAL
    if new_len > TASK_SIZE and mm.kernel.profile.mremap_new_len_task_size_einval:
        return -errno.EINVAL  # check_mremap_params(): "Is the new length silly?"
    if flags & MREMAP_FIXED:
        if new_addr & (PAGE_SIZE - 1):
            return -errno.EINVAL
        if new_len > TASK_SIZE or new_addr > TASK_SIZE - new_len:
            return -errno.EINVAL
        # overlapping ranges, in unsigned long arithmetic as mremap_to() tests them
        if (addr + old_len) & ULONG_MAX > new_addr and new_addr + new_len > addr:
            return -errno.EINVAL
    vma = mm.find_vma(addr)
    if vma is None or vma.vm_start > addr:
        return -errno.EFAULT
    if not flags & MREMAP_FIXED and old_len >= new_len:
        # a shrink unmaps the tail before any check of the VMA's size (mremap(), both
        # eras): do_munmap() refuses a tail that runs past TASK_SIZE (EINVAL)
        if old_len > new_len:
            ret = yield from do_munmap(mm, addr + new_len, old_len - new_len)
            if ret < 0:
                return ret
        return addr
    if flags & MREMAP_FIXED:
        # mremap_to(): the destination, then the tail past new_len, are unmapped
        # before vma_to_resize() looks at the old range again; they stay unmapped
        # when a later check fails (as in Linux, both eras)
        ret = yield from do_munmap(mm, new_addr, new_len)
        if ret < 0:
            return ret
        if old_len > new_len:
            ret = yield from do_munmap(mm, addr + new_len, old_len - new_len)
            if ret < 0:
                return ret
            old_len = new_len
        vma = mm.find_vma(addr)
        if vma is None or vma.vm_start > addr:
            return -errno.EFAULT
    if old_len == 0:
        return -errno.EINVAL  # only shared mappings may be duplicated
    if old_len > vma.vm_end - addr:
        return -errno.EFAULT
    if flags & MREMAP_FIXED:
        return (yield from move_vma(mm, vma, addr, old_len, new_len, new_addr))
    # grow: in place when the VMA ends here and the space after it is free
    if vma.vm_end == addr + old_len:
        i = mm.vma_index(vma)
        nxt = mm.mmap[i + 1] if i + 1 < len(mm.mmap) else None
        limit = nxt.vm_start if nxt is not None else TASK_SIZE
        if addr + new_len <= limit:
            delta = new_len - old_len
            av = vma.anon_vma
            yield from anon_vma_lock_write(av)  # vma_adjust()
            vma.vm_end = addr + new_len
            anon_vma_unlock_write(av)
            mm.total_vm += delta >> PAGE_SHIFT
            if vma.vm_flags & VM_LOCKED:
                mm.locked_vm += delta >> PAGE_SHIFT

                yield from populate_vma_page_range(vma, addr + old_len, addr + new_len)
            return addr
    if not flags & MREMAP_MAYMOVE:
        return -errno.ENOMEM
    new_addr = get_unmapped_area(mm, 0, new_len, 0)
    if new_addr < 0:
        return new_addr
    return (yield from move_vma(mm, vma, addr, old_len, new_len, new_addr))


def sys_mremap(mm: mm_struct, addr: int, old_len: int, new_len: int, flags: int,
               new_addr: int) -> KernelPath[int]:
    """Models: SYSCALL_DEFINE5(mremap): every argument an unsigned long."""
    addr, old_len, new_len, flags, new_addr = (ulong(addr), ulong(old_len), ulong(new_len),
                                               ulong(flags), ulong(new_addr))
    yield from down_write(mm.mmap_lock)
    try:
        return (yield from do_mremap(mm, addr, old_len, new_len, flags, new_addr))
    finally:
        up_write(mm.mmap_lock)
