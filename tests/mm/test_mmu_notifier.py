"""The shadow of user writes follows the kernel (mm/mmu_notifier.py), issue 11 item 2.

The API records what a CPU stored; what a zap, a move, a fork copy or an exit did to
user data reaches the shadow from the kernel path that did it. Each test here breaks
one mechanism under the hook (the page tables then disagree with what the kernel said
it did) and checks that the next read reports the lost write, next to a control run
that does not break it. The API itself holds no copy of any syscall's rules.
"""

import errno

import pytest
from mm_helpers import ANON, RW, numa_machine

from thpsim import (
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_WIPEONFORK,
    MAP_FIXED,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    IntegrityError,
)
from thpsim.arch.x86_64.pgtable import PAGE_SIZE
from thpsim.mm import memory, mremap

NPAGES = 8
LEN = NPAGES * PAGE_SIZE


def written(profile="mainline", check=True):
    m = numa_machine(profile, check=check)
    p = m.spawn()
    a = p.mmap(0, LEN, RW, ANON)
    for i in range(NPAGES):
        p.write(a + i * PAGE_SIZE, 0x1000 + i)
    return m, p, a


def _noop(*args, **kwargs):
    return 0
    yield  # a kernel path that does nothing


# ---------------------------------------------------------------- zap
def test_dontneed_zap_is_followed():
    m, p, a = written()
    p.madvise(a, 2 * PAGE_SIZE, MADV_DONTNEED)
    assert [p.read(a + i * PAGE_SIZE) for i in range(3)] == [0, 0, 0x1002]


def test_a_zap_that_misses_its_ptes_is_a_lost_write(monkeypatch):
    """zap_pte_range() broken: MADV_DONTNEED says the range is zapped, the PTEs still
    map the old data, the read sees it where the shadow expects 0."""
    m, p, a = written(check=False)  # the break, not the checker, is under test
    monkeypatch.setattr(memory, "zap_pte_range", _noop)
    p.madvise(a, PAGE_SIZE, MADV_DONTNEED)
    with pytest.raises(IntegrityError, match="lost write"):
        p.read(a)


def test_unaligned_dontneed_is_refused_and_the_data_stays():
    """EINVAL before any VMA: nothing was zapped, so nothing is forgotten (the API's
    old copy of madvise's rules forgot the page and reported a false lost write)."""
    m, p, a = written()
    with pytest.raises(OSError) as e:
        p.madvise(a + 1, PAGE_SIZE, MADV_DONTNEED)
    assert e.value.errno == errno.EINVAL
    assert p.read(a) == 0x1000


def test_map_fixed_over_data_reads_zero():
    m, p, a = written()
    assert p.mmap(a + PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED) == a + PAGE_SIZE
    assert [p.read(a + i * PAGE_SIZE) for i in range(3)] == [0x1000, 0, 0x1002]


# ---------------------------------------------------------------- move
def test_mremap_moves_the_data():
    m, p, a = written()
    dst = p.mmap(0, 4 * LEN, RW, ANON)
    p.write(dst, 0xdead)  # replaced by the move
    new = p.mremap(a, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, dst)
    assert new == dst
    assert [p.read(dst + i * PAGE_SIZE) for i in range(NPAGES)] == \
        [0x1000 + i for i in range(NPAGES)]
    assert p.read(dst + LEN) == 0


def test_a_move_that_drops_its_ptes_is_a_lost_write(monkeypatch):
    m, p, a = written(check=False)  # the break, not the checker, is under test
    dst = p.mmap(0, 4 * LEN, RW, ANON)
    monkeypatch.setattr(mremap, "move_ptes", _noop)
    p.mremap(a, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, dst)
    with pytest.raises(IntegrityError, match="lost write"):
        p.read(dst)


def test_mremap_shrink_zaps_the_tail():
    m, p, a = written()
    assert p.mremap(a, LEN, 2 * PAGE_SIZE) == a
    p.mmap(a + 2 * PAGE_SIZE, PAGE_SIZE, RW, ANON | MAP_FIXED)
    assert p.read(a + PAGE_SIZE) == 0x1001 and p.read(a + 2 * PAGE_SIZE) == 0


# ---------------------------------------------------------------- fork
def test_fork_copies_and_wipeonfork_dontfork_do_not():
    m, p, a = written()
    b = p.mmap(0, LEN, RW, ANON)
    c = p.mmap(0, LEN, RW, ANON)
    p.write(b, 0xb)
    p.write(c, 0xc)
    p.madvise(b, LEN, MADV_WIPEONFORK)
    p.madvise(c, LEN, MADV_DONTFORK)
    child = p.fork()
    assert child.read(a + PAGE_SIZE) == 0x1001
    assert child.read(b) == 0
    with pytest.raises(Exception, match="SIGSEGV"):
        child.read(c)
    child.write(a, 0x77)  # COW: the parent keeps its data
    assert p.read(a) == 0x1000 and child.read(a) == 0x77


def test_a_fork_that_loses_a_page_is_a_lost_write(monkeypatch):
    m, p, a = written(check=False)  # the break, not the checker, is under test
    monkeypatch.setattr(memory, "copy_pte_range", _noop)
    child = p.fork()
    with pytest.raises(IntegrityError, match="lost write"):
        child.read(a)


# ---------------------------------------------------------------- exit
def test_exit_releases_the_shadow():
    m, p, a = written()
    child = p.fork()
    mm_id = child.task.mm.mm_id
    assert mm_id in m.shadow.spaces
    child.exit()
    assert mm_id not in m.shadow.spaces
    assert p.read(a + 3 * PAGE_SIZE) == 0x1003


def test_no_shadow_no_subscriber():
    m = numa_machine("mainline", shadow=False)
    assert m.shadow is None and m.kernel.mmu_notifiers == []
