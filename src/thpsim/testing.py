"""The seam for tools and tests that interleave kernel paths (Model-only).

The interleaving driver (kernel/interleave.py: :func:`run_interleaved`,
:class:`Program`, :class:`Op`, the schedulers) runs many kernel paths at once;
the system calls and file accesses it runs are the generator forms of the API
(``thread.sys``, :class:`~thpsim.api.Syscalls`), the same kernel paths the
blocking methods run. :class:`Race` puts programs on it with a forced or searched
schedule. For a test that wants to hold one path at an exact point,
:class:`Stepper` drives it trap by trap: stop a migration while its migration
entries are installed, run another system call to completion, and then let the
migration finish -- the same generators, the same traps, no second copy of any path.

The rest reads the machine as a debugger would, without running the kernel, for
what no /proc or /sys file shows (counters a user reads come from the files:
``machine.fs``, :meth:`~thpsim.api.Machine.vmstat`): :func:`memory_word` (what a
fresh CPU would load), :func:`writable_entries`, :func:`page_tables`,
:func:`describe_entry` and :func:`table_owners` (page-table entries, decoded),
:func:`poisoned_frames`, :func:`vmas`, :func:`mm_counters`, :func:`node_stat`,
:func:`node_free_pages`. Each takes what the API hands out -- the
:class:`~thpsim.api.Machine`, or a process's address space as its
:class:`~thpsim.api.Process`, :class:`~thpsim.api.Thread` or
:class:`~thpsim.api.Syscalls` -- never the kernel's structures behind them.

Tools (stress, scenarios, the CLI) import the kernel only through this module,
:mod:`thpsim.api`, :mod:`thpsim`, :mod:`thpsim.errors` and :mod:`thpsim.profiles`,
and touch only the public attributes of the
API's objects (tests/test_layers.py checks both); this module may reach inside.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from thpsim.api import Syscalls
from thpsim.arch.x86_64.pgtable import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    _PAGE_PSE,
    _PAGE_RW,
    _PAGE_SOFT_DIRTY,
    HPAGE_PMD_SIZE,
    PAGE_SHIFT,
    PGDIR_SHIFT,
    PMD_SHIFT,
    PTE_PFN_MASK,
    PUD_SHIFT,
    pmd_pfn,
    pmd_trans_huge,
    pmd_write,
    pte_pfn,
    pte_present,
    pte_write,
    table_entry_pfn,
)
from thpsim.arch.x86_64.swapops import is_swap_pmd
from thpsim.errors import IntegrityError, KernelBug
from thpsim.fs.modeled_time import THPSIM_DEBUGFS
from thpsim.hw.cost import parse_table, parse_usage
from thpsim.kernel import interleave
from thpsim.kernel.interleave import DONE, Execution, Failure, Op, Program, innermost_function
from thpsim.kernel.sched import PREEMPT, KernelPath, Schedule, Scheduler, Spin, Trap, WaitOn
from thpsim.kernel.schedulers import DfsScheduler, ReplayScheduler, make_scheduler
from thpsim.mm.gup import follow_page_info
from thpsim.mm.mm_types import MM_COUNTER_NAMES
from thpsim.mm.page_alloc import node_free_pages as _node_free_pages
from thpsim.mm.page_flags import F_dirty, F_hwpoison, F_offline
from thpsim.mm.pgtable_generic import lookup_pmd
from thpsim.mm.vmstat import NODE_STAT_ITEMS

__all__ = [
    "Stepper", "Race", "assert_preempts", "assert_no_preempts",
    # the interleaving driver and its schedulers
    "Op", "Program", "Execution", "Failure", "run_interleaved", "thread_program", "DONE",
    "innermost_function",
    "Schedule", "Scheduler", "make_scheduler", "ReplayScheduler", "DfsScheduler",
    "PREEMPT", "KernelPath", "Syscalls",
    # reading the machine
    "memory_word", "writable_entries", "written_since_clean", "page_tables", "describe_entry",
    "table_owners",
    "LEVEL_NAME", "LEVEL_SHIFT", "poisoned_frames", "vmas", "mm_counters", "node_stat",
    "node_free_pages", "integrity_failure",
    # a system call held mid-way
    "PausedCall", "pause", "migration_entry_at",
    # modeled time (hw/cost.py), read from the machine's /sys/kernel/debug/thpsim files
    "modeled_time",
]


def run_interleaved(machine: Any, programs: list[Program], scheduler: Scheduler,
                    seed: int = 0, **kw: Any) -> Execution:
    """Run ``programs`` on ``machine``'s kernel under ``scheduler`` (its new_execution()
    already called): the interleaving driver, kernel/interleave.py run_interleaved(),
    whose keyword arguments (max_steps, log, on_step, log_limit) ``kw`` passes on."""
    return interleave.run_interleaved(machine.kernel, programs, scheduler, seed, **kw)


def thread_program(thread: Any, ops: list[Op]) -> Program:
    """What ``thread`` (a :class:`~thpsim.api.Thread`, or a
    :class:`~thpsim.api.Syscalls`) runs on its CPU: each of ``ops`` a system call (or
    user access) of the thread through the kernel entry (:meth:`Machine.syscall
    <thpsim.api.Machine.syscall>`: pending signals before and after, lockdep_sys_exit()),
    as the API's blocking methods run theirs."""
    m = thread.machine
    task = thread.task
    return Program(task.cpu, task, [Op(op.name, lambda op=op: m.syscall(task, op.start()))
                                    for op in ops])


