"""Memory failure: soft offline (migrate, then poison), hard poison (memory_failure())
and the per-node memory-failure statistics.

Models: mm/memory-failure.c (soft_offline_page, soft_offline_in_use_page,
page_handle_poison, get_hwpoison_page, memory_failure, hwpoison_user_mappings,
kill_accessing_process, action_result, update_per_node_mf_stats, unpoison_memory,
the MF_ATTR_RO files); mainline (6.x/7.2), with the era differences behind profile
switches. Its callers: madvise(MADV_SOFT_OFFLINE / MADV_HWPOISON) (mm/madvise.py),
/sys/devices/system/memory/{soft,hard}_offline_page (drivers/base/memory.py) and
debugfs hwpoison/corrupt-pfn and unpoison-pfn (mm/hwpoison_inject.py).

* ``soft_offline_migrates_thp`` (the v3 series' patch 11/14, "mm: hwpoison: soft
  offline supports thp migration", dropped before 4.14 was merged): an in-use
  THP is migrated whole to a new THP on the same node (GFP_TRANSHUGE |
  __GFP_THISNODE, no reclaim) and only the reported 4 KiB frame is poisoned; the
  old THP's other frames return to the allocator. Shipped kernels (``mainline``)
  split the THP first and migrate the one 4 KiB page.
* ``soft_offline_poisoned_ok`` (~5.9, O. Salvador): soft-offlining a frame that is
  already PG_hwpoison returns 0; 4.14 returned -EBUSY.
* ``memory_failure_poisoned_ehwpoison`` (5.14): memory_failure() on a frame already
  PG_hwpoison returns -EHWPOISON; 4.14 returned 0.
* ``memory_failure_unsplit_thp_ehwpoison`` (6.x): a THP that cannot be split keeps
  the PG_hwpoison of the bad frame, the caller is killed if it maps it, the result
  is MF_FAILED and -EHWPOISON; 4.14 cleared the flag again and returned -EBUSY.
* ``memory_failure_node_stats`` (6.3, Jiaqi Yan): every action_result() counts the
  frame in its node's ``memory_failure_stats`` (total and one of ignored, failed,
  delayed, recovered), read from /sys/devices/system/node/nodeN/memory_failure/.
  Soft offline never counts there (page_handle_poison() bumps only
  num_poisoned_pages, i.e. HardwareCorrupted); a frame found already poisoned is not
  counted again (the 2025 fix that stopped action_result() for
  MF_MSG_ALREADY_POISONED, which the 7.2 profile follows).
* ``madvise_hwpoison_action_required`` (between 6.1 and 6.12, oracle): MADV_HWPOISON
  passes MF_ACTION_REQUIRED, so the caller gets SIGBUS during the call; 4.14 and
  6.1 only when it touches the page.
* ``memory_failure_pfn_without_page_ebusy`` (7.2, oracle; 6.1 ENXIO):
  memory_failure() of a PFN beyond the memmap is MF_IGNORED, -EBUSY.
* ``unpoison_memory_ebusy``: mainline refuses what it cannot unpoison with -EBUSY
  (-EIO for offline memory); 4.14 logs and returns 0.

Simplified: anonymous memory only (no page cache to invalidate, no hugetlb, no
swap cache); no mf_mutex (the callers run one at a time per page: the page lock
and the allocator's state are what the model checks; unpoison_memory() never
preempts); hwpoison_filter is not modelled. A poisoned frame is left as the
allocator's hwpoison-at-free path leaves it (``flags = PG_hwpoison``,
``_refcount`` 0, off every free list): the kernel's extra ``page_ref_inc()`` in
page_handle_poison() is not modelled, nor the reference the kernel leaks when
memory_failure() ignores a kernel page it was handed with MF_COUNT_INCREASED (the
model drops it). A free frame is taken off the allocator in both eras (4.14 left it
on the free lists with PG_hwpoison: MF_DELAYED). memory_failure() handles an
anonymous LRU page (and a free one); it does not kill other processes
(vm.memory_failure_early_kill = 0: they get SIGBUS when they touch the address).
kill_accessing_process() looks at the caller's anonymous mappings only.
"""

from __future__ import annotations

import errno

