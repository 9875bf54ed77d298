"""The x86 user page-fault handler.

Models: arch/x86/mm/fault.c __do_page_fault() (v4.14) for user-mode faults:
find the VMA, check access (access_error), handle_mm_fault under mmap_lock
read, and turn VM_FAULT_* errors into the signal Linux delivers.

Returns ``None`` when the access should be retried, or ``(si_signo, si_code)``.
"""

from __future__ import annotations

import signal

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SHIFT, PAGE_SHIFT, TASK_SIZE_MAX
from thpsim.errors import BUS_ADRERR, BUS_MCEERR_AR, SEGV_ACCERR, SEGV_MAPERR
from thpsim.kernel.locking import down_read, up_read
from thpsim.kernel.sched import KernelPath
from thpsim.mm.memory import (
    FAULT_FLAG_ALLOW_RETRY,
    FAULT_FLAG_KILLABLE,
    FAULT_FLAG_USER,
    FAULT_FLAG_WRITE,
    handle_mm_fault,
)
from thpsim.mm.mm_types import (
    VM_EXEC,
    VM_FAULT_HWPOISON,
    VM_FAULT_HWPOISON_LARGE,
    VM_FAULT_OOM,
    VM_FAULT_SIGBUS,
    VM_FAULT_SIGSEGV,
    VM_READ,
    VM_WRITE,
)

# x86 page-fault error code bits (arch/x86/include/asm/traps.h)
X86_PF_PROT = 1 << 0
X86_PF_WRITE = 1 << 1
X86_PF_USER = 1 << 2


def access_error(error_code: int, vma) -> bool:
    """Models: arch/x86/mm/fault.c access_error()."""
    if error_code & X86_PF_WRITE:
        return not vma.vm_flags & VM_WRITE
    if error_code & X86_PF_PROT:
        return True  # read of a present page: a protection fault
    return not vma.vm_flags & (VM_READ | VM_EXEC | VM_WRITE)


def do_user_addr_fault(task, address: int, error_code: int
                       ) -> KernelPath[tuple[int, ...] | None]:
    """Context: takes mmap_lock for read. Preempts: in the lock and handle_mm_fault.
    Returns None or the signal to deliver: (signo, si_code[, si_addr_lsb])."""
    mm = task.mm
    if mm.kernel.cost is not None:  # modeled time: the exception's entry and exit
        mm.kernel.cost.fault(task.cpu)
    if address >= TASK_SIZE_MAX:
        # fault_in_kernel_space(): a user access to the kernel half (or the unmapped
        # top of the user half) is bad_area_nosemaphore(), no mmap_lock taken
        return (signal.SIGSEGV, SEGV_MAPERR)
    flags = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | FAULT_FLAG_USER
    if error_code & X86_PF_WRITE:
        flags |= FAULT_FLAG_WRITE
    yield from down_read(mm.mmap_lock)
    try:
        vma = mm.find_vma(address)
        if vma is None or vma.vm_start > address:
            return (signal.SIGSEGV, SEGV_MAPERR)
        if access_error(error_code, vma):
            return (signal.SIGSEGV, SEGV_ACCERR)
        fault = yield from handle_mm_fault(vma, address, flags)
    finally:
        up_read(mm.mmap_lock)
    if fault & VM_FAULT_HWPOISON:
        # do_sigbus(): force_sig_mceerr(BUS_MCEERR_AR, address, PAGE_SHIFT)
        return (signal.SIGBUS, BUS_MCEERR_AR, PAGE_SHIFT)
    if fault & VM_FAULT_HWPOISON_LARGE:
        return (signal.SIGBUS, BUS_MCEERR_AR, HPAGE_PMD_SHIFT)  # the hstate's shift
    if fault & VM_FAULT_SIGBUS:
        return (signal.SIGBUS, BUS_ADRERR)
    if fault & VM_FAULT_SIGSEGV:
        return (signal.SIGSEGV, SEGV_ACCERR)
    if fault & VM_FAULT_OOM:
        return (signal.SIGKILL, 0)  # pagefault_out_of_memory(): the OOM killer picks us
    return None
