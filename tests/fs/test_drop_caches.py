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
    assert smaps_of(p.fs, a)["Rss"] == 1024
    assert p.threads[0].read(a) == 1
    assert m.kernel.dmesg[-1] == "thpsim (0): drop_caches: 3"


def test_drop_caches_values(profile):
    m = boot(profile)
    for bad in ("0", "5", "-1", "x", ""):
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