from thpsim.arch.x86_64.pgtable import PAGE_SIZE, pte_pfn
from thpsim.errors import EHWPOISON
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.sysctl import proc_dointvec_minmax, sysctl_test_perm
from thpsim.kernel.tlbflush import flush_tlb_range
from thpsim.mm import page_vma_mapped as pvm
from thpsim.mm.filemap import folio_lock, folio_unlock
from thpsim.mm.gfp import __GFP_RETRY_MAYFAIL, __GFP_THISNODE, GFP_HIGHUSER_MOVABLE
from thpsim.mm.gup import follow_page_info
from thpsim.mm.huge_memory import is_huge_zero_pfn, split_huge_page
from thpsim.mm.migrate import (
    MIGRATE_SYNC,
    MR_MEMORY_FAILURE,
    alloc_migration_target,
    migrate_pages,
    migration_target_control,
    putback_movable_pages,
)
from thpsim.mm.mm_types import MM_ANONPAGES, vma_address
from thpsim.mm.page_alloc import (
    MF_STATS_FILES,
    NODE_DATA,
    NUMA_NO_NODE,
    __free_pages,
    is_free_buddy_page,
    memory_failure_stats,
    take_page_off_buddy,
)
from thpsim.mm.page_flags import (
    PAGE_MAPPING_ANON,
    F_head,
    F_hwpoison,
    F_lru,
    F_offline,
    F_reserved,
    F_tail,
)
from thpsim.mm.rmap import page_remove_rmap, rmap_walk_anon
from thpsim.mm.swap import get_page, isolate_lru_page_for_migration, put_page

__all__ = [
    "MF_COUNT_INCREASED",
    "MF_ACTION_REQUIRED",
    "MF_SOFT_OFFLINE",
    "MF_IGNORED",
    "MF_FAILED",
    "MF_DELAYED",
    "MF_RECOVERED",
    "EHWPOISON",
    "soft_offline_page",
    "memory_failure",
    "page_handle_poison",
    "memory_failure_stats",
    "node_mf_stats",
    "register",
]

# include/linux/mm.h enum mf_flags
MF_COUNT_INCREASED = 1 << 0
MF_ACTION_REQUIRED = 1 << 1
MF_MUST_KILL = 1 << 2
MF_SOFT_OFFLINE = 1 << 3
MF_SW_SIMULATED = 1 << 5

# include/linux/mm.h enum mf_result, and action_result()'s names for them
MF_IGNORED = 0  # the kernel could not handle the page type
MF_FAILED = 1  # a recovery step failed
MF_DELAYED = 2  # the page stays, handled later
MF_RECOVERED = 3
_ACTION_NAME = ("Ignored", "Failed", "Delayed", "Recovered")

# include/linux/mm.h enum mf_action_page_type: the ones the model reaches, by the
# action_page_types[] text the kernel prints
MF_MSG_KERNEL = "reserved kernel page"
MF_MSG_GET_HWPOISON = "get hwpoison page"
MF_MSG_DIRTY_LRU = "dirty LRU page"
MF_MSG_BUDDY = "free buddy page"
MF_MSG_UNSPLIT_THP = "unsplit thp"
MF_MSG_UNKNOWN = "unknown page"

# get_hwpoison_page() results (Model-only names for the kernel's 1 / 0 / -EIO)
_IN_USE = 1
_FREE = 0



def _log(ctx, msg: str) -> None:
    ctx.printk(msg)


def _put_ref_page(ctx, pfn: int, flags: int) -> None:
    """Models: put_ref_page(): drop the caller's reference (MF_COUNT_INCREASED)."""
    if flags & MF_COUNT_INCREASED:
        put_page(ctx, pfn)


def node_mf_stats(ctx, nid: int) -> memory_failure_stats:
    """``NODE_DATA(nid)->mf_stats``."""
    return NODE_DATA(ctx, nid).mf_stats


def update_per_node_mf_stats(ctx, pfn: int, result: int) -> None:
    """Models: update_per_node_mf_stats(): the result's counter and ``total`` of the
    frame's node."""
    stats = node_mf_stats(ctx, ctx.mem.pfn_to_nid(pfn))
    name = MF_STATS_FILES[1 + result]
    setattr(stats, name, getattr(stats, name) + 1)
    stats.total += 1


