"""Automatic NUMA balancing: the scanner, the fault statistics and the migration filter.

Models: kernel/sched/fair.c (CONFIG_NUMA_BALANCING: task_tick_numa(),
task_numa_work(), task_numa_fault(), should_numa_migrate_memory(), the scan-period
helpers and the 5.18+/6.0+ memory-tiering promotion filter), with the tunables of
kernel/sched/core.c, kernel/sysctl.c (4.14) and kernel/sched/debug.c (5.13+). The
module is ``kernel/sched_fair.py`` because ``kernel/sched.py`` is the kernel core's
trap module (kernel/sched/ cannot be a package beside it); it sits at the mm level.

docs/numa-balancing.md describes what runs, era by era. In short:

* Time is a jiffies clock (HZ = 1000: a jiffy is a millisecond; Debian's kernels use
  HZ = 250, which only coarsens the tick) that advances only when a task is ticked
  (:func:`scheduler_tick`, the API's ``Thread.tick()``/``spin()``); each tick adds
  TICK_NSEC to that task's ``sum_exec_runtime``. A tick runs task_tick_numa(), which
  queues the task's numa_work; the work runs on the task's way back to user space
  (:func:`task_work_run`), as task_work_run() does.
* task_numa_work() makes up to ``scan_size_mb`` of present PTEs per pass PROT_NONE
  (change_prot_numa(), mm/mempolicy.py), skipping the VMAs the kernel skips; 6.4+
  keeps per-VMA state (``numa_balancing_vma_scan_state``).
* A hinting fault (mm/memory.py do_numa_page(), mm/huge_memory.py
  do_huge_pmd_numa_page()) asks mpol_misplaced() (mm/mempolicy.py), which asks
  :func:`should_numa_migrate_memory`, and reports to :func:`task_numa_fault`.

Simplified:
    * No task placement: no numa_group, no preferred node, no task migration between
      nodes (task_numa_placement() only ends a scan sequence and adapts the scan
      period; numa_migrate_preferred() is never reached, numa_preferred_nid stays
      NUMA_NO_NODE). Faults are "private" when the page's last cpupid names this pid
      or none (there is no group to call them shared with), so
      update_task_scan_period() sees private faults only.
    * The scan period adapts once per scan sequence from the locality counts since the
      previous one (the kernel decays per-node fault buffers); scanning's own runtime
      is not charged back (the 32x node_stamp penalty).
    * The task's NUMA fields (task_struct's node_stamp, numa_scan_period, ...) and
      pgdat's promotion fields live in :class:`numa_balancing_state` beside the task
      and node (keyed by pid and node id), not in task_struct/pglist_data.
    * page->_last_cpupid (the LAST_CPUPID_NOT_IN_PAGE_FLAGS form) is a sparse table
      per head PFN, stamped with the page's mapping and index: an entry whose page has
      since been freed and reused reads as unset (the kernel resets it on free);
      migration moves it (folio_migrate_flags()); a split leaves the tails unset.
    * A node is top tier when it has CPUs (5.18's node_is_toptier(), N_CPU). 6.1+
      ranks nodes by memory tiers (mm/memory-tiers.c): a CPU-less node of ordinary
      DRAM is top tier there, only dax/kmem or CXL memory with a larger abstract
      distance is not; the model takes every CPU-less node for such memory (the
      tiered machine's slow node is one).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SHIFT
from thpsim.include.uapi.linux.mempolicy import MPOL_F_MOF
from thpsim.kernel.locking import down_read_trylock, up_read
from thpsim.kernel.sched import PREEMPT, KernelPath
from thpsim.kernel.sysctl import proc_dointvec_minmax, sysctl_test_perm
from thpsim.mm.mm_types import VM_EXEC, VM_HUGETLB, VM_IO, VM_MIXEDMAP, VM_PFNMAP, VM_READ, VM_WRITE
from thpsim.mm.page_alloc import NUMA_NO_NODE, node_free_pages
from thpsim.mm.swap import hpage_nr_pages
from thpsim.mm.vmstat import PGPROMOTE_CANDIDATE

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File
    from thpsim.kernel.context import KernelContext
    from thpsim.mm.mm_types import mm_struct, vm_area_struct

__all__ = [
    "HZ", "NUMA_BALANCING_NORMAL", "NUMA_BALANCING_MEMORY_TIERING", "TNF_MIGRATED",
    "TNF_NO_GROUP", "TNF_SHARED", "TNF_FAULT_LOCAL", "TNF_MIGRATE_FAIL",
    "numa_balancing_state", "numab", "node_is_toptier", "folio_last_cpupid",
    "folio_xchg_last_cpupid", "folio_xchg_access_time", "folio_use_access_time",
    "folio_migrate_last_cpupid", "pgdat_numab_of", "msecs_to_jiffies", "jiffies_to_msecs",
    "should_numa_migrate_memory", "task_numa_fault",
    "vma_set_access_pid_bit", "task_numa_work", "task_tick_numa", "scheduler_tick",
    "task_work_run", "register",
]

#: The model's tick rate: a jiffy is a millisecond (Debian: CONFIG_HZ=250).
HZ = 1000
MSEC_PER_SEC = 1000
NSEC_PER_MSEC = 1_000_000
TICK_NSEC = NSEC_PER_MSEC * MSEC_PER_SEC // HZ

# include/linux/sched/sysctl.h: kernel.numa_balancing's mode bits (5.18+)
NUMA_BALANCING_DISABLED = 0x0
NUMA_BALANCING_NORMAL = 0x1
NUMA_BALANCING_MEMORY_TIERING = 0x2

# include/linux/sched/numa_balancing.h: task_numa_fault() flags
TNF_MIGRATED = 0x01
TNF_NO_GROUP = 0x02
TNF_SHARED = 0x04
TNF_FAULT_LOCAL = 0x08
TNF_MIGRATE_FAIL = 0x10

# kernel/sched/fair.c
NUMA_PERIOD_SLOTS = 10
NUMA_PERIOD_THRESHOLD = 7
MAX_SCAN_WINDOW = 2560  # MB/s: never scan faster than this
NUMA_MIGRATION_ADJUST_STEPS = 16

# include/linux/page-flags-layout.h, include/linux/mm.h: the cpupid word
# (NR_CPUS_BITS for Debian's NR_CPUS=8192)
NR_CPUS_BITS = 13
LAST__PID_SHIFT = 8
LAST__PID_MASK = (1 << LAST__PID_SHIFT) - 1
LAST__CPU_MASK = (1 << NR_CPUS_BITS) - 1
LAST_CPUPID_SHIFT = LAST__PID_SHIFT + NR_CPUS_BITS
LAST_CPUPID_MASK = (1 << LAST_CPUPID_SHIFT) - 1
#: the access-time form (memory tiering): milliseconds in the cpupid bits, no buckets
#: when they hold PAGE_ACCESS_TIME_MIN_BITS (12) or more
PAGE_ACCESS_TIME_BUCKETS = 0
PAGE_ACCESS_TIME_MASK = LAST_CPUPID_MASK << PAGE_ACCESS_TIME_BUCKETS

# 4.14 mm/migrate.c numamigrate_update_ratelimit(): 128 MiB per 100 ms per node
MIGRATE_INTERVAL_MILLISECS = 100
RATELIMIT_PAGES = 128 << (20 - PAGE_SHIFT)


def msecs_to_jiffies(ms: int) -> int:
    return ms * HZ // MSEC_PER_SEC


def jiffies_to_msecs(j: int) -> int:
    return j * MSEC_PER_SEC // HZ


def time_before(a: int, b: int) -> bool:
    return a < b


def time_after(a: int, b: int) -> bool:
    return a > b


# ---------------------------------------------------------------- state
class task_numab:
    """task_struct's NUMA-balancing fields (the ones the model uses), kept beside the
    task. Models: init_numa_balancing(): node_stamp 0, numa_scan_period the scan delay,
    numa_work not queued."""

    __slots__ = ("node_stamp", "numa_scan_period", "numa_scan_period_max", "numa_scan_seq",
                 "work_pending", "sum_exec_runtime", "numa_faults_locality", "fault_types",
                 "numa_pages_migrated", "numa_preferred_nid")

    def __init__(self, scan_delay: int, mm_seq: int):
        self.node_stamp = 0
        self.numa_scan_period = scan_delay
        self.numa_scan_period_max = 0
        self.numa_scan_seq = mm_seq
        self.work_pending = False
        self.sum_exec_runtime = 0
        #: [remote, local, migrate-failed] pages since the last placement
        self.numa_faults_locality = [0, 0, 0]
        #: [shared, private] pages since the last placement
        self.fault_types = [0, 0]
        self.numa_pages_migrated = 0
        self.numa_preferred_nid = NUMA_NO_NODE


class pgdat_numab:
    """pglist_data's NUMA-balancing fields: 6.0's promotion rate limit and hot threshold
    (nbp_rl_*, nbp_th_*), 4.14's migration rate limit (numabalancing_migrate_*)."""

    __slots__ = ("nbp_rl_start", "nbp_rl_nr_cand", "nbp_threshold", "nbp_th_start",
                 "nbp_th_nr_cand", "numabalancing_migrate_nr_pages",
                 "numabalancing_migrate_next_window")

    def __init__(self) -> None:
        self.nbp_rl_start = 0
        self.nbp_rl_nr_cand = 0
        self.nbp_threshold = 0
        self.nbp_th_start = 0
        self.nbp_th_nr_cand = 0
        self.numabalancing_migrate_nr_pages = 0
        self.numabalancing_migrate_next_window = 0


