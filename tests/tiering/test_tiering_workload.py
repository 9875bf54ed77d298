"""Workload generators (src/thpsim/tiering/workload.py) and the tiered topology
(src/thpsim/tiering/topology.py): deterministic from a seed, the patterns' shapes, and a
machine with a CPU-less slow node priced by the cost model's per-node table."""

from __future__ import annotations

from collections import Counter

import pytest

from thpsim import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.testing import modeled_time
from thpsim.tiering import TieredTopology, Workload


def _chunks(offsets: list[int]) -> Counter[int]:
    return Counter(o // HPAGE_PMD_SIZE for o in offsets)


def test_same_seed_same_accesses_other_seed_others() -> None:
    a = [Workload("zipf", 16, seed=3).tick(t, 50) for t in range(4)]
    b = [Workload("zipf", 16, seed=3).tick(t, 50) for t in range(4)]
    c = [Workload("zipf", 16, seed=4).tick(t, 50) for t in range(4)]
    assert a == b and a != c


def test_offsets_are_page_aligned_inside_the_working_set() -> None:
    offs = Workload("uniform", 8, seed=1).tick(0, 2000)
    assert all(o % PAGE_SIZE == 0 and 0 <= o < 8 * HPAGE_PMD_SIZE for o in offs)


def test_zipf_is_skewed_uniform_is_not() -> None:
    z = _chunks(Workload("zipf", 16, seed=0, zipf_s=1.2).tick(0, 20000))
    u = _chunks(Workload("uniform", 16, seed=0).tick(0, 20000))
    wl = Workload("zipf", 16, seed=0, zipf_s=1.2)
    hottest = wl.hot_chunks(1)[0]
    assert z.most_common(1)[0][0] == hottest
    assert z[hottest] > 0.3 * 20000  # 1 / H(16, 1.2) of the loads, about 36 %
    assert max(u.values()) < 1.2 * 20000 / 16 and min(u.values()) > 0.8 * 20000 / 16


def test_phase_moves_the_hot_set() -> None:
    wl = Workload("phase", 16, seed=0, phase_ticks=5)
    first = wl.hot_chunks(4)
    for t in range(5):
        wl.tick(t, 10)
    assert wl.hot_chunks(4) == first and wl.phase == 0
    wl.tick(5, 10)
    assert wl.phase == 1 and wl.hot_chunks(4) != first


@pytest.mark.parametrize("bad", [{"pattern": "nosuch"}, {"nr_thp": 0}, {"zipf_s": -1.0}])
def test_bad_workloads_refused(bad) -> None:
    with pytest.raises(ValueError):
        Workload(**bad)


def test_tiered_machine_slow_node_has_no_cpus_and_its_own_costs() -> None:
    topo = TieredTopology(slow_latency_ns=300.0, slow_bandwidth_gbs=2.0)
    m = topo.machine()
    assert sorted(m.nodes) == [0, 1] and {c.nid for c in m.cpus} == {0}
    assert m.fs.read("/sys/devices/system/node/node1/cpulist").strip() == ""
    params = modeled_time(m, ("params",))["params"]
    assert params["node1.latency_ns"] == 300.0 and params["node1.bandwidth_gbs"] == 2.0
    assert params["node.latency_ns"] == 90.0  # the fast node: the shipped table's
