"""Memory hot-remove: offlining and onlining memory blocks, and their sysfs files.

Models: mm/memory_hotplug.c (offline_pages, online_pages, scan_movable_pages,
do_migrate_range), mm/page_isolation.c (start/undo_isolate_page_range,
test_pages_isolated), drivers/base/memory.c (/sys/devices/system/memory:
block_size_bytes, memoryN/state, online, valid_zones, removable, phys_index,
phys_device); mainline (6.x/7.2), which 4.15+ share (4.14's 120 s timeout and
retry limit are not modelled).

A memory block ``memoryN`` covers PFNs [N * pages_per_block, (N + 1) *
pages_per_block). Its state is read from the frames, as the kernel reads the
section's online bit: a block whose frames are PG_offline (``F_offline``) is
offline. Offlining isolates the range (the allocator skips it,
``BuddyAllocator.isolated_ranges``), refuses unmovable pages with EBUSY, migrates
every anonymous LRU folio out (a THP whole, to a THP on another node:
thp_migration_success; split on -ENOMEM where the profile does), then takes the
range's free frames out of the allocator (managed and present pages drop).
Onlining hands them back (generic_online_page -> __free_pages_core).

Simplified:
    * zones do not move: a block is onlined back into the zone that spans it;
      ``online_movable`` on a block of ZONE_NORMAL, or ``online_kernel`` on one of
      ZONE_MOVABLE, is -EINVAL. An offline block's valid_zones prints
      "Normal Movable" (7.2's answer for a block at the end of a node).
    * no signals: the kernel's offline loop runs until a signal (EINTR, HR-6);
      here it gives up with -EBUSY after ``_MAX_OFFLINE_PASSES`` rounds that leave
      the range in use.
    * the node symlink ``nodeX`` is a ``node`` file holding X.
    * blocks smaller than a MAX_ORDER block (4 MiB) cannot be offlined (-EINVAL):
      a free buddy block could straddle the isolated range.
"""

from __future__ import annotations