class vma_numab_state:
    """Models: include/linux/mm_types.h struct vma_numab_state (6.7 form)."""

    __slots__ = ("next_scan", "pids_active_reset", "pids_active", "start_scan_seq",
                 "prev_scan_seq")

    def __init__(self, now: int, delay: int, seq: int):
        self.start_scan_seq = seq
        self.next_scan = now + msecs_to_jiffies(delay)
        # VMA_PID_RESET_PERIOD: 4 scan delays
        self.pids_active_reset = self.next_scan + msecs_to_jiffies(4 * delay)
        self.pids_active = [0, 0]
        #: not the current sequence, so the first pass is not skipped
        self.prev_scan_seq = seq - 1


class numa_balancing_state:
    """The machine's NUMA-balancing state: the clock, the tunables (the kernel's
    sysctl_numa_balancing_* globals, their boot values), and the per-task, per-node and
    per-page tables (module docstring, Simplified)."""

    __slots__ = ("jiffies", "scan_delay", "scan_period_min", "scan_period_max", "scan_size",
                 "hot_threshold", "promote_rate_limit", "tasks", "nodes", "last_cpupid")

    def __init__(self) -> None:
        self.jiffies = 0
        self.scan_delay = 1000         # sysctl_numa_balancing_scan_delay, ms
        self.scan_period_min = 1000    # ms
        self.scan_period_max = 60000   # ms
        self.scan_size = 256           # MB
        self.hot_threshold = 1000      # ms (6.0+)
        self.promote_rate_limit = 65536  # MB/s (6.0+)
        self.tasks: dict[int, task_numab] = {}
        self.nodes: dict[int, pgdat_numab] = {}
        #: head PFN -> (cpupid, page->mapping, page->index when it was set)
        self.last_cpupid: dict[int, tuple[int, int, int]] = {}


