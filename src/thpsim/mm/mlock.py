"""mlock, munlock and the unevictable state of pages.

Models: mm/mlock.c, v4.14 (do_mlock, apply_vma_lock_flags, mlock_fixup,
mlock_vma_page, munlock_vma_page, munlock_vma_pages_range). A PMD-mapped THP
is mlocked whole; a PTE-mapped THP is not mlocked (4.14 follow_page_pte skips
PageTransCompound under FOLL_MLOCK).
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.locking import down_write, up_write
from thpsim.kernel.sched import KernelPath
from thpsim.mm.gup import follow_page_info
from thpsim.mm.mm_types import VM_LOCKED, VM_LOCKONFAULT, mm_struct, vm_area_struct
from thpsim.mm.page_flags import F_head, F_lru, F_mlocked, F_tail
from thpsim.mm.swap import (
    add_page_to_lru,
    count_unevictable_event,
    del_page_from_lru,
    hpage_nr_pages,
)
from thpsim.mm.vmstat import (
    NR_MLOCK,
    UNEVICTABLE_PGCULLED,
    UNEVICTABLE_PGMLOCKED,
    UNEVICTABLE_PGMUNLOCKED,
    UNEVICTABLE_PGRESCUED,
    UNEVICTABLE_PGSTRANDED,
)

_M32 = 0xFFFF_FFFF


def mlock_vma_page(ctx, head: int) -> None:
    """PG_mlocked, NR_MLOCK, onto the unevictable list.

    Models: mlock_vma_page(), v4.14: unevictable_pgs_mlocked, and, for a page on the
    LRU, isolate_lru_page() + putback_lru_page() moving it to the unevictable list:
    unevictable_pgs_culled (5.18+ mlock_folio() -> __mlock_folio(): the same events,
    in base pages, see count_unevictable_event()).
    """
    pages = ctx.pages
    if pages.flags[head] & F_mlocked:
        return
    nr = hpage_nr_pages(ctx, head)
    on_lru = pages.flags[head] & F_lru
    if on_lru:
        del_page_from_lru(ctx, head)
    pages.flags[head] |= F_mlocked
    ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(head), NR_MLOCK, nr)
    count_unevictable_event(ctx, UNEVICTABLE_PGMLOCKED, head)
    if on_lru:
        add_page_to_lru(ctx, head)
        count_unevictable_event(ctx, UNEVICTABLE_PGCULLED, head)


def munlock_vma_page(ctx, head: int) -> None:
    """Clear PG_mlocked and return the page to its evictable LRU list.

    Models: munlock_vma_page(), v4.14: a page on the LRU is isolated
    (__munlock_isolated_page(): unevictable_pgs_munlocked) and put back evictable
    (putback_lru_page(): unevictable_pgs_rescued); one not on the LRU (isolated for
    migration, so still PG_unevictable) is __munlock_isolation_failed():
    unevictable_pgs_stranded. 5.18+ __munlock_folio(): the same, in base pages.
    Simplified: no try_to_munlock(): another VM_LOCKED mapping does not keep the
    page mlocked (anon pages are mlocked by one VMA only here).
    """
    pages = ctx.pages
    if not pages.flags[head] & F_mlocked:
        return
    nr = hpage_nr_pages(ctx, head)
    on_lru = pages.flags[head] & F_lru
    if on_lru:
        del_page_from_lru(ctx, head)
    pages.flags[head] &= ~F_mlocked & _M32
    ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(head), NR_MLOCK, -nr)
    if on_lru:
        count_unevictable_event(ctx, UNEVICTABLE_PGMUNLOCKED, head)
        add_page_to_lru(ctx, head)
        count_unevictable_event(ctx, UNEVICTABLE_PGRESCUED, head)
    else:
        count_unevictable_event(ctx, UNEVICTABLE_PGSTRANDED, head)


def clear_page_mlock(ctx, page: int) -> None:
    """Models: mm/mlock.c clear_page_mlock(), v4.14: the page's last VM_LOCKED mapping
    went another way than munlock (a PMD split, an unmap): clear PG_mlocked (on the
    head: PF_NO_TAIL), NR_MLOCK less hpage_nr_pages(page) -- 1 for a tail page, as in
    4.14 -- and back to the evictable LRU (isolate_lru_page + putback_lru_page).
    Simplified: unevictable_pgs_cleared/stranded are not counted (not in /proc/vmstat).
    """
    pages = ctx.pages
    head = pages.compound_head(page)
    if not pages.flags[head] & F_mlocked:
        return
    nr = hpage_nr_pages(ctx, page)
    on_lru = pages.flags[head] & F_lru
    if on_lru:
        del_page_from_lru(ctx, head)
    pages.flags[head] &= ~F_mlocked & _M32
    ctx.vmstat.mod_zone_page_state(ctx.mem.pfn_to_nid(head), NR_MLOCK, -nr)
    if on_lru:
        add_page_to_lru(ctx, head)


def mlock_vma_pages_range(vma: vm_area_struct, start: int, end: int) -> KernelPath[None]:
    """mlock every mapped page of the range (what FOLL_MLOCK does during populate)."""
    ctx = vma.vm_mm.kernel
    pages = ctx.pages
    addr = start
    while addr < end:
        pfn, huge, zero = follow_page_info(vma, addr, False)
        if pfn >= 0 and not zero:
            if huge:
                mlock_vma_page(ctx, pages.compound_head(pfn))
                addr = (addr & ~(HPAGE_PMD_SIZE - 1)) + HPAGE_PMD_SIZE
                continue
            if not pages.flags[pfn] & (F_head | F_tail):
                mlock_vma_page(ctx, pfn)
        addr += PAGE_SIZE
    return
    yield


def munlock_vma_pages_range(vma: vm_area_struct, start: int, end: int) -> KernelPath[None]:
    """Models: munlock_vma_pages_range(): munlock every page mapped in the range."""
    ctx = vma.vm_mm.kernel
    pages = ctx.pages
    vma.vm_flags &= ~(VM_LOCKED | VM_LOCKONFAULT)
    addr = start
    while addr < end:
        pfn, huge, zero = follow_page_info(vma, addr, False)
        if pfn >= 0 and not zero:
            head = pages.compound_head(pfn)
            munlock_vma_page(ctx, head)
            if huge:
                addr = (addr & ~(HPAGE_PMD_SIZE - 1)) + HPAGE_PMD_SIZE
                continue
        addr += PAGE_SIZE
    return
    yield


def apply_vma_lock_flags(mm: mm_struct, start: int, length: int, lock: bool,
                         onfault: bool = False) -> KernelPath[int]:
    """Models: do_mlock()/sys_munlock() -> apply_vma_lock_flags() -> mlock_fixup().

    Returns 0 or -ENOMEM (a hole in the range; the mapped parts before it changed).
    """
    # cycle: mm.mmap -> mm.mlock imports this module
    from thpsim.mm.mmap import populate_vma_page_range, split_vma_range, vma_merge_around

    end = start + length
    vma = mm.find_vma(start)
    if vma is None or vma.vm_start > start:
        return -errno.ENOMEM
    # apply_vma_lock_flags(): walk the VMAs of the range; a hole ends the walk with
    # -ENOMEM, the VMAs before it changed
    addr = vma.vm_start
    plan: list[tuple[vm_area_struct, int]] = []
    v: vm_area_struct | None = vma
    while v is not None and v.vm_start < end:
        if v.vm_start != addr:
            break
        newflags = v.vm_flags & ~(VM_LOCKED | VM_LOCKONFAULT)
        if lock:
            newflags |= VM_LOCKED | (VM_LOCKONFAULT if onfault else 0)
        plan.append((v, newflags))
        addr = v.vm_end
        i = mm.vma_index(v)
        v = mm.mmap[i + 1] if i + 1 < len(mm.mmap) else None
    ret = 0 if addr >= end else -errno.ENOMEM
    for v, newflags in plan:
        # mlock_fixup(): flags that do not change leave the VMA alone (no split, no
        # huge PMD touched, nothing counted): munlock of unlocked memory, mlock of
        # locked memory with the same MLOCK_ONFAULT
        if newflags == v.vm_flags:
            continue
        oldflags = v.vm_flags
        s, e = max(start, v.vm_start), min(end, v.vm_end)
        npages = (e - s) >> PAGE_SHIFT
        if not newflags & VM_LOCKED:
            mm.locked_vm -= npages
        elif not oldflags & VM_LOCKED:
            mm.locked_vm += npages
        for part in (yield from split_vma_range(mm, s, e)):
            if newflags & VM_LOCKED:
                part.vm_flags = newflags
            else:
                yield from munlock_vma_pages_range(part, part.vm_start, part.vm_end)
            if part in mm.mmap:
                yield from vma_merge_around(mm, part)
    if ret or not lock:
        return ret
    # do_mlock() -> __mm_populate(start, len): every VM_LOCKED VMA of the range, not
    # only the ones whose flags changed; nothing when apply_vma_lock_flags() failed
    v = mm.find_vma(start)
    while v is not None and v.vm_start < end:
        if v.vm_flags & VM_LOCKED and not v.vm_flags & VM_LOCKONFAULT:
            s, e = max(start, v.vm_start), min(end, v.vm_end)
            if (yield from populate_vma_page_range(v, s, e)) < 0:
                return -errno.ENOMEM
        i = mm.vma_index(v)
        v = mm.mmap[i + 1] if i + 1 < len(mm.mmap) else None
    return ret


def sys_mlock(mm: mm_struct, start: int, length: int, lock: bool, onfault: bool = False
              ) -> KernelPath[int]:
    """Models: SYSCALL_DEFINE2(mlock)/mlock2/munlock: align, then apply_vma_lock_flags.

    In unsigned long arithmetic, as do_mlock() computes it: len = PAGE_ALIGN(len +
    offset_in_page(start)) (a length near 2**64 wraps: to 0, success with nothing
    done), then apply_vma_lock_flags()'s end = start + len, EINVAL when it wraps.
    """
    start, length = ulong(start), ulong(length)
    length = (length + (start & (PAGE_SIZE - 1)) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & ULONG_MAX
    start &= ~(PAGE_SIZE - 1)
    end = (start + length) & ULONG_MAX
    if end < start:
        return -errno.EINVAL
    if end == start:
        return 0
    yield from down_write(mm.mmap_lock)
    try:
        return (yield from apply_vma_lock_flags(mm, start, end - start, lock, onfault))
    finally:
        up_write(mm.mmap_lock)
