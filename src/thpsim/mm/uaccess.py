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

import signal

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, __is_canonical_address
from thpsim.errors import SI_KERNEL, DeliveredSignal, KernelBug
from thpsim.hw.cpu import TLB_D, TLB_W, WALK_PROTECTION, mmu_walk
from thpsim.kernel.sched import KernelPath
from thpsim.mm.fault import X86_PF_PROT, X86_PF_USER, X86_PF_WRITE, do_user_addr_fault

_U64 = 0xFFFF_FFFF_FFFF_FFFF
MAX_FAULT_RETRIES = 64


def user_translate(task, addr: int, write: bool) -> KernelPath[int]:
    """The translation of ``addr`` for a user access, faulting until it is mapped.

    The TLB entry if it allows the access (a store needs W and D), else an MMU walk
    (filling the TLB on success), else a page fault (a store's permission fault
    first drops the stale entry) and a retry. Returns the TLB-format entry.

    ``addr`` is the 64-bit register the instruction uses (a negative int is its u64
    value). The CPU checks it is canonical before any TLB lookup or walk: a
    non-canonical address raises #GP, not a page fault, and the kernel's
    exc_general_protection() (v4.14 do_general_protection()) sends SIGSEGV with
    si_code SI_KERNEL and si_addr 0. No address bit is masked away.
    """
    addr &= _U64
    if not __is_canonical_address(addr):
        raise DeliveredSignal(signal.SIGSEGV, SI_KERNEL, 0)
    mm = task.mm
    ctx = mm.kernel
    cpu = ctx.cpus[task.cpu]
    asid = mm.mm_id
    cost = ctx.cost  # modeled time (hw/cost.py): a TLB hit, or a walk, and the load
    for _ in range(MAX_FAULT_RETRIES):
        e = cpu.tlb_lookup(asid, addr)
        if e >= 0 and (not write or e & TLB_W and e & TLB_D):
            if cost is not None:
                cost.tlb_hit(task.cpu, e >> PAGE_SHIFT)
            return e
        e, huge = mmu_walk(ctx.mem, mm.pgd.pfn, addr, write, cpu.knl_ad_erratum)
        if e >= 0:
            cpu.tlb_fill(asid, addr, e, huge)
            if cost is not None:
                cost.page_walk(task.cpu, e >> PAGE_SHIFT, huge)
            return e
        if write and e == WALK_PROTECTION:
            cpu.invlpg(asid, addr)  # a permission fault drops the entry
        code = X86_PF_USER | (X86_PF_WRITE if write else 0) | (
            X86_PF_PROT if e == WALK_PROTECTION else 0
        )
        sig = yield from do_user_addr_fault(task, addr, code)
        if sig is not None:
            raise DeliveredSignal(*sig[:2], addr, *sig[2:])
    raise KernelBug(f"{'store to' if write else 'load from'} {addr:#x} keeps faulting")


def user_store(task, addr: int, value: int) -> KernelPath[int]:
    """Store a 64-bit word to the 4 KiB page at ``addr``. Returns the frame written."""
    mem = task.mm.kernel.mem
    value &= _U64
    pfn = (yield from user_translate(task, addr, True)) >> PAGE_SHIFT
    mem.contents[pfn] = value
    return pfn


def user_load(task, addr: int) -> KernelPath[tuple[int, int]]:
    """Load the 64-bit word of the 4 KiB page at ``addr``. Returns ``(value, frame)``."""
    mem = task.mm.kernel.mem
    pfn = (yield from user_translate(task, addr, False)) >> PAGE_SHIFT
    return mem.contents[pfn], pfn
