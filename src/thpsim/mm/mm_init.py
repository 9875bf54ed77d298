"""Boot: the memory part of start_kernel(), which builds the kernel context.

Models: init/main.c start_kernel() as far as memory goes -- setup_arch()'s memory
map (``mem_map``, here :class:`~thpsim.mm.page_flags.PageArrays`), the vmstat
counters, then mm/mm_init.c mm_core_init() (mm_init() in init/main.c before 6.4):
the zones are built (free_area_init()), memblock_free_all() hands every frame but
the reserved ones to the buddy allocator, and the zero page is reserved.

The kernel core (kernel/context.py) holds these structures but does not build
them: they are made here and handed in, so the core never imports mm.
"""

from __future__ import annotations

from collections.abc import Mapping

from thpsim.hw.cpu import CPU
from thpsim.hw.memory import PhysicalMemory
from thpsim.kernel.context import KernelContext, ThpSettings
from thpsim.mm.page_alloc import free_area_init, memblock_free_all
from thpsim.mm.page_flags import PageArrays
from thpsim.mm.vmstat import VmStat
from thpsim.profiles import Profile

__all__ = ["mm_core_init"]


def mm_core_init(profile: Profile, mem: PhysicalMemory, cpus: list[CPU], thp: ThpSettings,
                 movable: Mapping[int, int], movable_align: int | None) -> KernelContext:
    """Build the kernel context of a machine whose memory and CPUs are ``mem``/``cpus``.

    Models: start_kernel() -> mm_core_init() (see the module docstring). ``movable``
    is node id -> bytes of ZONE_MOVABLE at the top of the node (``movablecore=``).
    The zero page is the first frame of the first node, reserved like kernel image
    memory (the kernel's empty_zero_page lives in its .bss).
    Returns: the context, with ``node_data``, ``zero_pfn`` and the vmstat counters set.
    """
    pages = PageArrays(mem.max_pfn)
    ctx = KernelContext(profile, mem, pages, cpus, thp, VmStat(list(mem.nodes)))
    free_area_init(ctx, dict(movable), movable_align)
    zero = mem.nodes[min(mem.nodes)].start_pfn
    memblock_free_all(ctx, {zero})
    ctx.zero_pfn = zero
    pages.refcount[zero] = 1
    return ctx
