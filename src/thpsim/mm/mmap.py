"""mmap, munmap, VMA splitting and merging, exit_mmap.

Models: mm/mmap.c, v4.14 (do_mmap, mmap_region, get_unmapped_area with the
top-down allocator, vma_merge, __split_vma, do_munmap, unmap_region,
exit_mmap), kernel/fork.c check_mm. The 6.7+ 2 MiB alignment of anonymous
mappings (thp_get_unmapped_area, limited to PMD-multiple lengths in 6.12) sits
behind ``thp_align_anon_mappings``.

Only private anonymous mappings are modelled; MAP_SHARED|MAP_ANONYMOUS gives
EOPNOTSUPP (see the README).
"""

from __future__ import annotations

import bisect
import errno

from thpsim.arch.x86_64.pgtable import (
    HPAGE_PMD_MASK,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PAGE_SIZE,
    TASK_SIZE,
)
from thpsim.kernel.entry import ULONG_MAX, ulong
from thpsim.kernel.sched import KernelPath
from thpsim.mm import huge_memory
from thpsim.mm.gup import (
    FOLL_FORCE,
    FOLL_WRITE,
    __get_user_pages,
)
from thpsim.mm.memory import (
    free_pgtables,
    tlb_finish_mmu,
    tlb_gather_mmu,
    unmap_vmas,
)
from thpsim.mm.mlock import mlock_vma_pages_range, munlock_vma_pages_range
from thpsim.mm.mm_types import (
    MM_COUNTER_NAMES,
    NR_MM_COUNTERS,
    VM_ACCOUNT,
    VM_EXEC,
    VM_HUGEPAGE,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_NOHUGEPAGE,
    VM_NORESERVE,
    VM_READ,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_WRITE,
    anon_vma,
    mm_struct,
    vm_area_struct,
    vm_get_page_prot,
)
from thpsim.mm.mmu_notifier import mmu_notifier_release
from thpsim.mm.rmap import (
    anon_vma_clone,
    anon_vma_lock_write,
    anon_vma_unlock_write,
    unlink_anon_vmas,
)
from thpsim.mm.util import security_vm_enough_memory_mm

# include/uapi/asm-generic/mman-common.h, x86-64 values
PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4
PROT_SEM = 0x8
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_32BIT = 0x40
MAP_GROWSDOWN = 0x0100
MAP_DENYWRITE = 0x0800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000
MAP_UNINITIALIZED = 0x4000000

#: Where the top-down allocator starts (below a 128 MiB stack gap, x86-64 style).
MMAP_BASE = 0x7F00_0000_0000
#: mmap_min_addr default.
FIRST_USER_ADDRESS = 0
MMAP_MIN_ADDR = 0x10000


def PAGE_ALIGN(x: int) -> int:
    """Models: include/linux/mm.h PAGE_ALIGN() of an unsigned long: it wraps, so
    PAGE_ALIGN(2**64 - 1) is 0 (callers test for that)."""
    return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & ULONG_MAX


def calc_vm_prot_bits(prot: int) -> int:
    return (
        (VM_READ if prot & PROT_READ else 0)
        | (VM_WRITE if prot & PROT_WRITE else 0)
        | (VM_EXEC if prot & PROT_EXEC else 0)
    )


# ---------------------------------------------------------------- unmapped area
def unmapped_area_topdown(mm: mm_struct, length: int, align: int = PAGE_SIZE) -> int:
    """Models: mm/mmap.c unmapped_area_topdown(): the highest gap below MMAP_BASE.

    Costs by the VMAs below MMAP_BASE it passes (the kernel's augmented tree,
    rb_subtree_gap, is O(log n); here a bisection finds the first VMA below
    MMAP_BASE, then the gaps are tried from the top down)."""
    high = MMAP_BASE
    vmas = mm.mmap
    # the VMAs at or above mmap_base are skipped by one search, not one by one
    i = bisect.bisect_left(vmas, high, key=_vm_start_of)
    while i > 0:
        i -= 1
        vma = vmas[i]
        if vma.vm_start >= high:
            continue
        gap_start = vma.vm_end
        cand = (high - length) & ~(align - 1)
        if cand >= gap_start and cand >= MMAP_MIN_ADDR:
            return cand
        high = min(high, vma.vm_start)
    cand = (high - length) & ~(align - 1)
    if cand >= MMAP_MIN_ADDR:
        return cand
    return -errno.ENOMEM


