"""/proc/vmstat and /proc/buddyinfo.

Models: mm/vmstat.c vmstat_start()/vmstat_show() (zone items, then node items,
then events; ``nr_anon_transparent_hugepages`` printed in THPs as both eras
print it) and frag_show() (buddyinfo, from the allocator's own formatter).

Only the counters the model maintains are printed (thpsim.mm.vmstat), in the
kernel's order; ``nr_free_pages`` comes from the buddy allocator's zones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.mm.page_alloc import buddyinfo
from thpsim.mm.vmstat import vm_event_items, vmstat_items

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["vmstat_show", "frag_show", "register"]


def vmstat_show(f: File) -> str:
    """/proc/vmstat: ``name value`` lines."""
    ctx = f.ctx
    items = vmstat_items(ctx) + [(e, ctx.vmstat.events[e])
                                 for e in vm_event_items(ctx.profile)]
    return "".join(f"{name} {value}\n" for name, value in items)


def frag_show(f: File) -> str:
    """/proc/buddyinfo. Models: frag_show() (the allocator formats its free lists)."""
    return buddyinfo(f.ctx)


def register(vfs: VFS) -> None:
    vfs.register_file("/proc/vmstat", vmstat_show, mode=0o444)
    vfs.register_file("/proc/buddyinfo", frag_show, mode=0o444)
