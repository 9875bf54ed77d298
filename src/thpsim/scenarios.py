"""Named race scenarios: a few CPUs' operations around one THP migration.

Model-only. Each scenario builds a small machine, the operations each CPU runs
(a :class:`~thpsim.testing.Race`), and a check of what must hold at the end.
Any scheduler can run it; a failure prints the one command that replays it::

    thpsim replay --scenario stale_tlb --profile seed --switch bug_b3_pmd_migration_no_flush=1 \\
        --schedule s1.0.0r9

The scenarios of the races the seed series fixed (kernel-semantics.md §4, §6):
``fault_vs_migration`` (a fault waits on the PMD migration entry),
``stale_tlb`` (a store through a stale huge TLB entry; B3 without the flush),
``munmap_vs_migration`` (no leaked deposited table), ``fork_vs_migration``
(the child's copy stays isolated), ``mprotect_vs_migration`` (a read-only range
never ends up writable), ``dontneed_vs_migration`` (MADV_DONTNEED drops the THP
whatever state its PMD is in), ``madvise_free_vs_migration`` (MADV_FREE meets the
PMD migration entry; nothing leaks). And around the entry's bits (§2, §6 B6-B11):
``fork_split_vs_migration`` (a forked THP's entry split by a partial mprotect stays
copy-on-write), ``softdirty_vs_migration`` (a page written since clear_refs stays
soft-dirty across fork and mprotect), ``knl_softdirty_vs_migration`` (on a machine
with the Knights Landing A/D erratum, a store that faults adds no soft-dirty),
``free_vs_migration`` (a store after MADV_FREE keeps the THP dirty).

And of the bugs that followed it (docs/zoo/b12.md ... b20.md): ``faults_vs_migration``
(faults waiting on the entry must not make the move fail; B17),
``migrate_to_fragmented_node`` (no 2 MiB block free: the THP is split, not -ENOMEM;
B18, one CPU), ``smaps_vs_migration`` (a THP under migration still counts in smaps;
B20), ``mlock_fork_vs_migration`` (no mlocked THP mapped by PTEs; B12),
``split_vs_migration_after_fork`` (split_huge_page meets another THP's PMD migration
entry; B16), ``soft_offline_vs_migration`` (GUP-fast meets the PMD migration entry;
B19).
"""

from __future__ import annotations

import argparse
import errno
import json
import shlex
from collections.abc import Callable
from typing import Any

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_NOHUGEPAGE,
    MADV_SOFT_OFFLINE,
    MAP_ANONYMOUS,
    MAP_LOCKED,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    ConfigError,
    DeliveredSignal,
    IntegrityError,
    KernelBug,
    Machine,
    cliutil,
    errors,
)
from thpsim.testing import (
    DfsScheduler,
    Execution,
    Failure,
    Race,
    ReplayScheduler,
    Scheduler,
    Syscalls,
    integrity_failure,
    make_scheduler,
    memory_word,
    node_free_pages,
    writable_entries,
    written_since_clean,
)

__all__ = ["SCENARIOS", "ScenarioRun", "run_scenario", "explore", "format_failure",
           "replay_command", "parse_switch", "add_profile_arguments", "profile_switches"]

MB = 1 << 20


class ScenarioRun:
    """A built scenario: the machine, what each CPU runs, and the final check."""

    def __init__(self, race: Race, check: Callable[[Execution], str | None]):
        self.machine = race.machine
        self.race = race
        self.check = check


SCENARIOS: dict[str, Callable[..., ScenarioRun]] = {}


def scenario(fn: Callable[..., ScenarioRun]) -> Callable[..., ScenarioRun]:
    SCENARIOS[fn.__name__] = fn
    return fn


# ---------------------------------------------------------------- helpers
def _machine(profile: str, switches: dict[str, Any]) -> Machine:
    return Machine(nodes={0: 32 * MB, 1: 32 * MB}, block_size=32 * MB, cpus=3,
                   profile=profile, shadow=False, **switches)


def _thp(p: Any) -> int:
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    return (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)


