"""cgroup cpusets (kernel/cgroup/cpuset.py): v2 under ``mainline``, v1 under ``seed``.

Rows CS-n cite the edge-case table of caller-semantics.md §5.5; the oracle's
``cpuset2`` scenario (all-7.2.brief.txt) is reproduced under ``mainline``.
"""

import errno

import pytest

from thpsim import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_F_ADDR,
    MPOL_MF_MOVE,
    PROT_READ,
    PROT_WRITE,
    Machine,
)
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.mm.gup import follow_page

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
MB = 1 << 20
V2 = "/sys/fs/cgroup"
V1 = "/sys/fs/cgroup/cpuset"


def machine(profile, nodes=2, **kw):
    return Machine(nodes={n: 256 * MB for n in range(nodes)}, cpus=nodes,
                   block_size=128 * MB, check=True, profile=profile, **kw)


def thp_region(p, nr_thp=2):
    a = p.mmap(0, (nr_thp + 1) * HPAGE_PMD_SIZE, RW, ANON)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    t = p.threads[0]
    for i in range(0, nr_thp * HPAGE_PMD_SIZE, PAGE_SIZE):
        t.write(a + i, a + i)
    return a


def check_data(p, a, length):
    t = p.threads[0]
    for i in range(0, length, PAGE_SIZE):
        assert t.read(a + i) == a + i


def node_at(m, p, addr):
    return m.kernel.mem.pfn_to_nid(follow_page(p.mm.find_vma(addr), addr, False)[0])


def is_pmd_mapped(p, addr):
    return follow_page(p.mm.find_vma(addr), addr, False)[1]


def delta(m, before):
    return {k: v - before[k] for k, v in m.kernel.vmstat.events.items() if v != before[k]}


def errno_of(fn, *a):
    with pytest.raises(OSError) as e:
        fn(*a)
    return e.value.errno


# ---------------------------------------------------------------- v2 (mainline)
def test_cpuset2_oracle_mainline():
    """Oracle cpuset2 (7.2): mems 0 -> 1 moves the THPs whole (thp_migration_success
    +4); 0-1 and '' (inherit) move nothing; attaching to a cgroup with mems 0 moves
    them back."""
    m = machine("mainline")
    p = m.spawn(cpu=0)
    fs = m.fs
    assert fs.write(f"{V2}/cgroup.subtree_control", "+cpuset") == len("+cpuset")
    fs.mkdir(f"{V2}/oracle_t")
    fs.write(f"{V2}/oracle_t/cpuset.mems", "0")
    fs.write(f"{V2}/oracle_t/cgroup.procs", str(p.pid))
    assert p.task.mems_allowed == 0b01
    a = thp_region(p, 4)
    assert {node_at(m, p, a + i * HPAGE_PMD_SIZE) for i in range(4)} == {0}

    before = dict(m.kernel.vmstat.events)
    fs.write(f"{V2}/oracle_t/cpuset.mems", "1")
    d = delta(m, before)
    assert d["thp_migration_success"] == 4 and d["pgmigrate_success"] == 2048
    assert all(node_at(m, p, a + i * HPAGE_PMD_SIZE) == 1 and
               is_pmd_mapped(p, a + i * HPAGE_PMD_SIZE) for i in range(4))
    assert fs.read(f"{V2}/oracle_t/cpuset.mems.effective") == "1\n"
    assert p.task.mems_allowed == 0b10
    check_data(p, a, 4 * HPAGE_PMD_SIZE)

    before = dict(m.kernel.vmstat.events)
    fs.write(f"{V2}/oracle_t/cpuset.mems", "0-1")  # superset: nothing moves
    fs.write(f"{V2}/oracle_t/cpuset.mems", "")  # inherit the parent's (all)
    assert delta(m, before) == {}
    assert fs.read(f"{V2}/oracle_t/cpuset.mems") == "\n"
    assert fs.read(f"{V2}/oracle_t/cpuset.mems.effective") == "0-1\n"

    fs.mkdir(f"{V2}/oracle_u")
    fs.write(f"{V2}/oracle_u/cpuset.mems", "0")
    fs.write(f"{V2}/oracle_u/cgroup.procs", str(p.pid))
    d = delta(m, before)
    assert d["thp_migration_success"] == 4
    assert all(node_at(m, p, a + i * HPAGE_PMD_SIZE) == 0 for i in range(4))
    assert fs.read(f"{V2}/oracle_u/cgroup.procs") == f"{p.pid}\n"
    assert fs.read(f"{V2}/oracle_t/cgroup.procs") == ""
    check_data(p, a, 4 * HPAGE_PMD_SIZE)
    fs.rmdir(f"{V2}/oracle_t")
    assert errno_of(fs.rmdir, f"{V2}/oracle_u") == errno.EBUSY  # still has a task
    fs.write(f"{V2}/cgroup.procs", str(p.pid))
    fs.rmdir(f"{V2}/oracle_u")
    fs.write(f"{V2}/cgroup.subtree_control", "-cpuset")


