"""ApiFuzzer: hostile arguments against the whole public API (issue 11).

A Hypothesis state machine over :class:`thpsim.Machine`, its processes and threads:
mmap, munmap, mprotect, mremap, madvise (every advice, MADV_SOFT_OFFLINE and
MADV_HWPOISON on a budget), mlock, mlock2, munlock, move_pages, migrate_pages, mbind,
set_mempolicy, get_mempolicy, spawn, fork, clone, exit, kill, user reads and writes,
memory-block offline/online, soft offline through sysfs, cpuset moves. Arguments mix
sane values (inside a live mapping, THP-aligned, existing nodes) with hostile ones:
values near 2**64 and 2**47, negatives (the kernel reads them as u64), unaligned
addresses, zero lengths, bad flag bits and modes, NULL (None) against empty node
masks, maxnode 0, 1, huge or not a multiple of 64, nodes and pids that do not exist,
handles of exited processes, MAP_FIXED over live mappings. Real work is mixed in:
writes of distinct values, THP faults (MADV_HUGEPAGE, 2 MiB aligned), migrations.

After every call the machine checks (:meth:`ApiFuzzer._call`):

(a) the outcome is documented: a return value of the right type and range, or an
    OSError whose errno is in :data:`ERRNOS` for that call (what Linux's man pages and
    code give), or a :mod:`thpsim.errors` exception the API documents for it
    (:data:`SIGNALS`, :data:`CONFIG_ERRORS`); anything else is a finding;
(b) the invariant checker passes (``check=True`` after each call, a full check
    after each step);
(c) every read returns what was last written: the Machine's shadow checks each
    read, and the fuzzer keeps its own record of the values it wrote (updated only
    where Linux's answer is certain) and reads a sample back after each step;
(d) a call that failed with an argument-check errno (:data:`ARG_ERRNOS`) changed
    nothing a user can see: VMAs, numa_maps, RSS counters, pagemap of the touched
    pages, each thread's mempolicy, /proc/vmstat, the free pages of each node, the
    poisoned frames, memory-block states and cpuset membership are compared before
    and after, except where Linux itself leaves partial effects (:data:`PARTIAL`).

Findings of the fuzzer that are not fixed yet are in :data:`KNOWN_FINDINGS`; while a
name is there the fuzzer steers around exactly that pattern (see each entry).
"""

from __future__ import annotations

import errno
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_COLD,
    MADV_DODUMP,
    MADV_DOFORK,
    MADV_DONTDUMP,
    MADV_DONTFORK,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_HUGEPAGE,
    MADV_HWPOISON,
    MADV_KEEPONFORK,
    MADV_MERGEABLE,
    MADV_NOHUGEPAGE,
    MADV_NORMAL,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_RANDOM,
    MADV_REMOVE,
    MADV_SEQUENTIAL,
    MADV_SOFT_OFFLINE,
    MADV_UNMERGEABLE,
    MADV_WILLNEED,
    MADV_WIPEONFORK,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_HUGETLB,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_STACK,
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_F_ADDR,
    MPOL_F_MEMS_ALLOWED,
    MPOL_F_NODE,
    MPOL_F_RELATIVE_NODES,
    MPOL_F_STATIC_NODES,
    MPOL_INTERLEAVE,
    MPOL_LOCAL,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MPOL_MF_STRICT,
    MPOL_PREFERRED,
    MPOL_PREFERRED_MANY,
    MPOL_WEIGHTED_INTERLEAVE,
    MREMAP_DONTUNMAP,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from thpsim.errors import EHWPOISON, ConfigError, DeliveredSignal
from thpsim.testing import mm_counters, node_free_pages, poisoned_frames, vmas

__all__ = ["ApiFuzzer", "ERRNOS", "ARG_ERRNOS", "PARTIAL", "KNOWN_FINDINGS", "STATS",
           "FuzzStats", "Finding", "machine_config_strategy"]

MiB = 1 << 20
U64 = (1 << 64) - 1
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
#: x86-64's TASK_SIZE (47-bit user space, one guard page below it)
TASK_SIZE = (1 << 47) - PAGE_SIZE
#: include/linux/mm.h VM_* bits, as /proc/PID/smaps' VmFlags read them
VM_READ, VM_WRITE, VM_EXEC = 0x1, 0x2, 0x4
VM_LOCKED = 0x2000
VM_DONTCOPY = 0x20000
VM_LOCKONFAULT = 0x80000
VM_ACCOUNT = 0x100000
VM_NORESERVE = 0x200000
VM_WIPEONFORK = 0x2000000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
#: madvise advice -> (VM flags it sets, VM flags it clears) on success
ADVICE_FLAGS = {MADV_HUGEPAGE: (VM_HUGEPAGE, VM_NOHUGEPAGE),
                MADV_NOHUGEPAGE: (VM_NOHUGEPAGE, VM_HUGEPAGE),
                MADV_DONTFORK: (VM_DONTCOPY, 0), MADV_DOFORK: (0, VM_DONTCOPY),
                MADV_WIPEONFORK: (VM_WIPEONFORK, 0), MADV_KEEPONFORK: (0, VM_WIPEONFORK)}
#: CONFIG_NODES_SHIFT=10, x86-64's default: MAX_NUMNODES
MAX_NUMNODES = 1 << 10

#: The MAP_FIXED window: below the top-down allocator's base, 32 slots of 2 MiB.
ARENA = 0x7E00_0000_0000
ARENA_SLOTS = 32
#: Bound the memory one process maps through sane calls, so nothing runs a node dry,
#: and what a populating call (mlock, MAP_POPULATE, MADV_POPULATE_*) may fault in.
MAX_MAPPED = 48 * MiB
POPULATE_LIMIT = 16 * MiB
MAX_PROCS = 4
MAX_THREADS = 3
#: soft offline and hwpoison use up frames: a budget per example
MAX_POISON = 3

#: Hostile unsigned long values: near 2**64, around 2**47 (TASK_SIZE), around 2**32,
#: negatives (a C caller's -1 is 2**64 - 1 at the syscall boundary), 0 and 1.
HOSTILE_U64 = (0, 1, -1, -PAGE_SIZE, -HPAGE_PMD_SIZE, -(1 << 63), (1 << 63), (1 << 63) - 1,
               U64, U64 - PAGE_SIZE + 1, (1 << 64) - HPAGE_PMD_SIZE, 1 << 47, (1 << 47) - 1,
               TASK_SIZE, (1 << 47) + PAGE_SIZE, 1 << 48, (1 << 32) - 1, 1 << 32, 1 << 31,
               PAGE_SIZE - 1, PAGE_SIZE + 1, 12345)
#: Hostile int values (an ``int`` parameter: advice, mode, flags of mlock2, pids)
HOSTILE_INT = (-1, -2, -(1 << 31), (1 << 31) - 1, 1 << 16, 1 << 30, 255, 64, 7, 99999)

