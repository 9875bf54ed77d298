"""A user thread's loads and stores: TLB, MMU walk, page fault, retry.

Model-only (what the CPU does for a user instruction, plus the kernel's entry
through arch/x86/mm/fault.c). One code path for both drivers: the sequential
API runs these generators to completion; the interleaving scheduler steps them
between other CPUs' kernel paths.

A store through a TLB entry with W and D set writes the frame that entry names,
without looking at the page tables: a stale entry (a missing flush) writes the
old frame, as on real hardware. A store through an entry without D re-walks (the
CPU must set D); one without W faults.

Preempts: only inside the fault handler (the access itself is one atomic step).
Raises :class:`~thpsim.errors.DeliveredSignal` for a fatal fault.
"""

from __future__ import annotations

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT
from thpsim.errors import DeliveredSignal, KernelBug
from thpsim.hw.cpu import TLB_D, TLB_W, WALK_PROTECTION, mmu_walk
from thpsim.kernel.sched import KernelPath
from thpsim.mm.fault import X86_PF_PROT, X86_PF_USER, X86_PF_WRITE, do_user_addr_fault

_U64 = 0xFFFF_FFFF_FFFF_FFFF
MAX_FAULT_RETRIES = 64


def user_store(task, addr: int, value: int) -> KernelPath[int]:
    """Store a 64-bit word to the 4 KiB page at ``addr``. Returns the frame written."""
    mm = task.mm
    ctx = mm.kernel
    cpu = ctx.cpus[task.cpu]
    asid = mm.mm_id
    value &= _U64
    for _ in range(MAX_FAULT_RETRIES):
        e = cpu.tlb_lookup(asid, addr)
        if e >= 0 and e & TLB_W and e & TLB_D:
            break
        e, huge = mmu_walk(ctx.mem, mm.pgd.pfn, addr, True)
        if e >= 0:
            cpu.tlb_fill(asid, addr, e, huge)
            break
        if e == WALK_PROTECTION:
            cpu.invlpg(asid, addr)  # a permission fault drops the entry
        code = X86_PF_WRITE | X86_PF_USER | (X86_PF_PROT if e == WALK_PROTECTION else 0)
        sig = yield from do_user_addr_fault(task, addr, code)
        if sig is not None:
            raise DeliveredSignal(sig[0], sig[1], addr)
    else:
        raise KernelBug(f"store to {addr:#x} keeps faulting")
    pfn = e >> PAGE_SHIFT
    ctx.mem.contents[pfn] = value
    return pfn


def user_load(task, addr: int) -> KernelPath[tuple[int, int]]:
    """Load the 64-bit word of the 4 KiB page at ``addr``. Returns ``(value, frame)``."""
    mm = task.mm
    ctx = mm.kernel
    cpu = ctx.cpus[task.cpu]
    asid = mm.mm_id
    for _ in range(MAX_FAULT_RETRIES):
        e = cpu.tlb_lookup(asid, addr)
        if e >= 0:
            break
        e, huge = mmu_walk(ctx.mem, mm.pgd.pfn, addr, False)
        if e >= 0:
            cpu.tlb_fill(asid, addr, e, huge)
            break
        code = X86_PF_USER | (X86_PF_PROT if e == WALK_PROTECTION else 0)
        sig = yield from do_user_addr_fault(task, addr, code)
        if sig is not None:
            raise DeliveredSignal(sig[0], sig[1], addr)
    else:
        raise KernelBug(f"load from {addr:#x} keeps faulting")
    pfn = e >> PAGE_SHIFT
    return ctx.mem.contents[pfn], pfn