class Stepper:
    """Drive one kernel path step by step, as ``task`` (``current``)."""

    def __init__(self, ctx: Any, gen: Generator[Trap, None, Any], task: Any = None):
        self.ctx = ctx
        self.gen = gen
        self.task = task
        self.done = False
        self.result: Any = None
        self.trap: Trap | None = None
        self.steps = 0

    def step(self) -> Trap | None:
        """Run to the next trap; None when the path returned."""
        if self.done:
            return None
        if isinstance(self.trap, WaitOn) and not self.trap.cond():
            return self.trap  # still blocked
        prev = self.ctx.current
        self.ctx.current = self.task
        try:
            self.trap = self.gen.send(None)
            self.steps += 1
            return self.trap
        except StopIteration as stop:
            self.done = True
            self.result = stop.value
            self.trap = None
            return None
        finally:
            self.ctx.current = prev

    def run_until(self, pred: Callable[[], bool], limit: int = 100_000) -> None:
        """Step until ``pred()`` holds (checked after each step)."""
        for _ in range(limit):
            if pred():
                return
            t = self.step()
            if t is None and not pred():
                raise AssertionError("the path ended before the condition held")
            if isinstance(t, WaitOn) and not t.cond():
                raise AssertionError(f"the path blocked on {t!r} before the condition held")
        raise AssertionError("condition never held")

    def finish(self, limit: int = 1_000_000) -> Any:
        """Run to completion; a wait that cannot end or a spin is a deadlock."""
        for _ in range(limit):
            t = self.step()
            if t is None:
                return self.result
            if isinstance(t, Spin) or isinstance(t, WaitOn) and not t.cond():
                raise KernelBug(f"path blocked on {t!r} with nothing else running")
        raise KernelBug("path did not finish")


class PausedCall:
    """A system call held inside the kernel (what :func:`pause` gives): ``steps``
    taken so far, ``trap`` (where it stands), ``result`` once it ended."""

    def __init__(self, thread: Any, gen: Generator[Trap, None, Any]):
        m = thread.machine
        self._machine = m
        self._stepper = Stepper(m.kernel, m.syscall(thread.task, gen), thread.task)

    @property
    def steps(self) -> int:
        return self._stepper.steps

    @property
    def trap(self) -> Trap | None:
        return self._stepper.trap

    @property
    def done(self) -> bool:
        return self._stepper.done

    @property
    def result(self) -> Any:
        return self._stepper.result

    def run_until(self, until: Callable[[], bool], limit: int = 100_000) -> None:
        """Step the call until ``until()`` holds (AssertionError if it ends first)."""
        self._stepper.run_until(until, limit)

    def finish(self) -> Any:
        """Run the call to its end; returns what the system call returned (a negative
        errno for an error, as the kernel returns it)."""
        return self._stepper.finish()