def _thp_being_migrated(profile: str, switches: dict[str, Any]) -> tuple[Race, Any, int]:
    """The setup every scenario shares: a process whose thread on CPU1 wrote 1 into a
    PMD-mapped THP at ``a``, and a race in which a second thread, on CPU0, moves the
    THP to node 1 with move_pages(2). Returns (race, process, a); CPU1's operations
    are the scenario's."""
    m = _machine(profile, switches)
    p = m.spawn(cpu=1)
    a = _thp(p)
    p.threads[0].write(a, 1)
    t0 = p.clone(cpu=0)
    race = Race(m)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
    return race, p, a


# ---------------------------------------------------------------- scenarios
@scenario
def fault_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 stores to a THP and loads it back while CPU0 migrates the THP to node 1."""
    race, p, a = _thp_being_migrated(profile, switches)
    off = a + 5 * PAGE_SIZE
    race.on(1, p.threads[0]).store(off, 7).load(off)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 1) != 7:
            return f"CPU1 loaded {ex.result(1, 1)!r} after storing 7"
        if memory_word(p, off) != 7:
            return f"lost write: memory holds {memory_word(p, off)!r}, CPU1 stored 7"
        if ex.result(0, 0) != (0, [1]):
            return f"move_pages returned {ex.result(0, 0)!r}"
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


@scenario
def stale_tlb(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 holds a huge TLB entry for the THP and stores through it while CPU0 migrates.

    With the flush (merged 4.14) the store either reaches the old page before the
    copy or faults and waits; without it (B3) it can land in the old page after the
    copy and be lost.
    """
    # CPU1's TLB caches the huge mapping, writable and dirty, from the setup's store
    race, p, a = _thp_being_migrated(profile, switches)
    race.on(1, p.threads[0]).store(a, 2)

    def check(ex: Execution) -> str | None:
        got = memory_word(p, a)
        if got != 2:
            return f"lost write: CPU1 stored 2 at {a:#x}, memory holds {got!r}"
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


@scenario
def munmap_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 unmaps the THP while CPU0 migrates it: no table, page or RSS may leak."""
    race, p, a = _thp_being_migrated(profile, switches)
    race.on(1, p.threads[0]).syscall("munmap", a, HPAGE_PMD_SIZE)

    def check(ex: Execution) -> str | None:
        bad = integrity_failure(race.machine)
        if bad:
            return bad
        leaks = p.exit()
        if leaks:
            return "; ".join(leaks)
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


@scenario
def fork_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 forks while CPU0 migrates the THP; then the child stores and the parent loads."""
    race, p, a = _thp_being_migrated(profile, switches)
    m = race.machine
    holder: dict[str, Any] = {}

    def fork():
        child = yield from p.threads[0].sys.fork(2)
        if isinstance(child, int):
            return child
        holder["child"] = Syscalls(m, child)  # its system calls; no API object adopts it
        return holder["child"].tid

    def child_store():
        return (yield from holder["child"].store(a, 9))

    race.on(1, p.threads[0]).call("fork", fork).call("child store", child_store).load(a)

    def check(ex: Execution) -> str | None:
        child = holder.get("child")
        if ex.result(1, 2) != 1:
            return f"the parent loaded {ex.result(1, 2)!r}: the child's store leaked into it"
        if memory_word(child, a) != 9:
            return f"the child's store was lost: {memory_word(child, a)!r}"
        if memory_word(p, a) != 1:
            return f"the parent's memory changed: {memory_word(p, a)!r}"
        return integrity_failure(m)  # the checker finds the child in the task table

    return ScenarioRun(race, check)