def numab(ctx: KernelContext) -> numa_balancing_state:
    """The machine's NUMA-balancing state (made on first use)."""
    s = ctx.numa_balancing
    if s is None:
        s = ctx.numa_balancing = numa_balancing_state()
    return s


def _task(ctx: KernelContext, task: Any) -> task_numab:
    s = numab(ctx)
    t = s.tasks.get(task.pid)
    if t is None:
        t = s.tasks[task.pid] = task_numab(s.scan_delay, task.mm.numa_scan_seq if task.mm else 0)
    return t


def init_numa_balancing(ctx: KernelContext, parent_mm: Any) -> task_numab:
    """Models: kernel/sched/fair.c init_numa_balancing(), from __sched_fork() in
    copy_process(), before copy_mm(): ``p->mm`` is still the parent's then, so a
    single-user parent mm gets numa_next_scan a scan delay from now and numa_scan_seq
    0 (dup_mm()'s copy of it passes both to the child: fork_numa_balancing_mm()); the
    task starts with node_stamp 0 and the scan delay of this moment as its scan period.
    So the tunables a process forks under decide when its first scan comes (a write to
    scan_delay_ms after the fork does not move it). Returns the new task's fields
    (copy_process() files them under its pid, attach_numa_balancing()).
    Preempts: never."""
    s = numab(ctx)
    if parent_mm is not None and parent_mm.mm_users == 1:
        parent_mm.numa_next_scan = s.jiffies + msecs_to_jiffies(s.scan_delay)
        parent_mm.numa_scan_seq = 0
    return task_numab(s.scan_delay, parent_mm.numa_scan_seq if parent_mm else 0)


def attach_numa_balancing(ctx: KernelContext, p: Any, t: task_numab) -> None:
    """The new task's fields, under its pid once it has one."""
    numab(ctx).tasks[p.pid] = t


def fork_numa_balancing_mm(mm: Any, oldmm: Any) -> None:
    """dup_mm()'s memcpy() of the parent's mm_struct, for the NUMA-balancing fields:
    the child's first scan is due when the parent's is (init_numa_balancing())."""
    mm.numa_next_scan = oldmm.numa_next_scan
    mm.numa_scan_seq = oldmm.numa_scan_seq


def exit_numa_balancing(ctx: KernelContext, task: Any) -> None:
    """The task's NUMA-balancing fields go with its task_struct (do_exit())."""
    if ctx.numa_balancing is not None:
        ctx.numa_balancing.tasks.pop(task.pid, None)


def pgdat_numab_of(ctx: KernelContext, nid: int) -> pgdat_numab:
    s = numab(ctx)
    p = s.nodes.get(nid)
    if p is None:
        p = s.nodes[nid] = pgdat_numab()
    return p


def sched_numa_balancing(ctx: KernelContext) -> bool:
    """The sched_numa_balancing static key: on for any non-zero mode."""
    return ctx.sysctl_numa_balancing_mode != NUMA_BALANCING_DISABLED


def node_is_toptier(ctx: KernelContext, nid: int) -> bool:
    """Models: node_is_toptier() (5.18: node_state(node, N_CPU); 6.1+ memory tiers,
    see the module docstring): a node with CPUs."""
    return any(c.nid == nid for c in ctx.cpus)


# ---------------------------------------------------------------- cpupid in the page
def cpu_pid_to_cpupid(cpu: int, pid: int) -> int:
    return ((cpu & LAST__CPU_MASK) << LAST__PID_SHIFT) | (pid & LAST__PID_MASK)


def cpupid_to_pid(cpupid: int) -> int:
    return cpupid & LAST__PID_MASK


def cpupid_to_cpu(cpupid: int) -> int:
    return (cpupid >> LAST__PID_SHIFT) & LAST__CPU_MASK


def cpupid_pid_unset(cpupid: int) -> bool:
    return cpupid_to_pid(cpupid) == (-1 & LAST__PID_MASK)


def cpupid_valid(ctx: KernelContext, cpupid: int) -> bool:
    return cpupid_to_cpu(cpupid) < len(ctx.cpus)


def cpupid_match_pid(task: Any, cpupid: int) -> bool:
    return task.pid & LAST__PID_MASK == cpupid_to_pid(cpupid)


def folio_last_cpupid(ctx: KernelContext, head: int) -> int:
    """Models: folio_last_cpupid() (4.14 page_cpupid_last()): -1 & LAST_CPUPID_MASK
    when unset (page_cpupid_reset_last())."""
    e = numab(ctx).last_cpupid.get(head)
    pages = ctx.pages
    if e is None or e[1] != pages.mapping[head] or e[2] != pages.index[head]:
        return LAST_CPUPID_MASK
    return e[0]


def folio_xchg_last_cpupid(ctx: KernelContext, head: int, cpupid: int) -> int:
    """Models: folio_xchg_last_cpupid() (4.14 page_cpupid_xchg_last())."""
    old = folio_last_cpupid(ctx, head)
    pages = ctx.pages
    numab(ctx).last_cpupid[head] = (cpupid & LAST_CPUPID_MASK, pages.mapping[head],
                                    pages.index[head])
    return old


