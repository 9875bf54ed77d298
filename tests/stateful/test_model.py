"""Random system-call sequences against the model, the oracle after every step.

STYLE.md 2.6 and sketch 4: system calls are rules; ``check=True`` runs the
invariant checker after every call (and after every faulting access), and an
``@invariant`` runs it again between steps together with a comparison of each
address space with an independent model of it.

The test's own model (:class:`Layout`) is deliberately small: per process, the
mapped ranges with their protection and mlock state, updated from what each
call returns. It is used to (a) aim most calls at mapped memory, (b) predict the
outcome of a call where Linux's answer is certain (a fully mapped, page-aligned
mprotect succeeds; one across a hole fails with ENOMEM; a store to a read-only
page raises SIGSEGV), and (c) check the kernel's VMA list after every step.
Where Linux applies part of a failing call (mprotect, madvise or mlock that
meets a hole) the model resynchronises from the kernel's VMAs instead of
predicting the partial result. Data is checked by thpsim's own shadow: every
``read`` compares the loaded word with it and raises IntegrityError on a
mismatch, which this test lets fail.

Layout of the fixed-address arena (MAP_FIXED targets), 2 MiB slots::

    ARENA                                             ARENA + ARENA_SIZE
    |[slot 0][slot 1] ... [slot 31]|
     ^ THP-aligned      ^ +n pages: unaligned starts cross PMD boundaries

Known bugs this test found are listed in :data:`KNOWN_BUGS`; while a name is in
the set the test works around that one pattern (see each rule). Empty the set to
see them fail.
"""

from __future__ import annotations

