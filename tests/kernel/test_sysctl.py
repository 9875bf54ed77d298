"""/proc/sys/kernel/numa_balancing and /proc/sys/vm/enable_soft_offline (6.11+)."""

import errno
import struct

import pytest
from fs_helpers import ANON, RW, boot

from thpsim import MADV_SOFT_OFFLINE
from thpsim.arch.x86_64.pgtable import PAGE_SHIFT, PAGE_SIZE
from thpsim.kernel.task import CAP_SYS_ADMIN

NUMA_BAL = "/proc/sys/kernel/numa_balancing"
SOFT = "/proc/sys/vm/enable_soft_offline"
PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])


def errno_of(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    return e.value.errno


@PROFILES
def test_numa_balancing_reads_and_writes_its_state(profile):
    m = boot(profile)
    assert m.fs.read(NUMA_BAL) == "0\n"
    assert m.fs.write(NUMA_BAL, "1\n") == 2
    assert m.fs.read(NUMA_BAL) == "1\n"
    assert errno_of(m.fs.write, NUMA_BAL, "5") == errno.EINVAL
    assert errno_of(m.fs.write, NUMA_BAL, "-1") == errno.EINVAL
    assert errno_of(m.fs.write, NUMA_BAL, "x") == errno.EINVAL
    # 5.18+: the memory-tiering mode bit; 4.14: only 0 or 1
    if profile == "mainline":
        assert m.fs.write(NUMA_BAL, "2") == 1
        assert m.fs.read(NUMA_BAL) == "2\n"
    else:
        assert errno_of(m.fs.write, NUMA_BAL, "2") == errno.EINVAL
        assert m.fs.read(NUMA_BAL) == "1\n"
    assert m.fs.write(NUMA_BAL, "0") == 1
    assert m.fs.read(NUMA_BAL) == "0\n"


@pytest.mark.parametrize("tiering", [False, True])
def test_numa_balancing_memory_tiering_switch(tiering):
    m = boot("seed", numa_balancing_memory_tiering=tiering)
    if tiering:
        assert m.fs.write(NUMA_BAL, "4") == 1
        assert m.fs.read(NUMA_BAL) == "4\n"
    else:
        assert errno_of(m.fs.write, NUMA_BAL, "4") == errno.EINVAL


@PROFILES
def test_numa_balancing_write_needs_root_and_cap_sys_admin(profile):
    m = boot(profile)
    user = m.spawn(uid=1000, caps=frozenset())
    assert user.fs.read(NUMA_BAL) == "0\n"  # 0644
    assert errno_of(user.fs.write, NUMA_BAL, "1") == errno.EACCES  # test_perm()
    root_nocap = m.spawn(uid=0, caps=frozenset() - {CAP_SYS_ADMIN})
    assert errno_of(root_nocap.fs.write, NUMA_BAL, "1") == errno.EPERM
    assert m.fs.read(NUMA_BAL) == "0\n"


def soft_offline_setup(profile, **kw):
    m = boot(profile, **kw)
    p = m.spawn(cpu=0)
    a = p.mmap(0, PAGE_SIZE, RW, ANON)
    p.threads[0].write(a, 7)
    return m, p, a


@PROFILES
def test_enable_soft_offline_exists_from_6_11(profile):
    m = boot(profile)
    assert m.fs.exists(SOFT) == (profile == "mainline")
    if profile == "mainline":
        assert m.fs.read(SOFT) == "1\n"
        assert errno_of(m.fs.write, SOFT, "2") == errno.EINVAL
        assert errno_of(m.fs.write, SOFT, "-1") == errno.EINVAL


@pytest.mark.parametrize("switch", [False, True])
def test_enable_soft_offline_0_makes_soft_offline_eopnotsupp(switch):
    m, p, a = soft_offline_setup("mainline", sysctl_enable_soft_offline=switch)
    pfn_before = pagemap_pfn(m, p, a)
    if not switch:
        assert not m.fs.exists(SOFT)
        return
    assert m.fs.write(SOFT, "0\n") == 2
    assert m.fs.read(SOFT) == "0\n"
    # MADV_SOFT_OFFLINE and the sysfs file both say EOPNOTSUPP; the page stays put
    assert errno_of(p.madvise, a, PAGE_SIZE, MADV_SOFT_OFFLINE) == errno.EOPNOTSUPP
    addr = pfn_before << PAGE_SHIFT
    assert errno_of(m.fs.write, "/sys/devices/system/memory/soft_offline_page",
                    hex(addr)) == errno.EOPNOTSUPP
    assert pagemap_pfn(m, p, a) == pfn_before and p.threads[0].read(a) == 7
    assert m.kernel.dmesg.count("disabled by /proc/sys/vm/enable_soft_offline") == 1
    assert m.fs.write(SOFT, "1") == 1
    assert p.madvise(a, PAGE_SIZE, MADV_SOFT_OFFLINE) == 0
    assert pagemap_pfn(m, p, a) != pfn_before and p.threads[0].read(a) == 7


def pagemap_pfn(m, p, a):
    raw = p.fs.read(f"/proc/{p.pid}/pagemap", offset=(a >> PAGE_SHIFT) * 8, length=8)
    return struct.unpack("<Q", raw)[0] & ((1 << 55) - 1)
