"""The cost model's arithmetic (src/thpsim/hw/cost.py, docs/modeled-time.md): each hook
charges the parameter table's values times what it counts, to the CPU that did the work.
Expectations are computed by hand from the parameters each test sets."""

from __future__ import annotations

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MADV_NOHUGEPAGE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_MF_MOVE,
    PAGE_SIZE,
    PROT_READ,
    PROT_WRITE,
    ConfigError,
    CostParams,
    Machine,
    NodeCost,
)
from thpsim.hw.cost import CostModel
from thpsim.testing import modeled_time

MiB = 1 << 20
HINT = 0x7E00_0000_0000
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS

#: round numbers, so the expectations below are exact
P = CostParams(syscall_ns=100, lru_add_drain_all_ns=50_000, migrate_folio_ns=2_000,
               rmap_walk_ns=150, pte_update_ns=10, tlb_flush_ns=200, tlb_ipi_ns=1_500,
               tlb_ipi_handler_ns=700, fault_ns=1_000, split_huge_pmd_ns=1_000,
               split_huge_page_ns=2_000, split_subpage_ns=40, tlb_hit_ns=0.5,
               walk_level_ns=8, remote_latency_ns=50, remote_bandwidth_gbs=4.0,
               node=NodeCost(latency_ns=90, bandwidth_gbs=8.0))


def _model(params: CostParams = P, distance: dict | None = None) -> CostModel:
    """Three CPUs (0 and 1 on node 0, 2 on node 1); frames 0-999 on node 0, the rest
    on node 1."""
    dist = distance or {(0, 0): 10, (0, 1): 20, (1, 0): 20, (1, 1): 10}
    return CostModel(params, [0, 0, 1], [0] * 1000 + [1] * 2000, dist)


def _ns(c: CostModel, cpu: int, cat: str) -> float:
    from thpsim.hw.cost import CATEGORIES

    return c.ns()[cpu][CATEGORIES.index(cat)]


def test_copy_bandwidth_by_distance() -> None:
    c = _model()
    c.copy_pages(0, 10, 2000, 512)  # a THP, node 0 -> node 1: remote, 4 bytes/ns
    assert _ns(c, 0, "copy") == pytest.approx(HPAGE_PMD_SIZE / 4.0)
    c.copy_pages(0, 10, 20, 1)  # one page within node 0: 8 bytes/ns
    assert _ns(c, 0, "copy") == pytest.approx(HPAGE_PMD_SIZE / 4.0 + PAGE_SIZE / 8.0)
    # two hops (SLIT 30): half the bandwidth of one
    far = _model(distance={(0, 0): 10, (0, 1): 30, (1, 0): 30, (1, 1): 10})
    far.copy_pages(1, 10, 2000, 1)
    assert _ns(far, 1, "copy") == pytest.approx(PAGE_SIZE * 2 / 4.0)
    # a slow node (a tier) bounds the copy below the interconnect
    slow = _model(CostParams(remote_bandwidth_gbs=4.0,
                             nodes={1: NodeCost(latency_ns=300, bandwidth_gbs=2.0)}))
    slow.copy_pages(0, 10, 2000, 1)
    assert _ns(slow, 0, "copy") == pytest.approx(PAGE_SIZE / 2.0)
    assert slow.usage()["node1.bandwidth_gbs"] == PAGE_SIZE


def test_shootdown_charges_the_initiator_and_each_target() -> None:
    c = _model()
    c.tlb_flush(0, [1, 2])
    assert _ns(c, 0, "tlb_flush") == 200 + 2 * 1_500
    assert _ns(c, 1, "ipi") == _ns(c, 2, "ipi") == 700
    c.tlb_flush(1, [])  # nobody else holds entries: no IPI
    assert _ns(c, 1, "tlb_flush") == 200 and _ns(c, 1, "ipi") == 700


def test_page_walk_cost_by_level_and_data_node() -> None:
    c = _model()
    c.page_walk(0, 10, huge=True)  # 2 MiB leaf: PGD, PUD, PMD; local data
    assert _ns(c, 0, "walk") == 3 * 8 and _ns(c, 0, "access") == 90
    c.page_walk(0, 2000, huge=False)  # 4 KiB leaf: four levels; data one hop away
    assert _ns(c, 0, "walk") == 3 * 8 + 4 * 8
    assert _ns(c, 0, "access") == 90 + 90 + 50
    c.tlb_hit(2, 2000)  # CPU 2 is on node 1: local
    assert _ns(c, 2, "access") == 0.5 + 90
    ev = c.events()
    assert (sum(r[1] for r in ev), sum(r[2] for r in ev)) == (1, 2)  # tlb_hit, tlb_miss


def test_usage_times_values_is_the_modeled_time() -> None:
    c = _model()
    c.syscall(0)
    c.lru_add_drain_all(0)
    c.migrate_folio(0)
    c.rmap_walk(0)
    c.pte_update(0, 512)
    c.fault(1)
    c.split_huge_pmd(1, 512)
    c.split_huge_page(1, 512)
    c.copy_pages(2, 2000, 10, 3)
    c.tlb_hit(1, 5)
    expect = (100 + 50_000 + 2_000 + 150 + 5_120 + 1_000 + 1_000 + 5_120 + 2_000 + 512 * 40
              + 3 * PAGE_SIZE / 4.0 + 0.5 + 90)
    assert c.total_ns() == pytest.approx(expect)
    assert sum(n * c.value(k) for k, n in c.usage().items()) == pytest.approx(expect)