@scenario
def mprotect_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 makes the THP read-only while CPU0 migrates it: nothing may stay writable."""
    race, p, a = _thp_being_migrated(profile, switches)
    race.on(1, p.threads[0]).syscall("mprotect", a, HPAGE_PMD_SIZE, PROT_READ)

    def check(ex: Execution) -> str | None:
        w = writable_entries(p, a, a + HPAGE_PMD_SIZE)
        if w:
            return f"read-only range still writable at {w}"
        try:
            p.threads[0].write(a, 5)
            return "a store to the read-only range succeeded"
        except DeliveredSignal:
            pass
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


#: pagemap's soft-dirty bit (Documentation/admin-guide/mm/soft-dirty.rst)
PM_SOFT_DIRTY = 1 << 55


def _soft_dirty(p: Any, addr: int) -> bool:
    """Bit 55 of ``addr``'s /proc/PID/pagemap entry, as the process reads it."""
    raw = p.fs.read("/proc/self/pagemap", offset=(addr // PAGE_SIZE) * 8, length=8)
    return bool(int.from_bytes(raw, "little") & PM_SOFT_DIRTY)


@scenario
def fork_split_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """After a fork, CPU1 makes the first half of the shared THP read-only (splitting
    its PMD, or the PMD migration entry) while CPU0 migrates it, then stores into the
    second half: the child must still read the fork-time value there."""
    m = _machine(profile, switches)
    p = m.spawn(cpu=1)
    a = _thp(p)
    b = a + HPAGE_PMD_SIZE // 2
    p.threads[0].write(a, 1)
    p.threads[0].write(b, 1)
    child = p.fork()  # the THP is shared copy-on-write; its PMDs are read-only
    t0 = p.clone(cpu=0)
    race = Race(m)
    # a page mapped by two processes moves only with MPOL_MF_MOVE_ALL (CAP_SYS_NICE)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE_ALL)
    race.on(1, p.threads[0]).syscall("mprotect", a, HPAGE_PMD_SIZE // 2, PROT_READ).store(b, 5)

    def check(ex: Execution) -> str | None:
        if memory_word(child, b) != 1:
            return (f"COW broken: the parent stored 5 at {b:#x} and the child reads "
                    f"{memory_word(child, b)!r}, not the fork-time 1")
        if memory_word(p, b) != 5:
            return f"lost write: the parent's memory holds {memory_word(p, b)!r}"
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def softdirty_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """A THP written after clear_refs (4) is being migrated while CPU1 forks and then
    makes it read-only: pagemap must still show it soft-dirty (CRIU's pre-dump)."""
    race, p, a = _thp_being_migrated(profile, switches)
    m = race.machine
    p.fs.write("/proc/self/clear_refs", "4")
    p.threads[0].write(a, 2)  # written since clear_refs: soft-dirty
    holder: dict[str, Any] = {}

    def fork():
        child = yield from p.threads[0].sys.fork(2)
        if isinstance(child, int):
            return child
        holder["child"] = Syscalls(m, child)
        return holder["child"].tid

    race.on(1, p.threads[0]).call("fork", fork).syscall("mprotect", a, HPAGE_PMD_SIZE,
                                                         PROT_READ)

    def check(ex: Execution) -> str | None:
        if not _soft_dirty(p, a):
            return (f"soft-dirty lost: {a:#x} was written after clear_refs, pagemap "
                    f"bit 55 reads 0")
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def knl_softdirty_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """On a machine with the Knights Landing A/D erratum (``knl_ad_erratum``), CPU1
    stores into a clean read-only THP (a write barrier: SIGSEGV expected) while CPU0
    migrates it: the page was not written since clear_refs (4), so pagemap must not
    show it soft-dirty. (Clean, by MADV_FREE: 6.1+ remove_migration_pmd() restores a
    dirty page's D with pmd_mkdirty(), which on x86 sets soft-dirty too.)"""
    m = _machine(profile, {"knl_ad_erratum": True, **switches})
    p = m.spawn(cpu=1)
    a = _thp(p)
    p.threads[0].write(a, 1)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    p.mprotect(a, HPAGE_PMD_SIZE, PROT_READ)
    p.fs.write("/proc/self/clear_refs", "4")
    t0 = p.clone(cpu=0)
    race = Race(m)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
    sys1 = p.threads[0].sys

    def store_ro():
        try:
            yield from sys1.store(a, 2)
        except DeliveredSignal as e:
            return str(e)
        return "stored"

    race.on(1, p.threads[0]).call("store to read-only", store_ro)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 0) == "stored":
            return f"a store to the read-only {a:#x} succeeded"
        if _soft_dirty(p, a):
            return (f"spurious soft-dirty: {a:#x} was not written since clear_refs, "
                    f"pagemap bit 55 reads 1")
        if memory_word(p, a) != 1:
            return f"memory changed: {memory_word(p, a)!r}"
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def free_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """The owner lazily frees a THP (MADV_FREE), then CPU1 stores into it while CPU0
    migrates it: the store must leave the THP dirty (PG_dirty or a dirty mapping), or
    reclaim could discard it as clean and the store would read back as zero."""
    race, p, a = _thp_being_migrated(profile, switches)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_FREE)
    race.on(1, p.threads[0]).store(a, 2)

    def check(ex: Execution) -> str | None:
        if memory_word(p, a) != 2:
            return f"lost write: memory holds {memory_word(p, a)!r}"
        if not written_since_clean(p, a):
            return (f"dirty bit lost: {a:#x} was stored to after MADV_FREE, but neither "
                    f"the page nor its mapping is dirty (reclaim would discard it)")
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


@scenario
def dontneed_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 drops the THP with MADV_DONTNEED while CPU0 migrates it, then loads it: 0."""
    race, p, a = _thp_being_migrated(profile, switches)
    race.on(1, p.threads[0]).syscall("madvise", a, HPAGE_PMD_SIZE, MADV_DONTNEED).load(a)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 0) != 0:
            return f"madvise(MADV_DONTNEED) returned {ex.result(1, 0)!r}"
        if ex.result(1, 1) != 0:
            return (f"stale data after MADV_DONTNEED: CPU1 loaded {ex.result(1, 1)!r} at "
                    f"{a:#x}, expected 0")
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


@scenario
def madvise_free_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 marks the THP lazily free (MADV_FREE) while CPU0 migrates it; nothing reclaims,
    so the data stays and nothing may leak."""
    race, p, a = _thp_being_migrated(profile, switches)
    race.on(1, p.threads[0]).syscall("madvise", a, HPAGE_PMD_SIZE, MADV_FREE)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 0) != 0:
            return f"madvise(MADV_FREE) returned {ex.result(1, 0)!r}"
        got = memory_word(p, a)
        if got != 1:
            return f"lost write: memory at {a:#x} holds {got!r} after MADV_FREE, expected 1"
        bad = integrity_failure(race.machine)
        if bad:
            return bad
        leaks = p.exit()
        if leaks:
            return "; ".join(leaks)
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


