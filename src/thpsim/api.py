"""The public surface: Machine, Process, Thread.

Shaped like the system calls, so code written against libc reads the same:
success returns what the C call returns (0 or an address); failure raises
:class:`OSError` with Linux's errno, leaving the state Linux leaves. A user
access that faults fatally raises :class:`~thpsim.errors.DeliveredSignal`.

Every system call runs through the kernel entry (kernel/entry.py, via
:meth:`Machine._run`): ``current`` is set, pending signals are handled before and
after, and the generator is driven to completion (the interleaving scheduler drives
the same generators concurrently, :meth:`Machine.syscall`); the API adds the
shadow of user writes (it records the stores; the kernel paths tell it what they
zapped, moved or copied, mm/mmu_notifier.py) and the invariant checks around it.
Tasks are made by one copy_process() (kernel/fork.py) and end in one do_exit() (kernel/exit.py);
``Machine.processes`` maps the task table's processes to their API objects.
:class:`Syscalls` (``thread.sys``) hands out the same generators the blocking
methods run, so the interleaving driver (:mod:`thpsim.testing`) runs the very paths
the blocking methods run.
"""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Callable, Generator, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE
from thpsim.errors import ConfigError, IntegrityError
from thpsim.fs.exec import exec_mm
from thpsim.fs.pipe import sys_close, sys_pipe2
from thpsim.fs.splice import sys_vmsplice
from thpsim.fs.vfs import VFS, VFSView
from thpsim.hw.cost import CostModel, CostParams
from thpsim.hw.cpu import CPU
from thpsim.hw.memory import PhysicalMemory, is_int
from thpsim.integrity import CHECKER_BYTES_PER_FRAME, IntegrityState, Shadow, check_integrity
from thpsim.kernel import sys as ksys
from thpsim.kernel.context import THP_DEFRAG_MODES, THP_ENABLED_MODES, ThpSettings
from thpsim.kernel.entry import call_syscall, run_syscall, syscall, ulong
from thpsim.kernel.exit import do_exit, do_group_exit
from thpsim.kernel.fork import (
    CLONE_FILES,
    CLONE_FS,
    CLONE_SIGHAND,
    CLONE_THREAD,
    CLONE_VM,
    copy_process,
)
from thpsim.kernel.sched import KernelPath
from thpsim.kernel.sched_fair import scheduler_tick, task_work_run
from thpsim.kernel.task import ALL_CAPS, cred, kill_pid_info, task_struct
from thpsim.mm import madvise as kmadvise
from thpsim.mm import mlock as kmlock
from thpsim.mm import mmap as kmmap
from thpsim.mm import mprotect as kmprotect
from thpsim.mm import mremap as kmremap
from thpsim.mm.mempolicy import (
    kernel_get_mempolicy,
    kernel_mbind,
    kernel_migrate_pages,
    kernel_set_mempolicy,
)
from thpsim.mm.migrate import kernel_move_pages
from thpsim.mm.mm_init import mm_core_init
from thpsim.mm.page_alloc import fragment_node, unfragment
from thpsim.mm.page_flags import PageArrays
from thpsim.mm.uaccess import user_load, user_store
from thpsim.profiles import Profile, make_profile

__all__ = ["Machine", "Process", "Thread", "Syscalls", "MovePagesResult", "Mempolicy",
           "NodeMask", "nodemask_arg"]

_U64 = 0xFFFF_FFFF_FFFF_FFFF
DEFAULT_BLOCK_SIZE = 128 << 20


#: Host bytes a machine takes per 4 KiB frame it models (an estimate): the frame
#: arrays (hw), the struct-page arrays (mm) and what one full invariant check holds.
HOST_BYTES_PER_FRAME = (PhysicalMemory.BYTES_PER_FRAME + PageArrays.BYTES_PER_FRAME
                        + CHECKER_BYTES_PER_FRAME)


def host_mem_available() -> int | None:
    """The host's MemAvailable in bytes (/proc/meminfo), or None where unreadable."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        return None
    return None


def _mapping(name: str, value: Any) -> dict:
    """A Machine argument that must be a mapping, as a dict (ConfigError if it is not)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a mapping, not {value!r}")
    return dict(value)


def _cost_params(value: Any) -> CostParams:
    """``Machine(modeled_time=...)`` as a parameter table (ConfigError if it is none)."""
    if value is True:
        return CostParams()
    if isinstance(value, CostParams):
        return value
    if isinstance(value, Mapping):
        try:
            return CostParams.from_dict(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"modeled_time: {e}") from None
    raise ConfigError(f"modeled_time must be a bool, a CostParams or its dict form, "
                      f"not {value!r}")


def _check(ret: int) -> int:
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))
    return ret


#: A node mask argument: an int (bit n = node n, as in C), None (NULL), or any
#: iterable of node ids (the Python form).
NodeMask = int | Iterable[int] | None


