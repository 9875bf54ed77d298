"""get_user_pages: finding (and faulting in) the pages behind user addresses.

Models: mm/gup.c, v4.14 (``follow_page_mask`` -> ``follow_pmd_mask`` ->
``follow_page_pte``, ``check_vma_flags``, ``faultin_page``,
``__get_user_pages``, ``__get_user_pages_locked``, ``get_user_pages_fast``), with
the kernel's FOLL_* flags and error reasons:

* no VMA at the address, VM_IO/VM_PFNMAP, a write to a read-only VMA without
  FOLL_FORCE (with it: only a private COW mapping), a read of an unreadable VMA
  without FOLL_FORCE: ``-EFAULT`` (``check_vma_flags``);
* a fault that fails: ``-ENOMEM`` (VM_FAULT_OOM), ``-EHWPOISON`` (a poisoned page,
  with FOLL_HWPOISON; else ``-EFAULT``), ``-EFAULT`` (SIGBUS/SIGSEGV);
* with FOLL_DUMP, no page table or a zero page is ``-EFAULT`` (``no_page_table``);
* a migration entry is "no page" (the caller faults, and the fault waits on the
  entry), or with FOLL_MIGRATION is waited on here.

Simplified: anonymous memory (no ``vm_ops->fault``), no hugetlb, no devmap, no
FOLL_PIN, FOLL_TOUCH, FOLL_SPLIT or FOLL_POPULATE; FOLL_MLOCK's work is done by
the caller (``populate_vma_page_range``) after the walk; the entries are read without the
page-table lock and there is no ``cond_resched()`` between pages (no preemption
point here but the faults and the migration waits: every recorded schedule
depends on that); ``get_user_pages_fast`` tries the lockless walk
(``gup_pgd_range``, no preemption point: interrupts are off) before the slow path.

Preempts: in faultin_page(), the migration waits and mmap_lock.
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import (
    _PAGE_PRESENT,
    HPAGE_PMD_MASK,
    HPAGE_PMD_NR,
    PAGE_SHIFT,
    PAGE_SIZE,
    pmd_none,
    pmd_pfn,
    pmd_present,
    pmd_protnone,
    pmd_trans_huge,
    pmd_write,
    pte_dirty,
    pte_none,
    pte_pfn,
    pte_present,
    pte_protnone,
    pte_special,
    pte_write,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.errors import EHWPOISON, KernelBug
from thpsim.kernel.locking import down_read, up_read
from thpsim.kernel.sched import KernelPath
from thpsim.mm.memory import FAULT_FLAG_WRITE, handle_mm_fault, is_cow_mapping
from thpsim.mm.mm_types import (
    VM_FAULT_ERROR,
    VM_FAULT_HWPOISON,
    VM_FAULT_HWPOISON_LARGE,
    VM_FAULT_OOM,
    VM_FAULT_SIGBUS,
    VM_FAULT_SIGSEGV,
    VM_FAULT_WRITE,
    VM_IO,
    VM_MAYREAD,
    VM_PFNMAP,
    VM_READ,
    VM_WRITE,
    mm_struct,
    vm_area_struct,
)
from thpsim.mm.pgtable_generic import Ptr, lookup_pmd, pmdp_get, pte_offset_map
from thpsim.mm.swap import get_page

__all__ = [
    "FOLL_WRITE",
    "FOLL_GET",
    "FOLL_DUMP",
    "FOLL_FORCE",
    "FOLL_HWPOISON",
    "FOLL_NUMA",
    "FOLL_MIGRATION",
    "FOLL_COW",
    "follow_page_mask",
    "follow_page",
    "follow_page_info",
    "check_vma_flags",
    "faultin_page",
    "__get_user_pages",
    "__get_user_pages_locked",
    "get_user_pages",
    "get_user_pages_fast",
]

# include/linux/mm.h, v4.14
FOLL_WRITE = 0x01       # check the PTE is writable
FOLL_GET = 0x04         # take a reference on the page
FOLL_DUMP = 0x08        # give -EFAULT for no page table or a zero page
FOLL_FORCE = 0x10       # get_user_pages read/write w/o permission
FOLL_HWPOISON = 0x100   # -EHWPOISON for a poisoned page
FOLL_NUMA = 0x200       # a PROT_NONE (NUMA-hinting) entry is no page
FOLL_MIGRATION = 0x400  # wait for a migration entry instead of "no page"
FOLL_COW = 0x4000       # the COW has been broken: a dirty read-only PTE will do


# ---------------------------------------------------------------- follow_page_mask
def no_page_table(vma: vm_area_struct, flags: int) -> int | None:
    """Models: no_page_table(): -EFAULT under FOLL_DUMP for memory without a fault
    handler (anonymous: a core dump leaves a hole rather than fault it), else NULL
    (``None``: the caller faults)."""
    if flags & FOLL_DUMP and vma.vma_is_anonymous():
        return -errno.EFAULT
    return None


def can_follow_write_pte(pte: int, flags: int) -> bool:
    """Models: can_follow_write_pte(), v4.14: writable, or FOLL_FORCE after the COW
    was broken (FOLL_COW) into a dirty page."""
    return pte_write(pte) or bool(flags & FOLL_FORCE and flags & FOLL_COW and pte_dirty(pte))


def follow_page_pte(vma: vm_area_struct, address: int, pmd: Ptr,
                    flags: int) -> KernelPath[int | None]:
    """The 4 KiB page mapped at ``address``: a PFN, -errno (ERR_PTR) or None (NULL).

    Models: follow_page_pte(), v4.14. A non-present entry is no page (with
    FOLL_MIGRATION a migration entry is waited on, then looked at again); the
    zero page is returned, or -EFAULT under FOLL_DUMP; FOLL_GET takes a reference
    on the folio. A PROT_NONE entry under FOLL_NUMA (6.1: without FOLL_FORCE,
    gup_can_follow_protnone()) is no page: follow_page_pte()'s no_page label returns
    NULL for an entry that is not none, so move_pages reports -ENOENT (the kernel
    oracle, 6.1); a PROT_NONE huge PMD is no page table (-EFAULT under FOLL_DUMP).
    Preempts: only waiting on a migration entry.
    """
    mm = vma.vm_mm
    ctx = mm.kernel
    while True:
        v = pmdp_get(pmd)
        if pmd_none(v) or pmd_trans_huge(v) or is_swap_pmd(v):
            return no_page_table(vma, flags)  # changed under us: pmd_bad()/retry
        e = ctx.mem.tables[table_entry_pfn(v)][(address >> PAGE_SHIFT) & 511]
        if not pte_present(e):
            if (not flags & FOLL_MIGRATION or pte_none(e)
                    or not ctx.swp.is_pte_migration_entry(e)):
                return None if not pte_none(e) else no_page_table(vma, flags)
            # cycle: mm/migrate.c keeps the waits and its move_pages calls follow_page()
            from thpsim.mm.migrate import migration_entry_wait

            yield from migration_entry_wait(mm, pmd, address)
            continue
        break
    if flags & FOLL_NUMA and pte_protnone(e):
        return None  # "goto no_page": the entry is not none, so NULL (not ERR_PTR)
    if flags & FOLL_WRITE and not can_follow_write_pte(e, flags):
        return None
    pfn = pte_pfn(e)
    if pte_special(e) or pfn == ctx.zero_pfn:  # vm_normal_page() is NULL
        if flags & FOLL_DUMP:
            return -errno.EFAULT
    if flags & FOLL_GET:
        get_page(ctx, ctx.pages.compound_head(pfn))
    return pfn


def follow_trans_huge_pmd(vma: vm_area_struct, address: int, pmdval: int,
                          flags: int) -> int | None:
    """Models: mm/huge_memory.c follow_trans_huge_pmd(), v4.14: the subpage of the THP
    (or huge zero page) at ``address``; None when FOLL_WRITE finds it read-only;
    -EFAULT for the huge zero page under FOLL_DUMP. (A PROT_NONE PMD never gets
    here: see follow_pmd_mask().)"""
    ctx = vma.vm_mm.kernel
    if flags & FOLL_WRITE and not pmd_write(pmdval):
        return None
    head = pmd_pfn(pmdval)
    if flags & FOLL_DUMP and head == ctx.huge_zero_pfn:
        return -errno.EFAULT
    if flags & FOLL_GET:
        get_page(ctx, head)
    return head + ((address & ~HPAGE_PMD_MASK) >> PAGE_SHIFT)


def follow_pmd_mask(vma: vm_area_struct, address: int, pmd: Ptr,
                    flags: int) -> KernelPath[tuple[int | None, int]]:
    """Models: follow_pmd_mask(), v4.14: ``(page, page_mask)``, page_mask
    HPAGE_PMD_NR - 1 for a huge PMD. A none PMD is no page table; a PMD migration
    entry is no page table, or with FOLL_MIGRATION is waited on; a huge PMD without
    _PAGE_PRESENT is no page table. Preempts: only waiting on a migration entry.
    """
    mm = vma.vm_mm
    while True:
        v = pmdp_get(pmd)
        if pmd_none(v):
            return no_page_table(vma, flags), 0
        if not is_swap_pmd(v):
            break
        if not flags & FOLL_MIGRATION:
            return no_page_table(vma, flags), 0
        # cycle: mm/migrate.c keeps the waits and its move_pages calls follow_page()
        from thpsim.mm.migrate import pmd_migration_entry_wait

        yield from pmd_migration_entry_wait(mm, pmd)
    if not pmd_trans_huge(v):
        return (yield from follow_page_pte(vma, address, pmd, flags)), 0
    if not v & _PAGE_PRESENT:
        # PROT_NONE (the kernel: no page table only under FOLL_NUMA; every caller
        # here passes it or refuses PROT_NONE VMAs), or invalidated mid-split or
        # mid-mprotect (the kernel reads it under the PMD lock, after the split;
        # this lockless read sees no page)
        return no_page_table(vma, flags), 0
    return follow_trans_huge_pmd(vma, address, v, flags), HPAGE_PMD_NR - 1


def follow_page_mask(vma: vm_area_struct, address: int,
                     flags: int) -> KernelPath[tuple[int | None, int]]:
    """Models: follow_page_mask(): ``(page, page_mask)`` where page is the PFN mapped
    at ``address``, -errno (ERR_PTR) or None (NULL: not mapped, or not as asked).
    A missing upper-level table is no page table. Context: mmap_lock held.
    Preempts: only waiting on a migration entry (FOLL_MIGRATION).
    """
    pmd = lookup_pmd(vma.vm_mm, address)
    if pmd is None:
        return no_page_table(vma, flags), 0
    return (yield from follow_pmd_mask(vma, address, pmd, flags))


def follow_page(vma: vm_area_struct, address: int, foll_flags: int) -> int | None:
    """Models: follow_page() (until 6.11): follow_page_mask() without the mask: the
    PFN, -errno (ERR_PTR) or None (NULL). A plain function: without FOLL_MIGRATION
    follow_page_mask() never sleeps. Context: mmap_lock held."""
    if foll_flags & FOLL_MIGRATION:
        raise KernelBug("follow_page() cannot wait on a migration entry")
    return _follow_page_mask_nowait(vma, address, foll_flags)[0]


def _follow_page_mask_nowait(vma: vm_area_struct, address: int,
                             flags: int) -> tuple[int | None, int]:
    """Run follow_page_mask() to its end as a plain call (it only sleeps for
    FOLL_MIGRATION, which the callers do not pass)."""
    path = follow_page_mask(vma, address, flags)
    try:
        next(path)
    except StopIteration as done:
        return done.value
    raise KernelBug("follow_page_mask() slept without FOLL_MIGRATION")


def follow_page_info(vma: vm_area_struct, address: int, write: bool) -> tuple[int, bool, bool]:
    """``(pfn, huge, zero)`` of the page mapped at ``address``, or ``(-1, False, False)``.

    Model-only: follow_page_mask(vma, address, FOLL_NUMA [| FOLL_WRITE]) (``write``:
    a read-only mapping is no page), with what its callers learn from the page mask
    (``huge``: PMD-mapped) and is_zero_pfn() (``zero``: a zero page). ``pfn`` is the
    4 KiB page's frame even inside a THP. Context: mmap_lock held (or no preemption
    point between the lookup and its use).
    """
    page, page_mask = _follow_page_mask_nowait(
        vma, address, FOLL_NUMA | (FOLL_WRITE if write else 0))
    if page is None or page < 0:
        return -1, False, False
    ctx = vma.vm_mm.kernel
    if page_mask:
        return page, True, page & ~page_mask == ctx.huge_zero_pfn
    return page, False, page == ctx.zero_pfn


# ---------------------------------------------------------------- __get_user_pages
def check_vma_flags(vma: vm_area_struct, gup_flags: int) -> int:
    """Models: check_vma_flags(), v4.14: 0 or -EFAULT (VM_IO/VM_PFNMAP; a write to a
    read-only VMA unless FOLL_FORCE on a COW mapping; a read of an unreadable VMA
    unless FOLL_FORCE on a VM_MAYREAD one)."""
    vm_flags = vma.vm_flags
    if vm_flags & (VM_IO | VM_PFNMAP):
        return -errno.EFAULT
    if gup_flags & FOLL_WRITE:
        if not vm_flags & VM_WRITE:
            if not gup_flags & FOLL_FORCE or not is_cow_mapping(vm_flags):
                return -errno.EFAULT
    elif not vm_flags & VM_READ:
        if not gup_flags & FOLL_FORCE or not vm_flags & VM_MAYREAD:
            return -errno.EFAULT
    return 0


def vm_fault_to_errno(vm_fault: int, foll_flags: int) -> int:
    """Models: include/linux/mm.h vm_fault_to_errno()."""
    if vm_fault & VM_FAULT_OOM:
        return -errno.ENOMEM
    if vm_fault & (VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE):
        return -EHWPOISON if foll_flags & FOLL_HWPOISON else -errno.EFAULT
    if vm_fault & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV):
        return -errno.EFAULT
    return 0


def faultin_page(vma: vm_area_struct, address: int, flags: int,
                 locked: list[bool] | None) -> KernelPath[tuple[int, int]]:
    """Fault the page in. Models: faultin_page(), v4.14. Returns ``(err, flags)``:
    0 (look again), -EBUSY (mmap_lock dropped: ``locked[0]`` cleared), or the fault's
    errno (vm_fault_to_errno); ``flags`` gains FOLL_COW when a write fault broke
    COW in a read-only VMA (FOLL_FORCE).

    Simplified: with ``locked`` (FAULT_FLAG_ALLOW_RETRY) every fault ends as if it
    had returned VM_FAULT_RETRY: mmap_lock is dropped and the caller takes it
    again; a lone VM_FAULT_FALLBACK is looked at again (the kernel BUG()s).
    Context: mmap_lock held for read. Preempts: in the fault.
    """
    fault_flags = FAULT_FLAG_WRITE if flags & FOLL_WRITE else 0
    ret = yield from handle_mm_fault(vma, address, fault_flags)
    if ret & VM_FAULT_ERROR:
        err = vm_fault_to_errno(ret, flags)
        if err:
            return err, flags
    if locked is not None:
        up_read(vma.vm_mm.mmap_lock)
        locked[0] = False
        return -errno.EBUSY, flags
    if ret & VM_FAULT_WRITE and not vma.vm_flags & VM_WRITE:
        flags |= FOLL_COW
    return 0, flags


def __get_user_pages(mm: mm_struct, start: int, nr_pages: int, gup_flags: int,
                     pages: list[int] | None = None,
                     locked: list[bool] | None = None) -> KernelPath[int]:
    """Look up (faulting in as needed) ``nr_pages`` pages from ``start``.

    Models: __get_user_pages(), v4.14: per VMA check_vma_flags(); per page
    follow_page_mask(), faultin_page() and again while it finds none; a huge PMD
    covers the rest of its 2 MiB at once. The PFN of each page is appended to
    ``pages``. FOLL_NUMA is added unless FOLL_FORCE.
    Context: mmap_lock held for read (dropped by a fault when ``locked`` is given).
    Preempts: in the faults and migration waits.
    Returns: the number of pages done, or (none done) -errno: -EFAULT (no VMA, or
    check_vma_flags), -ENOMEM/-EHWPOISON/-EFAULT from the fault, an ERR_PTR of
    follow_page_mask; 0 when a fault dropped mmap_lock.
    """
    if not nr_pages:
        return 0
    if not gup_flags & FOLL_FORCE:
        gup_flags |= FOLL_NUMA
    i = 0
    vma: vm_area_struct | None = None
    while nr_pages:
        if vma is None or start >= vma.vm_end:
            vma = mm.find_vma(start)  # find_extend_vma(): no stack growth here
            if vma is None or start < vma.vm_start:
                return i or -errno.EFAULT
            err = check_vma_flags(vma, gup_flags)
            if err:
                return i or err
        foll_flags = gup_flags
        while True:
            page, page_mask = yield from follow_page_mask(vma, start, foll_flags)
            if page is None:
                err, foll_flags = yield from faultin_page(vma, start, foll_flags, locked)
                if err == 0:
                    continue
                if err == -errno.EBUSY:
                    return i
                return i or err
            if page < 0:
                return i or page
            break
        if pages is not None:
            pages.append(page)
        page_increm = min(1 + (~(start >> PAGE_SHIFT) & page_mask), nr_pages)
        i += page_increm
        start += page_increm * PAGE_SIZE
        nr_pages -= page_increm
    return i


def faultin_vma_page_range(vma: vm_area_struct, start: int, end: int, write: bool,
                           locked: list[bool]) -> KernelPath[int]:
    """Fault [start, end) of one VMA in, readable (and writable with ``write``).

    Models: faultin_vma_page_range(), 5.14 (MADV_POPULATE_READ/WRITE): FOLL_HWPOISON
    (+ FOLL_WRITE); check_vma_flags() failing is -EINVAL ("incompatible mappings or
    permissions", not -EFAULT); then __get_user_pages() without pages, ``locked``
    cleared when a fault dropped mmap_lock. Simplified: no FOLL_TOUCH (the fault
    sets the accessed bit anyway), no lru_add_drain().
    Context: mmap_lock held for read. Preempts: in the faults.
    Returns: pages done, or -errno as __get_user_pages() gives it.
    """
    gup_flags = FOLL_HWPOISON | (FOLL_WRITE if write else 0)
    if check_vma_flags(vma, gup_flags):
        return -errno.EINVAL
    return (yield from __get_user_pages(vma.vm_mm, start, (end - start) >> PAGE_SHIFT,
                                        gup_flags, None, locked))


def __get_user_pages_locked(mm: mm_struct, start: int, nr_pages: int, pages: list[int] | None,
                            gup_flags: int) -> KernelPath[int]:
    """Models: __get_user_pages_locked() as get_user_pages_unlocked() calls it: take
    mmap_lock for read, and again after each fault that dropped it, until every page
    is done or an error. Context: no locks held; none on return. Preempts: taking
    mmap_lock, in the faults."""
    done = 0
    while True:
        yield from down_read(mm.mmap_lock)
        locked = [True]
        try:
            ret = yield from __get_user_pages(mm, start, nr_pages, gup_flags, pages, locked)
        finally:
            if locked[0]:
                up_read(mm.mmap_lock)
        if ret < 0:
            return done or ret
        done += ret
        start += ret * PAGE_SIZE
        nr_pages -= ret
        if not nr_pages or locked[0]:
            return done


def get_user_pages(mm: mm_struct, start: int, nr_pages: int, gup_flags: int,
                   pages: list[int] | None = None) -> KernelPath[int]:
    """Models: get_user_pages() (the caller holds mmap_lock for read)."""
    return (yield from __get_user_pages(mm, start, nr_pages, gup_flags, pages))


def gup_pgd_range(mm: mm_struct, start: int, nr_pages: int, write: bool,
                  pages: list[int]) -> int:
    """The lockless walk of get_user_pages_fast(): take a reference on each page while
    every entry on the way is present and allows the access; stop at the first that
    does not (the slow path takes it from there). Returns the pages taken.

    Models: mm/gup.c gup_pgd_range() -> gup_pmd_range() -> gup_huge_pmd() /
    gup_pte_range(), v4.14 (generic GUP, used by x86 since 4.13): runs with interrupts
    off (no preemption point here: a page-table page cannot be freed under it);
    a reference is taken speculatively (get_page_unless_zero on the head) and dropped
    again if the entry changed meanwhile. A PMD that is not present (a migration entry)
    falls back (``bug_b19_gup_fast_pmd_none``: only a none PMD does, B19).
    Simplified: one page at a time; no devmap, hugetlb or PUD-sized pages.
    """
    ctx = mm.kernel
    cpages = ctx.pages
    bug_b19 = ctx.profile.bug_b19_gup_fast_pmd_none
    nr = 0
    addr = start
    while nr < nr_pages:
        pmdp = lookup_pmd(mm, addr)
        if pmdp is None:
            break
        pmd = pmdp_get(pmdp)
        if pmd_none(pmd) if bug_b19 else not pmd_present(pmd):
            break
        if pmd_trans_huge(pmd):
            # gup_huge_pmd(); NUMA hinting entries go to the slow path
            if pmd_protnone(pmd) or (write and not pmd_write(pmd)):
                break
            head = pmd_pfn(pmd)
            page = head + ((addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT)
            if cpages.refcount[head] <= 0:
                break
            cpages.refcount[head] += 1
            if pmdp_get(pmdp) != pmd:
                cpages.refcount[head] -= 1
                break
        else:
            ptep = pte_offset_map(ctx, pmd, addr)
            pte = ptep[0][ptep[1]]
            if (not pte_present(pte) or pte_protnone(pte) or pte_special(pte)
                    or (write and not pte_write(pte))):
                break
            page = pte_pfn(pte)
            head = cpages.compound_head(page)
            if cpages.refcount[head] <= 0:
                break
            cpages.refcount[head] += 1
            if ptep[0][ptep[1]] != pte:
                cpages.refcount[head] -= 1
                break
        pages.append(page)
        nr += 1
        addr += PAGE_SIZE
    return nr


def get_user_pages_fast(mm: mm_struct, start: int, nr_pages: int, gup_flags: int,
                        pages: list[int]) -> KernelPath[int]:
    """Models: get_user_pages_fast(), v4.14: the lockless walk (gup_pgd_range), then
    get_user_pages_unlocked() for the rest. Context: no locks held. Returns pages done
    or -errno (the pages the fast walk got count even if the slow path fails)."""
    nr = gup_pgd_range(mm, start, nr_pages, bool(gup_flags & FOLL_WRITE), pages)
    if nr == nr_pages:
        return nr
    ret = yield from __get_user_pages_locked(mm, start + nr * PAGE_SIZE, nr_pages - nr,
                                             pages, gup_flags | FOLL_GET)
    if nr > 0:
        return nr if ret < 0 else ret + nr
    return ret
