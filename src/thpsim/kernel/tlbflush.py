"""TLB shootdowns: invalidate a range of an address space on every CPU.

Models: arch/x86/mm/tlb.c flush_tlb_mm_range() (v4.14: above
``tlb_single_page_flush_ceiling`` pages it flushes the whole address space),
include/asm-generic/tlbflush wrappers (flush_tlb_range, flush_tlb_page,
flush_tlb_mm, flush_pmd_tlb_range).

Every CPU whose TLB holds entries of the mm is sent the flush (the IPI to
``mm_cpumask``; CPUs outside it had their entries invalidated lazily by the
TLB-generation scheme, so the net effect is the same) and the caller waits for
all of them.

Preempts: once, before the IPIs land: the window in which other CPUs still
translate through the old entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT, PAGE_SIZE
from thpsim.hw.cpu import flush_range_cpus
from thpsim.kernel.sched import PREEMPT, KernelPath

if TYPE_CHECKING:
    from thpsim.kernel.context import KernelContext
    from thpsim.mm.mm_types import mm_struct, vm_area_struct

__all__ = [
    "flush_tlb_mm_range",
    "flush_tlb_range",
    "flush_tlb_page",
    "flush_tlb_mm",
    "flush_pmd_tlb_range",
    "tlb_single_page_flush_ceiling",
]

tlb_single_page_flush_ceiling = 33


def flush_tlb_mm_range(mm: mm_struct, start: int, end: int) -> KernelPath[None]:
    ctx = mm.kernel
    ctx.nr_tlb_flushes += 1
    yield PREEMPT  # window: other CPUs still use the stale translations until the IPI lands
    asid = mm.mm_id
    full = (end - start) >> PAGE_SHIFT > tlb_single_page_flush_ceiling
    if ctx.cost is not None:  # modeled time: the local flush and the IPIs
        _charge_shootdown(ctx, asid)
    if not full:
        flush_range_cpus(ctx.cpus, asid, start, end)
        return
    for cpu in ctx.cpus:
        cpu.flush_asid(asid)


def _charge_shootdown(ctx: KernelContext, asid: int) -> None:
    """Model-only: charge the cost model (hw/cost.py) for one flush: the initiator's
    own, and an IPI to each other CPU whose TLB holds entries of the address space
    (mm_cpumask: those are the CPUs the kernel interrupts)."""
    cost = ctx.cost
    assert cost is not None
    me = ctx.smp_processor_id()
    cost.tlb_flush(me, [c.cpu for c in ctx.cpus if c.cpu != me and c.has_entries(asid)])


def flush_tlb_range(vma: vm_area_struct, start: int, end: int) -> KernelPath[None]:
    yield from flush_tlb_mm_range(vma.vm_mm, start, end)


def flush_pmd_tlb_range(vma: vm_area_struct, start: int, end: int) -> KernelPath[None]:
    """A 2 MiB range: x86 invalidates the one huge entry (and any 4 KiB splinters)."""
    mm = vma.vm_mm
    mm.kernel.nr_tlb_flushes += 1
    yield PREEMPT  # window: other CPUs still use the stale huge translation
    if mm.kernel.cost is not None:  # modeled time: the local flush and the IPIs
        _charge_shootdown(mm.kernel, mm.mm_id)
    flush_range_cpus(mm.kernel.cpus, mm.mm_id, start, end)


def flush_tlb_page(vma: vm_area_struct, addr: int) -> KernelPath[None]:
    yield from flush_tlb_mm_range(vma.vm_mm, addr, addr + PAGE_SIZE)


def flush_tlb_mm(mm: mm_struct) -> KernelPath[None]:
    yield from flush_tlb_mm_range(mm, 0, 1 << 47)


assert HPAGE_PMD_SIZE >> PAGE_SHIFT > tlb_single_page_flush_ceiling