#: Errnos Linux gives for each call (man pages, checked against the kernel's code).
ERRNOS: dict[str, set[int]] = {
    # do_mmap(): EINVAL (len 0, bad flags type, unaligned MAP_FIXED, offset overflow),
    # EOVERFLOW (pgoff + len wraps), ENOMEM (no room / TASK_SIZE), EEXIST
    # (MAP_FIXED_NOREPLACE), EPERM/EAGAIN (MAP_LOCKED over RLIMIT_MEMLOCK), EBADF (no
    # fd without MAP_ANONYMOUS), EOPNOTSUPP (model: hugetlbfs is not modelled).
    "mmap": {errno.EINVAL, errno.ENOMEM, errno.EEXIST, errno.EPERM, errno.EAGAIN,
             errno.EBADF, errno.EACCES, errno.EOVERFLOW, errno.ENODEV, errno.EOPNOTSUPP},
    "munmap": {errno.EINVAL, errno.ENOMEM},
    "mprotect": {errno.EINVAL, errno.ENOMEM, errno.EACCES},
    "mremap": {errno.EINVAL, errno.EFAULT, errno.ENOMEM, errno.EAGAIN},
    # madvise_inject_error() passes memory_failure()/soft_offline_page() errors up:
    # EBUSY, EIO, EHWPOISON (mainline: already poisoned), EFAULT (GUP of a hole).
    "madvise": {errno.EINVAL, errno.ENOMEM, errno.EAGAIN, errno.EIO, errno.EPERM,
                errno.EBUSY, errno.EFAULT, EHWPOISON, errno.EACCES, errno.EBADF},
    "mlock": {errno.EINVAL, errno.ENOMEM, errno.EAGAIN, errno.EPERM},
    "mlock2": {errno.EINVAL, errno.ENOMEM, errno.EAGAIN, errno.EPERM},
    "munlock": {errno.EINVAL, errno.ENOMEM, errno.EAGAIN, errno.EPERM},
    "move_pages": {errno.E2BIG, errno.EACCES, errno.EFAULT, errno.EINVAL, errno.ENODEV,
                   errno.ENOENT, errno.EPERM, errno.ESRCH, errno.ENOMEM},
    "migrate_pages": {errno.EFAULT, errno.EINVAL, errno.ENOMEM, errno.EPERM, errno.ESRCH},
    "mbind": {errno.EFAULT, errno.EINVAL, errno.EIO, errno.ENOMEM, errno.EPERM},
    "set_mempolicy": {errno.EFAULT, errno.EINVAL, errno.ENOMEM},
    "get_mempolicy": {errno.EFAULT, errno.EINVAL},
    # fs/pipe.c do_pipe2(): EINVAL (flags), EMFILE; close(2): EBADF; fs/splice.c
    # vmsplice: EINVAL (flags, too many segments), EBADF (not open, not a pipe), EFAULT
    # (a segment in the kernel half, or nothing mapped), EAGAIN (full pipe), EPIPE (no
    # reader), EOPNOTSUPP (model: the read end's copy to user memory is not modelled)
    "pipe2": {errno.EINVAL, errno.EMFILE},
    "close": {errno.EBADF},
    "vmsplice": {errno.EINVAL, errno.EBADF, errno.EFAULT, errno.EAGAIN, errno.EPIPE,
                 errno.EOPNOTSUPP, errno.ENOMEM},
    "fork": {errno.EAGAIN, errno.ENOMEM},
    "clone": {errno.EAGAIN, errno.ENOMEM},
    "spawn": {errno.EAGAIN, errno.ENOMEM},
    "exit": set(),
    "kill": {errno.EINVAL, errno.ESRCH, errno.EPERM},
    "read": set(),
    "write": set(),
    # drivers/base/memory.c state_store(): EINVAL (bad string), EBUSY (offline
    # failed, block in use), ENOMEM; the VFS: ENOENT (no such block), EACCES.
    "block_state": {errno.EINVAL, errno.EBUSY, errno.ENOMEM, errno.ENOENT, errno.EACCES,
                    errno.EPERM, errno.EIO},
    # soft_offline_page_store(): EPERM, EINVAL (kstrtoull), ENXIO (no such pfn), EBUSY,
    # EIO (could not migrate), EHWPOISON.
    "soft_offline_page": {errno.EINVAL, errno.EPERM, errno.ENXIO, errno.EBUSY, errno.EIO,
                          errno.ENOMEM, EHWPOISON, errno.EACCES, errno.ENOENT},
    # cgroup.procs: ESRCH (no such pid), EINVAL (not a number); cpuset.mems: EINVAL
    # (bad list, nodes outside the parent), ENOSPC (no mems while tasks are in it).
    "cpuset_attach": {errno.ESRCH, errno.EINVAL, errno.ENOSPC, errno.EBUSY, errno.EACCES,
                      errno.ENOENT, errno.EOPNOTSUPP},
    "cpuset_mems": {errno.EINVAL, errno.ENOSPC, errno.EBUSY, errno.EACCES, errno.ERANGE},
}

#: Errnos of a failed argument check: Linux refuses before it changes anything.
ARG_ERRNOS = frozenset({errno.EINVAL, errno.EFAULT, errno.ESRCH, errno.EPERM, errno.EACCES,
                        errno.EBADF, errno.EEXIST, errno.E2BIG, errno.ENODEV,
                        errno.EOVERFLOW, errno.ENOENT, errno.ERANGE, errno.ENXIO})

#: (call, errno) -> why Linux may leave part of the work done when the call fails with
#: that errno, and when: the "a failed call changed nothing" check is skipped for these
#: only where the rule's condition (the ``partial_ok`` it passes to _call) holds.
PARTIAL: dict[tuple[str, int], str] = {
    ("mmap", errno.EINVAL): "MAP_FIXED only: 4.14's mmap_region() unmaps the target "
                            "range (do_munmap()) before a later step can fail",
    ("mremap", errno.EINVAL): "MREMAP_FIXED only: mremap_to() unmaps [new_addr, new_addr "
                              "+ new_len) and the old tail before vma_to_resize() checks",
    ("mremap", errno.EFAULT): "as EINVAL: vma_to_resize() runs after mremap_to()'s munmaps",
    ("madvise", errno.EINVAL): "a known advice on an aligned start only: "
                               "madvise_walk_vmas() acts on the VMAs before the one whose "
                               "check fails (DONTNEED on VM_LOCKED, FREE on a non-anon VMA)",
    ("madvise", errno.EFAULT): "MADV_HWPOISON/SOFT_OFFLINE only: madvise_inject_error() "
                               "offlines page by page; a later GUP failure ends the call",
    ("madvise", errno.EPERM): "MADV_HWPOISON/SOFT_OFFLINE only, as EFAULT",
    ("mbind", errno.EINVAL): "a range over two or more VMAs only: mbind_range() sets the "
                             "policy VMA by VMA and a later VMA's failure keeps the earlier",
    ("move_pages", errno.ENODEV): "two or more pages only: do_pages_move() migrates the "
                                  "pages queued before the bad node entry (out_flush)",
    ("move_pages", errno.EACCES): "as ENODEV: a node outside the task's cpuset mems",
    ("move_pages", errno.EFAULT): "as ENODEV",
    ("move_pages", errno.EINVAL): "as ENODEV (4.14 do_pages_move(): node >= MAX_NUMNODES)",
    ("get_mempolicy", errno.EINVAL): "MPOL_F_NODE|MPOL_F_ADDR only: do_get_mempolicy() "
                                     "faults the page in (lookup_node()'s GUP) before "
                                     "copy_nodes_to_user() refuses a mask larger than a page",
}

#: Findings of this fuzzer that are not fixed (their area was being changed by someone
#: else); the fuzzer steers around exactly the pattern each describes.
KNOWN_FINDINGS: dict[str, str] = {}  # mremap-growth-not-charged: fixed (mm/mremap.py)

#: call -> the thpsim.errors exceptions the API documents for it (a fatal access)
SIGNALS: dict[str, set[int]] = {
    "read": {signal.SIGSEGV, signal.SIGBUS},
    "write": {signal.SIGSEGV, signal.SIGBUS},
    # MADV_HWPOISON on the caller's own page: force_sig_mceerr() (madvise_inject_error)
    "madvise": {signal.SIGBUS},
}
#: calls that document ConfigError: a CPU that does not exist, kill(pid <= 0)
CONFIG_ERRORS = {"spawn", "fork", "clone", "kill"}


class Finding(AssertionError):
    """The fuzzer saw an outcome Linux would not give."""


class FuzzStats:
    """What the fuzzer ran (the runner prints it): examples, steps, calls by kind,
    errnos seen by call."""

    def __init__(self) -> None:
        self.examples = 0
        self.steps = 0
        self.calls: Counter[str] = Counter()
        self.errnos: Counter[str] = Counter()

    def reset(self) -> None:
        self.__init__()


STATS = FuzzStats()


def _page_down(x: int) -> int:
    return x & ~(PAGE_SIZE - 1)


def _page_align(x: int) -> int:
    return ((x & U64) + PAGE_SIZE - 1) & U64 & ~(PAGE_SIZE - 1)


class _Proc:
    """Model-only: one process the fuzzer made and the values it knows it holds."""

    __slots__ = ("api", "known", "uid")

    def __init__(self, api: Any, known: dict[int, int], uid: int = 0):
        self.api = api
        #: page address -> the value last written there, where Linux's answer is certain
        self.known = known
        self.uid = uid


# ------------------------------------------------------------------ strategies
sels = st.integers(0, 1 << 16)
#: where a range-taking call starts
ADDR_KINDS = ("vma_start",) * 4 + ("vma_inner",) * 4 + ("vma_thp",) * 3 + (
    "arena", "arena", "vma_end", "hostile", "unaligned", "hole")
addr_kinds = st.sampled_from(ADDR_KINDS)
#: how long it is
LEN_KINDS = ("to_end",) * 4 + ("pages",) * 4 + ("thp", "thp", "zero", "hostile", "unaligned",
                                                 "beyond")
len_kinds = st.sampled_from(LEN_KINDS)
hostile_u64 = st.sampled_from(HOSTILE_U64)
int_args = st.one_of(st.sampled_from(HOSTILE_INT), st.integers(-(1 << 31), (1 << 31) - 1))
PROTS = (RW, RW, RW, PROT_READ, PROT_NONE, RW | PROT_EXEC, 0x8, 0x1000000, 0x2000000,
         RW | 0x10, -1, 1 << 40)
ADVICES = (MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
           MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE,
           MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
           MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ,
           MADV_POPULATE_WRITE, MADV_HWPOISON, MADV_SOFT_OFFLINE, MADV_HUGEPAGE,
           MADV_DONTNEED, 5, 6, 7, 24, 25, 99, 102, -1, (1 << 31) - 1)
ADVICE_KNOWN = frozenset(a for a in ADVICES if 0 <= a < 200 and a not in (5, 6, 7, 24, 25,
                                                                          99, 102))
MAP_EXTRAS = (0, 0, 0, MAP_POPULATE, MAP_LOCKED, MAP_NORESERVE, MAP_FIXED_NOREPLACE,
              MAP_GROWSDOWN, MAP_STACK, MAP_HUGETLB, MAP_SHARED, MAP_SHARED | MAP_FIXED,
              0x40000000, 1 << 40)