def action_result(ctx, pfn: int, type_: str, result: int) -> int:
    """Log and count the outcome of handling a poisoned frame.

    Models: action_result(): num_poisoned_pages_inc() (in the model HardwareCorrupted
    counts PG_hwpoison frames, already set by the caller), the per-node statistics
    (``memory_failure_node_stats``), the "recovery action" line.
    Returns: 0 for MF_RECOVERED and MF_DELAYED, else -EBUSY.
    """
    if ctx.profile.memory_failure_node_stats:
        update_per_node_mf_stats(ctx, pfn, result)
    _log(ctx, f"Memory failure: {pfn:#x}: recovery action for {type_}: "
              f"{_ACTION_NAME[result]}")
    return 0 if result in (MF_RECOVERED, MF_DELAYED) else -errno.EBUSY


def unhandlable_page(ctx, pfn: int) -> bool:
    """Model-only: what HWPoisonHandlable() and get_any_page() refuse, and what
    has_unmovable_pages() calls unmovable: reserved frames (the zero page, boot
    memory), the huge zero page, page tables, frames that are in use but are no
    anonymous LRU page (kernel allocations)."""
    pages = ctx.pages
    if is_huge_zero_pfn(ctx, pfn):
        return True
    if pfn == ctx.zero_pfn or pfn in ctx.mem.tables:
        return True
    if pages.flags[pfn] & F_reserved:
        return True
    head = pages.compound_head(pfn) if pages.flags[pfn] & F_tail else pfn
    return not (pages.mapping[head] & PAGE_MAPPING_ANON and pages.flags[head] & F_lru)


def get_hwpoison_page(ctx, pfn: int, flags: int) -> int:
    """Models: get_hwpoison_page() -> get_any_page(): 1 with a reference on the folio
    (in use), 0 for a free frame, -EIO for an unhandlable page.

    Context: any. Preempts: never.
    """
    if is_free_buddy_page(ctx, pfn):
        return _FREE
    if unhandlable_page(ctx, pfn):
        _log(ctx, f"Memory failure: {pfn:#x}: unhandlable page.")
        _put_ref_page(ctx, ctx.pages.compound_head(pfn), flags)
        return -errno.EIO
    if not flags & MF_COUNT_INCREASED:
        get_page(ctx, pfn)
    return _IN_USE


def page_handle_poison(ctx, pfn: int, hugepage_or_freepage: bool, release: bool) -> bool:
    """Poison one frame and take it out of use for good.

    Models: mm/memory-failure.c page_handle_poison() (5.9+; take_page_off_buddy()
    for a free frame, SetPageHWPoison, num_poisoned_pages_inc()).
    Context: any. Preempts: never.
    Returns: False if a free frame could not be taken off the allocator.
    Simplified: the frame freed by migration (``release``) is taken off the free
    lists here, after the engine freed it; the kernel keeps the isolation reference
    instead and frees it with PG_hwpoison set (same end state).
    """
    pages = ctx.pages
    if is_free_buddy_page(ctx, pfn):
        if not take_page_off_buddy(ctx, pfn):
            return False
        pages.flags[pfn] = F_hwpoison
        return True
    if hugepage_or_freepage and not release:
        return False
    pages.flags[pfn] |= F_hwpoison  # still referenced: freed later, kept off the lists
    return True


def try_to_split_thp_page(ctx, pfn: int) -> KernelPath[int]:
    """Split the THP holding ``pfn``; the caller's reference moves to ``pfn``'s page.

    Models: mm/memory-failure.c try_to_split_thp_page(page, release=true).
    Context: the caller holds one reference on the THP. Preempts: in split_huge_page.
    Returns: 0, or -EBUSY (the reference is dropped).
    """

    head = ctx.pages.compound_head(pfn)
    yield from folio_lock(ctx, head)
    ret = yield from split_huge_page(ctx, head, page=pfn)  # the pin moves to pfn
    if ret:
        folio_unlock(ctx, head)
        put_page(ctx, head)
        return -errno.EBUSY
    folio_unlock(ctx, pfn)
    return 0


