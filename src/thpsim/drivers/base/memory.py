"""The memory block devices: /sys/devices/system/memory.

Models: drivers/base/memory.c (block_size_bytes, memoryN/state, online, valid_zones,
removable, phys_index, phys_device, the nodeX link; memory_block_online/offline,
memory_block_change_state; soft_offline_page_store, hard_offline_page_store);
mainline (6.x/7.2) and 4.14 (seed), apart where the profile says
(``memory_removable_always``). The work is mm/memory_hotplug.py's (online_pages(),
offline_pages()) and mm/memory_failure.py's (soft_offline_page(), memory_failure()).

A memory block ``memoryN`` covers PFNs [N * pages_per_block, (N + 1) *
pages_per_block). Its state is read from the frames, as the kernel reads the
section's online bit: a block whose frames are PG_offline (``F_offline``) is
offline; while offline_pages() runs on it, it is ``going-offline``
(``ctx.memory_block_transition``). valid_zones of an offline block lists the zone
``online`` would pick, then the other ones onlining may pick.

Simplified:
    * the node symlink ``nodeX`` is an empty directory of that name (no symlinks in
      the VFS): its name tells the node, as ``ls memoryN`` shows it.
    * a memory block is one section; no memory groups, no probe file.
"""

from __future__ import annotations

import errno
import os

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT
from thpsim.kernel.locking import mutex_lock, mutex_unlock
from thpsim.kernel.sched import KernelPath, run_to_completion
from thpsim.kernel.task import CAP_SYS_ADMIN
from thpsim.lib.kstrtox import kstrtobool, kstrtoull
from thpsim.lib.string import sysfs_streq
from thpsim.mm.memory_failure import memory_failure, soft_offline_page
from thpsim.mm.memory_hotplug import (
    MMOP_ONLINE,
    MMOP_ONLINE_KERNEL,
    MMOP_ONLINE_MOVABLE,
    is_mem_section_removable,
    offline_pages,
    offline_pages_failed,
    online_pages,
    zone_for_pfn_range,
)
from thpsim.mm.page_alloc import page_zone, zone
from thpsim.mm.page_flags import F_offline

__all__ = ["memory_block_online", "memory_block_offline", "memory_block_change_state",
           "soft_offline_page_store", "hard_offline_page_store", "register", "MEMORY_DIR"]

MEMORY_DIR = "/sys/devices/system/memory"


def memory_block_size_bytes(ctx) -> int:
    """Models: memory_block_size_bytes(): the machine's block size."""
    return ctx.mem.block_size


def _pages_per_block(ctx) -> int:
    return memory_block_size_bytes(ctx) >> PAGE_SHIFT


def _block_online(ctx, block_id: int) -> bool:
    """Model-only: the block's frames are not PG_offline (online_section())."""
    start = block_id * _pages_per_block(ctx)
    return not ctx.pages.flags[start] & F_offline


def _memory_block_state(ctx, block_id: int) -> str:
    """Model-only: mem->state as state_show() names it."""
    t = ctx.memory_block_transition.get(block_id)
    if t is not None:
        return t
    return "online" if _block_online(ctx, block_id) else "offline"


def _memory_block_zone(ctx, start: int, nr_pages: int) -> zone | None:
    """Model-only: mem->zone of an online block, the one zone every frame of it is
    linked to; None if it spans several (early_node_zone_for_memory_block() at boot,
    the zone online_pages() used after). Such a block cannot be offlined."""
    ids = ctx.pages.zoneid_np[start:start + nr_pages]
    first = int(ids[0])
    if first < 0 or (ids != first).any():
        return None
    return page_zone(ctx, start)


def memory_block_online(ctx, block_id: int, online_type: int) -> int:
    """Online a block into the zone ``online_type`` selects.

    Models: drivers/base/memory.c memory_block_online() (5.15+; memory_block_action()
    -> online_pages() before): zone_for_pfn_range(), then online_pages().
    Context: device_hotplug_lock. Preempts: never. Returns: 0 or -errno.
    """
    ppb = _pages_per_block(ctx)
    start = block_id * ppb
    z = zone_for_pfn_range(ctx, online_type, ctx.mem.pfn_to_nid(start), start, ppb)
    return online_pages(ctx, start, ppb, z)


