"""The public surface: Machine, Process, Thread.

Shaped like the system calls, so code written against libc reads the same:
success returns what the C call returns (0 or an address); failure raises
:class:`OSError` with Linux's errno, leaving the state Linux leaves. A user
access that faults fatally raises :class:`~thpsim.errors.DeliveredSignal`.

Every kernel path runs through :meth:`Machine._run`, which sets ``current`` and
drives the generator to completion (the interleaving scheduler drives the same
generators concurrently).
"""

from __future__ import annotations

import errno
import os
import random
import signal
from collections.abc import Callable, Generator, Mapping
from typing import Any

from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE
from thpsim.errors import ConfigError, IntegrityError
from thpsim.fs.vfs import VFSView
from thpsim.hw.cpu import CPU
from thpsim.hw.memory import PhysicalMemory
from thpsim.integrity import Shadow, check_integrity
from thpsim.kernel import fork as kfork
from thpsim.kernel.cgroup.cpuset import cgroup_post_fork
from thpsim.kernel.context import (
    THP_DEFRAG_MODES,
    THP_ENABLED_MODES,
    KernelContext,
    ThpSettings,
)
from thpsim.kernel.sched import run_to_completion
from thpsim.kernel.task import ALL_CAPS, cred, handle_signals, kill_pid_info, task_struct
from thpsim.mm import madvise as kmadvise
from thpsim.mm import mlock as kmlock
from thpsim.mm import mmap as kmmap
from thpsim.mm import mprotect as kmprotect
from thpsim.mm import mremap as kmremap
from thpsim.mm.page_alloc import BuddyAllocator, fragment_node, memblock_free_all, unfragment
from thpsim.mm.page_flags import F_reserved, PageArrays
from thpsim.profiles import Profile, make_profile

__all__ = ["Machine", "Process", "Thread"]

_U64 = 0xFFFF_FFFF_FFFF_FFFF
DEFAULT_BLOCK_SIZE = 128 << 20


def _check(ret: int) -> int:
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))
    return ret


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
        check: run the invariant checker after every system call (default False;
            tests turn it on).
        shadow: keep the shadow of user writes and check every read (default True).
        tlb_entries: (4 KiB entries, 2 MiB entries) per CPU TLB.
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
        **switches: Any,
    ):
        if nodes is None:
            nodes = {0: 1 << 30, 1: 1 << 30}
        if thp not in THP_ENABLED_MODES:
            raise ConfigError(f"thp must be one of {THP_ENABLED_MODES}")
        if defrag not in THP_DEFRAG_MODES:
            raise ConfigError(f"defrag must be one of {THP_DEFRAG_MODES}")
        self.profile = make_profile(profile, **switches)
        self.seed = seed
        self.rng = random.Random(seed)
        mem = PhysicalMemory(dict(nodes), block_size, dict(distance) if distance else None)
        nids = sorted(mem.nodes)
        if isinstance(cpus, int):
            if cpus < 1:
                raise ConfigError("a machine needs at least one CPU")
            per = {nid: cpus // len(nids) + (1 if i < cpus % len(nids) else 0)
                   for i, nid in enumerate(nids)}
        else:
            per = dict(cpus)
            if set(per) - set(nids):
                raise ConfigError("CPUs given for a node that does not exist")
        cpu_list: list[CPU] = []
        for nid in nids:
            for _ in range(per.get(nid, 0)):
                c = CPU(len(cpu_list), nid, *tlb_entries)
                mem.nodes[nid].cpus.append(c.cpu)
                cpu_list.append(c)
        if not cpu_list:
            raise ConfigError("a machine needs at least one CPU")
        pages = PageArrays(mem.max_pfn)
        self.kernel = ctx = KernelContext(
            self.profile, mem, pages, cpu_list, ThpSettings(thp, defrag, use_zero_page)
        )
        ctx.buddy = BuddyAllocator(mem, pages, dict(movable or {}), movable_align, ctx)
        # The zero page: the first frame of the first node, reserved like kernel image memory.
        zero = mem.nodes[nids[0]].start_pfn
        memblock_free_all(ctx.buddy, {zero})
        ctx.zero_pfn = zero
        pages.flags[zero] |= F_reserved
        pages.refcount[zero] = 1
        self.check = check
        self._faults_checked = 0
        self.shadow = Shadow() if shadow else None
        self.processes: dict[int, Process] = {}
        self._vfs_obj: Any = None

    @property
    def _vfs(self) -> Any:
        if self._vfs_obj is None:
            from thpsim.fs.vfs import VFS

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
        """A new process with one thread on ``cpu``; uid 0 holds every capability."""
        ctx = self.kernel
        if not 0 <= cpu < len(ctx.cpus):
            raise ConfigError(f"no CPU {cpu}")
        if caps is None:
            caps = ALL_CAPS if uid == 0 else frozenset()
        task = task_struct(0, 0, None, cpu, cred(uid, frozenset(caps)), comm)
        ctx.current = task
        try:
            mm = kfork.mm_alloc(ctx)
        finally:
            ctx.current = None
        pid = ctx.alloc_pid()
        task.pid = task.tgid = pid
        task.mm = mm
        mm.owner = task
        ctx.tasks[pid] = task
        p = Process(self, task)
        self.processes[pid] = p
        return p

    def _run(self, task: task_struct, gen: Generator[Any, None, Any]) -> Any:
        """One system call (or user access) of ``task``: signals sent while it ran user
        code are handled first, the kernel path runs with ``current`` = ``task``, and
        signals raised meanwhile are handled on the way back (kernel/task.py)."""
        ctx = self.kernel
        prev = ctx.current
        if task is not None:
            handle_signals(task)
        ctx.current = task
        try:
            return run_to_completion(gen)
        finally:
            ctx.current = prev
            if task is not None:
                handle_signals(task)

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

    def live_mms(self) -> list:
        seen: dict[int, Any] = {}
        for p in self.processes.values():
            if p.mm is not None and not p.mm.dead:
                seen[p.mm.mm_id] = p.mm
        return list(seen.values())

    def check_integrity(self) -> None:
        """Run the invariant checker; raises IntegrityError naming what broke."""
        check_integrity(self.kernel, self.live_mms())
        if self.kernel.warnings:
            raise IntegrityError(f"WARN_ON_ONCE fired: {self.kernel.warnings}")

    def _after(self) -> None:
        if self.check:
            self.check_integrity()

    def _after_fault(self) -> None:
        """After a user access: check only when it faulted (a fault changed the tables)."""
        if self.check and self.kernel.vmstat.events["pgfault"] != self._faults_checked:
            self._faults_checked = self.kernel.vmstat.events["pgfault"]
            self.check_integrity()

    # ---- test helpers (Model-only)
    def fragment(self, nid: int) -> list[int]:
        """Fragment node ``nid`` so no order-9 block is free (the frames are held)."""
        return fragment_node(self.kernel.buddy, nid)

    def unfragment(self, held: list[int]) -> None:
        unfragment(self.kernel.buddy, held)

    def __repr__(self) -> str:
        return (f"Machine(nodes={self.nodes!r}, cpus={len(self.cpus)}, "
                f"profile={self.profile.name!r}, seed={self.seed})")


