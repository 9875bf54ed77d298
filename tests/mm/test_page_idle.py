"""Idle page tracking (src/thpsim/mm/page_idle.py, mm/page_idle.c): the bitmap's
format and errors, idle after a write, not idle after an access that sets the accessed
bit, root only, and a THP's head bit standing for the whole compound page."""

from __future__ import annotations

import errno
import struct

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_MF_MOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)

B = "/sys/kernel/mm/page_idle/bitmap"
HINT = 0x7E00_0000_0000


def _machine(thp: str = "always", cpus: int = 2) -> Machine:
    return Machine(nodes={0: 128 << 20, 1: 128 << 20}, cpus=cpus, thp=thp, check=True)


def _pfn(m: Machine, pid: int, addr: int) -> int:
    raw = m.fs.read(f"/proc/{pid}/pagemap", offset=(addr // PAGE_SIZE) * 8, length=8)
    word = struct.unpack("<Q", raw)[0]
    assert word >> 63 & 1, "not present"
    return word & ((1 << 55) - 1)


def _mark(fs, pfn: int) -> int:
    return fs.write(B, struct.pack("<Q", 1 << (pfn % 64)), offset=pfn // 64 * 8)


def _idle(fs, pfn: int) -> bool:
    return bool(struct.unpack("<Q", fs.read(B, offset=pfn // 64 * 8, length=8))[0]
                >> (pfn % 64) & 1)


@pytest.fixture
def small():
    """A process with one 4 KiB page written ([4k]), and a second thread on CPU 1 whose
    TLB holds nothing of it (its first access walks the page tables)."""
    m = _machine(thp="never")
    p = m.spawn(cpu=0)
    a = p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 7)
    return m, p, a


def test_bitmap_is_root_only_0600(small) -> None:
    m, p, a = small
    user = m.spawn(cpu=0, uid=1000, caps=frozenset())
    for op in (lambda: user.fs.read(B, offset=0, length=8),
               lambda: user.fs.write(B, b"\0" * 8)):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EACCES
    assert "page_idle" in m.fs.listdir("/sys/kernel/mm")


def test_idle_after_write_not_after_a_walking_access(small) -> None:
    m, p, a = small
    pfn = _pfn(m, p.pid, a)
    assert not _idle(m.fs, pfn)  # never marked
    assert _mark(m.fs, pfn) == 8
    assert _idle(m.fs, pfn)
    assert _idle(m.fs, pfn)  # reading does not end idleness
    other = p.clone(cpu=1)
    assert other.read(a) == 7  # a TLB miss: the walk sets the accessed bit
    assert not _idle(m.fs, pfn)
    assert not _idle(m.fs, pfn)  # stays not idle until marked again
    assert _mark(m.fs, pfn) == 8 and _idle(m.fs, pfn)
    m.check_integrity()


def test_no_tlb_flush_an_access_through_the_tlb_sets_no_bit(small) -> None:
    """x86 clears the accessed bit without a flush (ptep_clear_young_notify): a CPU
    whose TLB still holds the translation does not set it again."""
    m, p, a = small
    pfn = _pfn(m, p.pid, a)
    _mark(m.fs, pfn)
    assert p.threads[0].read(a) == 7  # CPU 0's TLB holds the entry from the write
    assert _idle(m.fs, pfn)


def test_smaps_referenced_sees_what_the_bitmap_cleared(small) -> None:
    """Marking clears the PTE's accessed bit and leaves PG_young: smaps still counts
    the page Referenced (page_idle_clear_pte_refs_one: folio_set_young)."""
    m, p, a = small
    pfn = _pfn(m, p.pid, a)
    _mark(m.fs, pfn)
    assert "Referenced:            4 kB" in m.fs.read(f"/proc/{p.pid}/smaps")
    m.fs.write(f"/proc/{p.pid}/clear_refs", "1")
    assert "Referenced:            0 kB" in m.fs.read(f"/proc/{p.pid}/smaps")


def test_alignment_and_range_errors(small) -> None:
    m, p, a = small
    for op in (lambda: m.fs.read(B, offset=4, length=8),
               lambda: m.fs.read(B, offset=0, length=12),
               lambda: m.fs.write(B, b"\0" * 8, offset=4),
               lambda: m.fs.write(B, b"\0" * 6)):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EINVAL
    max_pfn = sum(m.nodes.values()) // PAGE_SIZE
    end = max_pfn // 8
    assert m.fs.read(B, offset=end, length=8) == b""
    with pytest.raises(OSError) as e:
        m.fs.write(B, b"\xff" * 8, offset=end)
    assert e.value.errno == errno.ENXIO
    # the whole bitmap: one bit per frame, nothing idle that was never marked
    whole = m.fs.read(B, offset=0, length=end)
    assert len(whole) == end and whole.count(0) == end


def test_free_frames_and_tails_read_zero_and_are_skipped(small) -> None:
    m, p, a = small
    pfn = _pfn(m, p.pid, a)
    # a whole word of bits around the page: only the LRU page's bit sticks
    base = pfn // 64 * 64
    assert m.fs.write(B, struct.pack("<Q", (1 << 64) - 1), offset=base // 8) == 8
    word = struct.unpack("<Q", m.fs.read(B, offset=base // 8, length=8))[0]
    assert word == 1 << (pfn - base)


def test_thp_head_bit_covers_the_compound_page() -> None:
    """[THP A, PMD-mapped]: the head's bit is the THP's; tail bits read 0 and a write
    to them does nothing; an access to any subpage through a walk makes it not idle."""
    m = _machine(cpus=3)
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 1)
    head = _pfn(m, p.pid, a)
    assert head % 512 == 0 and _pfn(m, p.pid, a + 5 * PAGE_SIZE) == head + 5
    words = HPAGE_PMD_SIZE // PAGE_SIZE // 64
    # mark every subpage's bit: only the head's reads back
    m.fs.write(B, b"\xff" * 8 * words, offset=head // 8)
    got = struct.unpack(f"<{words}Q", m.fs.read(B, offset=head // 8, length=8 * words))
    assert got[0] == 1 and not any(got[1:])
    # a tail's bit alone marks nothing: make the head not idle, then write the tail
    p.clone(cpu=1).read(a + 300 * PAGE_SIZE)  # a walk to the PMD: accessed bit set
    assert not _idle(m.fs, head)
    _mark(m.fs, head + 300)
    assert not _idle(m.fs, head)
    _mark(m.fs, head)
    assert _idle(m.fs, head)
    p.clone(cpu=1).read(a + 511 * PAGE_SIZE)  # CPU 1's TLB holds the 2 MiB entry
    assert _idle(m.fs, head)
    p.clone(cpu=2).read(a + 511 * PAGE_SIZE)  # CPU 2 walks: the PMD's bit is set
    assert not _idle(m.fs, head)
    m.check_integrity()


def test_pte_mapped_thp_one_young_subpage_makes_it_referenced() -> None:
    """[THP A, PTE-mapped after a partial mprotect]: the rmap walk visits every PTE;
    one young subpage makes the whole THP not idle (page_idle_clear_pte_refs_one)."""
    m = _machine()
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 1)
    head = _pfn(m, p.pid, a)
    p.mprotect(a, PAGE_SIZE, PROT_READ)  # splits the PMD, the THP stays compound
    assert "AnonHugePages:         0 kB" in m.fs.read(f"/proc/{p.pid}/smaps")
    assert _pfn(m, p.pid, a + 100 * PAGE_SIZE) == head + 100
    _mark(m.fs, head)
    assert _idle(m.fs, head)
    p.clone(cpu=1).read(a + 100 * PAGE_SIZE)
    assert not _idle(m.fs, head)
    m.check_integrity()


def test_migration_keeps_the_idle_flag() -> None:
    """migrate_page_states() carries PG_idle: a page marked idle and moved is idle on
    its new frame (its entries were made young by nobody)."""
    m = _machine(thp="never")
    p = m.spawn(cpu=0)
    a = p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 3)
    old = _pfn(m, p.pid, a)
    _mark(m.fs, old)
    ret, status = p.move_pages(0, [a], [1], MPOL_MF_MOVE)
    assert ret == 0 and list(status) == [1]
    new = _pfn(m, p.pid, a)
    assert new != old and _idle(m.fs, new)
    m.check_integrity()


def test_split_carries_idle_to_every_subpage() -> None:
    """__split_huge_page_tail(): a tail takes page_is_young()/page_is_idle() of the
    head, so a THP marked idle and split reads idle on each of its 512 frames."""
    m = _machine()
    p = m.spawn(cpu=0)
    a = p.mmap(HINT, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(a, 1)
    head = _pfn(m, p.pid, a)
    _mark(m.fs, head)
    m.fs.write("/sys/kernel/debug/split_huge_pages", f"{p.pid},{a:#x},{a + HPAGE_PMD_SIZE:#x}")
    assert _pfn(m, p.pid, a + 7 * PAGE_SIZE) == head + 7
    assert "AnonHugePages:         0 kB" in m.fs.read(f"/proc/{p.pid}/smaps")
    assert all(_idle(m.fs, head + i) for i in (0, 1, 7, 511))
    m.check_integrity()