def soft_offline_in_use_page(ctx, pfn: int) -> KernelPath[int]:
    """Move the data of an in-use page elsewhere and poison its frame.

    Models: mm/memory-failure.c soft_offline_in_use_page(), 6.x; the v3 series' THP
    migration behind ``soft_offline_migrates_thp`` (and ``thp_migration_supported``:
    without THP migration the THP is split first, as before the series).
    Context: the caller holds a reference on the folio. Preempts: in the split and
    the migration.
    Returns: 0, -EBUSY (split, isolation or migration failed) or -ENOMEM.
    """
    pages = ctx.pages
    head = pages.compound_head(pfn)
    prof = ctx.profile
    if pages.flags[head] & F_head and not (prof.soft_offline_migrates_thp
                                           and prof.thp_migration_supported):
        if (yield from try_to_split_thp_page(ctx, pfn)):
            _log(ctx, f"Soft offline: {pfn:#x}: thp split failed")
            return -errno.EBUSY
        head = pfn
    if pages.flags[pfn] & F_hwpoison:
        put_page(ctx, head)
        return 0
    err = isolate_lru_page_for_migration(ctx, head)
    put_page(ctx, head)  # the get_hwpoison_page() reference; isolation holds its own
    if err:
        _log(ctx, f"Soft offline: {pfn:#x}: page isolation failed")
        return -errno.EBUSY
    pagelist = [head]
    # mtc.nid = NUMA_NO_NODE (the source's node preferred, any node allowed),
    # GFP_USER | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL (the model's GFP_HIGHUSER_MOVABLE, as
    # x86-64 has no highmem); a THP (soft_offline_migrates_thp) gets the v3 patch's
    # new_page() target: the source node only (__GFP_THISNODE), as move_pages' target.
    mtc = migration_target_control(NUMA_NO_NODE, None,
                                   GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL, MR_MEMORY_FAILURE)

    def get_new_page(src: int) -> int:
        if pages.flags[src] & F_head:
            return alloc_migration_target(ctx, src, migration_target_control(
                ctx.mem.pfn_to_nid(src), None, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
                MR_MEMORY_FAILURE))
        return alloc_migration_target(ctx, src, mtc)

    ret = yield from migrate_pages(ctx, pagelist, get_new_page, MIGRATE_SYNC, MR_MEMORY_FAILURE)
    if ret == 0:
        if not page_handle_poison(ctx, pfn, False, True):
            return -errno.EBUSY
        return 0
    if pagelist:
        putback_movable_pages(ctx, pagelist)
    _log(ctx, f"Soft offline: {pfn:#x}: page migration failed {ret}")
    return -errno.EBUSY if ret > 0 else ret


def soft_offline_page(ctx, pfn: int, flags: int) -> KernelPath[int]:
    """Soft-offline one frame: its data (if any) moves, the frame is never used again.

    Models: mm/memory-failure.c soft_offline_page(), 6.x (4.14's EBUSY for an
    already poisoned frame behind ``soft_offline_poisoned_ok``; 6.11+
    vm.enable_soft_offline = 0: -EOPNOTSUPP for an online frame,
    ``sysctl_enable_soft_offline``).
    Context: with MF_COUNT_INCREASED the caller holds a reference on the folio.
    Preempts: in soft_offline_in_use_page.
    Returns: 0, -ENXIO (no memmap), -EIO (offline memory, unhandlable page), -EBUSY.
    """
    if not 0 <= pfn < ctx.pages.nr:
        return -errno.ENXIO
    pages = ctx.pages
    if pages.flags[pfn] & F_offline:
        _put_ref_page(ctx, pfn, flags)
        return -errno.EIO
    if ctx.profile.sysctl_enable_soft_offline and not ctx.sysctl_enable_soft_offline:
        msg = "disabled by /proc/sys/vm/enable_soft_offline"
        if msg not in ctx.dmesg:  # pr_info_once()
            _log(ctx, msg)
        _put_ref_page(ctx, pfn, flags)
        return -errno.EOPNOTSUPP
    if pages.flags[pfn] & F_hwpoison:
        _log(ctx, f"Soft offline: {pfn:#x}: page already poisoned")
        _put_ref_page(ctx, pages.compound_head(pfn), flags)
        return 0 if ctx.profile.soft_offline_poisoned_ok else -errno.EBUSY
    ret = get_hwpoison_page(ctx, pfn, flags | MF_SOFT_OFFLINE)
    if ret == _IN_USE:
        return (yield from soft_offline_in_use_page(ctx, pfn))
    if ret == _FREE:
        return 0 if page_handle_poison(ctx, pfn, True, False) else -errno.EBUSY
    return ret


