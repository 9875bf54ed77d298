"""Credentials system calls: setuid(2).

Models: kernel/sys.c __sys_setuid() with security/commoncap.c cap_task_fix_setuid()
-> cap_emulate_setxuid() (unchanged in substance from 4.14 to mainline).

A task holding CAP_SETUID sets its real, effective and saved uids to ``uid``; any
other task may only set its effective uid, and only to its real or saved uid
(EPERM otherwise). An euid that leaves 0 drops the effective capabilities (the
kernel drops the permitted set too once no uid is 0), unless SECBIT_NO_SETUID_FIXUP
(not modelled: the model has no securebits, and no permitted set: its cred keeps the
effective capabilities only). A changed euid makes the mm
non-dumpable (commit_creds(), fs.suid_dumpable = 0): /proc/self/pagemap (0400) then
belongs to root and the task cannot read it. The new credentials are a new cred
(prepare_creds() + commit_creds()): a forked task shares its parent's cred until one
of them changes it, so the other keeps the old one.

Simplified: no user namespaces (uid 0 .. 2^32-2 are the init namespace's; -1 is
EINVAL as make_kuid() gives INVALID_UID), no fsuid (it follows the euid, which is
what ptrace_may_access() with FSCREDS reads), no RLIMIT_NPROC check.
"""

from __future__ import annotations

import errno
from collections.abc import Generator
from typing import Any

from thpsim.kernel.task import CAP_SETUID, cred, task_struct

__all__ = ["CAP_SETUID", "sys_setuid"]

_INVALID_UID = 0xFFFF_FFFF
#: include/linux/sched/coredump.h: get_dumpable() values; fs.suid_dumpable's default
SUID_DUMP_DISABLE = 0
SUID_DUMP_USER = 1


def __sys_setuid(task: task_struct, uid: int) -> int:
    """Models: kernel/sys.c __sys_setuid(). Returns 0 or a negative errno."""
    uid &= 0xFFFF_FFFF
    if uid == _INVALID_UID:
        return -errno.EINVAL
    old = task.cred
    new = cred(old.uid, old.cap_effective)
    new.euid, new.suid = old.euid, old.suid
    if old.capable(CAP_SETUID):
        new.uid = new.euid = new.suid = uid
    elif uid in (old.uid, old.suid):
        new.euid = uid
    else:
        return -errno.EPERM
    # cap_emulate_setxuid(): an euid leaving 0 drops the effective capabilities (the
    # kernel also drops the permitted ones once no uid is 0). The model keeps no
    # permitted set, so nothing here raises them again: no task can get back to euid
    # 0 anyway, since setuid() from root moves all three uids together
    if old.euid == 0 and new.euid != 0:
        new.cap_effective = frozenset()
    # commit_creds(): a changed euid makes the mm non-dumpable (suid_dumpable, 0 by
    # default): its /proc files belong to root from now on, and other users may not
    # ptrace-access it
    if new.euid != old.euid and task.mm is not None:
        task.mm.dumpable = SUID_DUMP_DISABLE
    task.cred = new
    return 0


def sys_setuid(task: task_struct, uid: int) -> Generator[Any, None, int]:
    """setuid(2) as a system-call generator (it never sleeps)."""
    return __sys_setuid(task, uid)
    yield  # never reached: makes this a system-call generator