import errno
import os

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR, PAGE_SHIFT
from thpsim.kernel.locking import mutex_lock, mutex_unlock
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.mm.gfp import __GFP_COMP, __GFP_RETRY_MAYFAIL, GFP_HIGHUSER_MOVABLE, GFP_TRANSHUGE
from thpsim.mm.page_alloc import (
    MAX_ORDER,
    MAX_ORDER_NR_PAGES,
    ZONE_MOVABLE,
    ZONE_NORMAL,
    zone_names,
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

__all__ = ["offline_pages", "online_pages", "memory_block_online", "memory_block_change_state",
           "register", "MEMORY_DIR"]

MEMORY_DIR = "/sys/devices/system/memory"
_MAX_OFFLINE_PASSES = 10
_M32 = 0xFFFF_FFFF

MMOP_ONLINE = 0
MMOP_ONLINE_KERNEL = 1
MMOP_ONLINE_MOVABLE = 2


def _pages_per_block(ctx) -> int:
    return ctx.mem.block_size >> PAGE_SHIFT


def memory_block_online(ctx, block_id: int) -> bool:
    """Model-only: the block's frames are not PG_offline (pfn_to_online_page())."""
    start = block_id * _pages_per_block(ctx)
    return not ctx.pages.flags[start] & F_offline


def _block_zones(ctx, start: int, end: int) -> set[int]:
    """Model-only: the zone indexes spanning [start, end) (test_pages_in_a_zone())."""
    buddy = ctx.buddy
    return {buddy.page_zone(pfn).zone_idx
            for pfn in range(start, end, MAX_ORDER_NR_PAGES)} | {
        buddy.page_zone(end - 1).zone_idx}


def _unmovable(ctx, pfn: int) -> bool:
    """Model-only: has_unmovable_pages() for one in-use frame: page tables, reserved
    frames (the zero pages, boot memory), anything that is no anonymous LRU page."""
    pages = ctx.pages
    f = pages.flags[pfn]
    if f & F_hwpoison:
        return False  # offlining skips poisoned frames
    if pfn in ctx.mem.tables or f & F_reserved:
        return True
    if ctx.huge_zero_pfn >= 0 and ctx.huge_zero_pfn <= pfn < ctx.huge_zero_pfn + HPAGE_PMD_NR:
        return True
    head = pages.compound_head(pfn) if f & F_tail else pfn
    return not (pages.mapping[head] & PAGE_MAPPING_ANON and pages.flags[head] & F_lru)


def _alloc_offline_target(ctx, src_nid: int):
    """Models: alloc_migration_target() as do_migrate_range() sets it up: the source
    node preferred, the nodemask every memory node but the source (the source only when
    it is alone), GFP_USER | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL; a THP target order 9."""
    buddy = ctx.buddy
    mask = 0
    for nid, pgdat in buddy.nodes.items():
        if nid != src_nid and any(z.present_pages for z in pgdat.node_zones):
            mask |= 1 << nid
    if not mask:
        mask = 1 << src_nid

    def alloc(page: int) -> int:
        if ctx.pages.flags[page] & F_head:
            return buddy.__alloc_pages(GFP_TRANSHUGE | __GFP_COMP | __GFP_RETRY_MAYFAIL, 9,
                                       src_nid, mask)
        return buddy.__alloc_pages(GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL, 0, src_nid,
                                   mask)

    return alloc


def do_migrate_range(ctx, start: int, end: int) -> KernelPath[int]:
    """Isolate and migrate every anonymous LRU folio in [start, end).

    Models: mm/memory_hotplug.c scan_movable_pages() + do_migrate_range(), 6.x: a
    large folio is handled once and the scan jumps past it; folios that fail
    isolation are left for a later round.
    Context: the range is isolated. Preempts: in the migration.
    Returns: the number of folios found (0: nothing movable is left).
    """
    from thpsim.mm.migrate import (
        MIGRATE_SYNC,
        MR_MEMORY_HOTPLUG,
        isolate_lru_page_for_migration,
        migrate_pages,
        putback_movable_pages,
    )

    pages = ctx.pages
    found = 0
    pagelist: list[int] = []
    pfn = start
    while pfn < end:
        f = pages.flags[pfn]
        if pages.refcount[pfn] and pages.mapping[pfn] & PAGE_MAPPING_ANON and f & F_lru:
            found += 1
            nr = 1 << pages.order[pfn] if f & F_head else 1
            if isolate_lru_page_for_migration(ctx, pfn) == 0:
                pagelist.append(pfn)
            pfn += nr
            continue
        if f & F_head:
            pfn += 1 << pages.order[pfn]
        else:
            pfn += 1
    if pagelist:
        ret = yield from migrate_pages(ctx, pagelist, _alloc_offline_target(
            ctx, ctx.mem.pfn_to_nid(start)), MIGRATE_SYNC, MR_MEMORY_HOTPLUG)
        if ret and pagelist:
            putback_movable_pages(ctx, pagelist)
    return found


def _test_pages_isolated(ctx, start: int, end: int) -> bool:
    """Models: test_pages_isolated(): every frame free (or hwpoisoned)."""
    buddy = ctx.buddy
    pages = ctx.pages
    pfn = start
    while pfn < end:
        head, order = buddy._free_block_of(pfn)
        if head >= 0:
            pfn = head + (1 << order)
        elif pages.flags[pfn] & F_hwpoison and not pages.refcount[pfn]:
            pfn += 1
        else:
            return False
    return True


def offline_pages(ctx, start_pfn: int, nr_pages: int) -> KernelPath[int]:
    """Offline [start_pfn, start_pfn + nr_pages): migrate what is in use, then take the
    frames out of the allocator.

    Models: mm/memory_hotplug.c offline_pages(), 6.x.
    Context: device_hotplug_lock (one offliner at a time). Preempts: between rounds
    and in the migration.
    Returns: 0, -EINVAL (several zones, a block smaller than MAX_ORDER), -EBUSY
    (unmovable pages, or nothing more moves).
    """
    buddy = ctx.buddy
    pages = ctx.pages
    end = start_pfn + nr_pages
    if nr_pages < MAX_ORDER_NR_PAGES or len(_block_zones(ctx, start_pfn, end)) != 1:
        return -errno.EINVAL  # "multizone range"
    z = buddy.page_zone(start_pfn)
    # start_isolate_page_range(): the allocator stops handing the range out
    rng = (start_pfn, end)
    buddy.isolated_ranges.append(rng)
    try:
        for pfn in range(start_pfn, end):
            if pages.refcount[pfn] and _unmovable(ctx, pfn) or pfn in ctx.mem.tables:
                ctx.printk(f"page:{pfn:#x} has unmovable pages")
                return -errno.EBUSY
        passes = 0
        while True:
            yield from do_migrate_range(ctx, start_pfn, end)
            if _test_pages_isolated(ctx, start_pfn, end):
                break
            passes += 1
            if passes >= _MAX_OFFLINE_PASSES:
                return -errno.EBUSY  # the kernel waits for a signal (EINTR) instead
            yield PREEMPT  # cond_resched() between rounds: other CPUs free and fault
        # __offline_isolated_pages(): take every free block of the range off the lists
        pfn = start_pfn
        while pfn < end:
            head, order = buddy._free_block_of(pfn)
            if head < 0:
                pfn += 1  # a hwpoisoned frame: stays out of use
                continue
            n = 1 << order
            del z.free_area[order][head]
            z.nr_free[order] -= 1
            z.nr_free_pages -= n
            pages.mapcount[head] = -1
            pages.order[head] = 0
            pfn = head + n
        sl = slice(start_pfn, end)
        pages.flags_np[sl] |= F_offline
        z.managed_pages -= nr_pages
        z.present_pages -= nr_pages
        buddy.NODE_DATA(z.node).node_present_pages -= nr_pages
        buddy.build_all_zonelists()
        ctx.printk(f"Offlined Pages {nr_pages}")
        return 0
    finally:
        buddy.isolated_ranges.remove(rng)


def online_pages(ctx, start_pfn: int, nr_pages: int, online_type: int) -> int:
    """Hand an offline range back to the allocator.

    Models: mm/memory_hotplug.c online_pages() -> online_pages_range() ->
    generic_online_page() (__free_pages_core per MAX_ORDER block), 6.x.
    Context: device_hotplug_lock. Preempts: never.
    Returns: 0 or -EINVAL (the requested zone is not the one spanning the range).
    """
    buddy = ctx.buddy
    pages = ctx.pages
    z = buddy.page_zone(start_pfn)
    if online_type == MMOP_ONLINE_MOVABLE and z.zone_idx != ZONE_MOVABLE:
        return -errno.EINVAL
    if online_type == MMOP_ONLINE_KERNEL and z.zone_idx != ZONE_NORMAL:
        return -errno.EINVAL
    end = start_pfn + nr_pages
    sl = slice(start_pfn, end)
    poisoned = pages.flags_np[sl] & F_hwpoison != 0
    z.present_pages += nr_pages
    buddy.NODE_DATA(z.node).node_present_pages += nr_pages
    pages.flags_np[sl] &= ~F_offline & _M32
    pfn = start_pfn
    while pfn < end:
        if poisoned[pfn - start_pfn]:
            z.managed_pages += 1  # __free_pages_core counts it; it stays out of use
            pfn += 1
            continue
        order = 0
        while (order < MAX_ORDER - 1 and not pfn & ((2 << order) - 1) and pfn + (2 << order) <= end
               and not poisoned[pfn - start_pfn: pfn - start_pfn + (2 << order)].any()):
            order += 1
        pages.flags_np[pfn: pfn + (1 << order)] |= F_reserved
        buddy.__free_pages_core(pfn, order)
        pfn += 1 << order
    buddy.build_all_zonelists()
    return 0


# ====================================================================== sysfs
def _err(code: int, f) -> OSError:
    return OSError(code, os.strerror(code), f.path)


def _block_ids(ctx) -> list[int]:
    ppb = _pages_per_block(ctx)
    ids: list[int] = []
    for n in ctx.mem.nodes.values():
        ids.extend(range(n.start_pfn // ppb, (n.start_pfn + n.nr_pages) // ppb))
    return ids


def memory_lookup(f, name: str) -> int | None:
    if not name.startswith("memory") or not name[6:].isdigit():
        return None
    bid = int(name[6:])
    if name[6:] != str(bid) or bid not in _block_ids(f.ctx):
        return None
    return bid


def memory_names(f) -> list[str]:
    return [f"memory{b}" for b in _block_ids(f.ctx)]


def _range(f) -> tuple[int, int]:
    ppb = _pages_per_block(f.ctx)
    return f.params["memory"] * ppb, ppb


def block_size_bytes_show(f) -> str:
    """Models: block_size_bytes_show(): hex without 0x."""
    return f"{f.ctx.mem.block_size:x}\n"


def state_show(f) -> str:
    """Models: state_show(): online, offline, or going-offline during offline_pages()."""
    t = f.ctx.memory_block_transition.get(f.params["memory"])
    if t is not None:
        return f"{t}\n"
    return "online\n" if memory_block_online(f.ctx, f.params["memory"]) else "offline\n"


def online_show(f) -> str:
    return "1\n" if memory_block_online(f.ctx, f.params["memory"]) else "0\n"


def valid_zones_show(f) -> str:
    """Models: valid_zones_show(): the zone of an online block ("none" across zones);
    for an offline one, the zones onlining may pick (Simplified: see module docstring)."""
    ctx = f.ctx
    start, nr = _range(f)
    if not memory_block_online(ctx, f.params["memory"]):
        return "Normal Movable\n"
    zones = _block_zones(ctx, start, start + nr)
    if len(zones) != 1:
        return "none\n"
    return f"{zone_names[zones.pop()]}\n"


def memory_block_change_state(ctx, block_id: int, online: bool,
                              online_type: int = MMOP_ONLINE) -> KernelPath[int]:
    """Online or offline one memory block.

    Models: drivers/base/memory.c memory_block_change_state() under
    lock_device_hotplug_sysfs() (device_online()/device_offline()): a block already
    in the requested state is -EINVAL; while offlining, the state reads
    ``going-offline``; memory_block_action() -> offline_pages()/online_pages().
    Returns 0 or -errno. Preempts: taking the lock, in offline_pages().
    """
    yield from mutex_lock(ctx.device_hotplug_lock)
    try:
        if memory_block_online(ctx, block_id) == online:
            return -errno.EINVAL  # device_online/offline: "already in that state"
        ppb = _pages_per_block(ctx)
        start = block_id * ppb
        if online:
            return online_pages(ctx, start, ppb, online_type)
        ctx.memory_block_transition[block_id] = "going-offline"
        try:
            return (yield from offline_pages(ctx, start, ppb))
        finally:
            del ctx.memory_block_transition[block_id]
    finally:
        mutex_unlock(ctx.device_hotplug_lock)


def _memory_block_change_state(f, online: bool, online_type: int) -> int:
    from thpsim.fs.proc.internal import run_as_opener

    ret = run_as_opener(f, memory_block_change_state(f.ctx, f.params["memory"], online,
                                                     online_type))
    if ret < 0:
        raise _err(-ret, f)
    return 0


def state_store(f, buf: bytes) -> int:
    """Models: drivers/base/memory.c state_store(): online, online_kernel,
    online_movable, offline (sysfs_streq); anything else -EINVAL."""
    from thpsim.fs.sysfs import sysfs_streq

    for word, online, typ in (("online", True, MMOP_ONLINE),
                              ("online_kernel", True, MMOP_ONLINE_KERNEL),
                              ("online_movable", True, MMOP_ONLINE_MOVABLE),
                              ("offline", False, MMOP_ONLINE)):
        if sysfs_streq(buf, word):
            _memory_block_change_state(f, online, typ)
            return len(buf)
    raise _err(errno.EINVAL, f)


def online_store(f, buf: bytes) -> int:
    """Models: the device core's online attribute: "1" onlines (zone picked
    automatically), "0" offlines; kstrtobool."""
    s = buf.strip()
    if s in (b"1", b"y", b"Y"):
        _memory_block_change_state(f, True, MMOP_ONLINE)
    elif s in (b"0", b"n", b"N"):
        _memory_block_change_state(f, False, MMOP_ONLINE)
    else:
        raise _err(errno.EINVAL, f)
    return len(buf)


def register(vfs) -> None:
    d = f"{MEMORY_DIR}/memory{{memory}}"
    vfs.register_dir(MEMORY_DIR, mode=0o755)
    vfs.register_file(f"{MEMORY_DIR}/block_size_bytes", block_size_bytes_show, mode=0o444)
    vfs.register_dir(d, mode=0o755, lookup=memory_lookup, names=memory_names)
    vfs.register_file(f"{d}/state", state_show, state_store, mode=0o644)
    vfs.register_file(f"{d}/online", online_show, online_store, mode=0o644)
    vfs.register_file(f"{d}/valid_zones", valid_zones_show, mode=0o444)
    vfs.register_file(f"{d}/removable", lambda f: "1\n", mode=0o444)
    vfs.register_file(f"{d}/phys_device", lambda f: "0\n", mode=0o444)
    vfs.register_file(f"{d}/phys_index", lambda f: f"{f.params['memory']:08x}\n", mode=0o444)
    vfs.register_file(f"{d}/node", lambda f: f"{_node_of(f)}\n", mode=0o444)


def _node_of(f) -> int:
    start, _nr = _range(f)
    return f.ctx.mem.pfn_to_nid(start)