def memory_block_offline(ctx, block_id: int) -> KernelPath[int]:
    """Offline a block of one zone.

    Models: drivers/base/memory.c memory_block_offline() (5.15+): -EINVAL when
    mem->zone is NULL (the block spans several zones; 4.14: test_pages_in_a_zone() in
    __offline_pages()), else offline_pages().
    Context: device_hotplug_lock. Preempts: in offline_pages(). Returns: 0 or -errno.
    """
    ppb = _pages_per_block(ctx)
    start = block_id * ppb
    z = _memory_block_zone(ctx, start, ppb)
    if z is None:
        offline_pages_failed(ctx, start, start + ppb, "multizone range")
        return -errno.EINVAL
    return (yield from offline_pages(ctx, start, ppb, z))


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


def memory_block_nid(ctx, block_id: int) -> int:
    """The node of a block (the node of its first frame: the model's blocks never
    straddle nodes)."""
    return ctx.mem.pfn_to_nid(block_id * _pages_per_block(ctx))


def node_memory_lookup(f, name: str) -> int | None:
    """``/sys/devices/system/node/nodeN/memoryM``: the links register_memory_block_under_node()
    makes from a node to each of its memory blocks (online or offline)."""
    bid = memory_lookup(f, name)
    if bid is None or memory_block_nid(f.ctx, bid) != f.params["nid"]:
        return None
    return bid


def node_memory_names(f) -> list[str]:
    return [f"memory{b}" for b in _block_ids(f.ctx)
            if memory_block_nid(f.ctx, b) == f.params["nid"]]


def _range(f) -> tuple[int, int]:
    ppb = _pages_per_block(f.ctx)
    return f.params["memory"] * ppb, ppb


def block_size_bytes_show(f) -> str:
    """Models: block_size_bytes_show(): hex without 0x."""
    return f"{memory_block_size_bytes(f.ctx):x}\n"


def removable_show(f) -> str:
    """Models: removable_show() / 4.14's show_mem_removable(): 1 for an offline block,
    else is_mem_section_removable() over the block (``memory_removable_always``: 1)."""
    ctx = f.ctx
    if ctx.profile.memory_removable_always or not _block_online(ctx, f.params["memory"]):
        return "1\n"
    start, nr = _range(f)
    return f"{int(is_mem_section_removable(ctx, start, nr))}\n"


def state_show(f) -> str:
    """Models: state_show(): online, offline, or going-offline during offline_pages()."""
    return f"{_memory_block_state(f.ctx, f.params['memory'])}\n"


def online_show(f) -> str:
    """Models: the device core's online attribute: 0 once the block is offline."""
    return "1\n" if _block_online(f.ctx, f.params["memory"]) else "0\n"


def print_allowed_zone(ctx, nid: int, start_pfn: int, nr_pages: int, online_type: int,
                       default_zone: zone) -> str:
    """Models: drivers/base/memory.c print_allowed_zone(): `` <name>`` of the zone
    ``online_type`` would pick, unless it is the default one."""
    z = zone_for_pfn_range(ctx, online_type, nid, start_pfn, nr_pages)
    return "" if z is default_zone else f" {z.name}"


def valid_zones_show(f) -> str:
    """The zone of an online block (``none`` if it spans several); for any other, the
    zone ``online`` would pick, then the other zones onlining may pick.

    Models: drivers/base/memory.c valid_zones_show(), 6.x (4.14 alike): the offline
    branch is taken for any state but MEM_ONLINE (so also while going-offline).
    """
    ctx = f.ctx
    bid = f.params["memory"]
    start, nr = _range(f)
    if _memory_block_state(ctx, bid) == "online":
        z = _memory_block_zone(ctx, start, nr)
        return "none\n" if z is None else f"{z.name}\n"
    nid = ctx.mem.pfn_to_nid(start)
    default_zone = zone_for_pfn_range(ctx, MMOP_ONLINE, nid, start, nr)
    return (default_zone.name
            + print_allowed_zone(ctx, nid, start, nr, MMOP_ONLINE_KERNEL, default_zone)
            + print_allowed_zone(ctx, nid, start, nr, MMOP_ONLINE_MOVABLE, default_zone)
            + "\n")