def get_unmapped_area(mm: mm_struct, addr: int, length: int, flags: int) -> int:
    """Models: mm/mmap.c get_unmapped_area() -> arch_get_unmapped_area_topdown().

    A free hint is taken as is; MAP_FIXED returns ``addr``. With
    ``thp_align_anon_mappings`` a PMD-multiple length gets a 2 MiB-aligned address.
    """
    if length > TASK_SIZE:
        return -errno.ENOMEM
    if flags & MAP_FIXED:
        # get_unmapped_area()'s checks of the arch's answer, in its order
        if addr > TASK_SIZE - length:
            return -errno.ENOMEM
        if addr & (PAGE_SIZE - 1):
            return -errno.EINVAL
        if addr < MMAP_MIN_ADDR:
            return -errno.EPERM  # security_mmap_addr(): below mmap_min_addr
        return addr
    if addr:
        addr = PAGE_ALIGN(addr)
        vma = mm.find_vma(addr)
        if (TASK_SIZE - length >= addr and addr >= MMAP_MIN_ADDR
                and (vma is None or addr + length <= vma.vm_start)):
            return addr
    if mm.kernel.profile.thp_align_anon_mappings and length % HPAGE_PMD_SIZE == 0:
        return unmapped_area_topdown(mm, length, HPAGE_PMD_SIZE)
    return unmapped_area_topdown(mm, length)


def _vm_start_of(vma: vm_area_struct) -> int:
    return vma.vm_start


# ---------------------------------------------------------------- merge / split
def is_mergeable_anon_vma(av1: anon_vma | None, av2: anon_vma | None,
                          vma: vm_area_struct | None) -> bool:
    """Models: mm/mmap.c is_mergeable_anon_vma() (4.14 and mainline alike).

    A VMA without an anon_vma may join ``vma`` (the existing neighbour) only when
    that neighbour's own anon_vma_chain is singular (list_is_singular()): a VMA
    forked from a parent is chained to the parent's anon_vma too, and merging into
    it would have to clone that whole chain. ``vma`` is None for the prev/next
    check of vma_merge()'s case 1, where either anon_vma may be missing.
    """
    if (av1 is None or av2 is None) and (vma is None or len(vma.anon_vma_chain) == 1):
        return True
    return av1 is av2


def is_mergeable(prev: vm_area_struct, nxt: vm_area_struct,
                 existing: vm_area_struct | None) -> bool:
    """Models: can_vma_merge_after/before: same flags, policy, contiguous pgoff, anon_vma.

    ``existing`` is the neighbour vma_merge() passes to is_mergeable_anon_vma()
    (``prev`` in can_vma_merge_after, ``next`` in can_vma_merge_before).
    """
    if prev.vm_end != nxt.vm_start:
        return False
    if (prev.vm_flags ^ nxt.vm_flags) & ~VM_SOFTDIRTY:
        return False
    if prev.vm_policy != nxt.vm_policy:
        return False
    if prev.vm_pgoff + ((prev.vm_end - prev.vm_start) >> PAGE_SHIFT) != nxt.vm_pgoff:
        return False
    if existing is not None and prev.vm_mm.kernel.profile.vma_merge_faulted_into_unfaulted:
        # 6.16+ is_mergeable_anon_vma(vmg, merge_next): the VMA that changes (src) may
        # join a neighbour (tgt) without an anon_vma, which then takes src's
        # (dup_anon_vma), unless src is a fork child; tgt's own anon_vma is used
        # unless tgt is a fork child; two anon_vmas must be the same
        src = nxt if existing is prev else prev
        if existing.anon_vma is None and src.anon_vma is not None:
            return not vma_is_fork_child(src)
        if existing.anon_vma is not None and src.anon_vma is None:
            return not vma_is_fork_child(existing)
        return existing.anon_vma is src.anon_vma
    return is_mergeable_anon_vma(prev.anon_vma, nxt.anon_vma, existing)


def vma_is_fork_child(vma: vm_area_struct) -> bool:
    """Models: mm/vma.c vma_is_fork_child() (6.16+, vma_had_uncowed_parents() at
    first): an anon_vma chained to more than its own, i.e. inherited at fork."""
    return vma.anon_vma is not None and len(vma.anon_vma_chain) != 1