def folio_xchg_access_time(ctx: KernelContext, head: int, time: int) -> int:
    """Models: folio_xchg_access_time() (6.0+): the scan or fault time in milliseconds,
    kept where the cpupid is. Returns the previous one."""
    last = folio_xchg_last_cpupid(ctx, head, time >> PAGE_ACCESS_TIME_BUCKETS)
    return last << PAGE_ACCESS_TIME_BUCKETS


def folio_use_access_time(ctx: KernelContext, head: int) -> bool:
    """Models: folio_use_access_time() (6.10; an open-coded test in 6.0-6.9): in
    tiering mode, a folio off the top tier keeps its access time, not a cpupid."""
    return bool(ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING) and (
        not node_is_toptier(ctx, ctx.mem.pfn_to_nid(head)))


def folio_migrate_last_cpupid(ctx: KernelContext, new: int, old: int) -> None:
    """Models: folio_migrate_flags()'s cpupid part (4.14 migrate_page_states()): the
    new folio takes the old one's cpupid, which is reset; 6.0+ outside tiering mode
    drops it when the folio changes tier. Context: the new folio's mapping and index
    are set."""
    if ctx.numa_balancing is None or old not in ctx.numa_balancing.last_cpupid:
        return
    table = ctx.numa_balancing.last_cpupid
    cpupid = folio_last_cpupid(ctx, old)
    del table[old]
    if ctx.profile.numa_balancing_memory_tiering and not (
            ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING):
        if node_is_toptier(ctx, ctx.mem.pfn_to_nid(old)) != node_is_toptier(
                ctx, ctx.mem.pfn_to_nid(new)):
            cpupid = LAST_CPUPID_MASK
    if cpupid != LAST_CPUPID_MASK:
        folio_xchg_last_cpupid(ctx, new, cpupid)


# ---------------------------------------------------------------- memory tiering (6.0+)
def numa_hint_fault_latency(ctx: KernelContext, head: int) -> int:
    """Models: numa_hint_fault_latency(): milliseconds from the scan that made the
    folio PROT_NONE to this fault (the access time is replaced by now)."""
    time = jiffies_to_msecs(numab(ctx).jiffies)
    last = folio_xchg_access_time(ctx, head, time)
    return (time - last) & PAGE_ACCESS_TIME_MASK


def numa_promotion_rate_limit(ctx: KernelContext, nid: int, rate_limit: int, nr: int) -> bool:
    """Models: numa_promotion_rate_limit(): count ``nr`` candidate pages
    (pgpromote_candidate) and refuse once the candidates of the current second reach
    ``rate_limit`` pages."""
    p = pgdat_numab_of(ctx, nid)
    now = jiffies_to_msecs(numab(ctx).jiffies)
    ctx.vmstat.mod_node_page_state(nid, PGPROMOTE_CANDIDATE, nr)
    nr_cand = ctx.vmstat.node[nid][PGPROMOTE_CANDIDATE]
    if now - p.nbp_rl_start > MSEC_PER_SEC:
        p.nbp_rl_start = now
        p.nbp_rl_nr_cand = nr_cand
    return nr_cand - p.nbp_rl_nr_cand >= rate_limit


def numa_promotion_adjust_threshold(ctx: KernelContext, nid: int, rate_limit: int,
                                    ref_th: int) -> None:
    """Models: numa_promotion_adjust_threshold(): once per scan_period_max, lower the
    hot threshold by a step when more pages were candidates than the rate limit lets
    through in that time (more than 110 %), raise it when fewer (under 90 %)."""
    s = numab(ctx)
    p = pgdat_numab_of(ctx, nid)
    now = jiffies_to_msecs(s.jiffies)
    th_period = s.scan_period_max
    if now - p.nbp_th_start > th_period:
        p.nbp_th_start = now
        ref_cand = rate_limit * s.scan_period_max // MSEC_PER_SEC
        nr_cand = ctx.vmstat.node[nid][PGPROMOTE_CANDIDATE]
        diff_cand = nr_cand - p.nbp_th_nr_cand
        unit_th = ref_th * 2 // NUMA_MIGRATION_ADJUST_STEPS
        th = p.nbp_threshold or ref_th
        if diff_cand > ref_cand * 11 // 10:
            th = max(th - unit_th, unit_th)
        elif diff_cand < ref_cand * 9 // 10:
            th = min(th + unit_th, ref_th * 2)
        p.nbp_th_nr_cand = nr_cand
        p.nbp_threshold = th


def pgdat_free_space_enough(ctx: KernelContext, nid: int) -> bool:
    """Models: pgdat_free_space_enough(): free memory above max(1 GiB, a sixteenth of
    the node) (the model has no watermarks: promo_wmark_pages() is 0)."""
    present = ctx.node_data[nid].node_present_pages
    enough = max((1 << 30) >> PAGE_SHIFT, present >> 4)
    return node_free_pages(ctx, nid) > enough


