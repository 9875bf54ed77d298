"""The kernel-core context: what Linux keeps in globals, held by one object.

Models: the globals kernel paths reach without arguments -- ``mem_map``,
``NODE_DATA()``, ``vm_event_states``, the zero pages, ``transparent_hugepage_flags``,
``current``, the task list, dmesg. Each :class:`~thpsim.api.Machine` owns one, so
two machines never share state; kernel structures reach it as ``mm.kernel``.

``current`` is set only by a driver, at each switch (SimPy's ``active_process``).

The kernel core does not build the memory-management structures it holds: the
boot code (mm/mm_init.py :func:`~thpsim.mm.mm_init.mm_core_init`, start_kernel()'s
memory part) constructs ``mem_map`` (PageArrays) and the counters (VmStat) and
hands them in, then fills ``node_data`` (free_area_init()).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thpsim.arch.x86_64.swapops import SwapOps
from thpsim.errors import KernelBug
from thpsim.hw.cpu import CPU
from thpsim.hw.memory import PhysicalMemory
from thpsim.kernel.locking import mutex
from thpsim.profiles import Profile

if TYPE_CHECKING:
    from thpsim.hw.cost import CostModel
    from thpsim.mm.mm_types import anon_vma
    from thpsim.mm.page_alloc import pglist_data
    from thpsim.mm.page_flags import PageArrays
    from thpsim.mm.vmstat import VmStat

__all__ = ["KernelContext", "ThpSettings"]

THP_ENABLED_MODES = ("always", "madvise", "never")
THP_DEFRAG_MODES = ("always", "defer", "defer+madvise", "madvise", "never")


class ThpSettings:
    """/sys/kernel/mm/transparent_hugepage knobs (transparent_hugepage_flags)."""

    __slots__ = ("enabled", "defrag", "use_zero_page")

    def __init__(self, enabled: str, defrag: str, use_zero_page: bool):
        self.enabled = enabled
        self.defrag = defrag
        self.use_zero_page = use_zero_page


class KernelContext:
    """All kernel-global state of one simulated machine."""

    def __init__(
        self,
        profile: Profile,
        mem: PhysicalMemory,
        pages: PageArrays,
        cpus: list[CPU],
        thp: ThpSettings,
        vmstat: VmStat,
    ):
        self.profile = profile
        self.swp = SwapOps(
            inverted_offset=not profile.swap_layout_4_14_0,
            mainline_types=profile.swap_types_v6,
            # B5/B6: 0 is off (bit 1, C:eee4818baac0); 7 or 6 the earlier places
            soft_dirty_bit=profile.bug_b5_swp_soft_dirty_bit or 1,
        )
        self.mem = mem
        self.pages = pages
        self.cpus = cpus
        self.thp = thp
        self.vmstat = vmstat
        #: node_data[]: node id -> pglist_data, in node-id order (NODE_DATA(); set by
        #: free_area_init() at boot)
        self.node_data: dict[int, pglist_data] = {}
        #: memblock.reserved: the frames memblock_free_all() kept back at boot (None
        #: until it has run)
        self.memblock_reserved: frozenset[int] | None = None
        #: The task whose kernel path is running (set by a driver at each switch).
        self.current: Any = None
        self.tasks: dict[int, Any] = {}
        self.anon_vmas: dict[int, anon_vma] = {}
        self.next_pid = 1
        self.next_mm_id = 1
        self.next_anon_vma_id = 1
        #: Live pipes (fs/pipe.py) by id: the page references their buffers hold.
        self.pipes: dict[int, Any] = {}
        self.next_pipe_id = 1
        self.zero_pfn = -1
        self.huge_zero_pfn = -1
        #: Deferred-split queue (per node in Linux; one ordered set here): THP head PFNs.
        self.deferred_split_queue: dict[int, bool] = {}  # head -> partially mapped
        self.dmesg: list[str] = []
        self.warnings: dict[str, int] = {}
        self.nr_tlb_flushes = 0
        #: held locks per owner when lock-order checking is on (the interleaving driver)
        self.lockdep: dict | None = None
        #: drivers/base/core.c device_hotplug_lock: one memory block state change at a time
        self.device_hotplug_lock = mutex(self, "device_hotplug_lock")
        #: kernel/cgroup/cpuset.c cpuset_mutex (cpuset_rwsem in 5.x): cpuset updates
        self.cpuset_mutex = mutex(self, "cpuset_mutex")
        #: the mounted cpuset hierarchy (kernel/cgroup/cgroup.py register())
        self.cpuset_hierarchy: Any = None
        #: model-only: set around a user fault's allocation (alloc_pages_vma()), the
        #: only allocations the model checks against the cpuset (cpusets_enabled())
        self.cpuset_alloc = False
        #: memory block id -> "going-offline" while offline_pages() runs on it
        self.memory_block_transition: dict[int, str] = {}
        #: secondary observers of user memory (mm/mmu_notifier.py; the API's shadow)
        self.mmu_notifiers: list[Any] = []
        #: kernel.numa_balancing (kernel/sysctl.py): off, as the oracle's guests boot
        self.sysctl_numa_balancing_mode = 0
        #: NUMA balancing's clock, tunables and per-task/per-node state
        #: (kernel/sched_fair.py numab(); None until first used)
        self.numa_balancing: Any = None
        #: vm.enable_soft_offline (6.11+, mm/memory_failure.py): 1 at boot
        self.sysctl_enable_soft_offline = 1
        #: model-only: the cost model (hw/cost.py) when modeled time is on, else None;
        #: kernel paths charge it through one guarded call each and never read it back
        self.cost: CostModel | None = None

    # ---- printk, WARN_ON_ONCE
    def printk(self, msg: str) -> None:
        self.dmesg.append(msg)

    def warn_on_once(self, cond: bool, what: str) -> bool:
        """WARN_ON_ONCE: logs and counts; tests assert none fired."""
        if cond:
            n = self.warnings.get(what, 0)
            if n == 0:
                self.printk(f"WARNING: {what}")
            self.warnings[what] = n + 1
        return cond

    def bug_on(self, cond: bool, what: str) -> None:
        """VM_BUG_ON: the model is wrong."""
        if cond:
            raise KernelBug(what)

    # ---- ids
    def alloc_pid(self) -> int:
        pid = self.next_pid
        self.next_pid += 1
        return pid

    def alloc_mm_id(self) -> int:
        i = self.next_mm_id
        self.next_mm_id += 1
        return i

    def alloc_pipe_id(self) -> int:
        i = self.next_pipe_id
        self.next_pipe_id += 1
        return i

    def alloc_anon_vma_id(self) -> int:
        i = self.next_anon_vma_id
        self.next_anon_vma_id += 1
        return i

    def cpu_to_node(self, cpu: int) -> int:
        return self.cpus[cpu].nid

    def smp_processor_id(self) -> int:
        """The CPU ``current`` runs on; CPU 0 for a path the machine runs itself."""
        cur = self.current
        return cur.cpu if cur is not None else 0

    def numa_node_id(self) -> int:
        """The node of the CPU ``current`` runs on (numa_node_id())."""
        cur = self.current
        return self.cpus[cur.cpu].nid if cur is not None else next(iter(self.mem.nodes))
