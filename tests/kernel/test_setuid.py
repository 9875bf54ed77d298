"""setuid(2) and what it changes: credentials, capabilities, the dumpable mm that
/proc and ptrace_may_access() read (kernel/sys.py; the oracle's row programs run it)."""

import errno

import pytest

from thpsim import Machine

MOVE_ALL = 4
PROT_RW = 3
MAP_PRIVATE_ANON = 0x22


@pytest.fixture
def m():
    return Machine(nodes={0: 128 << 20, 1: 128 << 20}, cpus=2, profile="mainline")


def test_root_becomes_the_user_for_good(m):
    p = m.spawn()
    assert p.setuid(1000) == 0
    c = p.task.cred
    assert (c.uid, c.euid, c.suid) == (1000, 1000, 1000) and not c.cap_effective
    with pytest.raises(OSError) as e:
        p.setuid(0)
    assert e.value.errno == errno.EPERM
    assert p.setuid(1000) == 0  # to its own uid: allowed
    with pytest.raises(OSError) as e:
        p.setuid(-1)
    assert e.value.errno == errno.EINVAL


def test_fork_shares_the_cred_until_one_changes_it(m):
    p = m.spawn()
    child = p.fork()
    child.setuid(1000)
    assert p.task.cred.uid == 0 and child.task.cred.uid == 1000


def test_after_setuid_pagemap_and_kpageflags_are_root_only(m):
    """commit_creds() makes the mm non-dumpable: /proc/self/pagemap (0400) belongs to
    root; /proc/self/smaps (0444) still reads."""
    p = m.spawn()
    a = p.mmap(0, 1 << 21, PROT_RW, MAP_PRIVATE_ANON)
    p.write(a, 1)
    assert len(p.fs.read("/proc/self/pagemap", offset=a // 4096 * 8, length=8)) == 8
    p.setuid(1000)
    for path in ("/proc/self/pagemap", "/proc/kpageflags"):
        with pytest.raises(PermissionError):
            p.fs.read(path, offset=0, length=8)
    assert "Rss:" in p.fs.read("/proc/self/smaps")
    assert p.task.mm.dumpable == 0
    assert p.fork().task.mm.dumpable == 0  # the flag is inherited (MMF_INIT_MASK)


def test_a_non_dumpable_process_needs_cap_sys_ptrace_even_from_its_own_user(m):
    """__ptrace_may_access(): uid match, then get_dumpable() != SUID_DUMP_USER needs
    CAP_SYS_PTRACE: move_pages(2) on it from another uid-1000 process is EPERM."""
    target = m.spawn()
    a = target.mmap(0, 4096, PROT_RW, MAP_PRIVATE_ANON)
    target.write(a, 1)
    target.setuid(1000)
    other = m.spawn(uid=1000)
    with pytest.raises(OSError) as e:
        other.move_pages(target.pid, [a], None)
    assert e.value.errno == errno.EPERM
    root = m.spawn()
    assert root.move_pages(target.pid, [a], None).status == [0]
    # a process of the same user that never changed credentials stays accessible
    plain = m.spawn(uid=1000)
    b = plain.mmap(0, 4096, PROT_RW, MAP_PRIVATE_ANON)
    plain.write(b, 1)
    assert other.move_pages(plain.pid, [b], None).status == [0]