# ---------------------------------------------------------------- the migration filter
def should_numa_migrate_memory(ctx: KernelContext, task: Any, head: int, src_nid: int,
                               dst_cpu: int) -> bool:
    """Whether a misplaced folio should move to ``dst_cpu``'s node now.

    Models: kernel/sched/fair.c should_numa_migrate_memory(), 4.14 and 6.x: no
    migration to a node without memory; in tiering mode (5.18+; 6.0's form) a folio
    off the top tier is promoted when the fast node has ample free memory, else when
    its hint-fault latency is under the (adjusted) hot threshold and the promotion
    rate limit allows; otherwise the two-stage cpupid filter: the last cpupid is
    swapped for this one, and the folio moves only if the last fault came from the
    destination node (or none did), after 4.19's early-lifetime shortcut for first and
    private faults (``numa_migrate_first_faults_early``); a private fault (same pid)
    always moves. Preempts: never.
    Simplified: no numa_group (a shared fault with no group moves, as the kernel's
    ``if (!ng) return true``).
    """
    dst_nid = ctx.cpu_to_node(dst_cpu)
    if dst_nid not in ctx.node_data or not ctx.node_data[dst_nid].node_present_pages:
        return False  # !node_state(dst_nid, N_MEMORY)
    prof = ctx.profile
    if prof.numa_balancing_memory_tiering and folio_use_access_time(ctx, head):
        nr = hpage_nr_pages(ctx, head)
        if pgdat_free_space_enough(ctx, dst_nid):
            pgdat_numab_of(ctx, dst_nid).nbp_threshold = 0  # workload changed: reset
            return True
        s = numab(ctx)
        def_th = s.hot_threshold
        rate_limit = s.promote_rate_limit << (20 - PAGE_SHIFT)  # MB_TO_PAGES()
        numa_promotion_adjust_threshold(ctx, dst_nid, rate_limit, def_th)
        th = pgdat_numab_of(ctx, dst_nid).nbp_threshold or def_th
        if numa_hint_fault_latency(ctx, head) >= th:
            return False
        return not numa_promotion_rate_limit(ctx, dst_nid, rate_limit, nr)
    this_cpupid = cpu_pid_to_cpupid(dst_cpu, task.pid)
    last_cpupid = folio_xchg_last_cpupid(ctx, head, this_cpupid)
    if prof.numa_balancing_memory_tiering and not (
            ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING) and (
            not node_is_toptier(ctx, src_nid)) and not cpupid_valid(ctx, last_cpupid):
        return False  # 6.0+: a lower-tier folio last scanned in tiering mode
    t = _task(ctx, task)
    if prof.numa_migrate_first_faults_early and (
            t.numa_preferred_nid == NUMA_NO_NODE or t.numa_scan_seq <= 4) and (
            cpupid_pid_unset(last_cpupid) or cpupid_match_pid(task, last_cpupid)):
        return True
    if not cpupid_pid_unset(last_cpupid) and ctx.cpu_to_node(cpupid_to_cpu(last_cpupid)) != dst_nid:
        return False
    if cpupid_match_pid(task, last_cpupid):
        return True  # a private fault
    return True  # a shared fault, but no numa_group has been set up


# ---------------------------------------------------------------- fault statistics
def task_numa_fault(ctx: KernelContext, task: Any, last_cpupid: int, mem_node: int,
                    pages: int, flags: int) -> None:
    """Account a hinting fault of ``pages`` pages on ``mem_node``.

    Models: kernel/sched/fair.c task_numa_fault(), reduced to what the scan period
    needs (module docstring, Simplified): 6.0+ ignores faults on a lower tier in
    tiering mode (or whose cpupid is an access time); the first fault after a scan
    sequence ends runs task_numa_placement() (here: update_task_scan_period());
    then the locality, migrate-failure and private/shared counts. Preempts: never.
    """
    if not sched_numa_balancing(ctx) or task is None or task.mm is None:
        return
    if ctx.profile.numa_balancing_memory_tiering and not node_is_toptier(ctx, mem_node) and (
            ctx.sysctl_numa_balancing_mode & NUMA_BALANCING_MEMORY_TIERING
            or not cpupid_valid(ctx, last_cpupid)):
        return
    t = _task(ctx, task)
    priv = 1 if cpupid_pid_unset(last_cpupid) else int(cpupid_match_pid(task, last_cpupid))
    task_numa_placement(ctx, task, t)
    if flags & TNF_MIGRATED:
        t.numa_pages_migrated += pages
    if flags & TNF_MIGRATE_FAIL:
        t.numa_faults_locality[2] += pages
    t.fault_types[priv] += pages
    t.numa_faults_locality[1 if flags & TNF_FAULT_LOCAL else 0] += pages


def task_numa_placement(ctx: KernelContext, task: Any, t: task_numab) -> None:
    """Models: task_numa_placement()'s part without placement: once per scan sequence
    of the mm, recompute numa_scan_period_max and adapt the scan period."""
    seq = task.mm.numa_scan_seq
    if t.numa_scan_seq == seq:
        return
    t.numa_scan_seq = seq
    t.numa_scan_period_max = task_scan_max(ctx, task)
    update_task_scan_period(ctx, task, t, t.fault_types[0], t.fault_types[1])
    t.fault_types = [0, 0]