def vma_merge_pair(mm: mm_struct, prev: vm_area_struct, nxt: vm_area_struct) -> vm_area_struct:
    """Merge ``nxt`` into ``prev`` (vma_adjust with remove_next). Page tables are untouched.

    Models: vma_adjust(): when the removed VMA has an anon_vma and the kept one has
    none, the kept one imports it with anon_vma_clone() (the whole chain), and the
    removed one is then unlinked from every anon_vma (unlink_anon_vmas via remove_vma).
    """
    if prev.anon_vma is None and nxt.anon_vma is not None:
        prev.anon_vma = nxt.anon_vma
        anon_vma_clone(prev, nxt)
        unlink_anon_vmas(nxt)
        nxt.anon_vma = None
    else:
        unlink_anon_vmas(nxt)
    prev.vm_end = nxt.vm_end
    prev.vm_flags |= nxt.vm_flags & VM_SOFTDIRTY
    mm.remove_vma(nxt)
    return prev


def vma_merge_around(mm: mm_struct, vma: vm_area_struct) -> KernelPath[vm_area_struct]:
    """Merge a VMA with its neighbours where the kernel's vma_merge() would.

    Models: vma_merge(): prev is tried first; prev and next both merge (case 1) only
    when their anon_vmas are compatible (is_mergeable_anon_vma(prev, next, NULL)),
    otherwise prev alone merges.
    Context: mmap_lock held for write; takes the anon_vma lock (vma_adjust()).
    """
    i = mm.vma_index(vma)
    nxt = mm.mmap[i + 1] if i + 1 < len(mm.mmap) else None
    if nxt is not None and not is_mergeable(vma, nxt, nxt):
        nxt = None
    prev = mm.mmap[i - 1] if i > 0 else None
    if prev is not None and not is_mergeable(prev, vma, prev):
        prev = None
    if (prev is not None and nxt is not None
            and not is_mergeable_anon_vma(prev.anon_vma, nxt.anon_vma, None)):
        nxt = None
    if nxt is None and prev is None:
        return vma
    av = vma.anon_vma or (nxt.anon_vma if nxt else None) or (prev.anon_vma if prev else None)
    yield from anon_vma_lock_write(av)
    try:
        if nxt is not None:
            vma_merge_pair(mm, vma, nxt)
        if prev is not None:
            vma = vma_merge_pair(mm, prev, vma)
    finally:
        anon_vma_unlock_write(av)
    return vma


def __split_vma(mm: mm_struct, vma: vm_area_struct, addr: int,
                new_below: bool) -> KernelPath[vm_area_struct]:
    """Split ``vma`` at ``addr``; returns the new VMA (below or above ``addr``).

    Models: mm/mmap.c __split_vma() + vma_adjust() (vma_adjust_trans_huge splits a
    huge PMD that the new boundary cuts).
    """
    yield from huge_memory.vma_adjust_trans_huge(vma, addr, addr, 0)
    av = vma.anon_vma
    yield from anon_vma_lock_write(av)
    try:
        return _split_vma_locked(mm, vma, addr, new_below)
    finally:
        anon_vma_unlock_write(av)


def _split_vma_locked(mm: mm_struct, vma: vm_area_struct, addr: int,
                      new_below: bool) -> vm_area_struct:
    new = vm_area_struct(mm, vma.vm_start, vma.vm_end, vma.vm_flags, vma.vm_pgoff)
    new.vm_page_prot = vma.vm_page_prot
    new.vm_policy = vma.vm_policy
    if new_below:
        new.vm_end = addr
        vma.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
        vma.vm_start = addr
    else:
        new.vm_start = addr
        new.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
        vma.vm_end = addr
    if vma.anon_vma is not None:
        anon_vma_clone(new, vma)
    mm.insert_vma(new)
    return new


def split_vma_range(mm: mm_struct, start: int, end: int) -> KernelPath[list[vm_area_struct]]:
    """Split VMAs so that [start, end) is covered by whole VMAs; return them in order."""
    out: list[vm_area_struct] = []
    vma = mm.find_vma(start)
    while vma is not None and vma.vm_start < end:
        if vma.vm_start < start:
            yield from __split_vma(mm, vma, start, True)
        if vma.vm_end > end:
            yield from __split_vma(mm, vma, end, False)
        out.append(vma)
        i = mm.vma_index(vma)
        vma = mm.mmap[i + 1] if i + 1 < len(mm.mmap) else None
    return out