class pause:  # noqa: N801 - used as a function: ``with pause(...) as call``
    """Hold a system call where ``until()`` first holds; inside the ``with`` block the
    machine can be read and used (``machine.fs``, other processes' calls) while the
    call stands there; leaving the block runs it to its end. A mid-migration view::

        t = p.threads[0]
        with pause(t, t.sys.move_pages(0, [a], [1], MPOL_MF_MOVE),
                   until=lambda: migration_entry_at(p, a) == "pmd") as call:
            word = m.fs.read(f"/proc/{p.pid}/pagemap", offset=a // 4096 * 8, length=8)
        assert call.result == 0

    ``gen`` is a generator form of a system call (``thread.sys.*``, the same kernel
    path the blocking method runs). The call runs as ``thread`` with the kernel entry
    and exit around it; nothing else is scheduled meanwhile unless the block runs it.
    """

    def __init__(self, thread: Any, gen: Generator[Trap, None, Any],
                 until: Callable[[], bool], limit: int = 100_000):
        self.call = PausedCall(thread, gen)
        self.until = until
        self.limit = limit

    def __enter__(self) -> PausedCall:
        self.call.run_until(self.until, self.limit)
        return self.call

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.call.finish()


def migration_entry_at(owner: Any, addr: int) -> str | None:
    """``"pmd"`` or ``"pte"`` if a migration entry maps ``addr`` in the address space
    of ``owner`` (a Process, Thread or Syscalls), else None."""
    mm = _mm_of(owner)
    swp = mm.kernel.swp
    pmd = lookup_pmd(mm, addr)
    if pmd is None:
        return None
    v = pmd[0][pmd[1]]
    if is_swap_pmd(v):
        return "pmd" if swp.is_pmd_migration_entry(v) else None
    if not v or pmd_trans_huge(v):
        return None
    e = mm.kernel.mem.tables[table_entry_pfn(v)][(addr >> PAGE_SHIFT) & 511]
    return "pte" if e and not pte_present(e) and swp.is_pte_migration_entry(e) else None


def _count_preempts(gen: Generator[Trap, None, Any]) -> int:
    n = 0
    try:
        t = gen.send(None)
        while True:
            if t is PREEMPT:
                n += 1
            t = gen.send(None)
    except StopIteration:
        return n


def assert_preempts(gen: Generator[Trap, None, Any]) -> None:
    """The path must offer at least one preemption point."""
    assert _count_preempts(gen) > 0, "expected the path to preempt"


def assert_no_preempts(gen: Generator[Trap, None, Any]) -> None:
    assert _count_preempts(gen) == 0, "expected the path never to preempt"


class _ProgramBuilder:
    """The operations one CPU runs in a :class:`Race`."""

    def __init__(self, race: Race, cpu: int, thread: Any):
        self.race = race
        self.cpu = cpu
        self.thread = thread
        self.ops: list[Any] = []

    def store(self, addr: int, value: int) -> _ProgramBuilder:
        sys = self.thread.sys
        self.ops.append(Op(f"store@{addr:#x}", lambda: sys.store(addr, value)))
        return self

    def load(self, addr: int) -> _ProgramBuilder:
        sys = self.thread.sys

        def start():
            value, _ = yield from sys.load(addr)
            return value

        self.ops.append(Op(f"load@{addr:#x}", start))
        return self

    def move_pages(self, pages: list[int], nodes: list[int] | None, flags: int = 0,
                   pid: int = 0) -> _ProgramBuilder:
        """The operation's result is ``(ret, status)``."""
        sys = self.thread.sys
        self.ops.append(Op("move_pages", lambda: sys.move_pages(pid, pages, nodes, flags)))
        return self

    def syscall(self, name: str, *args: Any) -> _ProgramBuilder:
        """Any system call of :class:`~thpsim.api.Syscalls` by name (munmap, mprotect,
        madvise, mremap, mmap, mlock, munlock, mbind, ...), with its arguments."""
        body = getattr(self.thread.sys, name, None)
        if name.startswith("_") or body is None:
            raise ValueError(f"no syscall body {name!r}")
        self.ops.append(Op(name, lambda: body(*args)))
        return self

    def call(self, name: str, start: Callable[[], Generator[Trap, None, Any]]) -> _ProgramBuilder:
        """Any kernel path (a generator factory), e.g. a migration of a list of pages."""
        self.ops.append(Op(name, start))
        return self


