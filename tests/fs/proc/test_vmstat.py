"""/proc/vmstat: the items each era prints, in the kernel's order."""

import pytest
from fs_helpers import boot, key_values, map_thp_area

from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE

PROFILES = pytest.mark.parametrize("profile", ["seed", "mainline"])


@PROFILES
def test_numa_items_follow_the_zone_items_and_pgalloc_the_swap_events(profile):
    names = list(key_values(boot(profile).fs.read("/proc/vmstat")))
    at = names.index("numa_hit")
    assert names[at:at + 6] == ["numa_hit", "numa_miss", "numa_foreign", "numa_interleave",
                                "numa_local", "numa_other"]
    assert names[at + 6] == "nr_inactive_anon"  # then the node items
    at = names.index("pswpout")
    assert names[at + 1:at + 4] == ["pgalloc_normal", "pgalloc_movable", "pgfree"]


@PROFILES
def test_thp_underused_split_page_from_6_12(profile):
    """6.12+ prints thp_underused_split_page after thp_deferred_split_page. With
    khugepaged's default max_ptes_none (511, the model's only value) thp_underused()
    is false, so a drop_caches of a THP holding 511 zero pages splits nothing."""
    m = boot(profile, thp="always")
    names = list(key_values(m.fs.read("/proc/vmstat")))
    present = "thp_underused_split_page" in names
    assert present == (profile == "mainline")
    if present:
        at = names.index("thp_deferred_split_page")
        assert names[at + 1] == "thp_underused_split_page"
    p = m.spawn()
    a = map_thp_area(p)
    p.threads[0].write(a, 1)  # one non-zero page, 511 zero ones
    m.fs.write("/proc/sys/vm/drop_caches", "3")
    vm = key_values(m.fs.read("/proc/vmstat"))
    assert vm.get("thp_underused_split_page", 0) == 0
    assert vm["thp_split_page"] == 0
    assert p.threads[0].read(a + HPAGE_PMD_SIZE - 8) == 0


@pytest.mark.parametrize("switch", [False, True])
def test_thp_underused_split_page_switch(switch):
    m = boot("seed", thp_underused_split_page=switch)
    assert ("thp_underused_split_page" in m.fs.read("/proc/vmstat")) == switch
