"""/proc/sys/vm/drop_caches: 2 and 3 run the THP deferred-split shrinker."""

import errno

import pytest
from fs_helpers import boot, key_values, map_thp_area, smaps_of

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE

DROP = "/proc/sys/vm/drop_caches"


def half_unmapped_thp(profile):
    """[THP A: first half mapped | second half unmapped]: queued for deferred split."""
    m = boot(profile)
    p = m.spawn()
    a = map_thp_area(p)
    p.threads[0].write(a, 1)
    p.munmap(a + HPAGE_PMD_SIZE // 2, HPAGE_PMD_SIZE // 2)
    return m, p, a


def test_drop_caches_splits_partially_mapped_thps(profile):
    m, p, a = half_unmapped_thp(profile)
    vm0 = key_values(m.fs.read("/proc/vmstat"))
    free0 = key_values(m.fs.read("/proc/meminfo"))["MemFree"]
    assert vm0["thp_deferred_split_page"] == 1
    assert m.fs.write(DROP, "1\n") == 2  # the page cache only: nothing to split
    assert key_values(m.fs.read("/proc/vmstat"))["thp_split_page"] == vm0["thp_split_page"]
    assert m.fs.write(DROP, "3") == 1
    vm = key_values(m.fs.read("/proc/vmstat"))
    assert vm["thp_split_page"] == vm0["thp_split_page"] + 1
    # the unmapped half went back to the allocator
    assert key_values(m.fs.read("/proc/meminfo"))["MemFree"] >= free0 + 1024
    # the mapped half stays mapped; 6.12+ (thp_split_remap_zero_subpages) maps its
    # never-written subpages to the shared zero page, leaving the one written page
    assert smaps_of(p.fs, a)["Rss"] == (4 if profile == "mainline" else 1024)
    assert p.threads[0].read(a) == 1
    assert m.kernel.dmesg[-1] == "thpsim (0): drop_caches: 3"


def test_drop_caches_values(profile):
    m = boot(profile)
    for bad in ("0", "5", "-1", "x", " ", "\n"):
        with pytest.raises(OSError) as e:
            m.fs.write(DROP, bad)
        assert e.value.errno == errno.EINVAL
    m.fs.write(DROP, "4")  # silences the log line from now on
    n = len(m.kernel.dmesg)
    m.fs.write(DROP, "2")
    assert len(m.kernel.dmesg) == n


def test_drop_caches_permissions(profile):
    m = boot(profile)
    u = m.spawn(uid=1000, caps=frozenset())
    with pytest.raises(OSError) as e:
        u.fs.write(DROP, "3")
    assert e.value.errno == errno.EACCES
    m.fs.write(DROP, "1")
    if profile == "seed":  # 0644: anyone reads the last value
        assert u.fs.read(DROP) == "1\n"
    else:  # 0200 since 5.x: write-only, even for root
        for fs in (u.fs, m.fs):
            with pytest.raises(OSError) as e:
                fs.read(DROP)
            assert e.value.errno == errno.EACCES


def test_drop_caches_parses_as_proc_dointvec_minmax(profile):
    """__do_proc_dointvec(): white space skipped, strtoul base 0 (0x2 and 02 are 2),
    no "+", a NUL or junk right after the number EINVAL; what follows the number and
    its white space is not consumed (a short write, the value stored); an int
    overflow EINVAL. The model used kstrtoint(strstrip(), 10) before."""
    m = boot(profile)
    for good, n, value in (("0x2", 3, 2), ("02", 2, 2), (" 3 \n", 4, 3), ("1 2", 2, 1),
                           ("2\t\tx", 3, 2)):
        assert m.fs.write(DROP, good) == n, good
        assert m.kernel.dmesg[-1].endswith(f"drop_caches: {value}")
    for bad in ("+1", "1\x00", "08", "4294967297", "1" * 30, "3x"):
        n = len(m.kernel.dmesg)
        with pytest.raises(OSError) as e:
            m.fs.write(DROP, bad)
        assert e.value.errno == errno.EINVAL, bad
        assert len(m.kernel.dmesg) == n


def test_an_empty_write_drops_again_by_the_last_value(profile):
    """An empty write stores nothing (__do_proc_dointvec(): ``!*lenp`` returns 0) and
    drop_caches_sysctl_handler() drops by the value stored last: 0 at boot (only the
    log line), 3 after "3" (the shrinker runs again)."""
    m, p, a = half_unmapped_thp(profile)
    assert m.fs.write(DROP, "") == 0
    assert m.kernel.dmesg[-1] == "thpsim (0): drop_caches: 0"
    split0 = key_values(m.fs.read("/proc/vmstat"))["thp_split_page"]
    assert split0 == key_values(m.fs.read("/proc/vmstat"))["thp_split_page"]
    m.fs.write(DROP, "1")
    assert m.fs.write(DROP, "") == 0  # drops the page cache again: nothing to split
    assert key_values(m.fs.read("/proc/vmstat"))["thp_split_page"] == split0
    m.kernel.dmesg.clear()
    m.fs.write(DROP, "3")
    assert m.kernel.dmesg == ["thpsim (0): drop_caches: 3"]
    p2 = m.spawn()
    b = map_thp_area(p2)
    p2.threads[0].write(b, 1)
    p2.munmap(b + HPAGE_PMD_SIZE // 2, HPAGE_PMD_SIZE // 2)
    before = key_values(m.fs.read("/proc/vmstat"))["thp_split_page"]
    assert m.fs.write(DROP, "") == 0
    assert key_values(m.fs.read("/proc/vmstat"))["thp_split_page"] == before + 1
    assert m.kernel.dmesg[-1] == "thpsim (0): drop_caches: 3"
