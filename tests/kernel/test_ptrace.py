"""ptrace_may_access() (kernel/ptrace.py): one check for /proc and the NUMA calls."""

import pytest

from thpsim import Machine
from thpsim.errors import KernelBug
from thpsim.kernel.ptrace import (
    PTRACE_MODE_ATTACH_REALCREDS,
    PTRACE_MODE_READ,
    PTRACE_MODE_READ_FSCREDS,
    PTRACE_MODE_READ_REALCREDS,
    ptrace_may_access,
)
from thpsim.kernel.task import CAP_SYS_PTRACE, cred

MB = 1 << 20
MODES = (PTRACE_MODE_READ_FSCREDS, PTRACE_MODE_READ_REALCREDS, PTRACE_MODE_ATTACH_REALCREDS)


def test_who_may_access_whom():
    m = Machine(nodes={0: 32 * MB}, block_size=32 * MB, cpus=2)
    root = m.spawn()
    a, a2, b = m.spawn(uid=1000), m.spawn(uid=1000), m.spawn(uid=2000)
    t = a.clone()
    tracer = m.spawn(uid=3000, caps=frozenset({CAP_SYS_PTRACE}))
    for mode in MODES:
        assert ptrace_may_access(a.task, a2.task, mode)        # same uid
        assert ptrace_may_access(t.task, a.task, mode)         # same thread group
        assert not ptrace_may_access(a.task, b.task, mode)     # another uid
        assert ptrace_may_access(root.task, b.task, mode)      # CAP_SYS_PTRACE
        assert ptrace_may_access(tracer.task, a.task, mode)
        assert not ptrace_may_access(b.task, root.task, mode)
        assert ptrace_may_access(None, b.task, mode)           # the machine as root


def test_fs_and_real_uids():
    """FSCREDS compares the caller's filesystem (here effective) uid, REALCREDS its real
    uid, each against the target's uid, euid and suid."""
    m = Machine(nodes={0: 32 * MB}, block_size=32 * MB, cpus=1)
    a, b = m.spawn(uid=1000), m.spawn(uid=1000)
    c = cred(1000, frozenset())
    c.euid = 0  # a set-uid-root caller whose real uid is still 1000
    a.task.cred = c
    assert ptrace_may_access(a.task, b.task, PTRACE_MODE_READ_REALCREDS)
    assert not ptrace_may_access(a.task, b.task, PTRACE_MODE_READ_FSCREDS)
    b.task.cred = cred(1000, frozenset())
    b.task.cred.suid = 0  # the target kept a saved set-uid: no uid match
    assert not ptrace_may_access(m.spawn(uid=1000).task, b.task, PTRACE_MODE_READ_REALCREDS)


def test_a_mode_without_creds_is_a_bug():
    m = Machine(nodes={0: 32 * MB}, block_size=32 * MB, cpus=1)
    a, b = m.spawn(uid=1), m.spawn(uid=2)
    with pytest.raises(KernelBug):
        ptrace_may_access(a.task, b.task, PTRACE_MODE_READ)