def update_task_scan_period(ctx: KernelContext, task: Any, t: task_numab, shared: int,
                            private: int) -> None:
    """Models: kernel/sched/fair.c update_task_scan_period() (4.14 and 6.x): no faults
    recorded, or failed migrations: scan half as often (up to the maximum); else
    mostly private (ps_ratio) or mostly local faults: slower by the excess over
    NUMA_PERIOD_THRESHOLD tenths; else faster."""
    remote, local, failed = t.numa_faults_locality
    if local + shared == 0 or failed:
        t.numa_scan_period = min(t.numa_scan_period_max, t.numa_scan_period << 1)
        task.mm.numa_next_scan = numab(ctx).jiffies + msecs_to_jiffies(t.numa_scan_period)
        t.numa_faults_locality = [0, 0, 0]
        return
    period_slot = -(-t.numa_scan_period // NUMA_PERIOD_SLOTS)
    lr_ratio = local * NUMA_PERIOD_SLOTS // (local + remote)
    ps_ratio = private * NUMA_PERIOD_SLOTS // (private + shared)
    if ps_ratio >= NUMA_PERIOD_THRESHOLD:
        diff = max(ps_ratio - NUMA_PERIOD_THRESHOLD, 1) * period_slot
    elif lr_ratio >= NUMA_PERIOD_THRESHOLD:
        diff = max(lr_ratio - NUMA_PERIOD_THRESHOLD, 1) * period_slot
    else:
        diff = -(NUMA_PERIOD_THRESHOLD - max(lr_ratio, ps_ratio)) * period_slot
    t.numa_scan_period = min(max(t.numa_scan_period + diff, task_scan_min(ctx, task)),
                             task_scan_max(ctx, task))
    t.numa_faults_locality = [0, 0, 0]


def task_nr_scan_windows(ctx: KernelContext, task: Any) -> int:
    """Models: task_nr_scan_windows(): the task's RSS in scan windows, rounded up."""
    nr_scan_pages = numab(ctx).scan_size << (20 - PAGE_SHIFT)
    rss = sum(task.mm.rss_stat) or nr_scan_pages
    return -(-rss // nr_scan_pages) if nr_scan_pages > 0 else 1


def task_scan_min(ctx: KernelContext, task: Any) -> int:
    """Models: task_scan_min(): at most MAX_SCAN_WINDOW MB scanned per second."""
    s = numab(ctx)
    windows = MAX_SCAN_WINDOW // s.scan_size if 0 < s.scan_size < MAX_SCAN_WINDOW else 1
    floor = MSEC_PER_SEC // windows
    scan = s.scan_period_min // task_nr_scan_windows(ctx, task)
    return max(floor, scan)


def task_scan_max(ctx: KernelContext, task: Any) -> int:
    """Models: task_scan_max() without numa_group scaling."""
    smin = task_scan_min(ctx, task)
    smax = numab(ctx).scan_period_max // task_nr_scan_windows(ctx, task)
    return max(smin, smax)


def task_scan_start(ctx: KernelContext, task: Any) -> int:
    """Models: task_scan_start() without numa_group scaling: task_scan_min()."""
    return task_scan_min(ctx, task)


# ---------------------------------------------------------------- per-VMA state (6.4+)
def vma_set_access_pid_bit(ctx: KernelContext, vma: vm_area_struct) -> None:
    """Models: vma_set_access_pid_bit() (6.4+): the faulting pid's hash bit in the
    VMA's recent-access set (hash_32(pid, ilog2(BITS_PER_LONG)); here pid % 64)."""
    st = vma.numab_state
    if st is not None and ctx.current is not None:
        st.pids_active[1] |= 1 << (ctx.current.pid % 64)


def vma_is_accessed(ctx: KernelContext, mm: mm_struct, vma: vm_area_struct,
                    task: Any) -> bool:
    """Models: vma_is_accessed() (6.7 form): the first two sequences of a VMA always;
    then if this pid faulted in it lately, the scan of it already started, or it has
    not been scanned for more sequences than the process has threads."""
    st = vma.numab_state
    if mm.numa_scan_seq - st.start_scan_seq < 2:
        return True
    if (st.pids_active[0] | st.pids_active[1]) >> (task.pid % 64) & 1:
        return True
    if mm.numa_scan_offset > vma.vm_start:
        return True
    nr_threads = sum(1 for t in ctx.tasks.values() if t.mm is mm and t.tgid == task.tgid)
    return mm.numa_scan_seq > st.prev_scan_seq + nr_threads


def vma_policy_mof(ctx: KernelContext, vma: vm_area_struct, task: Any) -> bool:
    """Models: vma_policy_mof(): the policy in force is migrate-on-fault: the default
    policy (MPOL_F_MOF | MPOL_F_MORON), or one set with MPOL_F_NUMA_BALANCING (5.12+)."""
    pol = vma.vm_policy if vma.vm_policy is not None else task.mempolicy
    return pol is None or bool(pol.flags & MPOL_F_MOF)


def vma_is_accessible(vma: vm_area_struct) -> bool:
    """Models: include/linux/mm.h vma_is_accessible(): readable, writable or executable."""
    return bool(vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC))


# ---------------------------------------------------------------- the scanner
def reset_ptenuma_scan(mm: mm_struct) -> None:
    """Models: reset_ptenuma_scan(): a pass over the address space is complete."""
    mm.numa_scan_seq += 1
    mm.numa_scan_offset = 0


def task_numa_work(task: Any) -> KernelPath[None]:
    """One pass of the NUMA scanner over the current task's address space.

    Models: kernel/sched/fair.c task_numa_work(), 4.14 and 6.x: the first call sets
    mm->numa_next_scan a scan delay ahead; a call before numa_next_scan returns; else
    numa_next_scan moves a scan period ahead and, under mmap_read_trylock(), from
    mm->numa_scan_offset on, change_prot_numa() is run over windows of ``scan_size_mb``
    of pages (counting only windows where a PTE changed, up to eight times that in
    virtual space), skipping VMAs that are not migratable (VM_IO, VM_PFNMAP), not
    migrate-on-fault by policy, hugetlb, VM_MIXEDMAP, read-only file mappings, or
    inaccessible (PROT_NONE); 6.4+ (``numa_balancing_vma_scan_state``) also VMAs seen
    for less than a scan delay, scanned already in this sequence, or (after their first
    two sequences) not accessed by this task lately, unless no other VMA is left. The
    pass ends at the last VMA: the scan sequence advances (reset_ptenuma_scan()).
    Context: current is ``task``; takes mmap_lock for read (trylock).
    Preempts: in change_prot_numa(), between windows (cond_resched()).
    Simplified: the 32x runtime penalty on node_stamp is not applied.
    """
    mm = task.mm
    if mm is None:
        return
    ctx = mm.kernel
    s = numab(ctx)
    t = _task(ctx, task)
    t.work_pending = False  # work->next = work
    now = s.jiffies
    if not mm.numa_next_scan:
        mm.numa_next_scan = now + msecs_to_jiffies(s.scan_delay)
    migrate = mm.numa_next_scan
    if time_before(now, migrate):
        return
    if t.numa_scan_period == 0:
        t.numa_scan_period_max = task_scan_max(ctx, task)
        t.numa_scan_period = task_scan_start(ctx, task)
    mm.numa_next_scan = now + msecs_to_jiffies(t.numa_scan_period)
    t.node_stamp += 2 * TICK_NSEC  # let another thread of the mm win next time
    pages = s.scan_size << (20 - PAGE_SHIFT)
    virtpages = pages * 8
    if not pages:
        return
    if not down_read_trylock(mm.mmap_lock):
        return
    # cycle: mm/mempolicy.c (change_prot_numa) asks should_numa_migrate_memory() here
    from thpsim.mm.mempolicy import change_prot_numa

    per_vma = ctx.profile.numa_balancing_vma_scan_state
    start = mm.numa_scan_offset
    vma = mm.find_vma(start)
    if vma is None:
        reset_ptenuma_scan(mm)
        start = 0
        vma = mm.find_vma(start)
    pids_forced = pids_skipped = False
    finished = False
    try:
        while True:
            idx = mm.mmap.index(vma) if vma is not None else len(mm.mmap)
            while idx < len(mm.mmap):
                vma = mm.mmap[idx]
                idx += 1
                if (vma.vm_flags & (VM_IO | VM_PFNMAP) or not vma_policy_mof(ctx, vma, task)
                        or vma.vm_flags & (VM_HUGETLB | VM_MIXEDMAP)):
                    continue
                if vma.vm_file is not None and vma.vm_flags & (VM_READ | VM_WRITE) == VM_READ:
                    continue  # shared libraries: likely cache-replicated
                if not vma_is_accessible(vma):
                    continue  # PROT_NONE and hinting entries must not be confused
                if per_vma:
                    st = vma.numab_state
                    if st is None:
                        st = vma.numab_state = vma_numab_state(now, s.scan_delay,
                                                               mm.numa_scan_seq)
                    if mm.numa_scan_seq and time_before(now, st.next_scan):
                        continue  # a new VMA waits a scan delay
                    if mm.numa_scan_seq and time_after(now, st.pids_active_reset):
                        st.pids_active_reset += msecs_to_jiffies(4 * s.scan_delay)
                        st.pids_active = [st.pids_active[1], 0]
                    if st.prev_scan_seq == mm.numa_scan_seq:
                        mm.numa_scan_offset = vma.vm_end
                        continue  # scanned in this sequence already
                    if not pids_forced and not vma_is_accessed(ctx, mm, vma, task):
                        pids_skipped = True
                        continue
                start = max(start, vma.vm_start)
                while True:
                    end = -(-(start + (pages << PAGE_SHIFT)) // HPAGE_PMD_SIZE) * HPAGE_PMD_SIZE
                    end = min(end, vma.vm_end)
                    nr_pte_updates = yield from change_prot_numa(vma, start, end)
                    if nr_pte_updates:
                        pages -= (end - start) >> PAGE_SHIFT
                    virtpages -= (end - start) >> PAGE_SHIFT
                    start = end
                    if pages <= 0 or virtpages <= 0:
                        finished = True
                        break
                    yield PREEMPT  # cond_resched()
                    if end == vma.vm_end:
                        break
                if finished:
                    break
                if per_vma:
                    vma.numab_state.prev_scan_seq = mm.numa_scan_seq
                if pids_forced:
                    break  # force-scan one VMA at a time
            else:
                vma = None
            if finished or vma is not None:
                break
            if per_vma and not pids_forced and pids_skipped:
                # retry_pids: no VMA left, some skipped for want of an access: force
                # one, from the scan offset again
                pids_forced = True
                start = mm.numa_scan_offset
                vma = mm.find_vma(start)
                if vma is None:
                    reset_ptenuma_scan(mm)
                    start = 0
                    vma = mm.find_vma(start)
                if vma is None:
                    break
                continue
            break
        if finished or vma is not None:
            mm.numa_scan_offset = start
        else:
            reset_ptenuma_scan(mm)
    finally:
        up_read(mm.mmap_lock)


def task_tick_numa(ctx: KernelContext, task: Any) -> bool:
    """Models: kernel/sched/fair.c task_tick_numa(): once the task has run a scan
    period since its last stamp (the first time: the scan delay, then
    task_scan_start()), stamp again and, when mm->numa_next_scan has come, queue the
    numa_work. Returns whether the work was queued. Preempts: never."""
    mm = task.mm
    if mm is None or task.exit_state:
        return False
    t = _task(ctx, task)
    if t.work_pending:
        return False
    now = t.sum_exec_runtime
    period = t.numa_scan_period * NSEC_PER_MSEC
    if now > t.node_stamp + period:
        if not t.node_stamp:
            t.numa_scan_period = task_scan_start(ctx, task)
        t.node_stamp += period
        if not time_before(numab(ctx).jiffies, mm.numa_next_scan):
            t.work_pending = True
            return True
    return False


def scheduler_tick(ctx: KernelContext, task: Any) -> bool:
    """One timer tick with ``task`` running: jiffies advance (do_timer()), the task's
    runtime grows by TICK_NSEC (update_curr()), and task_tick_fair() calls
    task_tick_numa() while the sched_numa_balancing key is on. Returns whether numa_work
    was queued. Model-only: one task per tick, no other scheduling. Preempts: never."""
    s = numab(ctx)
    s.jiffies += 1
    t = _task(ctx, task)
    t.sum_exec_runtime += TICK_NSEC
    if sched_numa_balancing(ctx):
        return task_tick_numa(ctx, task)
    return False


def task_work_run(task: Any) -> KernelPath[None]:
    """Models: task_work_run() on the way back to user space: the queued numa_work
    (task_numa_work()), if any. Context: current is ``task``."""
    if task.mm is None:
        return
    t = numab(task.mm.kernel).tasks.get(task.pid)
    if t is not None and t.work_pending:
        yield from task_numa_work(task)


# ---------------------------------------------------------------- tunables
#: the tunables: (4.14 /proc/sys/kernel name, 5.13+ debugfs name, state field, minimum)
TUNABLES = (
    ("numa_balancing_scan_delay_ms", "scan_delay_ms", "scan_delay", None),
    ("numa_balancing_scan_period_min_ms", "scan_period_min_ms", "scan_period_min", None),
    ("numa_balancing_scan_period_max_ms", "scan_period_max_ms", "scan_period_max", None),
    ("numa_balancing_scan_size_mb", "scan_size_mb", "scan_size", 1),
)
SYSCTL_DIR = "/proc/sys/kernel"
DEBUGFS_DIR = "/sys/kernel/debug/sched/numa_balancing"
_INT_MIN, _INT_MAX, _U32 = -(1 << 31), (1 << 31) - 1, (1 << 32) - 1


def _sysctl_file(field: str, lo: int | None):
    """A 4.14 kern_table entry: proc_dointvec (scan_size_mb: proc_dointvec_minmax,
    extra1 = &one)."""

    def read(f: File) -> str:
        sysctl_test_perm(f, 0o644, 4)
        return f"{getattr(numab(f.ctx), field)}\n"

    def write(f: File, data: bytes) -> int:
        sysctl_test_perm(f, 0o644, 2)
        value, consumed = proc_dointvec_minmax(f, data, _INT_MIN if lo is None else lo, _INT_MAX)
        if value is not None:
            setattr(numab(f.ctx), field, value)
        return consumed

    return read, write


def _debugfs_u32(field: str):
    """A debugfs_create_u32() file (mode 0644; debugfs_u32_get/set through
    DEFINE_DEBUGFS_ATTRIBUTE: simple_attr_write() parses the number, the u32 store
    truncates it)."""

    def read(f: File) -> str:
        return f"{getattr(numab(f.ctx), field) & _U32}\n"

    def write(f: File, data: bytes) -> int:
        # mm/hwpoison_inject.py imports memory_failure, which reaches mm/mempolicy.py
        # cycle: hwpoison_inject -> memory_failure -> ... -> mempolicy -> sched_fair
        from thpsim.mm.hwpoison_inject import simple_attr_write

        if not data:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), f.path)
        setattr(numab(f.ctx), field, simple_attr_write(f, data) & _U32)
        return len(data)

    return read, write


