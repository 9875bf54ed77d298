"""May one task inspect another: the credential check behind /proc and the NUMA calls.

Models: kernel/ptrace.c __ptrace_may_access() / ptrace_may_access() and the
PTRACE_MODE_* flags of include/linux/ptrace.h. Callers: /proc/PID/{maps,smaps,
numa_maps,pagemap,...} through mm_access() (PTRACE_MODE_READ_FSCREDS),
move_pages(2) and, 4.15+, migrate_pages(2) (PTRACE_MODE_READ_REALCREDS).

Simplified: no LSM hook (security_ptrace_access_check), no group ids (the model has
none), one user namespace. A task whose mm is not dumpable (its euid changed:
kernel/sys.py) needs CAP_SYS_PTRACE from every other task. The model's credentials
have no fsuid: the filesystem uid is the effective uid (what it is unless setfsuid()
changed it).
"""

from __future__ import annotations

from typing import Any

from thpsim.errors import KernelBug
from thpsim.kernel.task import CAP_SYS_PTRACE

__all__ = [
    "PTRACE_MODE_READ",
    "PTRACE_MODE_ATTACH",
    "PTRACE_MODE_NOAUDIT",
    "PTRACE_MODE_FSCREDS",
    "PTRACE_MODE_REALCREDS",
    "PTRACE_MODE_READ_FSCREDS",
    "PTRACE_MODE_READ_REALCREDS",
    "PTRACE_MODE_ATTACH_FSCREDS",
    "PTRACE_MODE_ATTACH_REALCREDS",
    "ptrace_may_access",
]

PTRACE_MODE_READ = 0x01
PTRACE_MODE_ATTACH = 0x02
PTRACE_MODE_NOAUDIT = 0x04
PTRACE_MODE_FSCREDS = 0x08
PTRACE_MODE_REALCREDS = 0x10
PTRACE_MODE_READ_FSCREDS = PTRACE_MODE_READ | PTRACE_MODE_FSCREDS
PTRACE_MODE_READ_REALCREDS = PTRACE_MODE_READ | PTRACE_MODE_REALCREDS
PTRACE_MODE_ATTACH_FSCREDS = PTRACE_MODE_ATTACH | PTRACE_MODE_FSCREDS
PTRACE_MODE_ATTACH_REALCREDS = PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS


def ptrace_may_access(caller: Any, task: Any, mode: int) -> bool:
    """May ``caller`` (``current``) access ``task`` in ``mode``?

    Models: kernel/ptrace.c ptrace_may_access() -> __ptrace_may_access(): a thread of
    the same thread group always may; else the caller's uid -- the filesystem uid
    with PTRACE_MODE_FSCREDS, the real uid with PTRACE_MODE_REALCREDS (one of the two
    is required) -- must equal the target's uid, euid and suid, or the caller must
    hold CAP_SYS_PTRACE. ``caller`` None is a kernel thread acting as root (a /proc
    file opened by the machine itself), which may.
    Context: any. Preempts: never.
    """
    if not mode & (PTRACE_MODE_FSCREDS | PTRACE_MODE_REALCREDS):
        raise KernelBug("ptrace access check without PTRACE_MODE_*CREDS")
    if caller is None or caller.tgid == task.tgid:
        return True
    cred, tcred = caller.cred, task.cred
    caller_uid = cred.euid if mode & PTRACE_MODE_FSCREDS else cred.uid
    if not (caller_uid == tcred.euid == tcred.suid == tcred.uid
            or cred.capable(CAP_SYS_PTRACE)):
        return False
    # a task that changed credentials (get_dumpable() != SUID_DUMP_USER) needs
    # CAP_SYS_PTRACE even from its own user
    mm = task.mm
    if mm is not None and mm.dumpable != 1 and not cred.capable(CAP_SYS_PTRACE):
        return False
    return True