def _maxnode_for(nodes: Iterable[int]) -> int:
    """A ``maxnode`` that holds every node in ``nodes``: the kernel reads maxnode - 1
    bits, so a multiple of 64 above the highest id (64 for nodes 0 to 62)."""
    top = max(nodes, default=0)
    return 64 * ((top + 1) // 64 + 1)


def nodemask_arg(nodemask: NodeMask, maxnode: int = 0) -> tuple[int | None, int]:
    """(mask, maxnode) for a NUMA call: an int or None passes through (the C form); an
    iterable of node ids becomes the bitmask, with ``maxnode`` sized for it when 0.
    A negative or non-int node id is EINVAL, as the kernel would find a bad mask."""
    if nodemask is None or isinstance(nodemask, int):
        return nodemask, maxnode
    ids = list(nodemask)
    mask = 0
    for n in ids:
        if type(n) is not int or n < 0:
            raise OSError(errno.EINVAL, f"node ids must be non-negative ints, not {n!r}")
        mask |= 1 << n
    return mask, (maxnode or _maxnode_for(ids))


class MovePagesResult(NamedTuple):
    """move_pages(2)'s result: the return value and the status array (entries the
    kernel did not write are None)."""

    ret: int
    status: list[int | None]

    def nodes(self) -> dict[int, int]:
        """Pages per node among the status entries that name a node."""
        out: dict[int, int] = {}
        for s in self.status:
            if s is not None and s >= 0:
                out[s] = out.get(s, 0) + 1
        return dict(sorted(out.items()))


class Mempolicy(NamedTuple):
    """get_mempolicy(2)'s result: the mode (with any mode flags) and the node mask
    (an int, None for a NULL mask)."""

    mode: int
    nodemask: int | None

    @property
    def nodes(self) -> frozenset[int]:
        """The mask as a set of node ids (empty for None)."""
        m = self.nodemask or 0
        return frozenset(i for i in range(m.bit_length()) if m >> i & 1)


class Machine:
    """A simulated NUMA machine running the modelled kernel.

    Args:
        nodes: node id -> bytes of memory (multiples of ``block_size``). Ids may be
            sparse (0, 2, 5). Default: two nodes of 1 GiB.
        cpus: total CPUs spread evenly over the nodes (first nodes get the extra),
            or a mapping node id -> CPU count. Default 4.
        thp: ``transparent_hugepage/enabled``: "always" (default), "madvise", "never".
        profile: "seed" (Linux 4.14 + the v3 series, default) or "mainline", or a
            :class:`~thpsim.profiles.Profile`.
        seed: the run's seed; every random choice derives from it.
        distance: SLIT distances {(a, b): d}; default 10 local, 20 remote.
        block_size: memory-block size in bytes (default 128 MiB, x86-64's).
        defrag: ``transparent_hugepage/defrag`` (default "madvise", 4.14's).
        use_zero_page: ``transparent_hugepage/use_zero_page`` (default True).
        movable: node id -> bytes at the top of that node in ZONE_MOVABLE
            (like ``movablecore=``; default none), multiples of ``movable_align``.
        movable_align: what ``movable`` sizes must be multiples of (default: the
            block size, so no block spans two zones; 4 MiB, the kernel's own
            alignment of ZONE_MOVABLE, lets one block span both).
        check: run the invariant checker after every system call and after a user
            access that faulted, incrementally with a full check every
            ``CHECK_FULL_EVERY`` (16) times (default False; tests turn it on).
        shadow: keep the shadow of user writes and check every read (default True).
        tlb_entries: (4 KiB entries, 2 MiB entries) per CPU TLB, at least 1 each.
        knl_ad_erratum: the CPUs have Knights Landing's A/D erratum (KNL4): a user
            access that faults on a migration (swap-format) entry may leave stray A
            and D bits in it (:mod:`thpsim.hw.cpu`). Default False.
        host_memory: bytes of host memory the machine may take (default: the host's
            MemAvailable from /proc/meminfo; no limit where that is unreadable). A
            machine whose estimated need (``HOST_BYTES_PER_FRAME`` per modelled 4 KiB
            frame) exceeds it is refused with ConfigError saying how much it would
            take; pass a larger value to build it anyway (on a host that overcommits).
        modeled_time: the cost model (:mod:`thpsim.hw.cost`, docs/modeled-time.md):
            True for the shipped parameter table, a :class:`~thpsim.hw.cost.CostParams`
            or its dict form (``thpsim calibrate``'s output) for another. It charges
            modeled nanoseconds to the CPUs and shows them under
            ``/sys/kernel/debug/thpsim/``; it changes no kernel state. Default False.
        switches: the profile's named switches (:mod:`thpsim.profiles`); an unknown
            name is a ConfigError.

    Raises:
        ConfigError: a bad argument (a wrong type, unknown mode, node id or size, SLIT distance,
            CPU count, TLB size, switch), or a machine too big for the host.
    """

    def __init__(
        self,
        nodes: Mapping[int, int] | None = None,
        cpus: int | Mapping[int, int] = 4,
        thp: str = "always",
        profile: str | Profile = "seed",
        seed: int = 0,
        *,
        distance: Mapping[tuple[int, int], int] | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        defrag: str = "madvise",
        use_zero_page: bool = True,
        movable: Mapping[int, int] | None = None,
        movable_align: int | None = None,
        check: bool = False,
        shadow: bool = True,
        tlb_entries: tuple[int, int] = (1536, 1024),
        knl_ad_erratum: bool = False,
        host_memory: int | None = None,
        modeled_time: bool | CostParams | Mapping[str, Any] = False,
        **switches: Any,
    ):
        if nodes is None:
            nodes = {0: 1 << 30, 1: 1 << 30}
        nodes = _mapping("nodes", nodes)
        distance = None if distance is None else _mapping("distance", distance)
        movable = {} if movable is None else _mapping("movable", movable)
        if not is_int(cpus) and not isinstance(cpus, Mapping):
            raise ConfigError(f"cpus must be an int or a mapping node id -> count, "
                              f"not {cpus!r}")
        if not is_int(seed):
            raise ConfigError(f"seed must be an int, not {seed!r}")
        if thp not in THP_ENABLED_MODES:
            raise ConfigError(f"thp must be one of {THP_ENABLED_MODES}")
        if defrag not in THP_DEFRAG_MODES:
            raise ConfigError(f"defrag must be one of {THP_DEFRAG_MODES}")
        if not isinstance(tlb_entries, tuple | list):
            raise ConfigError(f"tlb_entries must be (4 KiB entries, 2 MiB entries), "
                              f"not {tlb_entries!r}")
        tlb_entries = tuple(tlb_entries)
        if not isinstance(knl_ad_erratum, bool):
            raise ConfigError(f"knl_ad_erratum must be a bool, not {knl_ad_erratum!r}")
        if len(tlb_entries) != 2 or not all(is_int(n) and n >= 1 for n in tlb_entries):
            raise ConfigError(f"tlb_entries must be (4 KiB entries, 2 MiB entries), each "
                              f"at least 1, not {tlb_entries!r}")
        self.profile = make_profile(profile, **switches)
        self.seed = seed
        self.rng = random.Random(seed)
        frames = PhysicalMemory.layout(nodes, block_size)
        need = frames * HOST_BYTES_PER_FRAME
        if host_memory is not None and not is_int(host_memory):
            raise ConfigError(f"host_memory must be an int, not {host_memory!r}")
        budget = host_mem_available() if host_memory is None else host_memory
        if budget is not None and need > budget:
            raise ConfigError(
                f"this machine would take about {need >> 20} MiB of host memory "
                f"({frames} frames x {HOST_BYTES_PER_FRAME} bytes); "
                f"{budget >> 20} MiB is available (host_memory= overrides)")
        mem = PhysicalMemory(nodes, block_size, distance or None)
        nids = sorted(mem.nodes)
        if isinstance(cpus, int):
            if not is_int(cpus) or cpus < 1:
                raise ConfigError("a machine needs at least one CPU")
            per = {nid: cpus // len(nids) + (1 if i < cpus % len(nids) else 0)
                   for i, nid in enumerate(nids)}
        else:
            per = dict(cpus)
            if set(per) - set(nids):
                raise ConfigError("CPUs given for a node that does not exist")
            bad = {nid: n for nid, n in per.items() if not is_int(n) or n < 0}
            if bad:
                raise ConfigError(f"CPU counts must be ints >= 0, not {bad}")
        cpu_list: list[CPU] = []
        for nid in nids:
            for _ in range(per.get(nid, 0)):
                c = CPU(len(cpu_list), nid, *tlb_entries, knl_ad_erratum=knl_ad_erratum)
                mem.nodes[nid].cpus.append(c.cpu)
                cpu_list.append(c)
        if not cpu_list:
            raise ConfigError("a machine needs at least one CPU")
        self.kernel = mm_core_init(self.profile, mem, cpu_list,
                                   ThpSettings(thp, defrag, use_zero_page), movable,
                                   movable_align)
        if modeled_time is not False:
            self.kernel.cost = CostModel(_cost_params(modeled_time),
                                         [c.nid for c in cpu_list], mem.nid, mem.distance)
        self.check = check
        self._faults_checked = 0
        self._check_state = IntegrityState()
        self.shadow = Shadow() if shadow else None
        if self.shadow is not None:  # told by the kernel what happens to user data
            self.kernel.mmu_notifiers.append(self.shadow)
        self.processes: dict[int, Process] = {}
        self._vfs_obj: Any = None

    @property
    def _vfs(self) -> Any:
        if self._vfs_obj is None:
            self._vfs_obj = VFS(self.kernel, None)
        return self._vfs_obj

    @property
    def fs(self) -> Any:
        """The /proc and /sys views, acting as root (with ``check``, the invariant
        checker runs after each write, mkdir and rmdir, as after a system call)."""
        return VFSView(self._vfs, None, self._after)

    # ---- properties
    @property
    def nodes(self) -> dict[int, int]:
        """node id -> bytes."""
        return {nid: n.nr_pages << PAGE_SHIFT for nid, n in self.kernel.mem.nodes.items()}

    @property
    def cpus(self) -> list[CPU]:
        return self.kernel.cpus

    # ---- processes
    def spawn(self, cpu: int = 0, uid: int = 0, caps: frozenset[int] | None = None,
              comm: str = "thpsim") -> Process:
        """A new process with one thread on ``cpu``; uid 0 holds every capability.

        Models: how the kernel starts a user process (kernel_init() ->
        kernel_execve(), or a user-mode helper): a kernel thread forks
        (copy_process(), no mm to copy) and the child execs with the credentials it
        was given (fs/exec.py exec_mm(): a new, empty address space).
        Raises: OSError ENOMEM when no page is left for the page tables (the child
        exits again; its pid is used up).
        """
        ctx = self.kernel
        if not 0 <= cpu < len(ctx.cpus):
            raise ConfigError(f"no CPU {cpu}")
        if caps is None:
            caps = ALL_CAPS if uid == 0 else frozenset()
        task = self._run(None, copy_process(ctx, None, 0, cpu))
        if isinstance(task, int):
            raise OSError(-task, os.strerror(-task))
        ret = call_syscall(ctx, task, exec_mm, ctx, task, cred(uid, frozenset(caps)), comm)
        if ret < 0:
            self._run(None, do_exit(ctx, task))
            raise OSError(-ret, os.strerror(-ret))
        p = Process(self, task)
        self.processes[task.pid] = p
        return p

    def _run(self, task: task_struct | None, gen: Generator[Any, None, Any]) -> Any:
        """One system call (or user access) of ``task`` through the kernel entry
        (kernel/entry.py run_syscall()): signals sent while it ran user code are handled
        first, the kernel path runs with ``current`` = ``task``, and signals raised
        meanwhile are handled on the way back. ``task`` None: the machine itself."""
        return run_syscall(self.kernel, task, gen)

    def syscall(self, task: task_struct | None, gen: Generator[Any, None, Any]) -> KernelPath[Any]:
        """The generator form of :meth:`_run`, for the interleaving driver (which sets
        ``current`` at each step): ``gen`` between the kernel entry and exit, yielding
        exactly what ``gen`` yields (kernel/entry.py syscall())."""
        return syscall(self.kernel, task, gen)

    def kill(self, pid: int, sig: int) -> int:
        """kill(2) as root: send ``sig`` to process ``pid`` (or the process of thread
        ``pid``); signal 0 only checks that it exists. Returns 0.

        Raises: OSError ESRCH (no such process), EINVAL (bad signal number).
        Simplified: pid 0, -1 and process groups (pid < -1) are not modelled
        (ConfigError); see kernel/task.py for what a signal does here.
        """
        if pid <= 0:
            raise ConfigError("kill: process groups and pid -1 are not modelled")
        return _check(kill_pid_info(self.kernel.tasks, sig, pid))

    @property
    def vm_events(self) -> Mapping[str, int]:
        """The event counters of /proc/vmstat (pgfault, pgmigrate_success,
        thp_migration_success, ...), live and read-only: cheap enough to read at every
        step of an interleaving, where :meth:`vmstat` renders and parses the whole file.
        Names are the file's; an event the profile's kernel does not print stays 0."""
        return MappingProxyType(self.kernel.vmstat.events)

    def vmstat(self) -> dict[str, int]:
        """/proc/vmstat, parsed: counter name -> value, in the file's order (zone and node
        items, then the events; ``nr_anon_transparent_hugepages`` in THPs). Read as root
        through the VFS, as a user reads it (:attr:`fs`); reading changes nothing."""
        out: dict[str, int] = {}
        for line in self.fs.read("/proc/vmstat").splitlines():
            name, value = line.split()
            out[name] = int(value)
        return out

    def live_mms(self) -> list:
        """The address spaces of the tasks in the task table (``kernel.tasks``), each
        once, in pid order of their first task: also those of tasks made by kernel
        paths run outside the API (a fork inside an interleaved run)."""
        seen: dict[int, Any] = {}
        for t in self.kernel.tasks.values():
            mm = t.mm
            if mm is not None and not mm.dead:
                seen.setdefault(mm.mm_id, mm)
        return list(seen.values())

    def check_integrity(self, *, full: bool = True) -> None:
        """Run the invariant checker; raises IntegrityError naming the checker that failed.

        ``full=False``: incremental (thpsim/integrity.py says what it defers to the next
        full check); what ``check=True`` runs after a system call, in full every
        ``CHECK_FULL_EVERY``-th time.
        """
        check_integrity(self.kernel, self.live_mms(), state=self._check_state, full=full)
        if self.kernel.warnings:
            raise IntegrityError(f"WARN_ON_ONCE fired: {self.kernel.warnings}")

    #: With ``check=True``, every this many checks after a system call is a full one.
    CHECK_FULL_EVERY = 16

    def _check_after_syscall(self) -> None:
        st = self._check_state
        nth = st.full_checks + st.incremental_checks
        self.check_integrity(full=nth % self.CHECK_FULL_EVERY == 0)

    def _after(self) -> None:
        if self.check:
            self._check_after_syscall()

    def _after_fault(self) -> None:
        """After a user access: check only when it faulted (a fault changed the tables)."""
        if self.check and self.kernel.vmstat.events["pgfault"] != self._faults_checked:
            self._faults_checked = self.kernel.vmstat.events["pgfault"]
            self._check_after_syscall()

    # ---- test helpers (Model-only)
    def fragment(self, nid: int) -> list[int]:
        """Fragment node ``nid`` so no order-9 block is free (the frames are held)."""
        return fragment_node(self.kernel, nid)

    def unfragment(self, held: list[int]) -> None:
        unfragment(self.kernel, held)

    def __repr__(self) -> str:
        return (f"Machine(nodes={self.nodes!r}, cpus={len(self.cpus)}, "
                f"profile={self.profile.name!r}, seed={self.seed})")


class Syscalls:
    """The system calls of one task as kernel paths (Model-only), for the interleaving
    driver (:mod:`thpsim.testing`): each method returns the generator the blocking
    method of :class:`Thread` runs, with the same arguments. A path returns what the
    kernel returns (a negative errno on failure, not an OSError) and runs with
    ``current`` = the task (the driver sets it); the blocking methods add what user
    space sees (OSError, the shadow, the checks).

    ``thread.sys`` is a thread's; ``Syscalls(machine, task)`` serves a task that has
    no API object yet (a child of :meth:`fork` before anything adopted it).
    """

    __slots__ = ("machine", "task")

    def __init__(self, machine: Machine, task: task_struct):
        self.machine = machine
        self.task = task

    # ---- the address space (mm/mmap.c, mprotect.c, mremap.c, madvise.c, mlock.c)
    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> KernelPath[int]:
        return kmmap.sys_mmap(self.task.mm, addr, length, prot, flags, fd, offset)

    def munmap(self, addr: int, length: int) -> KernelPath[int]:
        return kmmap.sys_munmap(self.task.mm, addr, length)

    def mprotect(self, addr: int, length: int, prot: int) -> KernelPath[int]:
        return kmprotect.sys_mprotect(self.task.mm, addr, length, prot)

    def mremap(self, old_address: int, old_size: int, new_size: int, flags: int = 0,
               new_address: int = 0) -> KernelPath[int]:
        return kmremap.sys_mremap(self.task.mm, old_address, old_size, new_size, flags,
                                  new_address)

    def madvise(self, addr: int, length: int, advice: int) -> KernelPath[int]:
        return kmadvise.sys_madvise(self.task.mm, addr, length, advice)

    def mlock(self, addr: int, length: int) -> KernelPath[int]:
        return kmlock.sys_mlock(self.task.mm, addr, length, True)

    def mlock2(self, addr: int, length: int, flags: int = 0) -> KernelPath[int]:
        """``flags`` must be 0 or MLOCK_ONFAULT (the blocking method checks it)."""
        return kmlock.sys_mlock(self.task.mm, addr, length, True, bool(flags & 1))

    def munlock(self, addr: int, length: int) -> KernelPath[int]:
        return kmlock.sys_mlock(self.task.mm, addr, length, False)

    # ---- migration and NUMA policy (mm/migrate.c, mm/mempolicy.c)
    def move_pages(self, pid: int, pages: list[int], nodes: list[int] | None,
                   flags: int = 0) -> KernelPath[tuple[int, list[int | None]]]:
        """Returns ``(ret, status)``; unwritten status entries are None.
        ``count`` is ``len(pages)``, as in C: entries of ``nodes`` beyond it are not
        read. Raises: OSError EFAULT at once when ``nodes`` is shorter than ``pages``
        (the kernel would read past the end of the user's array)."""
        pages = list(pages)
        status: list[int | None] = [None] * len(pages)
        if nodes is not None:
            nodes = list(nodes)
            if len(nodes) < len(pages):
                raise OSError(errno.EFAULT, "nodes[] shorter than pages[]")
            del nodes[len(pages):]
        return self._move_pages(pid, pages, nodes, status, flags)

    def _move_pages(self, pid: int, pages: list[int], nodes: list[int] | None,
                    status: list[int | None], flags: int
                    ) -> KernelPath[tuple[int, list[int | None]]]:
        ret = yield from kernel_move_pages(self.machine.kernel, self.task, pid, pages, nodes,
                                           status, flags)
        return ret, status

    def set_mempolicy(self, mode: int, nodemask: int | None = None,
                      maxnode: int = 0) -> KernelPath[int]:
        return kernel_set_mempolicy(self.machine.kernel, self.task, mode, nodemask, maxnode)

    def get_mempolicy(self, maxnode: int = 0, addr: int = 0,
                      flags: int = 0) -> KernelPath[tuple[int, int, int | None]]:
        """Returns ``(ret, mode, nodemask)``; nodemask None when ``maxnode`` is 0."""
        policy = [0]
        nmask: list[int] | None = [0] if maxnode else None
        ret = yield from kernel_get_mempolicy(self.machine.kernel, self.task, policy, nmask,
                                              maxnode, addr, flags)
        return ret, policy[0], None if nmask is None else nmask[0]

    def mbind(self, addr: int, length: int, mode: int, nodemask: int | None = None,
              maxnode: int = 0, flags: int = 0) -> KernelPath[int]:
        return kernel_mbind(self.machine.kernel, self.task, addr, length, mode, nodemask,
                            maxnode, flags)

    def migrate_pages(self, pid: int, maxnode: int, old_nodes: int | None,
                      new_nodes: int | None) -> KernelPath[int]:
        return kernel_migrate_pages(self.machine.kernel, self.task, pid, maxnode, old_nodes,
                                    new_nodes)

    # ---- credentials (kernel/sys.c)
    def setuid(self, uid: int) -> KernelPath[int]:
        return ksys.sys_setuid(self.task, uid)

    # ---- pipes (fs/pipe.c, fs/splice.c)
    def pipe2(self, fds: list[int], flags: int = 0) -> KernelPath[int]:
        """0 with ``fds`` set to [read fd, write fd], or -errno."""
        return sys_pipe2(self.machine.kernel, self.task, fds, flags)

    def vmsplice(self, fd: int, iov: list[tuple[int, int]], flags: int = 0) -> KernelPath[int]:
        return sys_vmsplice(self.machine.kernel, self.task, fd, iov, flags)

    def close(self, fd: int) -> KernelPath[int]:
        return sys_close(self.task, fd)

    # ---- the task's lifecycle (kernel/fork.c, kernel/exit.c)
    def fork(self, cpu: int | None = None) -> KernelPath[Any]:
        """The child's task_struct on ``cpu`` (default: this task's), or a negative errno."""
        cpu = self.task.cpu if cpu is None else cpu
        return copy_process(self.machine.kernel, self.task, 0, cpu)

    def exit(self) -> KernelPath[list[str]]:
        """exit_group(2): every thread of the group exits (kernel/exit.py
        do_group_exit()). Returns what check_mm printed."""
        return do_group_exit(self.machine.kernel, self.task)

    # ---- user memory (a 64-bit word per 4 KiB page)
    def store(self, addr: int, value: int) -> KernelPath[int]:
        """Returns the frame written; a fatal fault raises DeliveredSignal."""
        return user_store(self.task, addr, value & _U64)

    def load(self, addr: int) -> KernelPath[tuple[int, int]]:
        """Returns ``(value, frame)``; a fatal fault raises DeliveredSignal."""
        return user_load(self.task, addr)

    # ---- time (kernel/sched_fair.py): one timer tick with this task running
    def tick(self) -> KernelPath[bool]:
        """One jiffy (1 ms) of this task's runtime: scheduler_tick() (task_tick_numa()
        while kernel.numa_balancing is on), then, on the way back to user space, the
        queued numa_work (task_numa_work(): the NUMA scanner). Returns whether the
        scanner ran."""
        queued = scheduler_tick(self.machine.kernel, self.task)
        if queued:
            yield from task_work_run(self.task)
        return queued

    # ---- files (/proc, /sys): open, one read or write, close, as this task
    def read_file(self, path: str, offset: int = 0,
                  length: int | None = None) -> KernelPath[str | bytes]:
        """Errors raise OSError, as from :meth:`thpsim.fs.vfs.VFS.read`."""
        return self.machine._vfs.sys_read(path, offset=offset, length=length,
                                          as_task=self.task)

    def write_file(self, path: str, data: str | bytes) -> KernelPath[int]:
        """Errors raise OSError, as from :meth:`thpsim.fs.vfs.VFS.write`."""
        return self.machine._vfs.sys_write(path, data, as_task=self.task)

    @property
    def pid(self) -> int:
        """The task's process id (getpid(2): its thread group's)."""
        return self.task.tgid

    @property
    def tid(self) -> int:
        """The task's thread id (gettid(2))."""
        return self.task.pid

    @property
    def cpu(self) -> int:
        """The CPU the task is bound to."""
        return self.task.cpu

    def __repr__(self) -> str:
        return f"<Syscalls of {self.task.pid}>"


class _Syscalls:
    """System-call methods shared by Process (as its first thread) and Thread."""

    machine: Machine
    task: task_struct

    def _sys(self, gen: Generator[Any, None, int]) -> int:
        ret = self.machine._run(self.task, gen)
        self.machine._after()
        return _check(ret)

    @property
    def sys(self) -> Syscalls:
        """This task's system calls as kernel paths (:class:`Syscalls`).

        Raises: OSError ESRCH once the task has exited: every system call and user
        access of the handle goes through here, so none runs as a dead task (which
        Linux cannot do either: a task that exited makes no more calls)."""
        self._live()
        return Syscalls(self.machine, self.task)

    def _live(self) -> None:
        """OSError ESRCH when the task has exited (``exit_state`` set by do_exit())."""
        if self.task.exit_state:
            raise OSError(errno.ESRCH, f"task {self.task.pid} has exited")

    @property
    def _mm(self):
        mm = self.task.mm
        if mm is None or mm.dead:
            raise OSError(errno.ESRCH, "process has exited")
        return mm

    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.mmap(addr, length, prot, flags, fd, offset))

    def munmap(self, addr: int, length: int) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.munmap(addr, length))

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.mprotect(addr, length, prot))

    def mremap(self, old_address: int, old_size: int, new_size: int, flags: int = 0,
               new_address: int = 0) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.mremap(old_address, old_size, new_size, flags, new_address))

    def madvise(self, addr: int, length: int, advice: int) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.madvise(addr, length, advice))

    def mlock(self, addr: int, length: int) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.mlock(addr, length))

    def mlock2(self, addr: int, length: int, flags: int = 0) -> int:
        if flags & ~1:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.mlock2(addr, length, flags))

    def munlock(self, addr: int, length: int) -> int:
        _ = self._mm  # ESRCH once the process has exited
        return self._sys(self.sys.munlock(addr, length))

    # ---- migration (mm/migrate.c)
    def move_pages(self, pid: int, pages: list[int], nodes: list[int] | None,
                   flags: int = 0) -> MovePagesResult:
        """move_pages(2). ``nodes`` None is query mode. Returns ``(ret, status)``, a
        :class:`MovePagesResult` (``.ret``, ``.status``, ``.nodes()``).

        On an error after some entries were processed, the OSError carries
        ``.status`` (unwritten entries are None, as a pre-filled C array keeps
        its value).
        """
        ret, status = self.machine._run(self.task, self.sys.move_pages(pid, pages, nodes, flags))
        self.machine._after()
        if ret < 0:
            err = OSError(-ret, os.strerror(-ret))
            err.status = status  # type: ignore[attr-defined]
            raise err
        return MovePagesResult(ret, status)

    # ---- NUMA policy (mm/mempolicy.c). Masks are ints (bit n = node n), None is NULL,
    # as in C; a Python user may pass any iterable of node ids instead (a set, a range)
    # and leave ``maxnode`` 0: it is then sized to hold the highest node.
    def set_mempolicy(self, mode: int, nodemask: NodeMask = None, maxnode: int = 0) -> int:
        """set_mempolicy(2) for this thread. The kernel reads ``maxnode - 1`` bits."""
        nodemask, maxnode = nodemask_arg(nodemask, maxnode)
        return self._sys(self.sys.set_mempolicy(mode, nodemask, maxnode))

    def get_mempolicy(self, maxnode: int = 0, addr: int = 0,
                      flags: int = 0) -> Mempolicy:
        """get_mempolicy(2): ``(mode, nodemask)``, a :class:`Mempolicy` (``.nodes`` is
        the mask as a frozenset); nodemask is None when ``maxnode`` is 0 (a NULL mask
        pointer)."""
        ret, mode, nodemask = self.machine._run(self.task,
                                                self.sys.get_mempolicy(maxnode, addr, flags))
        self.machine._after()
        _check(ret)
        return Mempolicy(mode, nodemask)

    def mbind(self, addr: int, length: int, mode: int, nodemask: NodeMask = None,
              maxnode: int = 0, flags: int = 0) -> int:
        """mbind(2) on this process's address space."""
        nodemask, maxnode = nodemask_arg(nodemask, maxnode)
        return self._sys(self.sys.mbind(addr, length, mode, nodemask, maxnode, flags))

    def migrate_pages(self, pid: int, maxnode: int, old_nodes: NodeMask,
                      new_nodes: NodeMask) -> int:
        """migrate_pages(2): the number of pages that could not be moved. With node
        sets for both masks and ``maxnode`` 0, it is sized for the highest node."""
        if maxnode == 0 and not isinstance(old_nodes, int | None) \
                and not isinstance(new_nodes, int | None):
            maxnode = _maxnode_for([*old_nodes, *new_nodes])
        old_nodes, _ = nodemask_arg(old_nodes, maxnode)
        new_nodes, _ = nodemask_arg(new_nodes, maxnode)
        return self._sys(self.sys.migrate_pages(pid, maxnode, old_nodes, new_nodes))


    # ---- credentials (kernel/sys.c)
    def setuid(self, uid: int) -> int:
        """setuid(2) for this thread (kernel/sys.py): root becomes ``uid`` for good
        and loses its capabilities."""
        return self._sys(self.sys.setuid(uid))

    # ---- pipes (fs/pipe.py, fs/splice.py)
    def pipe2(self, flags: int = 0) -> tuple[int, int]:
        """pipe2(2): a new pipe's (read fd, write fd). The model's pipes carry the
        pages vmsplice(2) puts in them, a reference on each: read(2) and write(2) of a
        pipe are not modelled (fs/pipe.py)."""
        fds = [-1, -1]
        self._sys(self.sys.pipe2(fds, flags))
        return fds[0], fds[1]

    def pipe(self) -> tuple[int, int]:
        """pipe(2): pipe2() with no flags."""
        return self.pipe2(0)

    def vmsplice(self, fd: int, iov: list[tuple[int, int]] | tuple[int, int],
                 flags: int = 0) -> int:
        """vmsplice(2) into the pipe whose write end is ``fd``: a reference on each
        page of ``iov`` (a list of (base, len), or one pair) queued in the pipe, up to
        its 16 buffers. Returns the bytes queued (fs/splice.py)."""
        if isinstance(iov, tuple):
            iov = [iov]
        iov = [(ulong(b), ulong(n)) for b, n in iov]
        return self._sys(self.sys.vmsplice(fd, iov, flags))

    def close(self, fd: int) -> int:
        """close(2): a pipe's pages are released when both its ends are closed."""
        return self._sys(self.sys.close(fd))
    def pages_nodes(self, pages: Iterable[int]) -> list[int]:
        """Where each page is: move_pages(2)'s query mode (nodes NULL) on this process;
        an entry is the node, or a negative errno (-EFAULT: not mapped, -ENOENT: not
        faulted)."""
        return [int(s) for s in self.move_pages(0, list(pages), None).status]

    # ---- user memory
    def write(self, addr: int, value: int) -> None:
        """Store ``value`` (a 64-bit word) to the 4 KiB page containing ``addr``."""
        m = self.machine
        mm = self._mm
        value &= _U64
        m._run(self.task, self.sys.store(addr, value))
        if m.shadow is not None:  # the CPU used the register's 64 bits
            m.shadow.record(mm.mm_id, ulong(addr), value)
        m._after_fault()

    def read(self, addr: int) -> int:
        """Load the 64-bit word of the 4 KiB page containing ``addr`` (0 if never written)."""
        m = self.machine
        mm = self._mm
        value, pfn = m._run(self.task, self.sys.load(addr))
        m._after_fault()
        if m.shadow is not None:
            want = m.shadow.expected(mm.mm_id, ulong(addr))
            if value != want:
                raise IntegrityError(
                    f"lost write: pid {self.task.tgid} read {value:#x} at {addr:#x} "
                    f"(frame {pfn:#x}), expected {want:#x}",
                    replay=f"seed={m.seed} profile={m.profile.name}",
                )
        return value

    def tick(self, n: int = 1) -> int:
        """Let ``n`` timer ticks (``n`` ms of simulated time) pass with this thread
        running (:meth:`Syscalls.tick`): the jiffies clock and the thread's runtime
        advance, and with ``kernel.numa_balancing`` on the NUMA scanner runs when its
        period comes (docs/numa-balancing.md). Returns how many ticks ran the scanner."""
        m = self.machine
        _ = self._mm  # ESRCH once the process has exited
        ran = 0
        for _i in range(n):
            ran += bool(m._run(self.task, self.sys.tick()))
            m._after()
        return ran

    def spin(self, ms: int, addr: int, length: int, write: bool = False) -> int:
        """Touch ``[addr, addr + length)`` repeatedly for ``ms`` ms of simulated time:
        each tick, a 64-bit load (``write``: a store of the value already there) from
        every 4 KiB page of the range, then :meth:`tick`. NUMA hinting faults happen in
        those accesses, the scanner in the ticks. Returns the ticks that ran the scanner.
        """
        start = addr & ~(PAGE_SIZE - 1)
        ran = 0
        for _i in range(ms):
            for a in range(start, addr + length, PAGE_SIZE):
                v = self.read(a)
                if write:
                    self.write(a, v)
            ran += self.tick()
        return ran


