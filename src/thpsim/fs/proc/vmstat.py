"""/proc/vmstat and /proc/buddyinfo.

Models: mm/vmstat.c vmstat_start()/vmstat_show() (zone items, then node items,
then events; ``nr_anon_transparent_hugepages`` printed in THPs as both eras
print it) and frag_show() (buddyinfo, from the allocator's own formatter).

Only the counters the model maintains are printed (thpsim.mm.vmstat), in the
kernel's order; ``nr_free_pages`` comes from the buddy allocator's zones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_NR
from thpsim.mm.page_alloc import buddyinfo, node_free_pages
from thpsim.mm.vmstat import (
    NODE_ITEMS_IN_THPS,
    NODE_STAT_ITEMS,
    NR_FREE_PAGES,
    VM_EVENT_ITEMS,
    ZONE_STAT_ITEMS,
)

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["vmstat_items", "vmstat_show", "frag_show", "register"]


def vmstat_items(ctx: Any, nid: int | None = None) -> list[tuple[str, int]]:
    """Zone then node items, machine-wide (``nid`` None) or of one node.

    Models: the first part of vmstat_start() (global_zone_page_state /
    global_node_page_state) and drivers/base/node.c node_read_vmstat()
    (sum_zone_node_page_state / node_page_state).
    """
    vm = ctx.vmstat
    nids = list(ctx.node_data) if nid is None else [nid]
    out: list[tuple[str, int]] = []
    for item in ZONE_STAT_ITEMS:
        if item == NR_FREE_PAGES:
            v = sum(node_free_pages(ctx, n) for n in nids)
        else:
            v = sum(vm.zone_extra[n][item] for n in nids)
        out.append((item, v))
    for item in NODE_STAT_ITEMS:
        v = sum(vm.node[n][item] for n in nids)
        if item in NODE_ITEMS_IN_THPS:
            v //= HPAGE_PMD_NR
        out.append((item, v))
    return out


def vmstat_show(f: File) -> str:
    """/proc/vmstat: ``name value`` lines."""
    ctx = f.ctx
    items = vmstat_items(ctx) + [(e, ctx.vmstat.events[e]) for e in VM_EVENT_ITEMS]
    return "".join(f"{name} {value}\n" for name, value in items)


def frag_show(f: File) -> str:
    """/proc/buddyinfo. Models: frag_show() (the allocator formats its free lists)."""
    return buddyinfo(f.ctx)


def register(vfs: VFS) -> None:
    vfs.register_file("/proc/vmstat", vmstat_show, mode=0o444)
    vfs.register_file("/proc/buddyinfo", frag_show, mode=0o444)