def memory_block_change_state(ctx, block_id: int, online: bool,
                              online_type: int = MMOP_ONLINE) -> KernelPath[int]:
    """Online or offline one memory block.

    Models: drivers/base/memory.c memory_block_change_state() under
    lock_device_hotplug_sysfs() (device_online()/device_offline()): a block already
    in the requested state is left alone and 1 returned (device_online() and
    device_offline() return 1 there; state_store() makes that -EINVAL, the device
    core's online_store() success); while offlining, the state reads
    ``going-offline``; memory_block_action() -> memory_block_online()/_offline().
    Context: takes and releases device_hotplug_lock. Returns 0, 1 or -errno.
    Preempts: taking the lock, in offline_pages().
    """
    yield from mutex_lock(ctx.device_hotplug_lock)
    try:
        if _block_online(ctx, block_id) == online:
            return 1  # device_online/offline: already in that state
        if online:
            return memory_block_online(ctx, block_id, online_type)
        ctx.memory_block_transition[block_id] = "going-offline"
        try:
            return (yield from memory_block_offline(ctx, block_id))
        finally:
            del ctx.memory_block_transition[block_id]
    finally:
        mutex_unlock(ctx.device_hotplug_lock)


def _memory_block_change_state(f, online: bool, online_type: int) -> KernelPath[int]:
    """memory_block_change_state() for a store: its -errno raised; 0, or 1 when the
    block was in that state already."""
    ret = yield from memory_block_change_state(f.ctx, f.params["memory"], online,
                                               online_type)
    if ret < 0:
        raise _err(-ret, f)
    return ret


def state_store(f, buf: bytes) -> KernelPath[int]:
    """Models: drivers/base/memory.c state_store(): online, online_kernel,
    online_movable, offline (sysfs_streq); anything else -EINVAL; a block in that
    state already -EINVAL (``if (ret) return -EINVAL`` on device_online()'s 1)."""
    for word, online, typ in (("online", True, MMOP_ONLINE),
                              ("online_kernel", True, MMOP_ONLINE_KERNEL),
                              ("online_movable", True, MMOP_ONLINE_MOVABLE),
                              ("offline", False, MMOP_ONLINE)):
        if sysfs_streq(buf, word):
            if (yield from _memory_block_change_state(f, online, typ)):
                raise _err(errno.EINVAL, f)
            return len(buf)
    raise _err(errno.EINVAL, f)


def online_store(f, buf: bytes) -> KernelPath[int]:
    """Models: drivers/base/core.c online_store(): kstrtobool() (-EINVAL), then
    device_online() (the zone picked as for ``online``) or device_offline(); their
    error, else the byte count -- also when the block was in that state already
    (``ret < 0 ? ret : count`` on their 1)."""
    err, val = kstrtobool(buf.decode("latin-1"))
    if err:
        raise _err(-err, f)
    yield from _memory_block_change_state(f, val, MMOP_ONLINE)
    return len(buf)


# ====================================================================== offline pages
def _offline_page_store(f, buf: bytes, action) -> int:
    """The common part of the two stores: CAP_SYS_ADMIN (EPERM), kstrtoull(buf, 0)
    (EINVAL), pfn = addr >> PAGE_SHIFT, ``action(ctx, pfn)``'s error or the count."""
    if not f.capable(CAP_SYS_ADMIN):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), f.path)
    err, addr = kstrtoull(buf.decode("latin-1"))
    if err:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
    ret = run_to_completion(action(f.ctx, addr >> PAGE_SHIFT))
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), f.path)
    return len(buf)