def _promote_rate_limit(f: File, data: bytes) -> int:
    """kernel.numa_balancing_promote_rate_limit_MBps write (6.0+): proc_dointvec_minmax,
    extra1 = SYSCTL_ZERO."""
    sysctl_test_perm(f, 0o644, 2)
    value, consumed = proc_dointvec_minmax(f, data, 0, _INT_MAX)
    if value is not None:
        numab(f.ctx).promote_rate_limit = value
    return consumed


def register(vfs: VFS) -> None:
    """The scan tunables where the era keeps them (``numa_balancing_debugfs_tunables``:
    5.13+ debugfs, 4.14 /proc/sys/kernel), 6.0's hot threshold (debugfs) and promotion
    rate limit (sysctl) with ``numa_balancing_memory_tiering``."""
    prof = vfs.ctx.profile
    if prof.numa_balancing_debugfs_tunables:
        vfs.register_dir(DEBUGFS_DIR, mode=0o755)
        for _, name, field, _lo in TUNABLES:
            r, w = _debugfs_u32(field)
            vfs.register_file(f"{DEBUGFS_DIR}/{name}", r, w, mode=0o644)
        if prof.numa_balancing_memory_tiering:
            r, w = _debugfs_u32("hot_threshold")
            vfs.register_file(f"{DEBUGFS_DIR}/hot_threshold_ms", r, w, mode=0o644)
    else:
        for name, _, field, lo in TUNABLES:
            r, w = _sysctl_file(field, lo)
            vfs.register_file(f"{SYSCTL_DIR}/{name}", r, w, mode=0o644)
    if prof.numa_balancing_memory_tiering:
        r, _ = _sysctl_file("promote_rate_limit", 0)
        vfs.register_file(f"{SYSCTL_DIR}/numa_balancing_promote_rate_limit_MBps", r,
                          _promote_rate_limit, mode=0o644)