class Race:
    """A few threads' operations on one machine, run under one schedule.

    ::

        race = Race(m)
        race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
        race.on(1, t1).store(a, 7).load(a)
        ex = race.run(schedule="s1.0.0r3_1r2_0")     # or policy="pct", seed=3
        assert ex.result(1, 1) == 7                   # what CPU1's second op saw

    A run mutates the machine: build a new Race (and machine) for each run.
    ``ex.failure`` carries the schedule that replays a failing run.
    """

    def __init__(self, machine: Any):
        self.machine = machine
        self.programs: dict[int, _ProgramBuilder] = {}

    def on(self, cpu: int, thread: Any) -> _ProgramBuilder:
        if thread.task.cpu != cpu:
            raise ValueError(f"{thread!r} is bound to CPU{thread.task.cpu}, not CPU{cpu}")
        b = self.programs.get(cpu)
        if b is None:
            b = self.programs[cpu] = _ProgramBuilder(self, cpu, thread)
        return b

    def programs_list(self) -> list[Program]:
        """The programs, in the order their CPUs were first named.

        Unlike :func:`thread_program` (stress), Race's ops run without the kernel entry
        around them: a process-wide signal sent by one op is left for the op that
        tests it instead of being dequeued at the sender's syscall exit (which thread
        takes a group signal is complete_signal()'s choice, not modelled)."""
        return [Program(b.cpu, b.thread.task, b.ops) for b in self.programs.values()]

    def run(self, schedule: str | None = None, policy: str = "random", seed: int = 0,
            scheduler: Any = None, **policy_args: Any) -> Execution:
        """Run once. ``scheduler``: an explicit policy object whose new_execution() the
        caller already called (to drive a DfsScheduler across fresh Races)."""
        if scheduler is not None:
            sched = scheduler
        elif schedule is not None:
            sched = make_scheduler(schedule)
            seed = sched.schedule.seed
            sched.new_execution()
        else:
            sched = make_scheduler(policy, seed, **policy_args)
            sched.new_execution()
        return run_interleaved(self.machine, self.programs_list(), sched, seed)


# ---------------------------------------------------------------- reading the machine
def _mm_of(owner: Any) -> Any:
    """The address space of a Process, Thread or Syscalls (``thread.sys``, or
    ``Syscalls(machine, task)`` for a child a generator fork returned)."""
    return owner.task.mm


def memory_word(owner: Any, addr: int) -> int | None:
    """What a fresh CPU would read at ``addr`` (walk the tables, no TLB); None if unmapped.
    ``owner``: a Process, Thread or Syscalls of the address space."""
    mm = _mm_of(owner)
    vma = mm.find_vma(addr)
    if vma is None or vma.vm_start > addr:
        return None
    pfn = follow_page_info(vma, addr, False)[0]
    return None if pfn < 0 else mm.kernel.mem.contents[pfn]


def writable_entries(owner: Any, start: int, end: int) -> list[str]:
    """Writable PMDs/PTEs and write migration entries in [start, end) of the address
    space of ``owner`` (a Process, Thread or Syscalls)."""
    mm = _mm_of(owner)
    ctx = mm.kernel
    swp = ctx.swp
    out = []
    addr = start
    while addr < end:
        pmd = lookup_pmd(mm, addr)
        if pmd is not None:
            v = pmd[0][pmd[1]]
            if is_swap_pmd(v):
                if swp.is_writable_migration_entry(swp.pmd_to_swp_entry(v)):
                    out.append(f"{addr:#x} (write PMD migration entry)")
            elif pmd_trans_huge(v):
                if pmd_write(v):
                    out.append(f"{addr:#x} (PMD)")
            elif v:
                t = ctx.mem.tables[table_entry_pfn(v)]
                for i in range(512):
                    e = t[i]
                    sub = addr + (i << PAGE_SHIFT)
                    if pte_present(e) and pte_write(e):
                        out.append(f"{sub:#x} (PTE)")
                    elif e and swp.is_pte_migration_entry(e) and swp.is_writable_migration_entry(
                        swp.pte_to_swp_entry(e)
                    ):
                        out.append(f"{sub:#x} (write PTE migration entry)")
        addr += HPAGE_PMD_SIZE
    return out