def test_cs9_same_mems_no_migration_and_einval():
    m = machine("mainline")
    p = m.spawn(cpu=0)
    fs = m.fs
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    fs.mkdir(f"{V2}/a")
    fs.write(f"{V2}/a/cpuset.mems", "0")
    fs.write(f"{V2}/a/cgroup.procs", str(p.pid))
    thp_region(p, 1)
    before = dict(m.kernel.vmstat.events)
    fs.write(f"{V2}/a/cpuset.mems", "0")
    assert delta(m, before) == {}
    assert errno_of(fs.write, f"{V2}/a/cpuset.mems", "5") == errno.EINVAL  # no node 5
    assert errno_of(fs.write, f"{V2}/a/cpuset.mems", "x") == errno.EINVAL
    assert errno_of(fs.write, f"{V2}/a/cgroup.procs", "99999") == errno.ESRCH


def test_v2_mems_obeyed_by_move_pages_and_mbind():
    """mems_allowed limits move_pages(2) targets (the call fails with EACCES) and
    policies (mbind to nodes outside the cpuset: EINVAL)."""
    m = machine("mainline")
    p = m.spawn(cpu=0)
    fs = m.fs
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    fs.mkdir(f"{V2}/a")
    fs.write(f"{V2}/a/cpuset.mems", "0")
    fs.write(f"{V2}/a/cgroup.procs", str(p.pid))
    a = thp_region(p, 1)
    assert errno_of(p.move_pages, 0, [a], [1]) == errno.EACCES
    with pytest.raises(OSError) as e:
        p.mbind(a, HPAGE_PMD_SIZE, MPOL_BIND, 0b10, 64, MPOL_MF_MOVE)
    assert e.value.errno == errno.EINVAL


# ---------------------------------------------------------------- v1 (seed)
def v1_setup(m, p, name, mems, migrate):
    fs = m.fs
    fs.mkdir(f"{V1}/{name}")
    assert fs.read(f"{V1}/{name}/cpuset.mems") == "\n"
    assert fs.read(f"{V1}/{name}/cpuset.memory_migrate") == "0\n"
    fs.write(f"{V1}/{name}/cpuset.mems", mems)
    fs.write(f"{V1}/{name}/cpuset.memory_migrate", "1" if migrate else "0")
    if p is not None:
        fs.write(f"{V1}/{name}/tasks", str(p.pid))


def test_cs1_v1_no_migrate_keeps_pages_rebinds_policy():
    m = machine("seed")
    p = m.spawn(cpu=0)
    v1_setup(m, p, "A", "0", False)
    assert p.set_mempolicy(MPOL_BIND, 0b01, 64) == 0
    a = thp_region(p, 1)
    before = dict(m.kernel.vmstat.events)
    m.fs.write(f"{V1}/A/cpuset.mems", "1")
    assert "thp_migration_success" not in delta(m, before)
    assert node_at(m, p, a) == 0  # stays
    assert p.get_mempolicy(64) == (MPOL_BIND, 0b10)  # {0} remapped to {1}
    b = thp_region(p, 1)
    assert node_at(m, p, b) == 1  # new faults follow the rebound policy


def test_v1_vma_policy_rebound():
    """mpol_rebind_mm(): an mbind(BIND {0}) VMA policy becomes {1}."""
    m = machine("seed")
    p = m.spawn(cpu=0)
    v1_setup(m, p, "A", "0", False)
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, RW, ANON)
    assert p.mbind(a, 2 * HPAGE_PMD_SIZE, MPOL_BIND, 0b01, 64) == 0
    m.fs.write(f"{V1}/A/cpuset.mems", "1")
    assert p.get_mempolicy(64, a, MPOL_F_ADDR) == (MPOL_BIND, 0b10)
    p.threads[0].write(a, 1)
    assert node_at(m, p, a) == 1


def test_cs2_v1_migrate_moves_thp_whole():
    m = machine("seed")
    p = m.spawn(cpu=0)
    v1_setup(m, p, "A", "0", True)
    a = thp_region(p, 2)
    before = dict(m.kernel.vmstat.events)
    m.fs.write(f"{V1}/A/cpuset.mems", "1")
    d = delta(m, before)
    assert d["thp_migration_success"] == 2 and d["pgmigrate_success"] == 2  # 4.14 counts
    assert node_at(m, p, a) == 1 and is_pmd_mapped(p, a)
    check_data(p, a, 2 * HPAGE_PMD_SIZE)