def soft_offline_page_store(f, buf: bytes) -> int:
    """/sys/devices/system/memory/soft_offline_page: write a physical address.

    Models: drivers/base/memory.c soft_offline_page_store(): CAP_SYS_ADMIN (EPERM),
    kstrtoull(buf, 0) (EINVAL), pfn = addr >> PAGE_SHIFT, soft_offline_page(pfn, 0).
    Returns: the byte count.
    """
    return _offline_page_store(f, buf, lambda ctx, pfn: soft_offline_page(ctx, pfn, 0))


def hard_offline_page_store(f, buf: bytes) -> int:
    """/sys/devices/system/memory/hard_offline_page: poison the frame at a physical
    address ("forcibly offline a page, including killing processes").

    Models: drivers/base/memory.c hard_offline_page_store(): CAP_SYS_ADMIN (EPERM),
    kstrtoull(buf, 0) (EINVAL), pfn = addr >> PAGE_SHIFT, memory_failure(pfn, 0)
    (-EOPNOTSUPP, a filtered event, counts as success). Its data is lost; processes
    mapping it get SIGBUS when they touch it (no early kill: the flags carry no
    MF_ACTION_REQUIRED). Errors: ENXIO (offline memory; no memmap in 4.14), EBUSY (a
    page the handler ignores or fails on; no memmap in mainline), EHWPOISON (already
    poisoned, mainline).
    Returns: the byte count.
    """

    def action(ctx, pfn: int) -> KernelPath[int]:
        ret = yield from memory_failure(ctx, pfn, 0)
        return 0 if ret == -errno.EOPNOTSUPP else ret

    return _offline_page_store(f, buf, action)


def register(vfs) -> None:
    """Register /sys/devices/system/memory: block_size_bytes, the memoryN directories
    (memory_memblk_attr_group) and soft_offline_page / hard_offline_page (mode 0200,
    CONFIG_MEMORY_FAILURE)."""
    d = f"{MEMORY_DIR}/memory{{memory}}"
    vfs.register_dir(MEMORY_DIR, mode=0o755)
    vfs.register_file(f"{MEMORY_DIR}/block_size_bytes", block_size_bytes_show, mode=0o444)
    vfs.register_dir(d, mode=0o755, lookup=memory_lookup, names=memory_names)
    vfs.register_file(f"{d}/state", state_show, state_store, mode=0o644)
    vfs.register_file(f"{d}/online", online_show, online_store, mode=0o644)
    vfs.register_file(f"{d}/valid_zones", valid_zones_show, mode=0o444)
    vfs.register_file(f"{d}/removable", removable_show, mode=0o444)
    vfs.register_file(f"{d}/phys_device", lambda f: "0\n", mode=0o444)
    vfs.register_file(f"{d}/phys_index", lambda f: f"{f.params['memory']:08x}\n", mode=0o444)
    # the nodeX link to /sys/devices/system/node/nodeX (register_one_node() links each
    # block): a directory named for the block's node; its contents are not modelled
    vfs.register_dir(f"{d}/node{{nid}}", mode=0o755,
                     lookup=lambda f, name: _node_of(f) if name == f"node{_node_of(f)}" else None,
                     names=lambda f: [f"node{_node_of(f)}"])
    # and the other way: nodeN/memoryM links (their contents are not modelled)
    vfs.register_dir("/sys/devices/system/node/node{nid}/memory{memory}", mode=0o755,
                     lookup=node_memory_lookup, names=node_memory_names)
    vfs.register_file(f"{MEMORY_DIR}/soft_offline_page", writer=soft_offline_page_store,
                      mode=0o200)
    vfs.register_file(f"{MEMORY_DIR}/hard_offline_page", writer=hard_offline_page_store,
                      mode=0o200)


def _node_of(f) -> int:
    start, _nr = _range(f)
    return f.ctx.mem.pfn_to_nid(start)