import errno
import signal

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import thpsim
from thpsim import (
    MADV_COLD,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_LOCKED,
    MAP_POPULATE,
    MAP_PRIVATE,
    MPOL_MF_MOVE,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    DeliveredSignal,
    Machine,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.mm_types import VM_LOCKED

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
PROTS = (PROT_NONE, PROT_READ, RW, RW, RW, RW)  # mostly writable, so stores land
MB = 1 << 20
_PROT_MASK = PROT_READ | PROT_WRITE | 0x4  # VM_READ|VM_WRITE|VM_EXEC == PROT_* bits

#: MAP_FIXED window, below the top-down allocator's base (0x7F00_0000_0000), so
#: kernel-chosen addresses and fixed ones stay apart but can still be mremapped into.
ARENA = 0x7E00_0000_0000
ARENA_SLOTS = 32
ARENA_SIZE = ARENA_SLOTS * HPAGE_PMD_SIZE

#: Memory layouts: node id -> bytes (multiples of the 128 MiB block). Ids need not
#: be 0..n-1.
LAYOUTS = (
    {0: 256 * MB, 1: 256 * MB},
    {0: 128 * MB, 2: 256 * MB, 5: 128 * MB},
    {1: 128 * MB, 3: 256 * MB},
    {0: 256 * MB, 1: 128 * MB, 2: 128 * MB},
)
MAX_PROCS = 4
MAX_THREADS = 8
#: Bound the memory a process maps so no sequence runs a node dry.
MAX_MAPPED = 48 * MB

#: Errnos Linux can return for each call (man pages plus the paths this test takes).
ERRNOS = {
    "mmap": {errno.EINVAL, errno.ENOMEM, errno.EEXIST, errno.EPERM, errno.EAGAIN},
    "munmap": {errno.EINVAL},
    "mprotect": {errno.EINVAL, errno.ENOMEM, errno.EACCES},
    "mremap": {errno.EINVAL, errno.EFAULT, errno.ENOMEM, errno.EAGAIN},
    "madvise": {errno.EINVAL, errno.ENOMEM, errno.EAGAIN},
    "mlock": {errno.ENOMEM, errno.EINVAL, errno.EAGAIN, errno.EPERM},
    "munlock": {errno.ENOMEM, errno.EINVAL, errno.EPERM},
    "move_pages": {errno.EINVAL, errno.ENODEV, errno.ENOMEM, errno.E2BIG, errno.EPERM,
                   errno.ESRCH, errno.EFAULT, errno.EACCES},
}

#: Bugs this test found; while a name is here the test works around exactly that
#: pattern. All four it found so far are fixed (commit 7227cc4): populate looping on a
#: PROT_NONE huge PMD, and three shadow bookkeeping errors (mmap MAP_FIXED, mremap
#: onto a destination, madvise DONTNEED stopping at an mlocked VMA).
KNOWN_BUGS: frozenset[str] = frozenset()  # all four are fixed


def _page_down(x: int) -> int:
    return x & ~(PAGE_SIZE - 1)


def _page_up(x: int) -> int:
    return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


class Layout:
    """Model-only: the mapped ranges of one address space, ``[start, end, prot, locked]``,
    sorted, disjoint, adjacent equal ranges merged (the kernel may keep VMAs apart for
    reasons this model ignores: anon_vma, VM_HUGEPAGE; comparisons merge both sides)."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: list[tuple[int, int, int, bool]] | None = None):
        self.ranges: list[tuple[int, int, int, bool]] = []
        for r in ranges or ():
            self.set(*r)

    @classmethod
    def from_mm(cls, mm) -> Layout:
        return cls([(v.vm_start, v.vm_end, v.vm_flags & _PROT_MASK,
                     bool(v.vm_flags & VM_LOCKED)) for v in mm.mmap])

    def copy(self) -> Layout:
        new = Layout()
        new.ranges = list(self.ranges)
        return new

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self.ranges == other.ranges

    def __repr__(self) -> str:
        return "Layout([" + ", ".join(
            f"({s:#x}, {e:#x}, {p}, {lk})" for s, e, p, lk in self.ranges) + "])"

    def clear(self, start: int, end: int) -> None:
        out = []
        for s, e, p, lk in self.ranges:
            if e <= start or s >= end:
                out.append((s, e, p, lk))
                continue
            if s < start:
                out.append((s, start, p, lk))
            if e > end:
                out.append((end, e, p, lk))
        self.ranges = out

    def set(self, start: int, end: int, prot: int, locked: bool) -> None:
        self.clear(start, end)
        self.ranges.append((start, end, prot, locked))
        self.ranges.sort()
        merged: list[tuple[int, int, int, bool]] = []
        for r in self.ranges:
            if merged and merged[-1][1] == r[0] and merged[-1][2:] == r[2:]:
                merged[-1] = (merged[-1][0], r[1], r[2], r[3])
            else:
                merged.append(r)
        self.ranges = merged

    def pieces(self, start: int, end: int) -> list[tuple[int, int, int, bool]]:
        return [(max(s, start), min(e, end), p, lk)
                for s, e, p, lk in self.ranges if s < end and e > start]

    def at(self, addr: int) -> tuple[int, bool] | None:
        for s, e, p, lk in self.ranges:
            if s <= addr < e:
                return p, lk
        return None

    def covered(self, start: int, end: int) -> bool:
        return sum(e - s for s, e, _, _ in self.pieces(start, end)) == end - start

    def mapped_bytes(self) -> int:
        return sum(e - s for s, e, _, _ in self.ranges)

    def update(self, start: int, end: int, *, prot: int | None = None,
               locked: bool | None = None) -> None:
        for s, e, p, lk in self.pieces(start, end):
            self.set(s, e, p if prot is None else prot, lk if locked is None else locked)


class Proc:
    """Model-only: one simulated process and what the test knows about it."""

    __slots__ = ("api", "layout", "written")

    def __init__(self, api: thpsim.Process, layout: Layout, written: set[int]):
        self.api = api
        self.layout = layout
        #: page addresses this process (or its parent before fork) stored to
        self.written = written


sels = st.integers(0, 1 << 20)
small = st.integers(1, 600)
#: where an operation starts (see ThpModel._addr): mostly inside a live range
wheres = st.sampled_from((0, 1, 2, 3, 3, 3, 0, 2, 4, 5))
#: how long it is (see ThpModel._length): mostly within the range it starts in
kinds = st.sampled_from((0, 0, 0, 1, 1, 2, 2, 3, 4, 5))


class ThpModel(RuleBasedStateMachine):
    """Syscalls as rules on 1-4 processes (up to 8 threads on 4 CPUs) of a 2- or 3-node
    machine."""

    @initialize(
        layout=st.sampled_from(LAYOUTS),
        profile=st.sampled_from(("seed", "mainline")),
        thp=st.sampled_from(("always", "always", "madvise")),
    )
    def boot(self, layout, profile, thp):
        self.m = Machine(nodes=layout, block_size=128 * MB, cpus=4, thp=thp,
                         profile=profile, seed=0, check=True)
        p = self.m.spawn(cpu=0)
        self.procs = [Proc(p, Layout(), set())]
        self.stamp = 0
        # start with memory to aim at: [4 MiB, THP-aligned][hole][16 pages]
        p.mmap(ARENA, 2 * HPAGE_PMD_SIZE, RW, ANON | MAP_FIXED)
        p.mmap(ARENA + 3 * HPAGE_PMD_SIZE, 16 * PAGE_SIZE, RW, ANON | MAP_FIXED)
        self.procs[0].layout = Layout.from_mm(p.mm)

    # ------------------------------------------------------------ choosing targets
    def _proc(self, sel: int) -> Proc:
        return self.procs[sel % len(self.procs)]

    def _addr(self, pr: Proc, sel: int, where: int) -> int:
        """An address to aim at: mostly inside a live range, sometimes a hole or the arena.

        where: 0 a range's start, 1 its last page, 2 a 2 MiB boundary inside it (or
        its start), 3 any page of it, 4 any page of the arena, 5 the page before it.
        """
        ranges = pr.layout.ranges
        if not ranges or where == 4:
            return ARENA + (sel % (ARENA_SIZE // PAGE_SIZE)) * PAGE_SIZE
        s, e, _, _ = ranges[sel % len(ranges)]
        npages = (e - s) // PAGE_SIZE
        if where == 0:
            return s
        if where == 1:
            return e - PAGE_SIZE
        if where == 2:
            b = (s + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
            return b if b < e else s
        if where == 5:
            return s - PAGE_SIZE
        return s + (sel // 7 % npages) * PAGE_SIZE

    def _length(self, pr: Proc, start: int, kind: int, n: int) -> int:
        """0: 1..all pages left in the range at start; 1: the same in unaligned bytes;
        2: to the end of the range; 3: 1-4 THPs; 4: up to the next 2 MiB boundary and
        0-63 pages beyond it; 5: n pages. 3-5 often run past the range."""
        left = 0
        for s, e, _, _ in pr.layout.ranges:
            if s <= start < e:
                left = (e - _page_down(start)) // PAGE_SIZE
        if kind in (0, 1, 2) and left:
            pages = left if kind == 2 else 1 + n % left
            return pages * PAGE_SIZE - ((n * 37) % PAGE_SIZE if kind == 1 else 0)
        if kind == 3:
            return (1 + n % 4) * HPAGE_PMD_SIZE
        if kind == 4:
            boundary = (start + HPAGE_PMD_SIZE) & ~(HPAGE_PMD_SIZE - 1)
            return boundary - start + (n % 64) * PAGE_SIZE
        return n * PAGE_SIZE

    def _target(self, p: int, sel: int, where: int, kind: int, n: int) -> tuple[Proc, int, int]:
        """The process, start and length a range-taking call aims at (_addr, _length)."""
        pr = self._proc(p)
        start = self._addr(pr, sel, where)
        return pr, start, self._length(pr, start, kind, n)

    def _caller(self, pr: Proc, sel: int) -> thpsim.Thread:
        """The thread making a system call (its CPU runs the kernel path)."""
        return pr.api.threads[sel // 3 % len(pr.api.threads)]

    def _resync(self, pr: Proc) -> None:
        """After a failed call Linux may have applied part of it: trust the kernel's VMAs."""
        pr.layout = Layout.from_mm(pr.api.mm)

    def _value(self) -> int:
        self.stamp += 1
        return (0xC0DE << 48) | self.stamp

    def _room(self, pr: Proc, length: int) -> bool:
        return pr.layout.mapped_bytes() + length <= MAX_MAPPED

    # ------------------------------------------------------------ mmap
    @rule(p=sels, thp=st.booleans(), n=st.integers(1, 64), prot=st.sampled_from(PROTS),
          extra=st.sampled_from((0, 0, 0, MAP_POPULATE, MAP_LOCKED)))
    def mmap_anywhere(self, p, thp, n, prot, extra):
        """mmap(NULL, ...): 2-8 MiB (THP-sized) or 1-64 base pages; the kernel picks."""
        pr = self._proc(p)
        length = (1 + n % 4) * HPAGE_PMD_SIZE if thp else n * PAGE_SIZE
        if not self._room(pr, length):
            return
        if extra and prot == PROT_NONE and "populate-protnone-hang" in KNOWN_BUGS:
            prot = RW
        addr = pr.api.mmap(0, length, prot, ANON | extra)
        assert addr % PAGE_SIZE == 0
        assert not pr.layout.pieces(addr, addr + length), "mmap(NULL) returned mapped memory"
        pr.layout.set(addr, addr + length, prot, bool(extra & MAP_LOCKED))

    @rule(p=sels, sel=sels, where=wheres, slot=st.integers(0, ARENA_SLOTS - 1),
          off=st.sampled_from((0, 0, 1, 511)), thp=st.booleans(), n=st.integers(1, 64),
          prot=st.sampled_from(PROTS), over=st.booleans())
    def mmap_fixed(self, p, sel, where, slot, off, thp, n, prot, over):
        """MAP_FIXED: into the arena, or (``over``) on top of a live range."""
        pr = self._proc(p)
        if over:
            addr = self._addr(pr, sel, where)
        else:
            addr = ARENA + slot * HPAGE_PMD_SIZE + off * PAGE_SIZE
        length = (1 + n % 4) * HPAGE_PMD_SIZE if thp else n * PAGE_SIZE
        if not self._room(pr, length):
            return
        ret = pr.api.mmap(addr, length, prot, ANON | MAP_FIXED)
        assert ret == addr
        if "map-fixed-shadow" in KNOWN_BUGS:
            self.m.shadow.clear(pr.api.mm.mm_id, addr, addr + length)
        pr.layout.set(addr, addr + length, prot, False)

    @rule(p=sels, sel=sels, bad=st.sampled_from(("unaligned", "zero", "noreplace")))
    def mmap_rejected(self, p, sel, bad):
        """Arguments Linux rejects: the call fails and nothing changes."""
        pr = self._proc(p)
        if bad == "unaligned":
            args, want = (ARENA + 1 + sel % (PAGE_SIZE - 1), PAGE_SIZE, RW, ANON | MAP_FIXED), \
                errno.EINVAL
        elif bad == "zero":
            args, want = (0, 0, RW, ANON), errno.EINVAL
        else:
            if not pr.layout.ranges:
                return
            s = self._addr(pr, sel, 3)
            args, want = (s, PAGE_SIZE, RW, ANON | thpsim.MAP_FIXED_NOREPLACE), errno.EEXIST
        before = Layout.from_mm(pr.api.mm)
        try:
            pr.api.mmap(*args)
        except OSError as e:
            assert e.errno == want, (bad, e)
        else:
            raise AssertionError(f"mmap{args} succeeded")
        assert Layout.from_mm(pr.api.mm) == before

    # ------------------------------------------------------------ munmap
    @rule(p=sels, sel=sels, where=wheres, kind=kinds, n=small,
          misalign=st.sampled_from((0, 0, 0, 0, 0, 1)))
    def munmap(self, p, sel, where, kind, n, misalign):
        """Partial, whole, across THP boundaries, unaligned lengths; a misaligned start
        is EINVAL."""
        pr = self._proc(p)
        start = self._addr(pr, sel, where) + misalign * 8
        length = self._length(pr, start, kind, n)
        try:
            self._caller(pr, sel).munmap(start, length)
        except OSError as e:
            assert e.errno in ERRNOS["munmap"], e
            assert misalign, f"munmap({start:#x}, {length:#x}): {e}"
            return
        assert not misalign, "munmap of a misaligned start succeeded"
        pr.layout.clear(start, start + _page_up(length))

    # ------------------------------------------------------------ mprotect
    @rule(p=sels, sel=sels, where=wheres, kind=kinds, n=small,
          prot=st.sampled_from(PROTS))
    def mprotect(self, p, sel, where, kind, n, prot):
        pr, start, length = self._target(p, sel, where, kind, n)
        end = start + _page_up(length)
        covered = pr.layout.covered(start, end)
        try:
            self._caller(pr, sel).mprotect(start, length, prot)
        except OSError as e:
            assert e.errno in ERRNOS["mprotect"], e
            assert not covered, f"mprotect of mapped [{start:#x}, {end:#x}): {e}"
            assert e.errno == errno.ENOMEM, e
            self._resync(pr)
            return
        assert covered, f"mprotect across a hole in [{start:#x}, {end:#x}) succeeded"
        pr.layout.update(start, end, prot=prot)

    # ------------------------------------------------------------ madvise
    @rule(p=sels, sel=sels, where=wheres, kind=kinds, n=small,
          advice=st.sampled_from((MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
                                  MADV_COLD, MADV_PAGEOUT)))
    def madvise(self, p, sel, where, kind, n, advice):
        pr, start, length = self._target(p, sel, where, kind, n)
        end = start + _page_up(length)
        pieces = pr.layout.pieces(start, end)
        locked = [pc for pc in pieces if pc[3]]
        if (advice == MADV_DONTNEED and locked
                and "dontneed-partial-shadow" in KNOWN_BUGS):
            # Stop the range where the first locked run ends: no unlocked VMA after it.
            i = pieces.index(locked[0])
            while i + 1 < len(pieces) and pieces[i + 1][3] and pieces[i + 1][0] == pieces[i][1]:
                i += 1
            end = pieces[i][1]
            length = end - start
            pieces = pieces[: i + 1]
        covered = sum(e - s for s, e, _, _ in pieces) == end - start
        refuses = advice in (MADV_DONTNEED, MADV_FREE) and any(pc[3] for pc in pieces)
        if advice in (MADV_COLD, MADV_PAGEOUT):  # 5.4+; can_madv_lru_vma() refuses locked
            refuses = not self.m.profile.madvise_cold_pageout or any(pc[3] for pc in pieces)
        try:
            self._caller(pr, sel).madvise(start, length, advice)
        except OSError as e:
            assert e.errno in ERRNOS["madvise"], e
            if refuses:
                assert e.errno in (errno.EINVAL, errno.ENOMEM), e
            else:
                assert not covered, f"madvise({advice}) of mapped [{start:#x}, {end:#x}): {e}"
                assert e.errno == errno.ENOMEM, e
            self._resync(pr)
            return
        assert covered and not refuses, (
            f"madvise({advice}) of [{start:#x}, {end:#x}) succeeded: covered={covered} "
            f"locked={refuses}")

    # ------------------------------------------------------------ mlock
    @rule(p=sels, sel=sels, where=wheres, kind=kinds, n=small,
          lock=st.booleans())
    def mlock(self, p, sel, where, kind, n, lock):
        pr, start, length = self._target(p, sel, where, kind, n)
        s, e = _page_down(start), _page_up(start + length)
        covered = pr.layout.covered(s, e)
        # mlock populates. populate_vma_page_range() gives a PROT_NONE VMA no
        # FOLL_FORCE, get_user_pages refuses it with -EFAULT, and mlock reports ENOMEM
        # after VM_LOCKED was set on every VMA (kernel oracle, 6.1).
        inaccessible = lock and any(pc[2] == PROT_NONE for pc in pr.layout.pieces(s, e))
        if inaccessible and "populate-protnone-hang" in KNOWN_BUGS:
            return
        caller = self._caller(pr, sel)
        call = caller.mlock if lock else caller.munlock
        try:
            call(start, length)
        except OSError as err:
            assert err.errno in ERRNOS["mlock" if lock else "munlock"], err
            assert not covered or inaccessible, \
                f"m{'' if lock else 'un'}lock of mapped [{s:#x}, {e:#x}): {err}"
            assert err.errno == errno.ENOMEM, err
            self._resync(pr)
            return
        assert covered, f"m{'' if lock else 'un'}lock across a hole in [{s:#x}, {e:#x})"
        assert not inaccessible, f"mlock of PROT_NONE memory in [{s:#x}, {e:#x}) succeeded"
        pr.layout.update(s, e, locked=lock)

    # ------------------------------------------------------------ mremap
    @rule(p=sels, sel=sels, where=st.integers(0, 3),
          how=st.sampled_from(("shrink", "grow", "grow_maymove", "move", "move_fixed")),
          n=small, slot=st.integers(0, ARENA_SLOTS - 1), off=st.sampled_from((0, 0, 3)))
    def mremap(self, p, sel, where, how, n, slot, off):
        pr = self._proc(p)
        if not pr.layout.ranges:
            return
        addr = self._addr(pr, sel, where)
        vma = pr.api.mm.find_vma(addr)
        if vma is None or vma.vm_start > addr:
            return
        # old range: inside one VMA (else EFAULT), sometimes to the VMA's end
        room = (vma.vm_end - addr) // PAGE_SIZE
        old_pages = room if n % 3 == 0 else 1 + n % room
        old_len = old_pages * PAGE_SIZE
        flags, new_addr = 0, 0
        if how == "shrink":
            new_len = max(1, old_pages - 1 - n % old_pages) * PAGE_SIZE if old_pages > 1 \
                else old_len
        elif how in ("grow", "grow_maymove"):
            new_len = old_len + (n if n % 2 else (1 + n % 4) * (HPAGE_PMD_SIZE // PAGE_SIZE)) \
                * PAGE_SIZE
            flags = MREMAP_MAYMOVE if how == "grow_maymove" else 0
        elif how == "move":
            new_len = old_len + HPAGE_PMD_SIZE
            flags = MREMAP_MAYMOVE
        else:
            new_len = old_len if n % 2 else max(PAGE_SIZE, old_len - (n % 8) * PAGE_SIZE)
            flags = MREMAP_MAYMOVE | MREMAP_FIXED
            new_addr = ARENA + slot * HPAGE_PMD_SIZE + off * PAGE_SIZE
        if not self._room(pr, max(0, new_len - old_len)):
            return
        attrs = pr.layout.at(addr)
        assert attrs is not None
        if (attrs == (PROT_NONE, True) and new_len > old_len
                and "populate-protnone-hang" in KNOWN_BUGS):
            return
        mm_id = pr.api.mm.mm_id
        saved: list[tuple[int, int]] = []
        if flags & MREMAP_FIXED and "mremap-fixed-shadow" in KNOWN_BUGS:
            saved = [(a, self.m.shadow.expected(mm_id, a))
                     for a in range(new_addr, new_addr + new_len, PAGE_SIZE)]
            saved = [(a, v) for a, v in saved if v]
            self.m.shadow.clear(mm_id, new_addr, new_addr + new_len)
        try:
            ret = self._caller(pr, sel).mremap(addr, old_len, new_len, flags, new_addr)
        except OSError as e:
            assert e.errno in ERRNOS["mremap"], e
            if how == "grow":
                assert e.errno == errno.ENOMEM, e  # no room after it and may not move
            elif flags & MREMAP_FIXED and new_addr < addr + old_len \
                    and addr < new_addr + new_len:
                assert e.errno == errno.EINVAL, e  # overlapping ranges
            else:
                raise AssertionError(f"mremap({addr:#x}, {old_len:#x}, {new_len:#x}, "
                                     f"{flags}, {new_addr:#x}): {e}") from e
            self._resync(pr)
            for a, v in saved:
                if pr.layout.at(a) is not None:
                    self.m.shadow.record(mm_id, a, v)
            return
        if how in ("shrink", "grow"):
            assert ret == addr
        if flags & MREMAP_FIXED:
            assert ret == new_addr
        lay = pr.layout
        if ret == addr:
            if new_len < old_len:
                lay.clear(addr + new_len, addr + old_len)
            else:
                lay.set(addr + old_len, addr + new_len, *attrs)
        else:
            lay.clear(addr, addr + old_len)
            lay.set(ret, ret + new_len, *attrs)
            moved = {a for a in pr.written if addr <= a < addr + min(old_len, new_len)}
            pr.written -= moved
            pr.written |= {a - addr + ret for a in moved}

    # ------------------------------------------------------------ fork / exit
    @precondition(lambda self: len(self.procs) < MAX_PROCS)
    @rule(p=sels, cpu=st.integers(0, 3))
    def fork(self, p, cpu):
        pr = self._proc(p)
        child = pr.api.fork(cpu=cpu)
        # mlock is not inherited (dup_mmap clears VM_LOCKED in the child)
        lay = Layout([(s, e, prot, False) for s, e, prot, _ in pr.layout.ranges])
        self.procs.append(Proc(child, lay, set(pr.written)))

    @precondition(lambda self: sum(len(pr.api.threads) for pr in self.procs) < MAX_THREADS)
    @rule(p=sels, cpu=st.integers(0, 3))
    def clone(self, p, cpu):
        """A second thread on another CPU: its TLB must be flushed when the tables change."""
        self._proc(p).api.clone(cpu=cpu)

    @precondition(lambda self: len(self.procs) > 1)
    @rule(p=sels)
    def exit(self, p):
        pr = self.procs.pop(p % len(self.procs))
        out = pr.api.exit()
        assert out == [], out  # check_mm found nothing to complain about

    # ------------------------------------------------------------ user accesses
    def _write(self, pr: Proc, addr: int) -> None:
        attrs = pr.layout.at(addr)
        value = self._value()
        try:
            pr.api.threads[addr // PAGE_SIZE % len(pr.api.threads)].write(addr, value)
        except DeliveredSignal as sig:
            assert sig.si_signo == signal.SIGSEGV, sig.si_signo
            assert attrs is None or not attrs[0] & PROT_WRITE, \
                f"store to {addr:#x} ({attrs}) faulted"
            return
        assert attrs is not None and attrs[0] & PROT_WRITE, f"store to {addr:#x} ({attrs})"
        pr.written.add(_page_down(addr))

    def _read(self, pr: Proc, addr: int) -> None:
        attrs = pr.layout.at(addr)
        try:
            # checked against the shadow: IntegrityError
            pr.api.threads[(addr // PAGE_SIZE + 1) % len(pr.api.threads)].read(addr)
        except DeliveredSignal as sig:
            assert sig.si_signo == signal.SIGSEGV, sig.si_signo
            assert attrs is None or attrs[0] == PROT_NONE, f"load from {addr:#x} ({attrs})"
            return
        assert attrs is not None and attrs[0] != PROT_NONE, f"load from {addr:#x} ({attrs})"

    def _spots(self, pr: Proc, sel: int, where: int, n: int) -> list[int]:
        """Up to n addresses from one start: the start, the pages either side of the next
        2 MiB boundary, then pages spread over the rest of the range (if any)."""
        start = self._addr(pr, sel, where)
        end = start + PAGE_SIZE
        for s, e, _, _ in pr.layout.ranges:
            if s <= start < e:
                end = e
        boundary = (start + HPAGE_PMD_SIZE) & ~(HPAGE_PMD_SIZE - 1)
        out = [start, boundary - PAGE_SIZE, boundary]
        pages = max(1, (end - start) // PAGE_SIZE)
        out += [start + (sel * (i + 1) % pages) * PAGE_SIZE for i in range(n)]
        return [a + (sel % 8) * 8 for a in out[:n]]

    @rule(p=sels, sel=sels, where=wheres, n=st.integers(1, 8))
    def write(self, p, sel, where, n):
        pr = self._proc(p)
        for a in self._spots(pr, sel, where, n):
            self._write(pr, a)

    @rule(p=sels, sel=sels, where=wheres, n=st.integers(1, 8))
    def read(self, p, sel, where, n):
        pr = self._proc(p)
        for a in self._spots(pr, sel, where, n):
            self._read(pr, a)

    @rule(p=sels, step=st.integers(1, 64))
    def write_thp_range(self, p, step):
        """One store per 2 MiB over a whole range, or one per ``step`` pages."""
        pr = self._proc(p)
        if not pr.layout.ranges:
            return
        s, e, _, _ = pr.layout.ranges[step % len(pr.layout.ranges)]
        stride = HPAGE_PMD_SIZE if step % 2 else step * PAGE_SIZE
        for a in range(s, e, stride)[:32]:
            self._write(pr, a)

    @rule(p=sels, sel=sels)
    def read_back(self, p, sel):
        """Read up to 32 pages this process wrote (the shadow says what each must hold)."""
        pr = self._proc(p)
        addrs = sorted(pr.written)
        if not addrs:
            return
        k = sel % len(addrs)
        for a in (addrs[k:] + addrs[:k])[:32]:
            self._read(pr, a)

    # ------------------------------------------------------------ migration
    @rule(p=sels, sel=sels, where=st.integers(0, 3), n=st.integers(1, 16), node=sels)
    def move_pages(self, p, sel, where, n, node):
        pr = self._proc(p)
        nids = sorted(self.m.nodes)   # ids need not be 0..n-1
        target = nids[node % len(nids)]
        pages = self._spots(pr, sel, where, n)
        caller = self._caller(pr, sel)
        try:
            ret, status = caller.move_pages(0, pages, [target] * len(pages), MPOL_MF_MOVE)
        except OSError as e:
            assert e.errno in ERRNOS["move_pages"], e
            return
        assert ret >= 0
        assert all(s in nids or (s is not None and s < 0) for s in status), status

    # ------------------------------------------------------------ oracle
    @invariant()
    def integrity(self):
        self.m.check_integrity()

    @invariant()
    def vmas_match_model(self):
        for pr in self.procs:
            got = Layout.from_mm(pr.api.mm)
            assert got == pr.layout, f"pid {pr.api.pid}: kernel {got} != model {pr.layout}"


ThpModel.TestCase.settings = settings(
    max_examples=40, stateful_step_count=50, deadline=None
)
TestThpModel = ThpModel.TestCase
