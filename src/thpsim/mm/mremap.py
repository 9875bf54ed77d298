"""mremap: shrink, grow in place, or move a mapping with its page tables.

Models: mm/mremap.c, v4.14 (SYSCALL mremap, vma_to_resize, move_vma,
move_page_tables -> move_huge_pmd / move_ptes), 5.7's MREMAP_DONTUNMAP
(``mremap_dontunmap``) and 5.16's early VMA lookup (``mremap_vma_lookup_first``).
The rmap lock (anon_vma) is always taken around the page-table move (a superset of
need_rmap_locks).
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
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.locking import down_write, spin_lock, spin_unlock, up_write
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.tlbflush import flush_tlb_range
from thpsim.mm import huge_memory
from thpsim.mm.mm_types import (
    VM_ACCOUNT,
    VM_DONTEXPAND,
    VM_LOCKED,
    VM_LOCKED_CLEAR_MASK,
    VM_PFNMAP,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.mmap import (
    PAGE_ALIGN,
    do_munmap,
    get_unmapped_area,
    populate_vma_page_range,
    split_vma_range,
    vma_merge_around,
)
from thpsim.mm.mmu_notifier import mmu_notifier_move_range
from thpsim.mm.pgtable_generic import (
    __pte_alloc,
    lookup_pmd_range,
    pmd_lock,
    pmdp_get,
    ptr_set,
    walk_to_pmd,
)
from thpsim.mm.rmap import anon_vma_clone, anon_vma_lock_write, anon_vma_unlock_write
from thpsim.mm.util import security_vm_enough_memory_mm

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
                    e = ctx.swp.pte_swp_mksoft_dirty(e)
                nt[ni] = e
            oi += 1
            ni += 1
        if flush:
            yield from flush_tlb_range(vma, old_addr, old_end)
    finally:
        if nested:
            spin_unlock(nt.ptl)
        spin_unlock(ot.ptl)


def move_normal_pmd(vma: vm_area_struct, old_addr: int, old_pmd, new_pmd) -> KernelPath[bool]:
    """Move a whole PTE table: the new PMD takes the old one's table, the PTEs are not
    touched (so not made soft-dirty, unlike move_ptes()).

    Models: mm/mremap.c move_normal_pmd() (5.10+ on x86, HAVE_MOVE_PMD; C:2c91bd4a4e2e
    "mm: speed up mremap by 20x on large regions"). Context: mmap_lock held for write;
    takes both PMD locks. Returns False when the old PMD is no longer a table (a
    racing collapse) or the new one is not none; the caller moves the PTEs instead.
    """
    mm = vma.vm_mm
    old_ptl = yield from pmd_lock(mm, old_pmd)
    nested = new_pmd[0].ptl is not old_ptl
    if nested:
        yield from spin_lock(new_pmd[0].ptl)
    try:
        v = pmdp_get(old_pmd)
        if (pmd_none(v) or pmd_trans_huge(v) or is_swap_pmd(v)
                or not pmd_none(pmdp_get(new_pmd))):
            return False
        ptr_set(old_pmd, 0)  # pmd_clear()
        ptr_set(new_pmd, v)  # pmd_populate(): the same table, now at new_addr
        yield from flush_tlb_range(vma, old_addr, old_addr + PMD_SIZE)
        return True
    finally:
        if nested:
            spin_unlock(new_pmd[0].ptl)
        spin_unlock(old_ptl)


def move_page_tables(vma: vm_area_struct, old_addr: int, new_vma: vm_area_struct,
                     new_addr: int, length: int) -> KernelPath[int]:
    """Models: move_page_tables(), v4.14. Returns the bytes moved (all, or -ENOMEM)."""
    mm = vma.vm_mm
    notify = mm.kernel.mmu_notifiers
    old_end = old_addr + length
    moved = 0
    while old_addr < old_end:
        old_pmd, next_ = lookup_pmd_range(mm, old_addr, old_end)
        if old_pmd is None:
            # no PUD table there (6.x get_old_pud()/move_pgt_entry() move whole
            # upper levels; 4.14 steps per PMD): nothing to move in the whole span
            extent = next_ - old_addr
            if notify:  # nothing mapped: whatever the shadow holds moves too
                mmu_notifier_move_range(mm, old_addr, new_addr, extent)
            old_addr += extent
            new_addr += extent
            moved += extent
            continue
        extent = next_ - old_addr
        nxt = ((new_addr + PMD_SIZE) & ~(PMD_SIZE - 1)) - new_addr
        extent = min(extent, nxt)
        if pmd_none(pmdp_get(old_pmd)):
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
            whole = extent == HPAGE_PMD_SIZE and (yield from huge_memory.move_huge_pmd(
                vma, old_addr, new_addr, old_end, old_pmd, new_pmd))
            if not whole:
                yield from huge_memory.__split_huge_pmd(vma, old_pmd, old_addr, False)
        else:
            # 5.10+ move_pgt_entry(NORMAL_PMD): a whole table moves as it is
            whole = (extent == HPAGE_PMD_SIZE and mm.kernel.profile.mremap_move_normal_pmd
                     and pmd_none(pmdp_get(new_pmd))
                     and (yield from move_normal_pmd(vma, old_addr, old_pmd, new_pmd)))
        if not whole:
            if pmd_none(pmdp_get(new_pmd)):
                if (yield from __pte_alloc(mm, new_pmd)) < 0:
                    return -errno.ENOMEM
            yield from move_ptes(vma, old_pmd, old_addr, old_addr + extent, new_vma,
                                 new_pmd, new_addr)
        if notify:
            mmu_notifier_move_range(mm, old_addr, new_addr, extent)
        old_addr += extent
        new_addr += extent
        moved += extent
    return moved


def move_vma(mm: mm_struct, vma: vm_area_struct, old_addr: int, old_len: int,
             new_len: int, new_addr: int, flags: int = 0) -> KernelPath[int]:
    """Models: mm/mremap.c move_vma() (copy_vma, move_page_tables, unmap the old range).

    MREMAP_DONTUNMAP (5.7+): the old range is not unmapped; its VMA stays, empty
    (every page table entry moved), with VM_LOCKED/VM_LOCKONFAULT cleared, and
    locked_vm is left as it was (the lock moved with the pages); total_vm grows by
    the new length. Simplified: no VM_ACCOUNT (the model does no overcommit
    accounting), and the old VMA keeps its anon_vma (6.x unlinks it when the old
    VMA was the whole range: rmap walks of the moved pages find no PTE there).
    """

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
    if flags & MREMAP_DONTUNMAP:
        # "We always clear VM_LOCKED[ONFAULT] on the old vma"; no munmap, so
        # locked_vm stays as it is
        for part in parts:
            part.vm_flags &= VM_LOCKED_CLEAR_MASK
        yield from vma_merge_around(mm, new_vma)
        return new_addr
    if locked:
        mm.locked_vm += new_len >> PAGE_SHIFT
    # The old range is empty now; unmapping it only removes the VMA (and accounting).
    yield from do_munmap(mm, old_addr, old_len)
    yield from vma_merge_around(mm, new_vma)
    if locked and new_len > old_len:
        # SYSCALL mremap: "if (locked && new_len > old_len) mm_populate(new_addr +
        # old_len, new_len - old_len)": the grown part of a locked VMA is faulted in,
        # moved or not (the in-place growth below does the same)
        tail = mm.find_vma(new_addr + old_len)
        yield from populate_vma_page_range(tail, new_addr + old_len, new_addr + new_len)
    return new_addr


def remap_move(mm: mm_struct, addr: int, length: int, new_addr: int,
               flags: int) -> KernelPath[int]:
    """MREMAP_FIXED with old_len == new_len: every VMA of [addr, addr + length) moves.

    Models: mm/mremap.c remap_move(), 6.17 (``mremap_move_multiple_vmas``): the range
    must start in a VMA (EFAULT); each VMA's part of it moves to ``new_addr`` plus its
    offset in the range (the gaps between them kept: what lies in the destination
    across from a gap stays mapped), one after the other, each through
    check_prep_vma() and mremap_to() (its part of the destination unmapped first).
    The first error ends the call; the parts moved before it stay moved.
    Returns ``new_addr`` or -errno.
    """
    end = addr + length
    pieces: list[tuple[int, int]] = []
    vma = mm.find_vma(addr)
    i = mm.vma_index(vma) if vma is not None else len(mm.mmap)
    while i < len(mm.mmap) and mm.mmap[i].vm_start < end:
        v = mm.mmap[i]
        pieces.append((max(v.vm_start, addr), min(end, v.vm_end)))
        i += 1
    if not pieces or pieces[0][0] > addr:
        return -errno.EFAULT  # "No gap permitted at the start of the range"
    for start, stop in pieces:
        target = new_addr + (start - addr)
        vma = mm.find_vma(start)  # the earlier moves left this part where it was
        if flags & MREMAP_DONTUNMAP and vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
            return -errno.EINVAL
        ret = yield from do_munmap(mm, target, stop - start)
        if ret < 0:
            return ret
        ret = yield from move_vma(mm, mm.find_vma(start), start, stop - start, stop - start,
                                  target, flags)
        if ret < 0:
            return ret
    return new_addr


def do_mremap(mm: mm_struct, addr: int, old_len: int, new_len: int, flags: int,
              new_addr: int) -> KernelPath[int]:
    """Models: mm/mremap.c SYSCALL mremap, v4.14, with mainline's differences behind
    switches: MREMAP_DONTUNMAP (``mremap_dontunmap``, 5.7; the 5.13+ VMA rule and
    6.17's check_mremap_params() comparing the page-aligned lengths), the VMA looked
    up first (``mremap_vma_lookup_first``, 5.16), and 6.17's rework: the new_len
    check (``mremap_new_len_task_size_einval``), a same-size MREMAP_FIXED move of
    several VMAs (``mremap_move_multiple_vmas``, remap_move()) and the VMA checked
    before MREMAP_FIXED unmaps anything (``mremap_check_vma_before_unmap``).

    4.14 looks the VMA up only where it needs it: a shrink of an unmapped range
    unmaps nothing and returns ``addr``; MREMAP_FIXED unmaps the destination before
    vma_to_resize() finds no VMA (EFAULT). 5.16+ looks it up before either (EFAULT,
    nothing changed).

    Returns the new address or -errno.
    """
    profile = mm.kernel.profile
    allowed = MREMAP_FIXED | MREMAP_MAYMOVE
    if profile.mremap_dontunmap:
        allowed |= MREMAP_DONTUNMAP
    if flags & ~allowed:
        return -errno.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -errno.EINVAL
    if flags & MREMAP_DONTUNMAP and not flags & MREMAP_MAYMOVE:
        return -errno.EINVAL  # "MREMAP_DONTUNMAP is always a move"
    if addr & (PAGE_SIZE - 1):
        return -errno.EINVAL
    old_len = PAGE_ALIGN(old_len)
    new_len = PAGE_ALIGN(new_len)
    if not new_len:
        return -errno.EINVAL
    if flags & MREMAP_DONTUNMAP and old_len != new_len:
        return -errno.EINVAL  # "does not allow resizing in the process"
    if new_len > TASK_SIZE and profile.mremap_new_len_task_size_einval:
        return -errno.EINVAL  # check_mremap_params(): "Is the new length silly?"
    to = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)
    if to:  # mremap_to()'s checks of the new range (a hint without MREMAP_FIXED)
        if new_addr & (PAGE_SIZE - 1):
            return -errno.EINVAL
        if new_len > TASK_SIZE or new_addr > TASK_SIZE - new_len:
            return -errno.EINVAL
        # overlapping ranges, in unsigned long arithmetic as mremap_to() tests them
        if (addr + old_len) & ULONG_MAX > new_addr and new_addr + new_len > addr:
            return -errno.EINVAL
    if flags & MREMAP_FIXED and old_len == new_len and profile.mremap_move_multiple_vmas:
        return (yield from remap_move(mm, addr, old_len, new_addr, flags))
    vma = None
    if profile.mremap_vma_lookup_first:
        vma = mm.find_vma(addr)
        if vma is None or vma.vm_start > addr:
            return -errno.EFAULT
    if flags & MREMAP_FIXED and profile.mremap_check_vma_before_unmap:
        # 6.17 check_prep_vma(), before mremap_to() unmaps anything: a shrink may
        # cross VMAs in its unmapped tail, so only new_len must fit
        if vma is None:  # (the lookup comes first in every kernel that checks here)
            vma = mm.find_vma(addr)
            if vma is None or vma.vm_start > addr:
                return -errno.EFAULT
        if old_len == 0:
            return -errno.EINVAL
        if flags & MREMAP_DONTUNMAP and vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
            return -errno.EINVAL
        if min(old_len, new_len) > vma.vm_end - addr:
            return -errno.EFAULT
    if not to and old_len >= new_len:
        # a shrink unmaps the tail before any check of the VMA's size (mremap(), both
        # eras): do_munmap() refuses a tail that runs past TASK_SIZE (EINVAL)
        if old_len > new_len:
            ret = yield from do_munmap(mm, addr + new_len, old_len - new_len)
            if ret < 0:
                return ret
        return addr
    if to:
        # mremap_to(): the destination, then the tail past new_len, are unmapped
        # before vma_to_resize() looks at the old range again; they stay unmapped
        # when a later check fails (as in Linux, both eras)
        if flags & MREMAP_FIXED:
            ret = yield from do_munmap(mm, new_addr, new_len)
            if ret < 0:
                return ret
        if old_len > new_len:
            ret = yield from do_munmap(mm, addr + new_len, old_len - new_len)
            if ret < 0:
                return ret
            old_len = new_len
    vma = mm.find_vma(addr)  # vma_to_resize()
    if vma is None or vma.vm_start > addr:
        return -errno.EFAULT
    if old_len == 0:
        return -errno.EINVAL  # only shared mappings may be duplicated
    if flags & MREMAP_DONTUNMAP and vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        return -errno.EINVAL  # 5.13+ (5.7..5.12: anonymous private VMAs only)
    if old_len > vma.vm_end - addr:
        return -errno.EFAULT
    if new_len > old_len and vma.vm_flags & VM_ACCOUNT:
        # vma_to_resize() (resize_is_valid() + the charge in 6.x): the growth of an
        # accountable mapping is charged before anything moves
        if security_vm_enough_memory_mm(mm, (new_len - old_len) >> PAGE_SHIFT) < 0:
            return -errno.ENOMEM
    if to:
        if not flags & MREMAP_FIXED:  # DONTUNMAP alone: new_addr is a hint
            new_addr = get_unmapped_area(mm, new_addr, new_len, 0)
            if new_addr < 0:
                return new_addr
        return (yield from move_vma(mm, vma, addr, old_len, new_len, new_addr, flags))
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