# ---------------------------------------------------------------- mmap
def do_mmap(mm: mm_struct, addr: int, length: int, prot: int, flags: int,
            vm_flags_extra: int = 0, pgoff: int = 0) -> KernelPath[int]:
    """Models: mm/mmap.c do_mmap() + mmap_region() for private anonymous memory.

    Context: mmap_lock held for write. Returns the address or -errno.
    """
    # do_mmap()'s checks in its order: len 0, MAP_FIXED_NOREPLACE implies MAP_FIXED,
    # the page-aligned length wrapping to 0 (ENOMEM), the pgoff overflow (EOVERFLOW),
    # then get_unmapped_area() (ENOMEM, EINVAL, EPERM), then the mapping type.
    if length == 0:
        return -errno.EINVAL
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    length = PAGE_ALIGN(length)
    if length == 0:
        return -errno.ENOMEM
    if pgoff + (length >> PAGE_SHIFT) > ULONG_MAX:
        return -errno.EOVERFLOW
    addr = get_unmapped_area(mm, addr, length, flags)
    if addr < 0:
        return addr
    if flags & MAP_TYPE not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
        return -errno.EINVAL
    if flags & MAP_TYPE != MAP_PRIVATE:
        return -errno.EOPNOTSUPP  # shared anonymous memory is not modelled
    if flags & MAP_FIXED_NOREPLACE:
        vma = mm.find_vma(addr)
        if vma is not None and vma.vm_start < addr + length:
            return -errno.EEXIST
    vm_flags = (
        calc_vm_prot_bits(prot) | mm.def_flags | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
        | vm_flags_extra
    )
    if flags & MAP_LOCKED:
        vm_flags |= VM_LOCKED
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE
    elif vm_flags & VM_WRITE:
        # accountable_mapping(): a private writable mapping is charged (mm/util.py);
        # what it replaces gives its own charge back (6.x: charged -= nr_accounted)
        charged = (length >> PAGE_SHIFT) - accounted_pages(mm, addr, addr + length)
        if charged > 0 and security_vm_enough_memory_mm(mm, charged) < 0:
            return -errno.ENOMEM
        vm_flags |= VM_ACCOUNT
    # mmap_region(): clear old maps, then a new VMA (merged with neighbours if possible)
    if (yield from do_munmap(mm, addr, length)) < 0:
        return -errno.ENOMEM
    vma = vm_area_struct(mm, addr, addr + length, vm_flags | VM_SOFTDIRTY, addr >> PAGE_SHIFT)
    mm.insert_vma(vma)
    mm.total_vm += length >> PAGE_SHIFT
    vma = yield from vma_merge_around(mm, vma)
    if vm_flags & VM_LOCKED:
        mm.locked_vm += length >> PAGE_SHIFT
    if vm_flags & VM_LOCKED or flags & MAP_POPULATE:
        yield from populate_vma_page_range(vma, addr, addr + length)
    return addr


def accounted_pages(mm: mm_struct, start: int, end: int) -> int:
    """Pages of VM_ACCOUNT VMAs in [start, end) (what vms_gather_munmap_vmas() counts as
    ``nr_accounted`` for the range a new mapping replaces)."""
    n = 0
    for v in mm.mmap:
        if v.vm_start < end and v.vm_end > start and v.vm_flags & VM_ACCOUNT:
            n += (min(end, v.vm_end) - max(start, v.vm_start)) >> PAGE_SHIFT
    return n


