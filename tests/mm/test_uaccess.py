"""User loads and stores at addresses the hardware refuses (mm/uaccess.py, mm/fault.py).

Issue 11: a store to ``a + (1 << 48)`` or ``a | 0xffff << 48`` used to land on the
page at ``a`` (the MMU walk kept only the index bits), a lost write where x86-64
faults. With 4-level paging a linear address must be canonical (bits 63..47 equal):
otherwise the CPU raises #GP and the kernel sends SIGSEGV with si_code SI_KERNEL and
si_addr 0 (exc_general_protection()). A canonical address at or above TASK_SIZE_MAX
page-faults from user mode into bad_area_nosemaphore(): SIGSEGV, SEGV_MAPERR, si_addr
the address. A negative int is the register's u64 value.
"""

import signal

import pytest
from mm_helpers import ANON, RW, numa_machine

from thpsim.arch.x86_64.pgtable import PAGE_SIZE, TASK_SIZE_MAX, __is_canonical_address
from thpsim.errors import SEGV_MAPERR, SI_KERNEL, DeliveredSignal

U64 = 1 << 64


def setup():
    m = numa_machine("mainline")
    p = m.spawn()
    a = p.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    for i in range(4):
        p.write(a + i * PAGE_SIZE, 100 + i)
    return m, p, a


def test_is_canonical_address():
    assert __is_canonical_address(0)
    assert __is_canonical_address((1 << 47) - 1)
    assert not __is_canonical_address(1 << 47)
    assert not __is_canonical_address(0xFFFF_7FFF_FFFF_FFFF)
    assert __is_canonical_address(0xFFFF_8000_0000_0000)
    assert __is_canonical_address(U64 - 1)


@pytest.mark.parametrize("bad", [
    lambda a: a + (1 << 48),
    lambda a: a | 0xFFFF << 48,
    lambda a: a + (1 << 47),
    lambda a: a | 1 << 63,
    lambda a: a - (1 << 63),  # a negative int whose u64 value is non-canonical
])
@pytest.mark.parametrize("write", [True, False])
def test_non_canonical_access_is_gp(bad, write):
    """#GP: SIGSEGV, SI_KERNEL, si_addr 0; the canonical page is untouched."""
    m, p, a = setup()
    addr = bad(a)
    assert not __is_canonical_address(addr % U64)
    with pytest.raises(DeliveredSignal) as e:
        if write:
            p.write(addr, 0xDEAD)
        else:
            p.read(addr)
    assert (e.value.si_signo, e.value.si_code, e.value.si_addr) == (
        signal.SIGSEGV, SI_KERNEL, 0)
    for i in range(4):
        assert p.read(a + i * PAGE_SIZE) == 100 + i
    m.check_integrity()


@pytest.mark.parametrize("addr", [
    -PAGE_SIZE,  # 0xffff_ffff_ffff_f000: the kernel half
    -(1 << 47),  # 0xffff_8000_0000_0000: the first kernel address
    TASK_SIZE_MAX,  # the guard page below the non-canonical hole
    (1 << 47) - 8,
])
@pytest.mark.parametrize("write", [True, False])
def test_kernel_half_access_is_segv_maperr(addr, write):
    """A canonical address at or above TASK_SIZE_MAX: fault_in_kernel_space(), SIGSEGV
    SEGV_MAPERR at the (u64) address."""
    m, p, a = setup()
    with pytest.raises(DeliveredSignal) as e:
        if write:
            p.write(addr, 1)
        else:
            p.read(addr)
    assert (e.value.si_signo, e.value.si_code, e.value.si_addr) == (
        signal.SIGSEGV, SEGV_MAPERR, addr % U64)
    for i in range(4):
        assert p.read(a + i * PAGE_SIZE) == 100 + i


def test_address_above_u64_is_taken_modulo():
    """A Python int past 2**64 is what a 64-bit register holds: ``a + 2**64`` is ``a``,
    and the shadow records it there (no false lost write)."""
    m, p, a = setup()
    p.write(a + U64, 7)
    assert p.read(a) == 7
    assert p.read(a + 2 * U64) == 7