def written_since_clean(owner: Any, addr: int) -> bool | None:
    """Whether the kernel still knows that the page at ``addr`` was written since it
    was last cleaned (MADV_FREE, writeback): PG_dirty on its folio, or D in the PMD or
    PTE mapping it (what reclaim's try_to_unmap_one() moves to the page before it
    decides whether a lazily freed page may be discarded). None if nothing maps it;
    a migration entry counts as clean (4.14 keeps no D in it)."""
    mm = _mm_of(owner)
    ctx = mm.kernel
    vma = mm.find_vma(addr)
    if vma is None or vma.vm_start > addr:
        return None
    pmd = lookup_pmd(mm, addr)
    if pmd is None:
        return None
    v = pmd[0][pmd[1]]
    if pmd_trans_huge(v) and v & _PAGE_PRESENT:
        leaf = v
    elif v and not is_swap_pmd(v) and not pmd_trans_huge(v):
        leaf = ctx.mem.tables[table_entry_pfn(v)][(addr >> PAGE_SHIFT) & 511]
        if not pte_present(leaf):
            leaf = 0
    else:
        leaf = 0
    pfn = follow_page_info(vma, addr, False)[0]
    if pfn < 0:
        return None
    head = ctx.pages.compound_head(pfn)
    return bool(leaf & _PAGE_DIRTY) or bool(ctx.pages.flags[head] & F_dirty)


#: page-table level (4 = PGD ... 1 = PTE) -> its name, and the shift of one entry's span
LEVEL_NAME = {4: "pgd", 3: "pud", 2: "pmd", 1: "pte"}
LEVEL_SHIFT = {4: PGDIR_SHIFT, 3: PUD_SHIFT, 2: PMD_SHIFT, 1: PAGE_SHIFT}


def page_tables(machine: Any) -> dict[int, tuple[int, bytes]]:
    """Every page-table frame of the machine, in allocation order: table pfn -> (level,
    4 = PGD ... 1 = PTE; its 512 entry words as bytes, a copy)."""
    return {pfn: (t.level, t.tobytes()) for pfn, t in machine.kernel.mem.tables.items()}


def describe_entry(machine: Any, level: int, v: int) -> str:
    """A kernel developer's reading of one entry word: ``none``, a table pointer, a
    present mapping (PFN, huge, rw/ro, A, D, soft-dirty, protnone), or a non-present
    swap-format entry (migration with its flavour, hwpoison, swap)."""
    if v == 0:
        return "none"
    if level > 2 or level == 2 and v & _PAGE_PRESENT and not v & _PAGE_PSE:
        return f"table at pfn {(v & PTE_PFN_MASK) >> PAGE_SHIFT:#x}"
    present = v & (_PAGE_PRESENT | _PAGE_PROTNONE | (_PAGE_PSE if level == 2 else 0))
    if not present:
        swp = machine.kernel.swp
        entry = swp.pte_to_swp_entry(v)
        sd = " soft-dirty" if swp.pte_swp_soft_dirty(v) else ""
        if swp.is_migration_entry(entry):
            kind = ("write" if swp.is_writable_migration_entry(entry) else
                    "read-exclusive" if swp.is_readable_exclusive_migration_entry(entry)
                    else "read")
            return f"migration entry ({kind}) pfn {swp.pfn_swap_entry_pfn(entry):#x}{sd}"
        if swp.is_hwpoison_entry(entry):
            return f"hwpoison entry pfn {swp.pfn_swap_entry_pfn(entry):#x}"
        return f"swap entry {entry:#x}{sd}"
    pfn = pmd_pfn(v) if level == 2 else pte_pfn(v)
    bits = ["huge" if level == 2 else "",
            "rw" if v & _PAGE_RW else "ro",
            "A" if v & _PAGE_ACCESSED else "",
            "D" if v & _PAGE_DIRTY else "",
            "soft-dirty" if v & _PAGE_SOFT_DIRTY else "",
            "" if v & _PAGE_PRESENT else "protnone" if v & _PAGE_PROTNONE
            else "invalidated"]  # a huge PMD after pmdp_invalidate()
    return f"pfn {pfn:#x} " + " ".join(b for b in bits if b)