def populate_vma_page_range(vma: vm_area_struct, start: int, end: int) -> KernelPath[int]:
    """Fault in a range as mm_populate() does; mlock pages of VM_LOCKED.

    Models: mm/gup.c populate_vma_page_range() -> __get_user_pages(), v4.14:
    FOLL_WRITE for private writable mappings (so COW is broken), FOLL_FORCE for
    accessible ones. A PROT_NONE VMA gets no FOLL_FORCE, so check_vma_flags()
    refuses it (-EFAULT): mlock(2) then fails with ENOMEM after setting VM_LOCKED,
    while mmap(2) with MAP_POPULATE or MAP_LOCKED ignores the error (kernel oracle,
    6.1: mlock of a PROT_NONE mapping is -1 ENOMEM with VmLck counting it; the mmap
    calls succeed).
    Simplified: no FOLL_TOUCH or FOLL_POPULATE (nothing here depends on them), and
    FOLL_MLOCK's mlock_vma_page() is done for the whole range after the walk
    (mlock_vma_pages_range), and only when it completed; a fault error after some
    pages is -ENOMEM (the kernel returns the count and __mm_populate()'s next call
    fails at the same page; every caller here only tests for an error).
    A VM_LOCKONFAULT VMA is not faulted (4.14: FOLL_MLOCK without FOLL_POPULATE makes
    faultin_page() skip the page; 6.x returns at once, "rightly or wrongly"): its
    present pages are mlocked, nothing else (mremap growing an MLOCK_ONFAULT VMA; the
    kernel oracle, 7.2).
    Returns 0 or -errno (-EFAULT, -ENOMEM).
    """
    if vma.vm_flags & VM_LOCKONFAULT:
        if vma.vm_flags & VM_LOCKED:
            yield from mlock_vma_pages_range(vma, start, end)
        return 0
    gup_flags = 0
    if vma.vm_flags & (VM_WRITE | VM_SHARED) == VM_WRITE:
        gup_flags |= FOLL_WRITE
    if vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC):
        gup_flags |= FOLL_FORCE
    nr_pages = (end - start + PAGE_SIZE - 1) >> PAGE_SHIFT
    ret = yield from __get_user_pages(vma.vm_mm, start, nr_pages, gup_flags)
    if ret < 0:
        return ret
    if ret < nr_pages:
        return -errno.ENOMEM  # a fault failed after some pages (callers test for < 0)
    if vma.vm_flags & VM_LOCKED:
        yield from mlock_vma_pages_range(vma, start, end)
    return 0


# ---------------------------------------------------------------- munmap
def do_munmap(mm: mm_struct, start: int, length: int) -> KernelPath[int]:
    """Models: mm/mmap.c do_munmap(), v4.14. Context: mmap_lock held for write.

    Returns 0 or -EINVAL.
    """

    if start & (PAGE_SIZE - 1) or start > TASK_SIZE or length > TASK_SIZE - start:
        return -errno.EINVAL
    length = PAGE_ALIGN(length)
    if length == 0:
        return -errno.EINVAL
    end = start + length
    vma = mm.find_vma(start)
    if vma is None or vma.vm_start >= end:
        return 0
    vmas = yield from split_vma_range(mm, start, end)
    for v in vmas:
        if v.vm_flags & VM_LOCKED:
            mm.locked_vm -= (v.vm_end - v.vm_start) >> PAGE_SHIFT
            yield from munlock_vma_pages_range(v, v.vm_start, v.vm_end)
    i0 = mm.vma_index(vmas[0])
    prev = mm.mmap[i0 - 1] if i0 > 0 else None
    i1 = mm.vma_index(vmas[-1])
    nxt = mm.mmap[i1 + 1] if i1 + 1 < len(mm.mmap) else None
    for v in vmas:  # detach_vmas_to_be_unmapped()
        mm.remove_vma(v)
    yield from unmap_region(mm, vmas, prev, nxt, start, end)
    for v in vmas:  # remove_vma_list() (free_pgtables() unlinked them from rmap)
        mm.total_vm -= (v.vm_end - v.vm_start) >> PAGE_SHIFT
    return 0


def unmap_region(mm: mm_struct, vmas: list[vm_area_struct], prev: vm_area_struct | None,
                 nxt: vm_area_struct | None, start: int, end: int) -> KernelPath[None]:
    """Models: mm/mmap.c unmap_region(): zap, free the tables no neighbour needs, flush."""
    tlb = tlb_gather_mmu(mm, start, end)
    yield from unmap_vmas(tlb, vmas, start, end)
    floor = prev.vm_end if prev is not None else FIRST_USER_ADDRESS
    ceiling = nxt.vm_start if nxt is not None else 0
    yield from free_pgtables(tlb, vmas, floor, ceiling)
    yield from tlb_finish_mmu(tlb)