MODES = (MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE, MPOL_LOCAL) * 3 + (
         MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE, 7, -1, 1 << 16,
         MPOL_BIND | MPOL_F_STATIC_NODES, MPOL_INTERLEAVE | MPOL_F_RELATIVE_NODES,
         MPOL_PREFERRED | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, MPOL_DEFAULT | 1 << 15)
#: maxnode: 0, 1, a sane 1025, values not a multiple of 64, MAX_NUMNODES + 1, huge
MAXNODES = (1025,) * 8 + (64, 65, 1024, 1026, 4097) * 2 + (0, 1, 2, 3, 1 << 20,
                                                         (1 << 32) + 1, U64, -1)
#: node masks: None (NULL), 0 (an empty mask), bit pickers (see _mask), hostile bits
MASK_KINDS = ("nodes",) * 8 + ("null", "empty", "missing", "high", "huge")
mask_kinds = st.sampled_from(MASK_KINDS)
PID_KINDS = ("self", "zero", "zero", "zero", "other", "other", "other", "dead", "none",
             "negative", "huge")
pid_kinds = st.sampled_from(PID_KINDS)
NODE_IDS = ("valid",) * 6 + ("missing", "negative", "max", "huge")

#: machines: node id -> bytes (ids need not be 0..n-1); the last node's top block is
#: ZONE_MOVABLE so it can go offline
LAYOUTS = (
    {0: 256 * MiB, 1: 256 * MiB},
    {0: 256 * MiB, 2: 256 * MiB},
    {0: 128 * MiB, 1: 256 * MiB, 3: 256 * MiB},
)


