"""/proc/PID/status.

Models: fs/proc/array.c proc_pid_status() (task_name, task_state, task_mem from
task_mmu.c, task_sig, task_cap, task_seccomp, task_cpus_allowed,
cpuset_task_status_allowed, task_context_switch_counts), v4.14 and mainline.

The lines carrying model state: Name, Tgid, Pid, Uid, the Vm*/Rss* lines
(task_mem: VmPeak, VmSize, VmLck, VmHWM, VmRSS, RssAnon, VmPTE ...), Threads,
CapPrm/CapEff, Cpus_allowed(_list) and Mems_allowed(_list).
Simplified: the task is always "R (running)"; PPid, TracerPid, signal, seccomp
and context-switch lines carry fixed values; gid = uid (the model has no groups).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thpsim.fs.proc.base import PID_DIRS, task_dump_owner
from thpsim.fs.proc.internal import get_proc_task
from thpsim.fs.proc.task_mmu import task_mem
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.kernel.fork import get_task_mm, mmput
from thpsim.kernel.sched import run_to_completion
from thpsim.lib.bitmap import bitmap_list_string, bitmap_string

if TYPE_CHECKING:
    from thpsim.fs.vfs import VFS, File

__all__ = ["proc_pid_status", "register"]

#: CAP_LAST_CAP: 4.14 knows capabilities 0..37, mainline 0..40.
_CAP_LAST_CAP_4_14 = 37
_CAP_LAST_CAP_V6 = 40


def proc_pid_status(f: File) -> str:
    """Models: proc_pid_status()."""
    ctx = f.ctx
    task = get_proc_task(f)
    profile = ctx.profile
    c = f.vfs.cred_of(task)
    out = [
        f"Name:\t{task.comm[:15]}\n",
        "Umask:\t0022\n",
        "State:\tR (running)\n",
        f"Tgid:\t{task.tgid}\n",
        "Ngid:\t0\n",
        f"Pid:\t{task.pid}\n",
        "PPid:\t0\n",
        "TracerPid:\t0\n",
        f"Uid:\t{c.uid}\t{c.euid}\t{c.suid}\t{c.euid}\n",
        f"Gid:\t{c.uid}\t{c.euid}\t{c.suid}\t{c.euid}\n",
        "FDSize:\t64\n",
        "Groups:\t \n",
        f"NStgid:\t{task.tgid}\n",
        f"NSpid:\t{task.pid}\n",
        f"NSpgid:\t{task.tgid}\n",
        f"NSsid:\t{task.tgid}\n",
    ]
    if profile.status_kthread:
        out.append("Kthread:\t0\n")
    mm = get_task_mm(task)
    if mm is not None:
        out.append(task_mem(mm))
        run_to_completion(mmput(mm))
    if profile.status_core_dumping:
        out.append("CoreDumping:\t0\n")
    if profile.status_thp_enabled:
        out.append("THP_enabled:\t1\n")
    out += [
        f"Threads:\t{len(task.group)}\n",
        "SigQ:\t0/0\n",
        "SigPnd:\t0000000000000000\n",
        "ShdPnd:\t0000000000000000\n",
        "SigBlk:\t0000000000000000\n",
        "SigIgn:\t0000000000000000\n",
        "SigCgt:\t0000000000000000\n",
    ]
    last = _CAP_LAST_CAP_V6 if profile.cap_last_cap_40 else _CAP_LAST_CAP_4_14
    full = (1 << (last + 1)) - 1
    caps = sum(1 << cap for cap in c.cap_effective if cap <= last)
    out += [
        "CapInh:\t0000000000000000\n",
        f"CapPrm:\t{caps:016x}\n",
        f"CapEff:\t{caps:016x}\n",
        f"CapBnd:\t{full:016x}\n",
        "CapAmb:\t0000000000000000\n",
        "NoNewPrivs:\t0\n",
        "Seccomp:\t0\n",
    ]
    if profile.status_seccomp_filters:
        out.append("Seccomp_filters:\t0\n")
    # task_cpus_allowed(): the task's cpumask; cpuset_task_status_allowed(): its
    # mems_allowed (None in the model: not confined, every CPU / every node)
    cpus = [cpu.cpu for cpu in ctx.cpus if cpu.online and (
        task.cpus_allowed is None or task.cpus_allowed >> cpu.cpu & 1)]
    nids = [n for n in ctx.mem.nodes
            if task.mems_allowed is None or task.mems_allowed >> n & 1]
    out += [
        f"Cpus_allowed:\t{bitmap_string(cpus, len(ctx.cpus))}\n",
        f"Cpus_allowed_list:\t{bitmap_list_string(cpus)}\n",
        f"Mems_allowed:\t{bitmap_string(nids, MAX_NUMNODES)}\n",
        f"Mems_allowed_list:\t{bitmap_list_string(nids)}\n",
        "voluntary_ctxt_switches:\t0\n",
        "nonvoluntary_ctxt_switches:\t0\n",
    ]
    return "".join(out)


def register(vfs: VFS) -> None:
    for d in PID_DIRS:
        vfs.register_file(f"{d}/status", proc_pid_status, mode=0o444, owner=task_dump_owner)
