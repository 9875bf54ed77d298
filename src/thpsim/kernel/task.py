"""Tasks and credentials.

Models: include/linux/sched.h task_struct (the fields the model uses),
include/linux/cred.h, include/uapi/linux/capability.h.
A process is a thread group: its threads share one mm_struct; ``tgid`` is the
process id, ``pid`` the thread's own id.
"""

from __future__ import annotations

from typing import Any

CAP_IPC_LOCK = 14
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAP_SYS_NICE = 23
CAP_SYS_RESOURCE = 24
CAP_LAST_CAP = 40
ALL_CAPS = frozenset(range(CAP_LAST_CAP + 1))


class cred:
    """Models: struct cred (uids and the effective capability set)."""

    __slots__ = ("uid", "euid", "suid", "cap_effective")

    def __init__(self, uid: int, caps: frozenset[int]):
        self.uid = self.euid = self.suid = uid
        self.cap_effective = caps

    def capable(self, cap: int) -> bool:
        return cap in self.cap_effective


class task_struct:
    """Models: struct task_struct (one thread)."""

    __slots__ = ("pid", "tgid", "mm", "cpu", "cred", "comm", "mempolicy", "group",
                 "exit_state", "api", "il_prev", "mems_allowed", "cpus_allowed")

    def __init__(self, pid: int, tgid: int, mm: Any, cpu: int, creds: cred, comm: str):
        self.pid = pid
        self.tgid = tgid
        self.mm = mm
        self.cpu = cpu
        self.cred = creds
        self.comm = comm
        self.mempolicy: Any = None
        #: the thread group (all threads of the process), shared list
        self.group: list[task_struct] = [self]
        self.exit_state = 0
        #: the public Thread object that wraps this task (set by the API layer)
        self.api: Any = None
        #: the interleave cursor (MAX_NUMNODES - 1, as every task inherits from init)
        self.il_prev = (1 << 10) - 1
        #: the cpuset's allowed nodes (a bitmask); None: every node with memory
        self.mems_allowed: int | None = None
        #: the cpuset's CPUs (a bitmask, set_cpus_allowed_ptr()); None: every CPU.
        #: Recorded only: the task stays on ``cpu``.
        self.cpus_allowed: int | None = None

    def __repr__(self) -> str:
        return f"<task {self.pid}/{self.tgid} cpu{self.cpu}>"