def _hwpoison_user_mappings(ctx, pfn: int) -> KernelPath[None]:
    """Replace every PTE mapping ``pfn`` by a hwpoison entry.

    Models: hwpoison_user_mappings() -> try_to_unmap(TTU_HWPOISON) -> the
    PageHWPoison branch of try_to_unmap_one() (dec_mm_counter, swp_entry_to_pte(
    make_hwpoison_entry(subpage))). Context: page locked, not a THP (split already).
    Preempts: in the rmap walk and the TLB flush.
    """

    pages = ctx.pages
    swp = ctx.swp

    def one(head: int, vma, address: int) -> KernelPath[bool]:
        pvmw = pvm.page_vma_mapped_walk_t(head, 1, vma, address, 0)
        start = -1
        while (yield from pvm.page_vma_mapped_walk(pvmw)):
            t, i = pvmw.pte
            a = pvmw.address
            pteval = t[i]
            if pvm._check_pte(pvmw, pteval):
                t[i] = swp.swp_entry_to_pte(swp.make_hwpoison_entry(pte_pfn(pteval)))
                start = a
                vma.vm_mm.add_mm_counter(MM_ANONPAGES, -1)
                page_remove_rmap(ctx, head, False)
                put_page(ctx, head)
        if start >= 0:
            # No CPU may read the lost data through a stale TLB entry.
            yield from flush_tlb_range(vma, start, start + PAGE_SIZE)
        return True

    yield from rmap_walk_anon(ctx, pfn, one, lambda: pages.total_mapcount(pfn) == 0)


def memory_failure(ctx, pfn: int, flags: int, killed: list[int] | None = None) -> KernelPath[int]:
    """Handle a (simulated) uncorrectable error in frame ``pfn``: the data is lost.

    Models: mm/memory-failure.c memory_failure(), 6.x (4.14's returns behind
    ``memory_failure_poisoned_ehwpoison`` and ``memory_failure_unsplit_thp_ehwpoison``):
    PG_hwpoison is set and stays set, whatever the outcome. A free frame is taken off
    the allocator (MF_MSG_BUDDY: recovered). Without MF_COUNT_INCREASED a page the
    handler cannot take (a kernel page, a page table, the zero pages) is ignored
    (MF_MSG_GET_HWPOISON: -EBUSY); with it (madvise) such a page is ignored later as
    a reserved kernel page or an unknown page. A THP is split first. An anonymous LRU
    page loses every mapping to a hwpoison entry (a later access gets SIGBUS
    BUS_MCEERR_AR), leaves the LRU and is never freed to the allocator
    (MF_MSG_DIRTY_LRU: recovered). With MF_ACTION_REQUIRED the current task, if it
    mapped the page, is to be sent SIGBUS: its tgid is appended to ``killed``
    (kill_proc(); the caller delivers it).
    Context: MF_COUNT_INCREASED: the caller holds a reference on the folio.
    Preempts: in the split, the page lock and the unmap.
    Returns: 0, -ENXIO (no memmap, offline memory), -EHWPOISON (already poisoned; a
    THP that cannot be split), -EBUSY (an ignored or failed page; mainline: a PFN
    beyond the memmap, memory_failure_pfn()).
    """
    pages = ctx.pages
    if not 0 <= pfn < pages.nr and ctx.profile.memory_failure_pfn_without_page_ebusy:
        # !pfn_valid(): memory_failure_pfn(); no PFN map covers it: MF_IGNORED, not
        # counted anywhere (no node, no struct page)
        _log(ctx, f"Memory failure: {pfn:#x}: recovery action for unknown page: Ignored")
        return -errno.EBUSY
    if not 0 <= pfn < pages.nr or pages.flags[pfn] & F_offline:
        # pfn_to_online_page() is NULL
        if 0 <= pfn < pages.nr:
            _put_ref_page(ctx, pages.compound_head(pfn), flags)
        _log(ctx, f"Memory failure: {pfn:#x}: memory outside kernel control")
        return -errno.ENXIO
    if pages.flags[pfn] & F_hwpoison:  # TestSetPageHWPoison() found it set
        _log(ctx, f"Memory failure: {pfn:#x}: already hardware poisoned")
        res = 0
        if ctx.profile.memory_failure_poisoned_ehwpoison:
            res = -EHWPOISON
            if flags & MF_ACTION_REQUIRED:
                res = kill_accessing_process(ctx, pfn, killed)
        _put_ref_page(ctx, pages.compound_head(pfn), flags)
        return res
    if not flags & MF_COUNT_INCREASED:
        ret = get_hwpoison_page(ctx, pfn, flags)
        if ret == _FREE:
            # take_page_off_buddy() sets PG_hwpoison; nothing can allocate the frame
            # between the two calls here (no preemption point), so no retry is needed
            result = MF_RECOVERED if page_handle_poison(ctx, pfn, True, False) else MF_FAILED
            return action_result(ctx, pfn, MF_MSG_BUDDY, result)
        if ret < 0:
            pages.flags[pfn] |= F_hwpoison
            return action_result(ctx, pfn, MF_MSG_GET_HWPOISON, MF_IGNORED)
    if pages.flags[pfn] & (F_head | F_tail):
        head = pages.compound_head(pfn)
        if is_huge_zero_pfn(ctx, pfn):
            put_page(ctx, head)  # split_huge_page() refuses the huge zero page
            split_failed = True
        else:
            split_failed = bool((yield from try_to_split_thp_page(ctx, pfn)))
        if split_failed:
            _log(ctx, f"Memory failure: {pfn:#x}: thp split failed")
            if not ctx.profile.memory_failure_unsplit_thp_ehwpoison:
                return -errno.EBUSY  # 4.14: PG_hwpoison cleared again
            pages.flags[pfn] |= F_hwpoison
            # kill_procs_now(): with MF_ACTION_REQUIRED the caller, if it maps the THP
            cur = ctx.current
            if (flags & MF_ACTION_REQUIRED and killed is not None and cur is not None
                    and cur.mm is not None and not is_huge_zero_pfn(ctx, pfn)
                    and _maps_pfn(cur.mm, head)):
                killed.append(cur.tgid)
            action_result(ctx, pfn, MF_MSG_UNSPLIT_THP, MF_FAILED)
            return -EHWPOISON
    pages.flags[pfn] |= F_hwpoison  # TestSetPageHWPoison()
    if pfn == ctx.zero_pfn or not pages.flags[pfn] & F_lru:
        # identify_page_state() of a page that is no LRU page: me_kernel() /
        # me_unknown() ignore it
        put_page(ctx, pfn)
        kind = MF_MSG_KERNEL if pages.flags[pfn] & F_reserved else MF_MSG_UNKNOWN
        return action_result(ctx, pfn, kind, MF_IGNORED)
    yield from folio_lock(ctx, pfn)
    try:
        cur = ctx.current
        mapped_by_current = False
        if cur is not None and cur.mm is not None:
            mapped_by_current = _maps_pfn(cur.mm, pfn)
        yield from _hwpoison_user_mappings(ctx, pfn)
        if flags & MF_ACTION_REQUIRED and mapped_by_current and killed is not None:
            killed.append(cur.tgid)
    finally:
        folio_unlock(ctx, pfn)
    # me_swapbacked_page(): the dirty anon page is taken off the LRU; dropping the last
    # reference frees it, and the allocator keeps a PG_hwpoison frame off its lists.
    put_page(ctx, pfn)
    return action_result(ctx, pfn, MF_MSG_DIRTY_LRU, MF_RECOVERED)


