"""Write faults on a read-only PTE of a THP subpage, by era (mm/memory.py do_wp_page()),
and the deferred-split queueing that follows, as the kernel oracle recorded them.

The fork leaves the parent's THP mapped by a write-protected PMD and not
PageAnonExclusive; a 4 KiB mprotect splits the PMD, so the pages are PTE-mapped.
"""

from thpsim.oracle.interp import run_program
from thpsim.oracle.record import AFTER_6_1, AFTER_6_12

PROGRAM = """
mmap A 0x7e0000000000 0x200000 rw private|anon
write A 0x200000 1
fork
endfork
mprotect A+0x100000 0x1000 r
write A 0x2000 2
"""


def _last_pmd(text: str) -> str:
    return [line for line in text.splitlines() if "+ pmd" in line][-1]


def test_mainline_reuses_the_subpages_of_an_exclusive_thp():
    out = run_program(PROGRAM)
    assert "thp=512 head=1" in _last_pmd(out), out


def test_6_12_copies_each_written_subpage():
    """5.9..6.15: a large folio's subpage is never reused (wp_can_reuse_anon_folio())."""
    out = run_program(PROGRAM, **AFTER_6_12)
    pmd = _last_pmd(out)
    assert "thp=510 head=0" in pmd and "huge=0" in pmd, out  # the head was written too
    assert "thp_deferred_split_page=1" in out.splitlines()[-1], out


def test_6_1_reuses_the_last_mapped_subpage():
    """6.1: copied while the folio has other references; the last mapped subpage is
    reused and stays a tail of the THP (kpageflags THP without a head)."""
    prog = PROGRAM.replace("write A 0x2000 2", "munmap A+0x1000 0x1ff000\nwrite A 0x1000 2")
    assert "thp=1 head=1" in _last_pmd(run_program(prog, **AFTER_6_1))
    assert "thp=0 head=0" in _last_pmd(run_program(prog, **AFTER_6_12))