class Thread(_Syscalls):
    """One thread of a process, bound to a CPU."""

    def __init__(self, machine: Machine, task: task_struct, process: Process):
        self.machine = machine
        self.task = task
        self.process = process

    @property
    def tid(self) -> int:
        return self.task.pid

    @property
    def fs(self) -> Any:
        """The /proc and /sys views as this thread (/proc/self is its process); each
        read, write, mkdir and rmdir is a system call of the thread (fs/vfs.py).
        Raises OSError ESRCH once the thread has exited."""
        self._live()
        return VFSView(self.machine._vfs, self.task, self.machine._after)

    @property
    def cpu(self) -> int:
        return self.task.cpu

    def __repr__(self) -> str:
        return f"<Thread {self.task.pid} of {self.task.tgid} on CPU{self.task.cpu}>"


class Process(_Syscalls):
    """A process: an address space and its threads. Its system calls run as its first thread."""

    def __init__(self, machine: Machine, task: task_struct):
        self.machine = machine
        self.task = task
        self.threads: list[Thread] = [Thread(machine, task, self)]
        self.exited = False

    @property
    def fs(self) -> Any:
        """The /proc and /sys views, acting as this process (its credentials, /proc/self);
        each read, write, mkdir and rmdir is a system call of its first thread.
        Raises OSError ESRCH once the process has exited."""
        self._live()
        return VFSView(self.machine._vfs, self.task, self.machine._after)

    def kill(self, sig: int) -> int:
        """kill(2) of this process, as root (:meth:`Machine.kill`)."""
        return self.machine.kill(self.pid, sig)

    @property
    def pid(self) -> int:
        return self.task.tgid

    @property
    def mm(self):
        return self.task.mm

    def clone(self, cpu: int | None = None) -> Thread:
        """Add a thread (clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
        CLONE_THREAD), as pthread_create() asks) on ``cpu`` (default: the first
        thread's CPU). Made by copy_process(), like fork."""
        m = self.machine
        ctx = m.kernel
        if self.exited:
            raise OSError(errno.ESRCH, "process has exited")
        cpu = self.task.cpu if cpu is None else cpu
        if not 0 <= cpu < len(ctx.cpus):
            raise ConfigError(f"no CPU {cpu}")
        flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
        t = m._run(self.task, copy_process(ctx, self.task, flags, cpu))
        if isinstance(t, int):
            raise OSError(-t, os.strerror(-t))
        th = Thread(m, t, self)
        self.threads.append(th)
        return th

    def fork(self, cpu: int | None = None) -> Process:
        """fork(2): a child with a COW copy of the address space, one thread."""
        m = self.machine
        _ = self._mm  # ESRCH once the process has exited
        cpu = self.task.cpu if cpu is None else cpu
        if not 0 <= cpu < len(m.kernel.cpus):
            raise ConfigError(f"no CPU {cpu}")
        child_task = m._run(self.task, self.sys.fork(cpu))
        if isinstance(child_task, int):
            raise OSError(-child_task, os.strerror(-child_task))
        pid = child_task.pid
        child = Process(m, child_task)
        m.processes[pid] = child
        m._after()
        return child

    def exit(self, status: int = 0) -> list[str]:
        """exit_group(2): every thread exits (kernel/exit.py do_group_exit()); the last
        reference to the address space tears it down. Returns what check_mm printed."""
        m = self.machine
        if self.exited:
            raise OSError(errno.ESRCH, "process has exited")
        _ = self._mm  # ESRCH once the process has exited
        out = m._run(self.task, self.sys.exit())
        self.exited = True
        del m.processes[self.pid]
        m._after()
        return out

    def __repr__(self) -> str:
        return f"<Process {self.pid} threads={len(self.threads)}>"


ConfigCallback = Callable[[Machine], None]