def kill_accessing_process(ctx, pfn: int, killed: list[int] | None) -> int:
    """Models: kill_accessing_process(): if the current task maps the poisoned frame
    it is to be sent SIGBUS BUS_MCEERR_AR (its tgid appended to ``killed``) and the
    result is -EHWPOISON; else 0. Simplified: anonymous mappings only."""
    cur = ctx.current
    if cur is None or cur.mm is None or not _maps_pfn(cur.mm, pfn):
        return 0
    if killed is not None:
        killed.append(cur.tgid)
    return -EHWPOISON


def _maps_pfn(mm, pfn: int) -> bool:
    """Model-only: collect_procs_anon() for one mm: does any of its PTEs map ``pfn``?"""

    ctx = mm.kernel
    index = ctx.pages.index[pfn]
    for vma in mm.mmap:
        a = vma_address(vma, index)
        if vma.vm_start <= a < vma.vm_end and follow_page_info(vma, a, False)[0] == pfn:
            return True
    return False


def unpoison_memory(ctx, pfn: int) -> int:
    """Give a software-poisoned frame back to the allocator.

    Models: mm/memory-failure.c unpoison_memory() (the hwpoison-inject debugfs
    ``unpoison-pfn``): refused for a frame that is not poisoned, that someone still
    references or maps (the mapping holds a hwpoison entry instead); otherwise
    PG_hwpoison is cleared and the frame freed (put_page_back_buddy()):
    HardwareCorrupted drops, the per-node memory_failure counters do not. There is
    never a real machine check here, so ``hw_memory_failure`` never disables it.
    Context: any (the kernel holds mf_mutex). Preempts: never.
    Returns: 0 or -errno (mainline -EBUSY / -EIO; 4.14 logs and returns 0, and
    -ENXIO without a memmap), see ``unpoison_memory_ebusy``.
    """
    v6 = ctx.profile.unpoison_memory_ebusy
    pages = ctx.pages
    if not 0 <= pfn < pages.nr:
        return -errno.EIO if v6 else -errno.ENXIO
    if pages.flags[pfn] & F_offline:
        if v6:
            return -errno.EIO  # pfn_to_online_page() is NULL
        # 4.14: an offline frame is PG_reserved with no reference: "free page", the
        # flag is cleared and the frame stays offline (onlining frees it)
        if pages.flags[pfn] & F_hwpoison:
            pages.flags[pfn] = pages.flags[pfn] & ~F_hwpoison & 0xFFFF_FFFF
            _log(ctx, f"Unpoison: Software-unpoisoned free page {pfn:#x}")
        return 0
    refused = -errno.EBUSY if v6 else 0
    if is_huge_zero_pfn(ctx, pfn):
        return -errno.EOPNOTSUPP if v6 else 0
    if not pages.flags[pfn] & F_hwpoison:
        _log(ctx, f"Unpoison: Page was already unpoisoned {pfn:#x}")
        return refused
    head = pages.compound_head(pfn)
    if pages.refcount[head]:
        _log(ctx, f"Unpoison: Someone grabs the hwpoison page {pfn:#x}")
        return refused
    if pages.page_mapcount(pfn) > 0 or pfn in ctx.mem.tables or pages.flags[pfn] & F_reserved:
        _log(ctx, f"Unpoison: Someone maps the hwpoison page {pfn:#x}")
        return refused
    pages.flags[pfn] = pages.flags[pfn] & ~F_hwpoison & 0xFFFF_FFFF
    __free_pages(ctx, pfn, 0)  # put_page_back_buddy()
    _log(ctx, f"Unpoison: Software-unpoisoned page {pfn:#x}")
    return 0