@scenario
def faults_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """A forked child and its parent keep reading a THP they share while a thread of the
    parent moves it to node 1 (MPOL_MF_MOVE_ALL): the move must succeed.

    Faults that wait on a migration entry do not pin the page from 5.0 on; in 4.14
    they do, and a move that kept failing (-EAGAIN for 10 passes) is that era's
    documented outcome (``migration_entry_wait_no_ref``; B17).
    """
    m = _machine(profile, switches)
    p = m.spawn(cpu=1)
    a = _thp(p)
    p.threads[0].write(a, 1)
    child = p.fork(cpu=2)
    t0 = p.clone(cpu=0)
    race = Race(m)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE_ALL)
    for cpu, thread in ((1, p.threads[0]), (2, child.threads[0])):
        b = race.on(cpu, thread)
        for k in range(_FAULT_ROUNDS):
            b.load(a + k * PAGE_SIZE)

    def check(ex: Execution) -> str | None:
        for cpu in (1, 2):
            for k in range(_FAULT_ROUNDS):
                want = 1 if k == 0 else 0
                if ex.result(cpu, k) != want:
                    return f"CPU{cpu} loaded {ex.result(cpu, k)!r} at page {k}, not {want}"
        got = ex.result(0, 0)
        if got != (0, [1]):
            ret, status = got
            eagain = ret == 0 and status == [-errno.EAGAIN]
            if not (eagain and not m.profile.migration_entry_wait_no_ref):
                return (f"move_pages returned {got!r}: the THP, pinned by nothing but "
                        f"faults waiting on its migration entry, was not moved")
        for owner in (p, child):
            if memory_word(owner, a) != 1:
                return f"lost write: pid {owner.pid} reads {memory_word(owner, a)!r} at {a:#x}"
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def migrate_to_fragmented_node(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU0 moves a THP and a 4 KiB page to node 1, whose free memory is plenty but in
    pieces (another task filled it with 4 KiB pages and freed every other one): both
    must move, the THP split (4.17+). 4.14 documents -ENOMEM for the whole call
    instead (``migrate_thp_split_on_enomem``; B18). Not a race: one CPU runs, so
    every scheduler runs the one interleaving (a second CPU would multiply the
    search by the split's thousand preemption points and find nothing more)."""
    m = Machine(nodes={0: 32 * MB, 1: 4 * MB}, block_size=4 * MB, cpus=3,
                profile=profile, shadow=False, **switches)
    filler = m.spawn(cpu=2)
    n = 768
    b = filler.mmap(0, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    filler.madvise(b, n * PAGE_SIZE, MADV_NOHUGEPAGE)
    filler.mbind(b, n * PAGE_SIZE, MPOL_BIND, 1 << 1, 3)
    for i in range(n):
        filler.threads[0].write(b + i * PAGE_SIZE, i + 1)
    for i in range(0, n, 2):
        filler.madvise(b + i * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED)
    p = m.spawn(cpu=0)
    a = _thp(p)
    p.threads[0].write(a, 1)
    small = p.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    p.threads[0].write(small, 2)
    race = Race(m)
    race.on(0, p.threads[0]).move_pages([a, small], [1, 1], MPOL_MF_MOVE)

    def check(ex: Execution) -> str | None:
        got = ex.result(0, 0)
        if got != (0, [1, 1]):
            if not (got[0] == -errno.ENOMEM and not m.profile.migrate_thp_split_on_enomem):
                return (f"move_pages returned {got!r}: node 1 had "
                        f"{node_free_pages(m, 1)} free pages for 513")
        for addr, want in ((a, 1), (small, 2)):
            if memory_word(p, addr) != want:
                return f"lost write: {addr:#x} reads {memory_word(p, addr)!r}, not {want}"
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def smaps_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 reads its own smaps_rollup while CPU0 migrates its only THP: the THP counts
    whole in Rss and AnonHugePages, under migration or not (5.8+). 4.14 documents
    that a THP behind a PMD migration entry drops out (``smaps_pmd_migration_entry``;
    B20)."""
    race, p, a = _thp_being_migrated(profile, switches)
    m = race.machine
    sys1 = p.threads[0].sys

    def read_rollup():
        text = yield from sys1.read_file("/proc/self/smaps_rollup")
        return text

    race.on(1, p.threads[0]).call("read smaps_rollup", read_rollup)

    def check(ex: Execution) -> str | None:
        text = ex.result(1, 0)
        kb = {k: int(v.split()[0]) for k, _, v in
              (line.partition(":") for line in text.splitlines()[1:]) if v.strip()}
        rss, thp = kb.get("Rss"), kb.get("AnonHugePages")
        if (rss, thp) != (2048, 2048):
            if not ((rss, thp) == (0, 0) and not m.profile.smaps_pmd_migration_entry):
                return (f"smaps_rollup: Rss {rss} kB, AnonHugePages {thp} kB while the "
                        f"process maps one 2048 kB THP (under migration)")
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def mlock_fork_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """A parent mlocked a THP (MAP_LOCKED) and forked; the child mlocks one 4 KiB page of
    it on CPU1 (its PMD splits, the page is copied) while a thread of the parent moves
    the THP to node 1 (MPOL_MF_MOVE_ALL) on CPU0: the THP ends up mapped by the
    parent's PMD and the child's PTEs, so it must not stay mlocked, and Mlocked must
    add up (the test case of C:e125fe405abe, as a race; B12)."""
    m = _machine(profile, switches)
    p = m.spawn(cpu=0)
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(a + PAGE_SIZE, 1)
    child = p.fork(cpu=1)
    race = Race(m)
    race.on(1, child.threads[0]).syscall("mlock", a, PAGE_SIZE)
    race.on(0, p.threads[0]).move_pages([a], [1], MPOL_MF_MOVE_ALL)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 0) != 0:
            return f"the child's mlock returned {ex.result(1, 0)!r}"
        # the move may fail (-EAGAIN: the child's fault held a reference for every
        # pass); that is not what this scenario is about
        if ex.result(0, 0)[0] < 0:
            return f"move_pages returned {ex.result(0, 0)!r}"
        for owner in (p, child):
            if memory_word(owner, a + PAGE_SIZE) != 1:
                return f"lost write: pid {owner.pid} reads {memory_word(owner, a)!r}"
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def split_vs_migration_after_fork(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """After fork the child dropped the THP it shared (MADV_DONTNEED) and faulted its own
    at the same address. CPU1: the parent MADV_FREEs one page of its THP, which splits
    it (split_huge_page: the anon_vma walk visits the child's VMA too, where the other
    THP sits); CPU0: a thread of the child moves the child's THP to the other node. Nothing
    may crash, and both keep their data (the 6.15 report behind C:be6e843fc51a; B16)."""
    m = _machine(profile, switches)
    p = m.spawn(cpu=1)
    a = _thp(p)
    p.threads[0].write(a, 1)
    child = p.fork(cpu=2)
    child.madvise(a, HPAGE_PMD_SIZE, MADV_DONTNEED)
    child.threads[0].write(a, 9)
    _, (node,) = child.move_pages(0, [a], None)
    tc = child.clone(cpu=0)
    race = Race(m)
    race.on(0, tc).move_pages([a], [1 - node], MPOL_MF_MOVE)
    race.on(1, p.threads[0]).syscall("madvise", a + PAGE_SIZE, PAGE_SIZE, MADV_FREE)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 0) != 0:
            return f"madvise(MADV_FREE) returned {ex.result(1, 0)!r}"
        if ex.result(0, 0)[0] < 0:
            return f"move_pages returned {ex.result(0, 0)!r}"
        for owner, want in ((p, 1), (child, 9)):
            if memory_word(owner, a) != want:
                return (f"lost write: pid {owner.pid} reads {memory_word(owner, a)!r} at "
                        f"{a:#x}, not {want}")
        return integrity_failure(m)

    return ScenarioRun(race, check)


@scenario
def soft_offline_vs_migration(profile: str = "seed", **switches: Any) -> ScenarioRun:
    """CPU1 soft-offlines a page of a THP (madvise(MADV_SOFT_OFFLINE): get_user_pages_fast
    first) while CPU0 migrates that THP to node 1: the data stays, nothing leaks or
    crashes (B19: the lockless walk meets the PMD migration entry)."""
    race, p, a = _thp_being_migrated(profile, switches)
    race.on(1, p.threads[0]).syscall("madvise", a + PAGE_SIZE, PAGE_SIZE, MADV_SOFT_OFFLINE)

    def check(ex: Execution) -> str | None:
        if ex.result(1, 0) not in (0, -errno.EBUSY, -errno.EIO):
            return f"madvise(MADV_SOFT_OFFLINE) returned {ex.result(1, 0)!r}"
        if memory_word(p, a) != 1:
            return f"lost write: {a:#x} reads {memory_word(p, a)!r}, not 1"
        return integrity_failure(race.machine)

    return ScenarioRun(race, check)


#: loads per reader in faults_vs_migration (one fault per migration pass at most)
_FAULT_ROUNDS = 6


# ---------------------------------------------------------------- running
def run_scenario(name: str, scheduler: Scheduler, profile: str = "seed",
                 switches: dict[str, Any] | None = None, seed: int = 0) -> Execution:
    """Build the scenario, run it once under ``scheduler``, apply its check."""
    try:
        build = SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    sr = build(profile, **(switches or {}))
    ex = sr.race.run(scheduler=scheduler, seed=seed)
    if ex.failure is None:
        try:
            msg = sr.check(ex)
        except (IntegrityError, KernelBug) as e:
            msg = str(e)
        if msg:
            ex.failure = Failure("check", msg, ex.schedule, ex.events[-40:])
    return ex


def explore(name: str, preemption_bound: int = 2, profile: str = "seed",
            switches: dict[str, Any] | None = None,
            max_executions: int = 100_000,
            on_execution: Any = None) -> tuple[int, list[Execution]]:
    """Bounded exhaustive search; returns (executions run, failing executions).
    ``on_execution(ex)`` sees every execution, passing or failing (``--list``)."""
    sched = DfsScheduler(preemption_bound, max_executions)
    failures = []
    while sched.new_execution():
        ex = run_scenario(name, sched, profile, switches)
        if on_execution is not None:
            on_execution(ex)
        if ex.failure is not None:
            failures.append(ex)
    return sched.executions, failures


def trace_events(ex: Execution) -> list[dict[str, Any]]:
    """A Chrome/Perfetto trace of one execution: a track per CPU, one slice per step
    (the operation, and the trap it stopped at or what it returned); the time axis is
    the step number (1 step = 1 us)."""
    out: list[dict[str, Any]] = []
    for line in ex.events:
        step, cpu, rest = line.split(" ", 2)
        out.append({"name": rest, "ph": "X", "pid": 0, "tid": int(cpu[3:]),
                    "ts": int(step), "dur": 1, "args": {"step": int(step)}})
    return out


def replay_command(name: str, profile: str, switches: dict[str, Any] | None,
                   schedule: str) -> str:
    parts = ["thpsim", "replay", "--scenario", name, "--profile", profile]
    for k, v in sorted((switches or {}).items()):
        parts += ["--switch", f"{k}={int(v) if isinstance(v, bool) else v}"]
    parts += ["--schedule", schedule]
    return " ".join(shlex.quote(x) for x in parts)


def format_failure(name: str, profile: str, switches: dict[str, Any] | None,
                   ex: Execution) -> str:
    f = ex.failure
    assert f is not None
    lines = [
        f"FAILED scenario {name} (profile {profile}): {f.kind}: {f.message}",
        f"schedule: {f.schedule.encode()}",
        f"replay: {replay_command(name, profile, switches, f.schedule.encode())}",
        "recent events:",
    ]
    lines += [f"  {e}" for e in f.events[-15:]]
    return "\n".join(lines)


# ---------------------------------------------------------------- command line
# ``--profile``/``--switch`` parsing is every command's (thpsim.cliutil): strict values,
# known switch names, kernel-version profiles.
parse_switch = cliutil.parse_switch
add_profile_arguments = cliutil.add_profile_arguments
profile_switches = cliutil.profile_switches


def scenario_list() -> str:
    """Every race scenario with the first line of its docstring (the tools' --help)."""
    lines = ["scenarios:"]
    for name in sorted(SCENARIOS):
        doc = (SCENARIOS[name].__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<30} {doc[0] if doc else ''}")
    return "\n".join(lines)


def cli_replay(argv: list[str]) -> int:
    """``thpsim replay --scenario NAME --schedule S [--profile P] [--switch k=v]...``

    Prints the run's outcome (the failure report, or ``ok``); exit status 1 on failure.
    A schedule that no longer fits the run (recorded with a bug switch that is now
    off, say) is not a failure: the run is repeated following the schedule as far as
    it applies (where its CPU cannot run, the running CPU goes on), and a pass is
    reported as "passes now" with the step where the schedule stopped fitting.
    ``--strict`` reports the divergence instead.
    """
    ap = argparse.ArgumentParser(prog="thpsim replay", epilog=scenario_list(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--schedule", required=True)
    ap.add_argument("--strict", action="store_true",
                    help="a schedule that does not fit is a failure (a divergence)")
    ap.add_argument("--events", action="store_true",
                    help="print every step of the run (CPU, operation, trap or result)")
    ap.add_argument("--trace", metavar="FILE",
                    help="write the run as a Chrome/Perfetto trace (time axis: steps)")
    add_profile_arguments(ap)
    args = ap.parse_args(argv)
    switches = profile_switches(args)
    if args.trace:
        cliutil.check_writable(args.trace)
    try:
        sched = ReplayScheduler(args.schedule)
    except errors.ScheduleError as e:
        raise cliutil.UsageError(f"--schedule: {e}") from None
    sched.new_execution()
    ex = run_scenario(args.scenario, sched, args.profile, switches, sched.schedule.seed)
    diverged = None
    if ex.failure is not None and ex.failure.kind == "divergence" and not args.strict:
        diverged = ex.failure.message
        sched = ReplayScheduler(args.schedule, strict=False)
        sched.new_execution()
        ex = run_scenario(args.scenario, sched, args.profile, switches, sched.schedule.seed)
    if args.events:
        for line in ex.events:
            print(line)
    if args.trace:
        cliutil.write_atomic(args.trace, json.dumps({"traceEvents": trace_events(ex),
                                                     "otherData": {"scenario": args.scenario,
                                                                   "schedule": args.schedule}}))
    if ex.failure is not None:
        print(format_failure(args.scenario, args.profile, switches, ex))
        return 1
    if diverged is not None:
        print(f"passes now: scenario {args.scenario} (profile {args.profile}) passed, "
              f"{args.schedule} followed as far as it applies ({diverged})")
        return 0
    print(f"ok: scenario {args.scenario} (profile {args.profile}) passed under "
          f"{args.schedule}")
    return 0


def cli_explore(argv: list[str]) -> int:
    """``thpsim explore [--scenario NAME]... [--bound N] [--profile P] [--switch k=v]...``

    Bounded exhaustive search; prints the number of interleavings explored per
    scenario and the first failure's report with its replay command.
    """
    ap = argparse.ArgumentParser(prog="thpsim explore", epilog=scenario_list(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    ap.add_argument("--bound", type=cliutil.nonneg_int, default=2, help="preemption bound")
    add_profile_arguments(ap)
    ap.add_argument("--max-executions", type=cliutil.positive_int, default=100_000)
    ap.add_argument("--list", action="store_true",
                    help="print every interleaving explored: outcome and schedule string "
                         "(thpsim replay --schedule S re-runs one; --events traces it)")
    ap.add_argument("--json", action="store_true", help="results as one JSON document")
    args = ap.parse_args(argv)
    switches = profile_switches(args)
    status = 0
    doc: list[dict[str, Any]] = []
    for name in args.scenario or sorted(SCENARIOS):
        seen: list[dict[str, Any]] = []

        def note(ex: Execution, seen: list[dict[str, Any]] = seen) -> None:
            if args.list or args.json:
                seen.append({"schedule": ex.schedule.encode(), "steps": ex.steps,
                             "outcome": "ok" if ex.failure is None else "failed"})

        n, fails = explore(name, args.bound, args.profile, switches, args.max_executions,
                           on_execution=note)
        if fails:
            status = 1
        if args.json:
            doc.append({"scenario": name, "explored": n, "failing": len(fails),
                        "bound": args.bound, "profile": args.profile,
                        "interleavings": seen if args.list else None,
                        "failures": [{"schedule": f.failure.schedule.encode(),
                                      "kind": f.failure.kind, "message": f.failure.message,
                                      "replay": replay_command(name, args.profile, switches,
                                                               f.failure.schedule.encode())}
                                     for f in fails]})
            continue
        for i, e in enumerate(seen):
            print(f"{name} #{i}: {e['outcome']} ({e['steps']} steps) {e['schedule']}")
        print(f"{name}: {n} interleavings explored (preemption bound {args.bound}, "
              f"profile {args.profile}), {len(fails)} failing")
        if fails:
            print(format_failure(name, args.profile, switches, fails[0]))
    if args.json:
        cliutil.emit_json(doc)
    return status


def cli_run(argv: list[str]) -> int:
    """``thpsim race --scenario NAME --policy random|pct|rr [--seed N] [--runs K]``"""
    ap = argparse.ArgumentParser(prog="thpsim race", epilog=scenario_list(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--policy", default="random", choices=["random", "pct", "rr"])
    ap.add_argument("--seed", type=cliutil.nonneg_int, default=0)
    ap.add_argument("--runs", type=cliutil.positive_int, default=100)
    ap.add_argument("--depth", type=cliutil.positive_int, default=3, help="PCT depth")
    add_profile_arguments(ap)
    args = ap.parse_args(argv)
    switches = profile_switches(args)
    kw: dict[str, int] = {}
    if args.policy == "pct":
        # PCT draws its change points over the run's length (Burckhardt et al.): measure
        # the scenario's scheduling points with one round-robin run
        probe = make_scheduler("rr", args.seed)
        probe.new_execution()
        length = len(run_scenario(args.scenario, probe, args.profile, switches,
                                  args.seed).schedule.steps)
        kw = {"depth": args.depth, "max_steps": max(1, length)}
    for i in range(args.runs):
        seed = args.seed + i
        sched = make_scheduler(args.policy, seed, **kw)
        sched.new_execution()
        ex = run_scenario(args.scenario, sched, args.profile, switches, seed)
        if ex.failure is not None:
            print(format_failure(args.scenario, args.profile, switches, ex))
            return 1
    print(f"{args.scenario}: {args.runs} runs under {args.policy} from seed {args.seed}: "
          f"no failure")
    return 0
