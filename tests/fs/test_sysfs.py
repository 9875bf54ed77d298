"""/sys/kernel/mm/transparent_hugepage (fs/sysfs.py); the node files are
tests/drivers/base/test_node.py's."""

import errno

import pytest
from fs_helpers import boot, map_thp_area, smaps_of

THP = "/sys/kernel/mm/transparent_hugepage"


def err(fn, *a) -> int:
    with pytest.raises(OSError) as e:
        fn(*a)
    return e.value.errno


def test_enabled_round_trip(profile):
    m = boot(profile)
    fs = m.fs
    assert fs.read(f"{THP}/enabled") == "[always] madvise never\n"
    assert fs.write(f"{THP}/enabled", "madvise\n") == 8
    assert fs.read(f"{THP}/enabled") == "always [madvise] never\n"
    assert m.kernel.thp.enabled == "madvise"
    # a fault in a VMA without MADV_HUGEPAGE now gets no THP
    p = m.spawn()
    a = map_thp_area(p)
    p.threads[0].write(a, 1)
    assert smaps_of(p.fs, a)["AnonHugePages"] == 0
    assert fs.write(f"{THP}/enabled", "never") == 5
    assert fs.read(f"{THP}/enabled") == "always madvise [never]\n"
    for bad in ("sometimes", "xyz\n", "[always]"):
        assert err(fs.write, f"{THP}/enabled", bad) == errno.EINVAL
    assert m.kernel.thp.enabled == "never"


def test_enabled_prefix_matching_by_era(profile):
    """4.14 compares min(strlen(mode), count) bytes: "alw" is always; mainline needs the word."""
    m = boot(profile, thp="never")
    fs = m.fs
    if profile == "seed":
        assert fs.write(f"{THP}/enabled", "alw") == 3
        assert m.kernel.thp.enabled == "always"
        fs.write(f"{THP}/defrag", "d")  # defer+madvise is tested before defer
        assert fs.read(f"{THP}/defrag") == "always defer [defer+madvise] madvise never\n"
        fs.write(f"{THP}/defrag", "defer\n")
        assert m.kernel.thp.defrag == "defer"
    else:
        assert err(fs.write, f"{THP}/enabled", "alw") == errno.EINVAL
        assert err(fs.write, f"{THP}/defrag", "d") == errno.EINVAL
        assert m.kernel.thp.enabled == "never"


def test_defrag_round_trip(profile):
    m = boot(profile)
    fs = m.fs
    assert fs.read(f"{THP}/defrag") == "always defer defer+madvise [madvise] never\n"
    for mode in ("always", "defer", "defer+madvise", "madvise", "never"):
        fs.write(f"{THP}/defrag", mode + "\n")
        assert m.kernel.thp.defrag == mode
        assert f"[{mode}]" in fs.read(f"{THP}/defrag")
    assert err(fs.write, f"{THP}/defrag", "often") == errno.EINVAL


def test_use_zero_page(profile):
    m = boot(profile)
    fs = m.fs
    assert fs.read(f"{THP}/use_zero_page") == "1\n"
    assert fs.write(f"{THP}/use_zero_page", "0\n") == 2
    assert fs.read(f"{THP}/use_zero_page") == "0\n"
    p = m.spawn()
    p.read(map_thp_area(p))
    assert m.kernel.huge_zero_pfn < 0  # a read fault no longer maps the huge zero page
    assert err(fs.write, f"{THP}/use_zero_page", "2") == errno.EINVAL
    assert err(fs.write, f"{THP}/use_zero_page", " 1") == errno.EINVAL
    assert err(fs.write, f"{THP}/use_zero_page", "1" * 30) == errno.ERANGE
    assert fs.read(f"{THP}/hpage_pmd_size") == "2097152\n"
    assert err(fs.write, f"{THP}/hpage_pmd_size", "4096") == errno.EACCES