# ====================================================================== sysfs
def _mf_stats_show(name: str):
    """Models: the MF_ATTR_RO(name) show method: ``%lu\n`` of the node's counter."""

    def show(f) -> str:
        return f"{getattr(node_mf_stats(f.ctx, f.params['nid']), name)}\n"

    return show


def register(vfs) -> None:
    """With ``memory_failure_node_stats``, register
    /sys/devices/system/node/nodeN/memory_failure/ (memory_failure_attr_group, mode
    0444), one of node_dev_groups: drivers/base/node.py registers it after the node
    directories."""
    if not vfs.ctx.profile.memory_failure_node_stats:
        return
    group = "/sys/devices/system/node/node{nid}/memory_failure"
    vfs.register_dir(group, mode=0o755)
    for name in MF_STATS_FILES:
        vfs.register_file(f"{group}/{name}", _mf_stats_show(name), mode=0o444)


def enable_soft_offline_read(f) -> str:
    """vm.enable_soft_offline read (proc_dointvec_minmax)."""
    sysctl_test_perm(f, 0o644, 4)
    return f"{f.ctx.sysctl_enable_soft_offline}\n"


def enable_soft_offline_write(f, data: bytes) -> int:
    """vm.enable_soft_offline write: proc_dointvec_minmax(), 0..1 (SYSCTL_ZERO,
    SYSCTL_ONE; EINVAL otherwise). Returns the bytes consumed."""
    sysctl_test_perm(f, 0o644, 2)
    value, consumed = proc_dointvec_minmax(f, data, 0, 1)
    if value is not None:
        f.ctx.sysctl_enable_soft_offline = value
    return consumed


def register_sysctl(vfs) -> None:
    """With ``sysctl_enable_soft_offline`` (6.11+), /proc/sys/vm/enable_soft_offline
    (memory_failure_table, mode 0644, registered by memory_failure_init())."""
    if vfs.ctx.profile.sysctl_enable_soft_offline:
        vfs.register_file("/proc/sys/vm/enable_soft_offline", enable_soft_offline_read,
                          enable_soft_offline_write, mode=0o644)