@pytest.mark.parametrize("migrate", [True, False])
def test_cs4_cs5_v1_attach_remaps_by_position(migrate):
    """CS-4/CS-5: A={0,1}, B={2,3}; moving the task A->B maps 0->2, 1->3 when B has
    memory_migrate=1, else nothing moves."""
    m = machine("seed", nodes=4)
    p = m.spawn(cpu=0)
    v1_setup(m, p, "A", "0-1", False)
    v1_setup(m, None, "B", "2-3", migrate)
    a = thp_region(p, 1)
    b = thp_region(p, 1)
    _ret, _st = p.move_pages(0, [b], [1])
    assert (node_at(m, p, a), node_at(m, p, b)) == (0, 1)
    m.fs.write(f"{V1}/B/cgroup.procs", str(p.pid))
    assert p.task.mems_allowed == 0b1100
    want = (2, 3) if migrate else (0, 1)
    assert (node_at(m, p, a), node_at(m, p, b)) == want


def test_cs6_shared_thp_moves_too():
    """CS-6: MOVE_ALL: a THP shared with a process in another cpuset moves too."""
    m = machine("seed")
    p = m.spawn(cpu=0)
    a = thp_region(p, 1)
    child = p.fork()  # stays in the top cpuset, shares the THP
    v1_setup(m, p, "A", "0", True)
    m.fs.write(f"{V1}/A/cpuset.mems", "1")
    assert node_at(m, p, a) == 1 and node_at(m, child, a) == 1
    check_data(child, a, HPAGE_PMD_SIZE)
    assert child.task.mems_allowed is None


def test_cs7_non_leader_thread_moves_no_memory():
    m = machine("seed")
    p = m.spawn(cpu=0)
    th = p.clone()
    a = thp_region(p, 1)
    v1_setup(m, None, "B", "1", True)
    m.fs.write(f"{V1}/B/tasks", str(th.tid))
    assert th.task.mems_allowed == 0b10 and p.task.mems_allowed is None
    assert node_at(m, p, a) == 0
    assert m.fs.read(f"{V1}/B/tasks") == f"{th.tid}\n"
    assert m.fs.read(f"{V1}/B/cgroup.procs") == ""


def test_cs8_v1_shrink_to_one_node():
    """CS-8: {0-3} -> {1}: pages of 0, 2, 3 go to 1; node 1's own pages stay."""
    m = machine("seed", nodes=4)
    p = m.spawn(cpu=0)
    v1_setup(m, p, "A", "0-3", True)
    addrs = [thp_region(p, 1) for _ in range(4)]
    for i, x in enumerate(addrs[1:], start=1):
        p.move_pages(0, [x], [i])
    assert [node_at(m, p, x) for x in addrs] == [0, 1, 2, 3]
    m.fs.write(f"{V1}/A/cpuset.mems", "1")
    assert [node_at(m, p, x) for x in addrs] == [1, 1, 1, 1]
    for x in addrs:
        check_data(p, x, HPAGE_PMD_SIZE)


def test_cs10_v1_top_and_enospc():
    m = machine("seed")
    p = m.spawn(cpu=0)
    assert m.fs.read(f"{V1}/cpuset.mems") == "0-1\n"
    assert errno_of(m.fs.write, f"{V1}/cpuset.mems", "0") == errno.EACCES  # CS-10
    m.fs.mkdir(f"{V1}/E")
    assert errno_of(m.fs.write, f"{V1}/E/tasks", str(p.pid)) == errno.ENOSPC  # no mems
    assert errno_of(m.fs.write, f"{V1}/E/cpuset.memory_migrate", "2") == errno.EINVAL
    assert not m.fs.exists(f"{V2}/cgroup.subtree_control")  # no v2 in the seed


@pytest.mark.parametrize("thp", ["always", "never"])
def test_faults_land_on_the_cpusets_nodes(thp):
    """ALLOC_CPUSET: a task on CPU0 (node 0) whose cpuset allows node 1 only faults
    its base pages and THPs on node 1."""
    m = Machine(nodes={0: 256 * MB, 1: 256 * MB}, cpus=2, block_size=128 * MB, check=True,
                profile="mainline", thp=thp)
    p = m.spawn(cpu=0)
    fs = m.fs
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    fs.mkdir(f"{V2}/far")
    fs.write(f"{V2}/far/cpuset.mems", "1")
    fs.write(f"{V2}/far/cgroup.procs", str(p.pid))
    a = thp_region(p, 2)
    assert {node_at(m, p, a + i) for i in range(0, 2 * HPAGE_PMD_SIZE, PAGE_SIZE)} == {1}
    assert is_pmd_mapped(p, a) == (thp == "always")
    fs.write(f"{V2}/cgroup.procs", str(p.pid))  # back to the root: local again
    b = thp_region(p, 1)
    assert node_at(m, p, b) == 0