class ApiFuzzer(RuleBasedStateMachine):
    """Every system call of the API with hostile and sane arguments; the four checks
    (module docstring) after each. ``PROFILE`` ("seed", "mainline", or None: drawn)
    is the machine's profile; the runner and the tests make a subclass per profile
    (:meth:`for_profile`)."""

    PROFILE: str | None = None

    @classmethod
    def for_profile(cls, profile: str) -> type:
        """A subclass that always boots ``profile``."""
        return type(f"{cls.__name__}_{profile}", (cls,), {"PROFILE": profile,
                                                           "__module__": cls.__module__})

    # ------------------------------------------------------------ boot
    @initialize(layout=st.sampled_from(LAYOUTS), profile=st.sampled_from(("seed", "mainline")),
                thp=st.sampled_from(("always", "always", "madvise", "never")))
    def boot(self, layout, profile, thp):
        profile = self.PROFILE or profile
        STATS.examples += 1
        last = max(layout)
        self.m = Machine(nodes=layout, block_size=128 * MiB, cpus=4, thp=thp,
                         profile=profile, seed=0, check=True, movable={last: 128 * MiB})
        self.nids = sorted(self.m.nodes)
        self.ram = sum(self.m.nodes.values())
        self.profile = profile
        p = self.m.spawn(cpu=0)
        self.procs = [_Proc(p, {})]
        self.dead: list[Any] = []
        self.stamp = 0
        self.poison = 0
        self.hwpoisoned = False
        self.offline_blocks: set[int] = set()
        self.blocks = [b for b in self._block_names()]
        v2 = self.m.profile.cpuset_cgroup_v2
        self.cs_root = "/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/cpuset"
        fs = self.m.fs
        if v2:
            fs.write(f"{self.cs_root}/cgroup.subtree_control", "+cpuset")
        fs.mkdir(f"{self.cs_root}/fz")
        if not v2:
            fs.write(f"{self.cs_root}/fz/cpuset.cpus", "0-3")
            fs.write(f"{self.cs_root}/fz/cpuset.memory_migrate", "1")
        fs.write(f"{self.cs_root}/fz/cpuset.mems", ",".join(map(str, self.nids)))
        # memory to aim at: 4 MiB THP-aligned in the arena, and 16 pages after a hole
        p.mmap(ARENA, 2 * HPAGE_PMD_SIZE, RW, ANON | MAP_FIXED)
        p.madvise(ARENA, 2 * HPAGE_PMD_SIZE, MADV_HUGEPAGE)
        p.mmap(ARENA + 3 * HPAGE_PMD_SIZE, 16 * PAGE_SIZE, RW, ANON | MAP_FIXED)

    def _block_names(self) -> list[int]:
        names = self.m.fs.listdir("/sys/devices/system/memory")
        return sorted(int(n[6:]) for n in names if n.startswith("memory") and n[6:].isdigit())

    # ------------------------------------------------------------ choosing targets
    def _live(self) -> list[_Proc]:
        return [pr for pr in self.procs if not pr.api.exited]

    def _proc(self, sel: int) -> _Proc:
        live = self._live()
        return live[sel % len(live)]

    def _thread(self, pr: _Proc, sel: int) -> Any:
        return pr.api.threads[sel % len(pr.api.threads)]

    def _vmas(self, pr: _Proc) -> list[tuple[int, int, int]]:
        return vmas(pr.api)

    def _addr(self, pr: _Proc, sel: int, kind: str) -> int:
        ranges = self._vmas(pr)
        if kind == "hostile":
            return HOSTILE_U64[sel % len(HOSTILE_U64)]
        if kind == "arena" or not ranges:
            return ARENA + (sel % (ARENA_SLOTS * 512)) * PAGE_SIZE
        s, e, _ = ranges[sel % len(ranges)]
        if kind == "vma_start":
            return s
        if kind == "vma_end":
            return e
        if kind == "hole":
            return e + PAGE_SIZE * (sel % 3)
        if kind == "vma_thp":
            b = (s + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
            return b if b < e else s
        a = s + (sel // 7 % ((e - s) // PAGE_SIZE)) * PAGE_SIZE
        return a + (1 + sel % (PAGE_SIZE - 1) if kind == "unaligned" else 0)

    def _length(self, pr: _Proc, start: int, sel: int, kind: str) -> int:
        if kind == "zero":
            return 0
        if kind == "hostile":
            return HOSTILE_U64[sel % len(HOSTILE_U64)]
        if kind == "thp":
            return (1 + sel % 4) * HPAGE_PMD_SIZE
        left = 0
        for s, e, _ in self._vmas(pr):
            if s <= start < e:
                left = e - _page_down(start)
        if kind == "to_end" and left:
            return left
        if kind == "unaligned":
            return 1 + sel % (4 * PAGE_SIZE)
        if kind == "beyond":
            return left + (1 + sel % 8) * PAGE_SIZE
        return (1 + sel % 16) * PAGE_SIZE

    def _mapped_overlap(self, pr: _Proc, start: int, length: int) -> int:
        start &= U64
        end = min(start + _page_align(length), 1 << 64)
        return sum(max(0, min(e, end) - max(s, start)) for s, e, _ in self._vmas(pr))

    def _flags_in(self, pr: _Proc, start: int, length: int) -> list[tuple[int, int, int]]:
        """The VMAs (start, end, vm_flags) that [start, start + PAGE_ALIGN(length))
        meets, clipped to it."""
        start &= U64
        end = start + _page_align(length)
        return [(max(s, start), min(e, end), fl) for s, e, fl in self._vmas(pr)
                if s < end and e > start and start < end]

    def _expect_flags(self, desc: str, pr: _Proc, start: int, length: int, on: int,
                      off: int, mask: int = 0, value: int = 0) -> None:
        """After a successful call: every VMA in the range has ``on`` set, ``off``
        clear, and ``flags & mask == value``."""
        for s, e, fl in self._flags_in(pr, start, length):
            if fl & on != on or fl & off or fl & mask != value:
                raise Finding(f"{desc} succeeded but [{s:#x}, {e:#x}) has vm_flags "
                              f"{fl:#x} (want {on:#x} set, {off:#x} clear, "
                              f"{mask:#x} == {value:#x})")

    def _mapped_total(self, pr: _Proc) -> int:
        return sum(e - s for s, e, _ in self._vmas(pr))

    def _node(self, sel: int, kind: str = "valid") -> int:
        if kind == "valid":
            return self.nids[sel % len(self.nids)]
        if kind == "missing":
            absent = [n for n in range(8) if n not in self.nids]
            return absent[sel % len(absent)]
        if kind == "negative":
            return -1 - sel % 3
        if kind == "max":
            return MAX_NUMNODES + sel % 2 - 1
        return (1 << 31) - 1

    def _mask(self, sel: int, kind: str) -> int | None:
        if kind == "null":
            return None
        if kind == "empty":
            return 0
        if kind == "missing":
            return 1 << self._node(sel, "missing")
        if kind == "high":
            return 1 << (MAX_NUMNODES - 1 - sel % 3)
        if kind == "huge":
            return (1 << (MAX_NUMNODES + 64)) - 1
        mask = 0
        for i, nid in enumerate(self.nids):
            if sel >> i & 1:
                mask |= 1 << nid
        return mask or 1 << self.nids[sel % len(self.nids)]

    def _pid(self, pr: _Proc, sel: int, kind: str) -> int:
        if kind == "self":
            return pr.api.pid
        if kind == "zero":
            return 0
        if kind == "other":
            return self._proc(sel).api.pid
        if kind == "dead" and self.dead:
            return self.dead[sel % len(self.dead)].pid
        if kind == "negative":
            return -1 - sel % 5
        if kind == "huge":
            return (1 << 31) - 1
        return 4000 + sel % 1000  # no such pid

    def _value(self) -> int:
        self.stamp += 1
        return (0xF022 << 48) | (self.stamp << 8) | (self.stamp & 0xFF)

    # ------------------------------------------------------------ the record of values
    def _forget(self, start: int, length: int, procs: list[_Proc] | None = None) -> None:
        """Linux's answer for these pages is no longer certain (or they read 0 now)."""
        start = _page_down(start & U64)
        end = start + _page_align(length)
        for pr in procs if procs is not None else self.procs:
            for a in [a for a in pr.known if start <= a < end]:
                del pr.known[a]

    # ------------------------------------------------------------ snapshots (check d)
    def _snapshot(self, touched: list[tuple[Any, int, int]]) -> dict[str, Any]:
        """What a user sees of the machine: every live process's VMAs, numa_maps, RSS
        counters, each thread's mempolicy, the pagemap of its known pages and of the
        ``touched`` ranges ((process api, start, length), at most 64 pages each), and
        the machine's vmstat, free pages per node, poisoned frames, memory-block states
        and the cpuset's tasks and mems."""
        m = self.m
        check, m.check = m.check, False  # the views' own calls need no invariant check
        try:
            return self._snapshot_views(touched)
        finally:
            m.check = check

    def _snapshot_views(self, touched: list[tuple[Any, int, int]]) -> dict[str, Any]:
        m = self.m
        fs = m.fs
        snap: dict[str, Any] = {"pids": sorted(m.processes)}
        for pr in self._live():
            api = pr.api
            pid = api.pid
            snap[f"vmas {pid}"] = vmas(api)
            snap[f"numa_maps {pid}"] = fs.read(f"/proc/{pid}/numa_maps")
            snap[f"counters {pid}"] = mm_counters(api)
            for th in api.threads:
                snap[f"policy {th.tid}"] = self._policy(th)
            pages = set(sorted(pr.known)[::max(1, len(pr.known) // 4)][:4])
            for owner, start, length in touched:
                if owner is api:
                    s = _page_down(start & U64)
                    n = min(64, _page_align(length) // PAGE_SIZE or 1)
                    pages.update(s + i * PAGE_SIZE for i in range(n)
                                 if s + i * PAGE_SIZE < TASK_SIZE)
            windows = sorted({a & ~(HPAGE_PMD_SIZE - 1) for a in pages})[:16]
            for w in windows:
                snap[f"pagemap {pid} {w:#x}"] = fs.read(
                    f"/proc/{pid}/pagemap", offset=(w // PAGE_SIZE) * 8, length=512 * 8)
        snap["vmstat"] = m.vmstat()
        snap["free"] = {nid: node_free_pages(m, nid) for nid in self.nids}
        snap["poisoned"] = poisoned_frames(m)
        snap["blocks"] = {b: fs.read(f"/sys/devices/system/memory/memory{b}/state")
                          for b in self.blocks}
        snap["cpuset"] = (fs.read(f"{self.cs_root}/fz/cgroup.procs"),
                          fs.read(f"{self.cs_root}/fz/cpuset.mems"))
        return snap

    def _policy(self, th: Any) -> tuple[int, int | None]:
        # a syscall of the thread itself: get_mempolicy(2) reads its own policy
        return th.get_mempolicy(MAX_NUMNODES + 1, 0, 0)

    @staticmethod
    def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        out = []
        for k in sorted(set(before) | set(after)):
            if before.get(k) != after.get(k):
                b, a = before.get(k), after.get(k)
                if isinstance(b, dict) and isinstance(a, dict):
                    ch = {x: (b.get(x), a.get(x)) for x in set(a) | set(b)
                          if b.get(x) != a.get(x)}
                    out.append(f"{k}: {ch}")
                else:
                    out.append(f"{k}: {b!r:.300} -> {a!r:.300}")
        return out

    # ------------------------------------------------------------ one call, checked
    def _call(self, kind: str, desc: str, fn: Callable[[], Any],
              touched: list[tuple[Any, int, int]] = (),
              partial_ok: Callable[[int], bool] | None = None) -> tuple[bool, Any]:
        """Run one call and check (a) and (d). Returns (True, result) or (False, the
        OSError / DeliveredSignal / ConfigError it raised)."""
        STATS.calls[kind] += 1
        # a user access fails only with a signal, never half-done: no snapshot
        before = None if kind in ("read", "write") else self._snapshot(list(touched))
        try:
            ret = fn()
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            STATS.errnos[f"{kind} {name}"] += 1
            if e.errno not in ERRNOS[kind]:
                raise Finding(f"{desc}: errno {name} is not one Linux gives for {kind}") \
                    from e
            if e.errno in ARG_ERRNOS and not ((kind, e.errno) in PARTIAL and partial_ok
                                              and partial_ok(e.errno)):
                self._unchanged(desc, name, before, touched)
            return False, e
        except DeliveredSignal as sig:
            STATS.errnos[f"{kind} {signal.Signals(sig.si_signo).name}"] += 1
            if sig.si_signo not in SIGNALS.get(kind, ()):
                raise Finding(f"{desc}: {sig!r} is not documented for {kind}") from sig
            return False, sig
        except ConfigError as ce:
            STATS.errnos[f"{kind} ConfigError"] += 1
            if kind not in CONFIG_ERRORS:
                raise Finding(f"{desc}: ConfigError is not documented for {kind}") from ce
            self._unchanged(desc, "ConfigError", before, touched)
            return False, ce
        STATS.errnos[f"{kind} ok"] += 1
        return True, ret

    def _unchanged(self, desc: str, what: str, before: dict[str, Any],
                   touched: list[tuple[Any, int, int]]) -> None:
        diff = self._diff(before, self._snapshot(list(touched)))
        if diff:
            raise Finding(f"{desc} failed with {what} but changed the machine:\n  "
                          + "\n  ".join(diff))

    @staticmethod
    def _int(desc: str, ret: Any, lo: int = 0, hi: int = 0) -> None:
        if type(ret) is not int or not lo <= ret <= hi:
            raise Finding(f"{desc} returned {ret!r}, not an int in [{lo}, {hi}]")

    # ------------------------------------------------------------ mmap family
    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds, prot=st.sampled_from(PROTS),
          fixed=st.sampled_from((0, 0, MAP_FIXED)), extra=st.sampled_from(MAP_EXTRAS),
          anon=st.sampled_from((True, True, True, True, False)),
          fd=st.sampled_from((-1, -1, -1, 0, 3, (1 << 31) - 1)),
          offset=st.sampled_from((0, 0, 0, 1, PAGE_SIZE, -PAGE_SIZE, 1 << 63)))
    def mmap(self, p, sel, ak, lk, prot, fixed, extra, anon, fd, offset):
        pr = self._proc(p)
        addr = 0 if ak == "hole" and not fixed else self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        flags = (ANON if anon else MAP_PRIVATE) | fixed | extra
        if flags & (MAP_POPULATE | MAP_LOCKED) and _page_align(length) > POPULATE_LIMIT:
            flags &= ~(MAP_POPULATE | MAP_LOCKED)
        if _page_align(length) <= MAX_MAPPED < self._mapped_total(pr) + _page_align(length):
            return  # keep sane mappings small (hostile sizes are refused or left unused)
        th = self._thread(pr, sel)
        before_acct = sum(e - s for s, e, fl in self._flags_in(pr, addr, length)
                          if fl & VM_ACCOUNT) if flags & MAP_FIXED else 0
        desc = (f"pid {pr.api.pid}: mmap({addr:#x}, {length:#x}, {prot:#x}, {flags:#x}, "
                f"{fd}, {offset:#x})")
        ok, ret = self._call("mmap", desc, lambda: th.mmap(addr, length, prot, flags, fd,
                                                          offset),
                             [(pr.api, addr, length)],
                             partial_ok=lambda e: bool(flags & MAP_FIXED))
        if not ok:
            if flags & MAP_FIXED:
                self._forget(addr, length, [pr])
            return
        # below mmap_min_addr only with CAP_SYS_RAWIO (cap_mmap_addr()): root may map 0
        self._int(desc, ret, 0 if pr.uid == 0 else PAGE_SIZE, TASK_SIZE)
        if ret % PAGE_SIZE:
            raise Finding(f"{desc} returned an unaligned address {ret:#x}")
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) and ret != addr & U64:
            raise Finding(f"{desc}: MAP_FIXED at {addr:#x} returned {ret:#x}")
        end = ret + _page_align(length)
        # OVERCOMMIT_GUESS (the default): a private writable mapping is charged, and a
        # charge larger than all RAM (no swap here) is refused in every era
        # (__vm_enough_memory(); 4.14 compares with even less, the free pages)
        if prot & PROT_WRITE and not flags & MAP_NORESERVE and \
                end - ret - before_acct > self.ram:
            raise Finding(f"{desc}: {end - ret:#x} bytes charged on a machine of "
                          f"{self.ram:#x} bytes (OVERCOMMIT_GUESS refuses it: ENOMEM)")
        if end > TASK_SIZE + PAGE_SIZE:
            raise Finding(f"{desc}: mapping [{ret:#x}, {end:#x}) ends past TASK_SIZE")
        if self._mapped_overlap(pr, ret, length) != end - ret:
            raise Finding(f"{desc}: [{ret:#x}, {end:#x}) is not all mapped after success")
        self._forget(ret, length, [pr])

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds)
    def munmap(self, p, sel, ak, lk):
        pr = self._proc(p)
        addr = self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        th = self._thread(pr, sel)
        desc = f"pid {pr.api.pid}: munmap({addr:#x}, {length:#x})"
        ok, ret = self._call("munmap", desc, lambda: th.munmap(addr, length),
                             [(pr.api, addr, length)])
        if not ok:
            if ret.errno not in ARG_ERRNOS:
                self._forget(addr, length, [pr])
            return
        self._int(desc, ret)
        if self._mapped_overlap(pr, addr, length):
            raise Finding(f"{desc} succeeded but part of the range is still mapped")
        self._forget(addr, length, [pr])

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds, prot=st.sampled_from(PROTS))
    def mprotect(self, p, sel, ak, lk, prot):
        pr = self._proc(p)
        addr = self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        th = self._thread(pr, sel)
        desc = f"pid {pr.api.pid}: mprotect({addr:#x}, {length:#x}, {prot:#x})"
        # what mprotect_fixup() must charge, VMA by VMA: unaccounted ones turning writable
        charge = max((e - s for s, e, fl in self._flags_in(pr, addr, length)
                      if not fl & (VM_ACCOUNT | VM_WRITE | VM_NORESERVE)), default=0)
        ok, ret = self._call("mprotect", desc, lambda: th.mprotect(addr, length, prot),
                             [(pr.api, addr, length)])
        if ok:
            self._int(desc, ret)
            if self._mapped_overlap(pr, addr, length) != _page_align(length):
                raise Finding(f"{desc} succeeded over a hole")
            if prot & PROT_WRITE and charge > self.ram:
                raise Finding(f"{desc}: {charge:#x} bytes charged on a machine of "
                              f"{self.ram:#x} bytes (OVERCOMMIT_GUESS refuses it: ENOMEM)")
            # PROT_READ/WRITE/EXEC are VM_READ/WRITE/EXEC (calc_vm_prot_bits())
            self._expect_flags(desc, pr, addr, length, 0, 0, VM_READ | VM_WRITE | VM_EXEC,
                               prot & (VM_READ | VM_WRITE | VM_EXEC))

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds, nk=len_kinds,
          flags=st.sampled_from((0, 0, MREMAP_MAYMOVE, MREMAP_MAYMOVE,
                                 MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_FIXED,
                                 MREMAP_MAYMOVE | MREMAP_DONTUNMAP, MREMAP_DONTUNMAP, 8,
                                 -1, 1 << 40)),
          nak=addr_kinds, nsel=sels)
    def mremap(self, p, sel, ak, lk, nk, flags, nak, nsel):
        pr = self._proc(p)
        old = self._addr(pr, sel, ak)
        old_size = self._length(pr, old, sel, lk)
        new_size = self._length(pr, old, nsel, nk)
        new_addr = self._addr(pr, nsel, nak) if flags & MREMAP_FIXED else 0
        if _page_align(new_size) <= MAX_MAPPED < self._mapped_total(pr) + _page_align(new_size):
            return
        th = self._thread(pr, sel)
        desc = (f"pid {pr.api.pid}: mremap({old:#x}, {old_size:#x}, {new_size:#x}, "
                f"{flags:#x}, {new_addr:#x})")
        touched = [(pr.api, old, old_size), (pr.api, new_addr, new_size)]
        acct = any(fl & VM_ACCOUNT for _, _, fl in self._flags_in(pr, old, PAGE_SIZE))
        ok, ret = self._call("mremap", desc,
                             lambda: th.mremap(old, old_size, new_size, flags, new_addr),
                             touched, partial_ok=lambda e: bool(flags & MREMAP_FIXED))
        if not ok:
            self._forget(old, old_size, [pr])
            if flags & MREMAP_FIXED:
                self._forget(new_addr, new_size, [pr])
            return
        # below mmap_min_addr only with CAP_SYS_RAWIO (cap_mmap_addr()): root may map 0.
        # A shrink or same-size call in place returns ``addr`` itself: 4.14 looks no
        # VMA up for it (do_munmap() of the tail only), so any page-aligned address,
        # even one past TASK_SIZE such as -0x1000, comes back as it went in
        in_place = (not flags & MREMAP_FIXED and ret == old & U64
                    and _page_align(new_size) <= _page_align(old_size))
        if not in_place:
            self._int(desc, ret, 0 if pr.uid == 0 else PAGE_SIZE, TASK_SIZE)
        if ret % PAGE_SIZE:
            raise Finding(f"{desc} returned an unaligned address {ret:#x}")
        if flags & MREMAP_FIXED and ret != new_addr & U64:
            raise Finding(f"{desc}: MREMAP_FIXED returned {ret:#x}")
        # a shrink in place needs no mapping past addr (4.14 looks no VMA up for it;
        # mainline only the one at addr): check what grew or moved
        grew = _page_align(new_size) > _page_align(old_size) or ret != old & U64
        if grew and self._mapped_overlap(pr, ret, new_size) != _page_align(new_size):
            raise Finding(f"{desc}: [{ret:#x}, +{new_size:#x}) is not all mapped after "
                          f"success")
        if "mremap-growth-not-charged" not in KNOWN_FINDINGS and acct and \
                _page_align(new_size) - _page_align(old_size) > self.ram:
            raise Finding(f"{desc}: a VM_ACCOUNT mapping grew by more than the machine's "
                          f"{self.ram:#x} bytes (vma_to_resize() charges it: ENOMEM)")
        # the pages moved with the mapping; what was at the destination is gone
        old &= U64
        keep = min(_page_align(old_size), _page_align(new_size)) if old_size else 0
        moved = {a - old + ret: v for a, v in pr.known.items() if old <= a < old + keep}
        self._forget(old, old_size, [pr])
        self._forget(ret, new_size, [pr])
        if not flags & MREMAP_DONTUNMAP or ret == old:
            pr.known.update(moved)

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds, advice=st.sampled_from(ADVICES))
    def madvise(self, p, sel, ak, lk, advice):
        pr = self._proc(p)
        addr = self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        if advice in (MADV_HWPOISON, MADV_SOFT_OFFLINE):
            if self.poison >= MAX_POISON:
                return
            length = min(length, PAGE_SIZE) if length & U64 < 1 << 63 else length
        if advice in (MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_WILLNEED) and \
                self._mapped_overlap(pr, addr, length) > POPULATE_LIMIT:
            return
        th = self._thread(pr, sel)
        desc = f"pid {pr.api.pid}: madvise({addr:#x}, {length:#x}, {advice})"
        inject = advice in (MADV_HWPOISON, MADV_SOFT_OFFLINE)
        ok, ret = self._call("madvise", desc, lambda: th.madvise(addr, length, advice),
                             [(pr.api, addr, length)],
                             partial_ok=lambda e: inject or e == errno.EINVAL and (
                                 advice in ADVICE_KNOWN and not addr % PAGE_SIZE))
        if advice in (MADV_HWPOISON, MADV_SOFT_OFFLINE):
            self.poison += 1
        if advice == MADV_HWPOISON:
            self.hwpoisoned = True
            self._forget(addr, length)  # every process that maps the frame loses it
        if advice in (MADV_DONTNEED, MADV_FREE, MADV_REMOVE) or not ok and (
                advice in (MADV_HWPOISON,) or not isinstance(ret, OSError)
                or ret.errno not in ARG_ERRNOS):
            self._forget(addr, length, [pr])
        if ok:
            self._int(desc, ret)
            on, off = ADVICE_FLAGS.get(advice, (0, 0))
            self._expect_flags(desc, pr, addr, length, on, off)

    def _mlock(self, kind: str, p: int, sel: int, ak: str, lk: str, flags: int) -> None:
        pr = self._proc(p)
        addr = self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        if kind != "munlock" and not flags & 1 and \
                self._mapped_overlap(pr, addr, length) > POPULATE_LIMIT:
            return
        th = self._thread(pr, sel)
        if kind == "mlock":
            fn, desc = (lambda: th.mlock(addr, length)), f"mlock({addr:#x}, {length:#x})"
        elif kind == "mlock2":
            fn = lambda: th.mlock2(addr, length, flags)  # noqa: E731
            desc = f"mlock2({addr:#x}, {length:#x}, {flags:#x})"
        else:
            fn, desc = (lambda: th.munlock(addr, length)), f"munlock({addr:#x}, {length:#x})"
        desc = f"pid {pr.api.pid}: {desc}"
        ok, ret = self._call(kind, desc, fn, [(pr.api, addr, length)])
        if ok:
            self._int(desc, ret)
            # do_mlock(): len = PAGE_ALIGN(len + offset_in_page(start)), start &= PAGE_MASK
            length = (length & U64) + (addr & (PAGE_SIZE - 1))
            addr = _page_down(addr & U64)
            if kind == "munlock":
                self._expect_flags(desc, pr, addr, length, 0, VM_LOCKED | VM_LOCKONFAULT)
            else:
                onfault = VM_LOCKONFAULT if kind == "mlock2" and flags & 1 else 0
                self._expect_flags(desc, pr, addr, length, VM_LOCKED | onfault,
                                   VM_LOCKONFAULT & ~onfault)

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds)
    def mlock(self, p, sel, ak, lk):
        self._mlock("mlock", p, sel, ak, lk, 0)

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds,
          flags=st.sampled_from((0, 1, 1, 2, -1, (1 << 31) - 1)))
    def mlock2(self, p, sel, ak, lk, flags):
        self._mlock("mlock2", p, sel, ak, lk, flags)

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds)
    def munlock(self, p, sel, ak, lk):
        self._mlock("munlock", p, sel, ak, lk, 0)

    # ------------------------------------------------------------ NUMA
    @rule(p=sels, sel=sels, pk=pid_kinds, n=st.integers(0, 12),
          ak=st.lists(addr_kinds, min_size=1, max_size=4),
          nk=st.sampled_from(NODE_IDS + ("query",)),
          flags=st.sampled_from((0, MPOL_MF_MOVE, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL,
                                 MPOL_MF_STRICT, 1 << 3, -1)))
    def move_pages(self, p, sel, pk, n, ak, nk, flags):
        pr = self._proc(p)
        th = self._thread(pr, sel)
        pid = self._pid(pr, sel, pk)
        target = next((q for q in self._live() if q.api.pid == (pid or pr.api.pid)), None)
        src = target or pr
        pages = [self._addr(src, sel + 13 * i, ak[i % len(ak)]) for i in range(n)]
        nodes = None if nk == "query" else [
            self._node(sel + i, nk if i == n // 2 else "valid") for i in range(n)]
        desc = f"pid {pr.api.pid}: move_pages({pid}, {[hex(a) for a in pages]}, {nodes}, " \
               f"{flags:#x})"
        touched = [(src.api, a, PAGE_SIZE) for a in pages]
        ok, ret = self._call("move_pages", desc,
                             lambda: th.move_pages(pid, pages, nodes, flags), touched,
                             partial_ok=lambda e: n >= 2)
        if not ok:
            return
        rv, status = ret
        self._int(desc, rv, 0, n)
        if len(status) != n:
            raise Finding(f"{desc}: {len(status)} status entries for {n} pages")
        ok_status = {-errno.ENOENT, -errno.EFAULT, -errno.EACCES, -errno.EBUSY,
                     -errno.ENOMEM, -errno.EIO, -errno.EAGAIN, -errno.EPERM, -errno.E2BIG,
                     -errno.EINVAL, -errno.ENODEV, -EHWPOISON}
        for i, s in enumerate(status):
            if type(s) is not int or not (s in self.nids or s in ok_status):
                raise Finding(f"{desc}: status[{i}] = {s!r} is neither a node nor an "
                              f"errno move_pages gives")
            if nodes is None and not self.hwpoisoned and s not in self.nids and (
                    pages[i] & U64) & ~(PAGE_SIZE - 1) in src.known:
                raise Finding(f"{desc}: status[{i}] = {s} for a page that holds a "
                              f"written value (present, so on a node)")

    @rule(p=sels, sel=sels, pk=pid_kinds, maxnode=st.sampled_from(MAXNODES),
          ok_=mask_kinds, nk=mask_kinds, osel=sels, nsel=sels)
    def migrate_pages(self, p, sel, pk, maxnode, ok_, nk, osel, nsel):
        pr = self._proc(p)
        th = self._thread(pr, sel)
        pid = self._pid(pr, sel, pk)
        old, new = self._mask(osel, ok_), self._mask(nsel, nk)
        desc = f"pid {pr.api.pid}: migrate_pages({pid}, {maxnode:#x}, {old}, {new})"
        ok, ret = self._call("migrate_pages", desc,
                             lambda: th.migrate_pages(pid, maxnode, old, new))
        if ok:
            self._int(desc, ret, 0, 1 << 40)

    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds, mode=st.sampled_from(MODES),
          mk=mask_kinds, msel=sels, maxnode=st.sampled_from(MAXNODES),
          flags=st.sampled_from((0, 0, 0, MPOL_MF_MOVE, MPOL_MF_MOVE, MPOL_MF_MOVE,
                                 MPOL_MF_MOVE | MPOL_MF_STRICT, MPOL_MF_MOVE_ALL,
                                 MPOL_MF_STRICT, 1 << 3, 1 << 4, -1)))
    def mbind(self, p, sel, ak, lk, mode, mk, msel, maxnode, flags):
        pr = self._proc(p)
        addr = self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        mask = self._mask(msel, mk)
        th = self._thread(pr, sel)
        desc = (f"pid {pr.api.pid}: mbind({addr:#x}, {length:#x}, {mode:#x}, {mask}, "
                f"{maxnode:#x}, {flags:#x})")
        ok, ret = self._call("mbind", desc,
                             lambda: th.mbind(addr, length, mode, mask, maxnode, flags),
                             [(pr.api, addr, length)],
                             partial_ok=lambda e: len(self._flags_in(pr, addr, length)) >= 2)
        if ok:
            self._int(desc, ret)

    @rule(p=sels, sel=sels, mode=st.sampled_from(MODES), mk=mask_kinds, msel=sels,
          maxnode=st.sampled_from(MAXNODES))
    def set_mempolicy(self, p, sel, mode, mk, msel, maxnode):
        pr = self._proc(p)
        th = self._thread(pr, sel)
        mask = self._mask(msel, mk)
        desc = f"tid {th.tid}: set_mempolicy({mode:#x}, {mask}, {maxnode:#x})"
        ok, ret = self._call("set_mempolicy", desc,
                             lambda: th.set_mempolicy(mode, mask, maxnode))
        if ok:
            self._int(desc, ret)

    @rule(p=sels, sel=sels, maxnode=st.sampled_from(MAXNODES), ak=addr_kinds,
          flags=st.sampled_from((0, 0, MPOL_F_ADDR, MPOL_F_ADDR | MPOL_F_NODE, MPOL_F_NODE,
                                 MPOL_F_MEMS_ALLOWED, MPOL_F_MEMS_ALLOWED | MPOL_F_ADDR,
                                 8, -1)))
    def get_mempolicy(self, p, sel, maxnode, ak, flags):
        pr = self._proc(p)
        th = self._thread(pr, sel)
        addr = self._addr(pr, sel, ak) if flags & MPOL_F_ADDR else 0
        desc = f"tid {th.tid}: get_mempolicy({maxnode:#x}, {addr:#x}, {flags:#x})"
        ok, ret = self._call("get_mempolicy", desc,
                             lambda: th.get_mempolicy(maxnode, addr, flags),
                             [(pr.api, addr, PAGE_SIZE)],
                             partial_ok=lambda e: flags & (MPOL_F_NODE | MPOL_F_ADDR) == (
                                 MPOL_F_NODE | MPOL_F_ADDR))
        if not ok:
            return
        if not (isinstance(ret, tuple) and len(ret) == 2):
            raise Finding(f"{desc} returned {ret!r}")
        mode, mask = ret
        if flags & MPOL_F_NODE and flags & MPOL_F_ADDR:
            if mode not in self.nids:
                raise Finding(f"{desc}: node {mode} does not exist")
        elif type(mode) is not int or mode < 0:
            raise Finding(f"{desc}: mode {mode!r}")
        if mask is not None and (type(mask) is not int or mask < 0
                                 or mask >> MAX_NUMNODES):
            raise Finding(f"{desc}: nodemask {mask!r} has bits past MAX_NUMNODES")
        if (mask is None) != (maxnode == 0):
            raise Finding(f"{desc}: nodemask {mask!r} for maxnode {maxnode}")

    # ------------------------------------------------------------ tasks
    @precondition(lambda self: len(self._live()) < MAX_PROCS)
    @rule(p=sels, cpu=st.sampled_from((None, None, 0, 1, 3, 4, -1, 99)))
    def fork(self, p, cpu):
        pr = self._proc(p)
        desc = f"pid {pr.api.pid}: fork(cpu={cpu})"
        ok, child = self._call("fork", desc, lambda: pr.api.fork(cpu))
        if not ok:
            return
        want = [(s, e) for s, e, fl in self._vmas(pr) if not fl & VM_DONTCOPY]
        got = [(s, e) for s, e, _ in vmas(child)]
        if got != want:
            raise Finding(f"{desc}: the child's VMAs {got} are not the parent's {want} "
                          f"without VM_DONTCOPY")
        kept = {}
        for s, e, fl in vmas(child):
            if fl & VM_WIPEONFORK:
                continue
            kept.update({a: v for a, v in pr.known.items() if s <= a < e})
        self.procs.append(_Proc(child, kept, pr.uid))

    @precondition(lambda self: len(self._live()) < MAX_PROCS)
    @rule(cpu=st.sampled_from((0, 1, 2, 3, 4, -1)), uid=st.sampled_from((0, 0, 1000)))
    def spawn(self, cpu, uid):
        desc = f"spawn(cpu={cpu}, uid={uid})"
        ok, p = self._call("spawn", desc, lambda: self.m.spawn(cpu=cpu, uid=uid))
        if ok:
            self.procs.append(_Proc(p, {}, uid))

    @rule(p=sels, cpu=st.sampled_from((None, 0, 1, 2, 3, 4, -1)))
    def clone(self, p, cpu):
        pr = self._proc(p)
        if len(pr.api.threads) >= MAX_THREADS:
            return
        desc = f"pid {pr.api.pid}: clone(cpu={cpu})"
        self._call("clone", desc, lambda: pr.api.clone(cpu))

    # ------------------------------------------------------------ pipes
    @rule(p=sels, sel=sels, ak=addr_kinds, lk=len_kinds,
          end=st.sampled_from(("write", "write", "write", "read", "stdout", "bad")),
          flags=st.sampled_from((0, 0, 2, 8, 0x10, -1)),
          pflags=st.sampled_from((0, 0, 0, 0o4000, 1)), close=st.sampled_from(
              (None, None, None, "read", "write", "bad")))
    def vmsplice(self, p, sel, ak, lk, end, flags, pflags, close):
        """A pipe (pipe2() with hostile flags), then vmsplice() of a hostile range into
        one of its ends or another descriptor, then maybe a close: the references the
        pipe takes must keep the checker and every later migration consistent."""
        pr = self._proc(p)
        th = self._thread(pr, sel)
        desc = f"pid {pr.api.pid}: pipe2({pflags:#o})"
        ok, fds = self._call("pipe2", desc, lambda: th.pipe2(pflags))
        if not ok:
            return
        if not (isinstance(fds, tuple) and len(fds) == 2 and 0 <= fds[0] < fds[1]):
            raise Finding(f"{desc} returned {fds!r}")
        addr = self._addr(pr, sel, ak)
        length = self._length(pr, addr, sel, lk)
        if lk != "hostile":
            length = min(length, 64 * PAGE_SIZE)
        fd = {"write": fds[1], "read": fds[0], "stdout": 1, "bad": 1 << 20}[end]
        desc = f"pid {pr.api.pid}: vmsplice({fd}, [({addr:#x}, {length:#x})], {flags:#x})"
        ok, ret = self._call("vmsplice", desc, lambda: th.vmsplice(fd, (addr, length),
                                                                   flags & U64 & 0xFFFFFFFF))
        if ok:
            self._int(desc, ret, 0, min(length, 16 * PAGE_SIZE))
        if close is not None:
            cfd = {"read": fds[0], "write": fds[1], "bad": -1}[close]
            self._call("close", f"pid {pr.api.pid}: close({cfd})", lambda: th.close(cfd))

    @precondition(lambda self: len(self._live()) > 1)
    @rule(p=sels)
    def exit(self, p):
        pr = self._proc(p)
        desc = f"pid {pr.api.pid}: exit()"
        ok, ret = self._call("exit", desc, lambda: pr.api.exit())
        if not ok or not isinstance(ret, list):
            raise Finding(f"{desc}: {ret!r}")
        if ret:
            raise Finding(f"{desc}: check_mm reported {ret}")
        self.dead.append(pr.api)
        pr.known.clear()

    @precondition(lambda self: bool(self.dead))
    @rule(d=sels, call=st.sampled_from(("mmap", "munmap", "mprotect", "mremap", "madvise",
                                        "mlock", "mlock2", "munlock", "move_pages",
                                        "migrate_pages", "mbind", "set_mempolicy",
                                        "get_mempolicy", "fork", "clone", "exit", "read",
                                        "write", "sys", "fs", "thread")))
    def call_on_exited(self, d, call):
        """Every call through a handle of an exited process raises OSError ESRCH and
        changes nothing."""
        api = self.dead[d % len(self.dead)]
        other = self._live()[0].api.pid
        calls: dict[str, Callable[[], Any]] = {
            "mmap": lambda: api.mmap(0, PAGE_SIZE, RW, ANON),
            "munmap": lambda: api.munmap(ARENA, PAGE_SIZE),
            "mprotect": lambda: api.mprotect(ARENA, PAGE_SIZE, PROT_READ),
            "mremap": lambda: api.mremap(ARENA, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE),
            "madvise": lambda: api.madvise(ARENA, PAGE_SIZE, MADV_DONTNEED),
            "mlock": lambda: api.mlock(ARENA, PAGE_SIZE),
            "mlock2": lambda: api.mlock2(ARENA, PAGE_SIZE, 1),
            "munlock": lambda: api.munlock(ARENA, PAGE_SIZE),
            "move_pages": lambda: api.move_pages(other, [ARENA], [self.nids[-1]]),
            "migrate_pages": lambda: api.migrate_pages(other, 1025, 1 << self.nids[0],
                                                       1 << self.nids[-1]),
            "mbind": lambda: api.mbind(ARENA, PAGE_SIZE, MPOL_BIND, 1 << self.nids[-1], 1025),
            "set_mempolicy": lambda: api.set_mempolicy(MPOL_BIND, 1 << self.nids[-1], 1025),
            "get_mempolicy": lambda: api.get_mempolicy(),
            "fork": lambda: api.fork(),
            "clone": lambda: api.clone(),
            "exit": lambda: api.exit(),
            "read": lambda: api.read(ARENA),
            "write": lambda: api.write(ARENA, 1),
            "sys": lambda: api.sys,
            "fs": lambda: api.fs,
            "thread": lambda: api.threads[-1].set_mempolicy(MPOL_DEFAULT),
        }
        desc = f"exited pid {api.pid}: {call}"
        STATS.calls["on_exited"] += 1
        before = self._snapshot([])
        try:
            calls[call]()
        except OSError as e:
            STATS.errnos[f"on_exited {errno.errorcode.get(e.errno, e.errno)}"] += 1
            if e.errno != errno.ESRCH:
                raise Finding(f"{desc}: errno {e.errno}, not ESRCH") from e
        else:
            raise Finding(f"{desc} succeeded")
        self._unchanged(desc, "ESRCH", before, [])

    @rule(p=sels, pk=pid_kinds, sig=st.sampled_from((0, 0, 65, -1, 1 << 20, 0x7FFFFFFF)))
    def kill(self, p, pk, sig):
        pr = self._proc(p)
        pid = self._pid(pr, p, pk)
        desc = f"kill({pid}, {sig})"
        ok, ret = self._call("kill", desc, lambda: self.m.kill(pid, sig))
        if ok:
            self._int(desc, ret)

    # ------------------------------------------------------------ user memory
    def _access_ok(self, pr: _Proc, addr: int, write: bool) -> bool:
        """Would Linux let this access through (a VMA with the right permission)?"""
        addr &= U64
        for s, e, fl in self._vmas(pr):
            if s <= addr < e:
                return bool(fl & (VM_WRITE if write else VM_READ))
        return False

    def _write(self, pr: _Proc, th: Any, addr: int, value: int) -> None:
        desc = f"pid {pr.api.pid}: write({addr:#x}, {value:#x})"
        expect = self._access_ok(pr, addr, True)
        ok, sig = self._call("write", desc, lambda: th.write(addr, value))
        if ok:
            if not expect:
                raise Finding(f"{desc} succeeded where no writable VMA is")
            pr.known[_page_down(addr & U64)] = value & U64
            return
        if sig.si_signo == signal.SIGBUS and not self.hwpoisoned:
            raise Finding(f"{desc}: SIGBUS with no poisoned page in the machine")
        if expect and sig.si_signo == signal.SIGSEGV:
            raise Finding(f"{desc}: SIGSEGV in a writable VMA")

    def _read(self, pr: _Proc, th: Any, addr: int) -> None:
        desc = f"pid {pr.api.pid}: read({addr:#x})"
        expect = self._access_ok(pr, addr, False)
        ok, ret = self._call("read", desc, lambda: th.read(addr))
        if ok:
            if not expect:
                raise Finding(f"{desc} succeeded where no readable VMA is")
            want = pr.known.get(_page_down(addr & U64))
            if want is not None and ret != want:
                raise Finding(f"{desc} returned {ret:#x}; {want:#x} was written last")
            return
        if ret.si_signo == signal.SIGBUS and not self.hwpoisoned:
            raise Finding(f"{desc}: SIGBUS with no poisoned page in the machine")
        if expect and ret.si_signo == signal.SIGSEGV:
            raise Finding(f"{desc}: SIGSEGV in a readable VMA")

    @rule(p=sels, sel=sels, ak=addr_kinds, n=st.integers(1, 6), write=st.booleans())
    def access(self, p, sel, ak, n, write):
        """Stores of distinct values (or loads) at sane and hostile addresses."""
        pr = self._proc(p)
        for i in range(n):
            th = self._thread(pr, sel + i)
            a = self._addr(pr, sel + 31 * i, ak)
            if write:
                self._write(pr, th, a, self._value())
            else:
                self._read(pr, th, a)

    @rule(p=sels, sel=sels, stride=st.sampled_from((1, 64, 512)))
    def write_thp(self, p, sel, stride):
        """Real work: a 2 MiB-aligned range with MADV_HUGEPAGE, written every
        ``stride`` pages (a THP fault where THP is allowed)."""
        pr = self._proc(p)
        base = ARENA + (sel % ARENA_SLOTS) * HPAGE_PMD_SIZE
        if not self._access_ok(pr, base, True):
            if self._mapped_total(pr) + HPAGE_PMD_SIZE > MAX_MAPPED:
                return
            ok, _ = self._call("mmap", f"pid {pr.api.pid}: mmap THP slot {base:#x}",
                               lambda: pr.api.mmap(base, HPAGE_PMD_SIZE, RW,
                                                   ANON | MAP_FIXED))
            self._forget(base, HPAGE_PMD_SIZE, [pr])
            if not ok:
                return
        self._call("madvise", f"pid {pr.api.pid}: MADV_HUGEPAGE {base:#x}",
                   lambda: pr.api.madvise(base, HPAGE_PMD_SIZE, MADV_HUGEPAGE))
        th = self._thread(pr, sel)
        for a in range(base, base + HPAGE_PMD_SIZE, stride * PAGE_SIZE)[:64]:
            self._write(pr, th, a, self._value())

    @rule(p=sels, sel=sels, n=st.integers(1, 8), node=sels,
          flags=st.sampled_from((MPOL_MF_MOVE, MPOL_MF_MOVE_ALL)))
    def migrate_known(self, p, sel, n, node, flags):
        """Real work: move pages that hold known values to another node; each status
        is a node or an errno, and the values read back."""
        pr = self._proc(p)
        known = sorted(pr.known)
        if not known:
            return
        pages = [known[(sel + 97 * i) % len(known)] for i in range(n)]
        target = self.nids[node % len(self.nids)]
        th = self._thread(pr, sel)
        desc = f"pid {pr.api.pid}: move_pages(0, {[hex(a) for a in pages]}, {target})"
        ok, ret = self._call("move_pages", desc,
                             lambda: th.move_pages(0, pages, [target] * n, flags),
                             [(pr.api, a, PAGE_SIZE) for a in pages],
                             partial_ok=lambda e: n >= 2)
        if ok:
            STATS.calls["move_pages moved"] += sum(s == target for s in ret[1])
        for a in pages:
            self._read(pr, th, a)

    # ------------------------------------------------------------ memory hotplug, cgroups
    @rule(b=sels, how=st.sampled_from(("offline", "offline", "online", "online_movable",
                                       "online_kernel", "garbage", "missing", "online0")))
    def block_state(self, b, how):
        """Memory hot-remove and online through /sys/devices/system/memory."""
        # mostly the movable block (the last), which can go offline
        blk = self.blocks[-1 if b % 4 != 3 else b // 4 % len(self.blocks)]
        if how == "missing":
            blk = 10000 + b % 7
        path = f"/sys/devices/system/memory/memory{blk}/"
        if how == "online0":
            path, data = path + "online", ("0", "1", "2", "")[b % 4]
        else:
            data = {"garbage": ("offlinex", "", "\n", "online_foo", "1")[b % 5],
                    "missing": "offline"}.get(how, how)
            path += "state"
        desc = f"write {data!r} to {path}"
        self._call("block_state", desc, lambda: self.m.fs.write(path, data))

    @precondition(lambda self: self.poison < MAX_POISON)
    @rule(p=sels, sel=sels, how=st.sampled_from(("known", "known", "hostile", "garbage")))
    def soft_offline_page(self, p, sel, how):
        """/sys/devices/system/memory/soft_offline_page with the physical address of a
        page holding a known value (read from pagemap), or a hostile one; the value
        survives the move."""
        pr = self._proc(p)
        known = sorted(pr.known)
        if how == "known" and known:
            a = known[sel % len(known)]
            entry = int.from_bytes(self.m.fs.read(f"/proc/{pr.api.pid}/pagemap",
                                                  offset=a // PAGE_SIZE * 8, length=8),
                                   "little")
            if not entry >> 63:
                return
            data = hex((entry & ((1 << 55) - 1)) * PAGE_SIZE)
        elif how == "garbage":
            data = ("", "0x", "-1", "zz", "0x1000000000000000000")[sel % 5]
        else:
            data = str(HOSTILE_U64[sel % len(HOSTILE_U64)] & U64)
        path = "/sys/devices/system/memory/soft_offline_page"
        self.poison += 1
        self._call("soft_offline_page", f"write {data!r} to {path}",
                   lambda: self.m.fs.write(path, data))
        for a in known[:8]:
            self._read(pr, self._thread(pr, sel), a)

    @rule(p=sels, pk=pid_kinds, garbage=st.sampled_from((None, None, "", "abc", "-1",
                                                         "1 2", "99999999999999999999")))
    def cpuset_attach(self, p, pk, garbage):
        pr = self._proc(p)
        data = str(self._pid(pr, p, pk)) if garbage is None else garbage
        path = f"{self.cs_root}/fz/cgroup.procs"
        self._call("cpuset_attach", f"write {data!r} to {path}",
                   lambda: self.m.fs.write(path, data))

    @rule(sel=sels, kind=st.sampled_from(("nodes", "nodes", "missing", "empty", "garbage")))
    def cpuset_mems(self, sel, kind):
        if kind == "garbage":
            data = ("0-", "-1", "1-0", "0,,1", "x", "1023", "0-1048576")[sel % 7]
        elif kind == "empty":
            data = ""
        else:
            mask = self._mask(sel, kind)
            data = ",".join(str(n) for n in range(MAX_NUMNODES) if mask >> n & 1)
        path = f"{self.cs_root}/fz/cpuset.mems"
        self._call("cpuset_mems", f"write {data!r} to {path}",
                   lambda: self.m.fs.write(path, data))

    # ------------------------------------------------------------ after every step
    @invariant()
    def integrity(self):
        """(b) and (c): the full invariant check, then a sample of known pages read back."""
        if not hasattr(self, "m"):
            return
        STATS.steps += 1
        self.m.check_integrity()
        for pr in self._live():
            known = sorted(pr.known)
            step = max(1, len(known) // 8)
            for a in known[::step][:8]:
                self._read(pr, pr.api.threads[0], a)


# ---------------------------------------------------------------- Machine(...) arguments
def machine_config_strategy() -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for :class:`thpsim.Machine`, mostly invalid somewhere: node
    sizes and ids, CPU counts, modes, profiles, distances, TLB sizes, movable sizes,
    unknown switches. Small machines only (at most 512 MiB in all)."""
    sizes = st.sampled_from((128 * MiB, 256 * MiB, 0, -128 * MiB, 100, 128 * MiB + 4096,
                             1 << 62, 64 * MiB))
    nid = st.sampled_from((0, 1, 2, 5, -1, 1023, 1024, 1 << 40))
    nodes = st.one_of(st.none(), st.dictionaries(nid, sizes, max_size=3),
                      st.sampled_from(({}, {0: 128 * MiB}, {0: 128 * MiB, 1: 128 * MiB})))
    anything = st.sampled_from((None, "x", -1, 0, 1.5, True, (), object()))
    return st.fixed_dictionaries({}, optional={
        "nodes": nodes,
        "cpus": st.one_of(st.integers(-2, 5), st.dictionaries(nid, st.integers(-1, 3),
                                                               max_size=3), anything),
        "thp": st.sampled_from(("always", "madvise", "never", "", "ALWAYS", None, 1)),
        "profile": st.sampled_from(("seed", "mainline", "4.14", "", None, 0)),
        "seed": st.one_of(st.integers(-(1 << 70), 1 << 70), anything),
        "distance": st.one_of(st.none(), st.dictionaries(
            st.tuples(nid, nid), st.sampled_from((10, 20, 0, -5, 255, 256, 1.5)), max_size=3),
            anything),
        "block_size": st.sampled_from((128 * MiB, 64 * MiB, 0, -1, 4096, 3 * MiB,
                                       256 * MiB, 1 << 40, 1.5)),
        "defrag": st.sampled_from(("madvise", "always", "defer", "defer+madvise", "never",
                                   "bogus", None)),
        "movable": st.one_of(st.none(), st.dictionaries(nid, sizes, max_size=2), anything),
        "movable_align": st.sampled_from((None, 4 * MiB, 0, -1, 4097, 128 * MiB, 1 << 40)),
        "tlb_entries": st.sampled_from(((1536, 1024), (1, 1), (0, 1), (1,), (1, 2, 3),
                                        (-1, 5), None, "ab")),
        "host_memory": st.sampled_from((None, 1 << 40, "x", 1.5, -1)),
        "switches": st.dictionaries(st.sampled_from(("no_such_switch", "thp_cow_copies_huge")),
                                    st.sampled_from((True, False, 1, "x")), max_size=1),
    })