def table_owners(machine: Any) -> dict[int, tuple[int, int, int]]:
    """Every page table reachable from a live task's PGD: table pfn -> (mm id, level,
    first virtual address it maps)."""
    ctx = machine.kernel
    out: dict[int, tuple[int, int, int]] = {}
    tables = ctx.mem.tables
    seen: set[int] = set()
    for task in ctx.tasks.values():
        mm = task.mm
        if mm is None or mm.mm_id in seen:
            continue
        seen.add(mm.mm_id)
        stack = [(mm.pgd, 4, 0)]
        while stack:
            t, level, base = stack.pop()
            out[t.pfn] = (mm.mm_id, level, base)
            if level == 1:
                continue
            for i in np.nonzero(np.frombuffer(t, dtype=np.uint64))[0]:
                v = int(t[i])
                if not v & 1 or level == 2 and v & _PAGE_PSE:
                    continue
                child = tables.get((v & PTE_PFN_MASK) >> PAGE_SHIFT)
                if child is not None:
                    stack.append((child, level - 1, base + (int(i) << LEVEL_SHIFT[level])))
    return out


def poisoned_frames(machine: Any) -> list[int]:
    """The frames marked hardware-poisoned outside offline memory blocks, in PFN order
    (what unpoison-pfn can give back; a frame in an offline block waits for it).

    No file says this in both eras: 4.14's /proc/kpageflags has no OFFLINE bit, and a
    read of it is a system call, where the stress harness asks between two steps of
    a kernel path."""
    flags = machine.kernel.pages.flags_np
    return np.nonzero((flags & F_hwpoison != 0) & (flags & F_offline == 0))[0].tolist()


def vmas(owner: Any) -> list[tuple[int, int, int]]:
    """The VMAs of the address space of ``owner`` (a Process, Thread or Syscalls), in
    address order: (vm_start, vm_end, vm_flags)."""
    return [(v.vm_start, v.vm_end, v.vm_flags) for v in _mm_of(owner).mmap]


def mm_counters(owner: Any) -> dict[str, int]:
    """The RSS counters of the address space of ``owner`` (a Process, Thread or
    Syscalls) by name (MM_FILEPAGES, MM_ANONPAGES, ...), in pages, in the kernel's
    order."""
    mm = _mm_of(owner)
    return {name: mm.rss_stat[i] for i, name in enumerate(MM_COUNTER_NAMES)}


def node_stat(machine: Any, nid: int) -> dict[str, int]:
    """Node ``nid``'s anonymous-memory node_stat items (nr_anon_pages, nr_anon_thps, ...)
    in pages, the unit the model counts them in."""
    return {item: machine.kernel.vmstat.node[nid][item] for item in NODE_STAT_ITEMS}


def node_free_pages(machine: Any, nid: int) -> int:
    """The pages on node ``nid``'s free lists (what its meminfo's MemFree counts)."""
    return _node_free_pages(machine.kernel, nid)


def integrity_failure(machine: Any) -> str | None:
    """The invariant checker's verdict on ``machine`` as text: the failure message
    (an invariant broken, or a kernel bug the check ran into), or None."""
    try:
        machine.check_integrity()
    except (IntegrityError, KernelBug) as e:
        return str(e)
    return None


def modeled_time(machine: Any, sections: tuple[str, ...] = ("ns", "events", "usage", "params")
                 ) -> dict[str, Any] | None:
    """The cost model's files (fs/modeled_time.py) read through ``machine.fs`` and
    parsed, or None when the machine has no cost model (``modeled_time=False``):

    ``{"ns": {category: {"cpu0": ns, ..., "total": ns}}, "events": {event: {...}},
    "usage": {parameter: (count, linear value)}, "params": {name: value}}``, only the
    ``sections`` asked for. The modeled time of a stretch of a run is the difference
    of two readings.
    """
    fs = machine.fs
    if not fs.exists(THPSIM_DEBUGFS):
        return None
    out: dict[str, Any] = {}
    if "ns" in sections:
        out["ns"] = parse_table(fs.read(f"{THPSIM_DEBUGFS}/modeled_time"))
    if "events" in sections:
        out["events"] = parse_table(fs.read(f"{THPSIM_DEBUGFS}/modeled_events"))
    if "usage" in sections:
        out["usage"] = parse_usage(fs.read(f"{THPSIM_DEBUGFS}/cost_usage"))
    if "params" in sections:
        params: dict[str, float] = {}
        for line in fs.read(f"{THPSIM_DEBUGFS}/cost_params").splitlines():
            if line and not line.startswith("#"):
                k, v = line.split()
                params[k] = float(v)
        out["params"] = params
    return out