# ---------------------------------------------------------------- exit
def exit_mmap(mm: mm_struct) -> KernelPath[None]:
    """Models: mm/mmap.c exit_mmap(), v4.14: munlock, unmap everything, free all tables."""

    for v in mm.mmap:
        if v.vm_flags & VM_LOCKED:
            yield from munlock_vma_pages_range(v, v.vm_start, v.vm_end)
    mm.locked_vm = 0
    vmas = list(mm.mmap)
    if vmas:
        tlb = tlb_gather_mmu(mm, 0, -1)
        yield from unmap_vmas(tlb, vmas, 0, 1 << 48)
        yield from free_pgtables(tlb, vmas, FIRST_USER_ADDRESS, 0)
        yield from tlb_finish_mmu(tlb)
    for v in vmas:
        mm.remove_vma(v)
    mm.total_vm = 0
    if mm.kernel.mmu_notifiers:
        mmu_notifier_release(mm)


def check_mm(mm: mm_struct) -> list[str]:
    """Models: kernel/fork.c check_mm(): the leak detectors. Returns what it printed."""
    ctx = mm.kernel
    out: list[str] = []
    for i in range(NR_MM_COUNTERS):
        val = mm.rss_stat[i]
        if val:
            if ctx.profile.rss_counter_names:
                out.append(f"BUG: Bad rss-counter state mm:{mm.mm_id} "
                           f"type:{MM_COUNTER_NAMES[i]} val:{val}")
            else:
                out.append(f"BUG: Bad rss-counter state mm:{mm.mm_id} idx:{i} val:{val}")
    if mm.nr_ptes:
        if ctx.profile.rss_counter_names:
            out.append(f"BUG: non-zero pgtables_bytes on freeing mm: {mm.pgtables_bytes()}")
        else:
            out.append(f"BUG: non-zero nr_ptes on freeing mm: {mm.nr_ptes}")
    if mm.nr_pmds:
        out.append(f"BUG: non-zero nr_pmds on freeing mm: {mm.nr_pmds}")
    for line in out:
        ctx.printk(line)
    return out


__all__ = [
    "do_mmap",
    "do_munmap",
    "exit_mmap",
    "check_mm",
    "get_unmapped_area",
    "split_vma_range",
    "vma_merge_around",
    "populate_vma_page_range",
    "HPAGE_PMD_MASK",
    "VM_HUGEPAGE",
    "VM_NOHUGEPAGE",
    "vm_get_page_prot",
]


# ---------------------------------------------------------------- system calls
def sys_mmap(mm: mm_struct, addr: int, length: int, prot: int, flags: int, fd: int,
             offset: int) -> KernelPath[int]:
    """Models: arch/x86/kernel/sys_x86_64.c SYSCALL_DEFINE6(mmap) -> ksys_mmap_pgoff()
    -> vm_mmap_pgoff() for anonymous memory.

    Every argument is an unsigned long. The order is the kernel's: the offset's
    alignment (EINVAL), the file (EBADF: no files in the model, so any mapping without
    MAP_ANONYMOUS has a bad fd), MAP_HUGETLB, then do_mmap(). Unknown PROT bits are
    ignored, as do_mmap() ignores them (only mprotect validates prot).
    """
    addr, length, prot, flags, offset = (ulong(addr), ulong(length), ulong(prot),
                                         ulong(flags), ulong(offset))
    if offset & (PAGE_SIZE - 1):
        return -errno.EINVAL
    if not flags & MAP_ANONYMOUS:
        return -errno.EBADF  # no files in the model: any fd is a bad one
    if flags & MAP_HUGETLB:
        return -errno.EOPNOTSUPP  # hugetlbfs is not modelled
    yield from down_write(mm.mmap_lock)
    try:
        return (yield from do_mmap(mm, addr, length, prot, flags,
                                   pgoff=offset >> PAGE_SHIFT))
    finally:
        up_write(mm.mmap_lock)


def sys_munmap(mm: mm_struct, addr: int, length: int) -> KernelPath[int]:
    """Models: SYSCALL_DEFINE2(munmap) -> vm_munmap(): addr and len are unsigned."""
    addr, length = ulong(addr), ulong(length)
    yield from down_write(mm.mmap_lock)
    try:
        return (yield from do_munmap(mm, addr, length))
    finally:
        up_write(mm.mmap_lock)


from thpsim.kernel.locking import down_write, up_write  # noqa: E402