class _Syscalls:
    """System-call methods shared by Process (as its first thread) and Thread."""

    machine: Machine
    task: task_struct

    def _sys(self, gen: Generator[Any, None, int]) -> int:
        ret = self.machine._run(self.task, gen)
        self.machine._after()
        return _check(ret)

    @property
    def _mm(self):
        mm = self.task.mm
        if mm is None or mm.dead:
            raise OSError(errno.ESRCH, "process has exited")
        return mm

    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1,
             offset: int = 0) -> int:
        mm = self._mm
        ret = self._sys(kmmap.sys_mmap(mm, addr, length, prot, flags, fd, offset))
        sh = self.machine.shadow
        if sh is not None:  # a new mapping reads 0, also where MAP_FIXED replaced one
            sh.clear(mm.mm_id, ret, ret + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)))
        return ret

    def munmap(self, addr: int, length: int) -> int:
        mm = self._mm
        ret = self._sys(kmmap.sys_munmap(mm, addr, length))
        sh = self.machine.shadow
        if sh is not None:
            sh.clear(mm.mm_id, addr, addr + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)))
        return ret

    def mprotect(self, addr: int, length: int, prot: int) -> int:
        return self._sys(kmprotect.sys_mprotect(self._mm, addr, length, prot))

    def mremap(self, old_address: int, old_size: int, new_size: int, flags: int = 0,
               new_address: int = 0) -> int:
        mm = self._mm
        ret = self._sys(
            kmremap.sys_mremap(mm, old_address, old_size, new_size, flags, new_address)
        )
        sh = self.machine.shadow
        if sh is not None:
            old = (old_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
            new = (new_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
            if new < old:
                sh.clear(mm.mm_id, old_address + new, old_address + old)
                old = new
            if ret != old_address:
                sh.clear(mm.mm_id, ret, ret + new)  # whatever was there is gone
                sh.move(mm.mm_id, old_address, ret, old)
        return ret

    def madvise(self, addr: int, length: int, advice: int) -> int:
        mm = self._mm
        try:
            ret = self._sys(kmadvise.sys_madvise(mm, addr, length, advice))
        finally:
            sh = self.machine.shadow
            if sh is not None and advice == kmadvise.MADV_DONTNEED:
                self._shadow_clear_mapped(mm, addr, length)
        return ret

    def _shadow_clear_mapped(self, mm, addr: int, length: int) -> None:
        end = addr + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
        for v in mm.mmap:  # in address order, as madvise walks them
            s, e = max(addr, v.vm_start), min(end, v.vm_end)
            if s >= e:
                continue
            if v.vm_flags & 0x2000:  # VM_LOCKED: EINVAL, and madvise stops there
                break
            self.machine.shadow.clear(mm.mm_id, s, e)

    def mlock(self, addr: int, length: int) -> int:
        return self._sys(kmlock.sys_mlock(self._mm, addr, length, True))

    def mlock2(self, addr: int, length: int, flags: int = 0) -> int:
        if flags & ~1:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return self._sys(kmlock.sys_mlock(self._mm, addr, length, True, bool(flags & 1)))

    def munlock(self, addr: int, length: int) -> int:
        return self._sys(kmlock.sys_mlock(self._mm, addr, length, False))

    # ---- migration (mm/migrate.c)
    def move_pages(self, pid: int, pages: list[int], nodes: list[int] | None,
                   flags: int = 0) -> tuple[int, list[int | None]]:
        """move_pages(2). ``nodes`` None is query mode. Returns ``(ret, status)``.

        On an error after some entries were processed, the OSError carries
        ``.status`` (unwritten entries are None, as a pre-filled C array keeps
        its value).
        """
        from thpsim.mm.migrate import kernel_move_pages

        pages = list(pages)
        status: list[int | None] = [None] * len(pages)
        if nodes is not None:
            nodes = list(nodes)
            if len(nodes) != len(pages):
                raise OSError(errno.EFAULT, "nodes[] shorter than pages[]")
        ret = self.machine._run(
            self.task,
            kernel_move_pages(self.machine.kernel, self.task, pid, pages, nodes, status, flags),
        )
        self.machine._after()
        if ret < 0:
            err = OSError(-ret, os.strerror(-ret))
            err.status = status  # type: ignore[attr-defined]
            raise err
        return ret, status

    # ---- NUMA policy (mm/mempolicy.c); masks are ints (bit n = node n), None is NULL
    def set_mempolicy(self, mode: int, nodemask: int | None = None, maxnode: int = 0) -> int:
        """set_mempolicy(2) for this thread. The kernel reads ``maxnode - 1`` bits."""
        from thpsim.mm.mempolicy import kernel_set_mempolicy

        return self._sys(kernel_set_mempolicy(self.machine.kernel, self.task, mode, nodemask,
                                              maxnode))

    def get_mempolicy(self, maxnode: int = 0, addr: int = 0,
                      flags: int = 0) -> tuple[int, int | None]:
        """get_mempolicy(2): ``(mode, nodemask)``; nodemask is None when ``maxnode`` is 0
        (a NULL mask pointer)."""
        from thpsim.mm.mempolicy import kernel_get_mempolicy

        policy = [0]
        nmask: list[int] | None = [0] if maxnode else None
        self._sys(kernel_get_mempolicy(self.machine.kernel, self.task, policy, nmask, maxnode,
                                       addr, flags))
        return policy[0], None if nmask is None else nmask[0]

    def mbind(self, addr: int, length: int, mode: int, nodemask: int | None = None,
              maxnode: int = 0, flags: int = 0) -> int:
        """mbind(2) on this process's address space."""
        from thpsim.mm.mempolicy import kernel_mbind

        return self._sys(kernel_mbind(self.machine.kernel, self.task, addr, length, mode,
                                      nodemask, maxnode, flags))

    def migrate_pages(self, pid: int, maxnode: int, old_nodes: int | None,
                      new_nodes: int | None) -> int:
        """migrate_pages(2): the number of pages that could not be moved."""
        from thpsim.mm.mempolicy import kernel_migrate_pages

        return self._sys(kernel_migrate_pages(self.machine.kernel, self.task, pid, maxnode,
                                              old_nodes, new_nodes))

    # ---- user memory
    def write(self, addr: int, value: int) -> None:
        """Store ``value`` (a 64-bit word) to the 4 KiB page containing ``addr``."""
        from thpsim.mm.uaccess import user_store

        m = self.machine
        mm = self._mm
        value &= _U64
        m._run(self.task, user_store(self.task, addr, value))
        if m.shadow is not None:
            m.shadow.record(mm.mm_id, addr, value)
        m._after_fault()

    def read(self, addr: int) -> int:
        """Load the 64-bit word of the 4 KiB page containing ``addr`` (0 if never written)."""
        from thpsim.mm.uaccess import user_load

        m = self.machine
        mm = self._mm
        value, pfn = m._run(self.task, user_load(self.task, addr))
        m._after_fault()
        if m.shadow is not None:
            want = m.shadow.expected(mm.mm_id, addr)
            if value != want:
                raise IntegrityError(
                    f"lost write: pid {self.task.tgid} read {value:#x} at {addr:#x} "
                    f"(frame {pfn:#x}), expected {want:#x}",
                    replay=f"seed={m.seed} profile={m.profile.name}",
                )
        return value


class Thread(_Syscalls):
    """One thread of a process, bound to a CPU."""

    def __init__(self, machine: Machine, task: task_struct, process: Process):
        self.machine = machine
        self.task = task
        self.process = process
        task.api = self

    @property
    def tid(self) -> int:
        return self.task.pid

    @property
    def fs(self) -> Any:
        """The /proc and /sys views as this thread (/proc/self is its process); each
        call is a system call of the thread (signals are handled around it)."""
        return _UserVFSView(self.machine._vfs, self.task, self.machine._after)

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
        each call is a system call of its first thread (signals are handled around it)."""
        return _UserVFSView(self.machine._vfs, self.task, self.machine._after)

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
        """Add a thread (CLONE_VM) on ``cpu`` (default: the first thread's CPU)."""
        ctx = self.machine.kernel
        if self.exited:
            raise OSError(errno.ESRCH, "process has exited")
        cpu = self.task.cpu if cpu is None else cpu
        if not 0 <= cpu < len(ctx.cpus):
            raise ConfigError(f"no CPU {cpu}")
        t = task_struct(ctx.alloc_pid(), self.pid, self.task.mm, cpu, self.task.cred,
                        self.task.comm)
        t.group = self.task.group
        t.group.append(t)
        t.signal = self.task.signal  # CLONE_THREAD: one signal_struct per thread group
        t.mempolicy = self.task.mempolicy
        ctx.tasks[t.pid] = t
        cgroup_post_fork(ctx, self.task, t)
        th = Thread(self.machine, t, self)
        self.threads.append(th)
        return th

    def fork(self, cpu: int | None = None) -> Process:
        """fork(2): a child with a COW copy of the address space, one thread."""
        m = self.machine
        mm = self._mm
        cpu = self.task.cpu if cpu is None else cpu
        child_task = m._run(self.task, kfork.copy_process(m.kernel, self.task, cpu))
        if isinstance(child_task, int):
            raise OSError(-child_task, os.strerror(-child_task))
        new_mm = child_task.mm
        pid = child_task.pid
        child = Process(m, child_task)
        m.processes[pid] = child
        if m.shadow is not None:
            m.shadow.copy(mm.mm_id, new_mm.mm_id)
            # VM_WIPEONFORK/DONTCOPY ranges read 0 in the child
            kept = {(v.vm_start, v.vm_end) for v in new_mm.mmap if v.anon_vma is not None}
            for v in mm.mmap:
                if (v.vm_start, v.vm_end) not in kept:
                    m.shadow.clear(new_mm.mm_id, v.vm_start, v.vm_end)
        m._after()
        return child

    def exit(self, status: int = 0) -> list[str]:
        """exit(2): tear the address space down. Returns what check_mm printed."""
        m = self.machine
        ctx = m.kernel
        if self.exited:
            raise OSError(errno.ESRCH, "process has exited")
        mm = self._mm
        out = m._run(self.task, kfork.mmput(mm))
        for t in self.task.group:
            ctx.tasks.pop(t.pid, None)
        self.exited = True
        del m.processes[self.pid]
        if m.shadow is not None:
            m.shadow.drop(mm.mm_id)
        m._after()
        return out

    def __repr__(self) -> str:
        return f"<Process {self.pid} threads={len(self.threads)}>"


class _UserVFSView(VFSView):
    """Model-only: the VFS as a thread's system calls see it: pending signals are
    handled before each call and on the way back, as :meth:`Machine._run` does."""

    __slots__ = ()

    def _syscall(self, op: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        handle_signals(self.task)
        try:
            return op(*args, **kw)
        finally:
            handle_signals(self.task)

    def read(self, path: str, **kw: Any) -> Any:
        return self._syscall(super().read, path, **kw)

    def write(self, path: str, data: str | bytes) -> int:
        return self._syscall(super().write, path, data)

    def mkdir(self, path: str) -> None:
        self._syscall(super().mkdir, path)

    def rmdir(self, path: str) -> None:
        self._syscall(super().rmdir, path)


ConfigCallback = Callable[[Machine], None]
_ = signal