def test_a_machine_charges_the_cpu_that_does_the_work() -> None:
    """One 4 KiB page moved node 0 -> 1 by a process on CPU 0, a second thread on CPU 1
    holding a translation: every charge of move_pages, by hand."""
    m = Machine(nodes={0: 256 * MiB, 1: 256 * MiB}, cpus=2, modeled_time=P)
    p = m.spawn(cpu=0)
    t0, t1 = p.threads[0], p.clone(cpu=1)
    a = p.mmap(HINT, HPAGE_PMD_SIZE, RW, ANON)
    p.madvise(a, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
    t0.write(a, 1)  # fault, then a 4-level walk to node-0 data (CPU 0 is on node 0)
    first = modeled_time(m)
    assert first is not None
    assert first["ns"]["fault"]["cpu0"] == 1_000
    assert first["ns"]["walk"]["cpu0"] == 4 * 8 and first["ns"]["access"]["cpu0"] == 90
    t1.read(a)  # CPU 1 (node 1): a walk, and the data one hop away
    t0.read(a)  # a TLB hit
    before = modeled_time(m)
    assert before is not None
    assert before["ns"]["access"]["cpu1"] == 90 + 50
    assert before["ns"]["access"]["cpu0"] == 90 + 0.5 + 90
    ret, status = p.move_pages(0, [a], [1], MPOL_MF_MOVE)
    assert (ret, status) == (0, [1])
    after = modeled_time(m)
    assert after is not None
    d = {cat: after["ns"][cat]["cpu0"] - before["ns"][cat]["cpu0"] for cat in after["ns"]}
    assert d["syscall"] == 100 and d["lru_drain"] == 50_000 and d["migrate"] == 2_000
    assert d["copy"] == pytest.approx(PAGE_SIZE / 4.0)
    assert d["rmap"] == 2 * 150  # try_to_migrate() and remove_migration_ptes()
    assert d["pgtable"] == 2 * 10  # the migration entry set, then the PTE restored
    assert d["tlb_flush"] == 200 + 1_500  # CPU 1 holds the translation: one IPI
    assert after["ns"]["ipi"]["cpu1"] - before["ns"]["ipi"]["cpu1"] == 700
    assert d["total"] == pytest.approx(100 + 50_000 + 2_000 + PAGE_SIZE / 4.0 + 300 + 20
                                       + 1_700)


def test_tlb_reach_depends_on_the_mapping_size() -> None:
    """A TLB of 4 small and 4 huge entries: 16 pages of one THP hit after the first
    walk; the same 16 pages mapped by PTEs miss on every access, round after round."""
    misses = {}
    for huge in (True, False):
        m = Machine(nodes={0: 256 * MiB, 1: 256 * MiB}, cpus=2, tlb_entries=(4, 4),
                    modeled_time=True)
        p = m.spawn(cpu=0)
        t = p.threads[0]
        a = p.mmap(HINT, HPAGE_PMD_SIZE, RW, ANON)
        if not huge:
            p.madvise(a, HPAGE_PMD_SIZE, MADV_NOHUGEPAGE)
        for x in range(a, a + 16 * PAGE_SIZE, PAGE_SIZE):
            t.write(x, 1)
        before = modeled_time(m)
        for _ in range(3):
            for x in range(a, a + 16 * PAGE_SIZE, PAGE_SIZE):
                t.read(x)
        after = modeled_time(m)
        assert before is not None and after is not None
        misses[huge] = after["events"]["tlb_miss"]["total"] - before["events"]["tlb_miss"]["total"]
    assert misses == {True: 0, False: 48}


def test_off_by_default_and_no_files() -> None:
    m = Machine(nodes={0: 128 * MiB}, cpus=1)
    assert modeled_time(m) is None
    assert not m.fs.exists("/sys/kernel/debug/thpsim")
    on = Machine(nodes={0: 128 * MiB}, cpus=1, modeled_time=True)
    assert sorted(on.fs.listdir("/sys/kernel/debug/thpsim")) == [
        "cost_params", "cost_usage", "modeled_events", "modeled_time"]


@pytest.mark.parametrize("bad", [{"no_such_ns": 1}, {"fault_ns": -1},
                                 {"remote_bandwidth_gbs": 0}, {"node.colour": 1}, "yes"])
def test_bad_tables_are_config_errors(bad: object) -> None:
    with pytest.raises(ConfigError):
        Machine(nodes={0: 128 * MiB}, cpus=1, modeled_time=bad)


def test_the_flat_table_round_trips() -> None:
    """The cost_params file's flat form builds the same table (calibrate's output)."""
    m = Machine(nodes={0: 128 * MiB, 1: 128 * MiB}, cpus=2,
                modeled_time=CostParams(nodes={1: NodeCost(300.0, 2.0)}))
    snap = modeled_time(m)
    assert snap is not None
    again = CostParams.from_dict(snap["params"])
    assert again.node_cost(1) == NodeCost(300.0, 2.0) and again == CostParams(
        nodes={1: NodeCost(300.0, 2.0)})
