"""cgroup cpusets (kernel/cgroup/cpuset.py): v2 under ``mainline``, v1 under ``seed``.

Rows CS-n cite the edge-case table of caller-semantics.md §5.5; the oracle's
``cpuset2`` scenario (all-7.2.brief.txt) is reproduced under ``mainline``.
"""

import errno

import pytest
from mm_helpers import (
    ANON,
    RW,
    check_data,
    delta,
    errno_of,
    is_pmd_mapped,
    node_at,
    numa_machine,
    thp_region,
)

from thpsim import MADV_HUGEPAGE, MPOL_BIND, MPOL_F_ADDR, MPOL_MF_MOVE
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PAGE_SIZE
from thpsim.hw.memory import MAX_NUMNODES
from thpsim.kernel.cgroup.cpuset import cpuset_write_resmask
from thpsim.testing import Stepper

V2 = "/sys/fs/cgroup"
V1 = "/sys/fs/cgroup/cpuset"


def machine(profile, nodes=2, **kw):
    """``nodes`` NUMA nodes, one CPU each."""
    return numa_machine(profile, nodes, cpus=nodes, **kw)


def v2_tree(fs, *paths):
    """mkdir each cgroup under /sys/fs/cgroup, enabling +cpuset in every parent first
    (the root's included), as an administrator does for nested cpusets."""
    enabled = set()
    for path in paths:
        parts = path.split("/")
        for i in range(len(parts)):
            parent = "/".join([V2] + parts[:i])
            if parent not in enabled:
                fs.write(f"{parent}/cgroup.subtree_control", "+cpuset")
                enabled.add(parent)
        fs.mkdir(f"{V2}/{path}")


def v2_join(fs, p, name, mems):
    """+cpuset in the root, a child cgroup ``name`` with cpuset.mems ``mems``, and the
    process ``p`` moved into it."""
    assert fs.write(f"{V2}/cgroup.subtree_control", "+cpuset") == len("+cpuset")
    fs.mkdir(f"{V2}/{name}")
    fs.write(f"{V2}/{name}/cpuset.mems", mems)
    fs.write(f"{V2}/{name}/cgroup.procs", str(p.pid))


# ---------------------------------------------------------------- v2 (mainline)
def test_cpuset2_oracle_mainline():
    """Oracle cpuset2 (7.2): mems 0 -> 1 moves the THPs whole (thp_migration_success
    +4); 0-1 and '' (inherit) move nothing; attaching to a cgroup with mems 0 moves
    them back."""
    m = machine("mainline")
    p = m.spawn(cpu=0)
    fs = m.fs
    v2_join(fs, p, "oracle_t", "0")
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
    # the oracle's write(fd, "", 0) reaches no store (kernfs): mems stay 0-1
    assert fs.write(f"{V2}/oracle_t/cpuset.mems", "") == 0
    assert fs.read(f"{V2}/oracle_t/cpuset.mems") == "0-1\n"
    fs.write(f"{V2}/oracle_t/cpuset.mems", "\n")  # echo > cpuset.mems: inherit (all)
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
    v2_join(fs, p, "a", "0")
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
    v2_join(fs, p, "a", "0")
    a = thp_region(p, 1)
    assert errno_of(p.move_pages, 0, [a], [1]) == errno.EACCES
    with pytest.raises(OSError) as e:
        p.mbind(a, HPAGE_PMD_SIZE, MPOL_BIND, 0b10, 64, MPOL_MF_MOVE)
    assert e.value.errno == errno.EINVAL


# ---------------------------------------------------------------- v1 (seed)
def v1_setup(m, p, name, mems, migrate, cpus=None):
    fs = m.fs
    fs.mkdir(f"{V1}/{name}")
    assert fs.read(f"{V1}/{name}/cpuset.mems") == "\n"
    assert fs.read(f"{V1}/{name}/cpuset.cpus") == "\n"
    assert fs.read(f"{V1}/{name}/cpuset.memory_migrate") == "0\n"
    fs.write(f"{V1}/{name}/cpuset.cpus", cpus or f"0-{len(m.kernel.cpus) - 1}")
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
    assert p.get_mempolicy(MAX_NUMNODES + 1) == (MPOL_BIND, 0b10)  # {0} remapped to {1}
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
    assert p.get_mempolicy(MAX_NUMNODES + 1, a, MPOL_F_ADDR) == (MPOL_BIND, 0b10)
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
    # v1 cgroup.procs lists the tgid of every thread in the cpuset (pidlist_array_load)
    assert m.fs.read(f"{V1}/B/cgroup.procs") == f"{p.pid}\n"
    assert m.fs.read(f"{V1}/tasks") == f"{p.pid}\n"


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
    # cgroup_file_write(): kstrtoull(buf, 0) then cpuset_write_u64(): non-zero sets it
    assert errno_of(m.fs.write, f"{V1}/E/cpuset.memory_migrate", "x") == errno.EINVAL
    m.fs.write(f"{V1}/E/cpuset.memory_migrate", "2")
    assert m.fs.read(f"{V1}/E/cpuset.memory_migrate") == "1\n"
    assert not m.fs.exists(f"{V2}/cgroup.subtree_control")  # no v2 in the seed


@pytest.mark.parametrize("thp", ["always", "never"])
def test_faults_land_on_the_cpusets_nodes(thp):
    """ALLOC_CPUSET: a task on CPU1 (node 1) whose cpuset allows node 1 only faults its
    base pages and THPs on node 1; back in the root, on CPU0, on node 0 again."""
    m = machine("mainline", thp=thp)
    p = m.spawn(cpu=1)
    fs = m.fs
    v2_join(fs, p, "far", "1")
    a = thp_region(p, 2)
    assert {node_at(m, p, a + i) for i in range(0, 2 * HPAGE_PMD_SIZE, PAGE_SIZE)} == {1}
    assert is_pmd_mapped(p, a) == (thp == "always")
    fs.write(f"{V2}/cgroup.procs", str(p.pid))  # back to the root: local again
    p2 = m.spawn(cpu=0)
    b = thp_region(p2, 1)
    assert node_at(m, p2, b) == 0


@pytest.mark.parametrize("profile,madvised,thp", [
    ("mainline", False, False),  # no direct reclaim: the local node's THP only
    ("mainline", True, True),    # MADV_HUGEPAGE: remote fallback within the cpuset
    ("seed", True, False),       # 4.14: a THP fault never leaves the local node
])
def test_thp_fault_on_a_node_the_cpuset_excludes(profile, madvised, thp):
    """A task on CPU0 (node 0) in a cpuset of node 1: alloc_pages_mpol() tries the THP
    on the local node with __GFP_THISNODE, which the cpuset refuses
    (__cpuset_zone_allowed()); only mainline's retry without __GFP_THISNODE, for a
    fault that may reclaim (defrag "madvise" and MADV_HUGEPAGE), gets a THP, on
    node 1. Otherwise the fault falls back to base pages, all on node 1 (the zonelist
    walk from node 0 keeps to the cpuset)."""
    m = machine(profile, thp="always")
    p = m.spawn(cpu=0)
    fs = m.fs
    if profile == "mainline":
        fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
        fs.mkdir(f"{V2}/far")
        fs.write(f"{V2}/far/cpuset.mems", "1")
        fs.write(f"{V2}/far/cgroup.procs", str(p.pid))
    else:
        fs.mkdir(f"{V1}/far")
        fs.write(f"{V1}/far/cpuset.cpus", "0-1")
        fs.write(f"{V1}/far/cpuset.mems", "1")
        fs.write(f"{V1}/far/tasks", str(p.pid))
    assert p.task.mems_allowed == 0b10
    a = thp_region(p, 1, fill=False)
    if madvised:
        assert p.madvise(a, HPAGE_PMD_SIZE, MADV_HUGEPAGE) == 0
    t = p.threads[0]
    for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE):
        t.write(a + i, a + i)
    assert {node_at(m, p, a + i) for i in range(0, HPAGE_PMD_SIZE, PAGE_SIZE)} == {1}
    assert is_pmd_mapped(p, a) == thp
    check_data(p, a, HPAGE_PMD_SIZE)


# ---------------------------------------------------------------- v2 nesting
def v2_procs(fs, path):
    return fs.read(f"{path}/cgroup.procs")


def test_v2_controllers_follow_the_parents_subtree_control():
    """cgroup.controllers lists what the parent enables; +cpuset needs it there
    (cgroup_subtree_control_write: ENOENT); the cpuset files come and go with it; a
    cgroup nests to any depth."""
    m = machine("mainline")
    fs = m.fs
    assert fs.read(f"{V2}/cgroup.controllers") == "cpuset\n"
    assert fs.read(f"{V2}/cgroup.subtree_control") == "\n"
    assert fs.read(f"{V2}/cpuset.cpus.effective") == "0-1\n"
    assert fs.read(f"{V2}/cpuset.mems.effective") == "0-1\n"
    assert not fs.exists(f"{V2}/cpuset.mems")  # CFTYPE_NOT_ON_ROOT
    fs.mkdir(f"{V2}/a")
    fs.mkdir(f"{V2}/a/b")
    assert fs.read(f"{V2}/a/cgroup.controllers") == "\n"
    assert not fs.exists(f"{V2}/a/cpuset.mems")
    assert errno_of(fs.write, f"{V2}/a/cgroup.subtree_control", "+cpuset") == errno.ENOENT
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    assert fs.read(f"{V2}/cgroup.subtree_control") == "cpuset\n"
    assert fs.read(f"{V2}/a/cgroup.controllers") == "cpuset\n"
    assert fs.read(f"{V2}/a/cpuset.mems") == "\n" and fs.read(f"{V2}/a/cpuset.cpus") == "\n"
    assert fs.read(f"{V2}/a/cpuset.mems.effective") == "0-1\n"
    assert fs.read(f"{V2}/a/b/cgroup.controllers") == "\n"
    assert not fs.exists(f"{V2}/a/b/cpuset.mems")
    fs.write(f"{V2}/a/cgroup.subtree_control", "+cpuset")
    path = f"{V2}/a/b"
    for name in "cdef":
        fs.write(f"{path}/cgroup.subtree_control", "+cpuset")
        path = f"{path}/{name}"
        fs.mkdir(path)
        assert fs.read(f"{path}/cgroup.controllers") == "cpuset\n"
        assert fs.read(f"{path}/cpuset.mems.effective") == "0-1\n"
    # -cpuset while a child still enables it for its own children: EBUSY
    assert errno_of(fs.write, f"{V2}/cgroup.subtree_control", "-cpuset") == errno.EBUSY
    for bad in ("+memory", "cpuset", "+cpuset -bogus"):
        assert errno_of(fs.write, f"{V2}/cgroup.subtree_control", bad) == errno.EINVAL
    assert errno_of(fs.rmdir, f"{V2}/a/b") == errno.EBUSY  # it has children


def test_v2_effective_mems_down_the_tree_and_migration():
    """Effective = configured AND parent's effective, the parent's when empty (an empty
    cpuset.mems inherits), recomputed for every descendant when an ancestor changes;
    the tasks' pages follow (v2 always migrates, CS-3)."""
    m = machine("mainline")
    p = m.spawn(cpu=1)  # on node 1: its THP faults are local
    fs = m.fs
    v2_tree(fs, "a", "a/b", "a/b/c")  # c keeps an empty cpuset.mems: it follows b
    fs.write(f"{V2}/a/cpuset.mems", "0-1")
    fs.write(f"{V2}/a/b/cpuset.mems", "1")
    fs.write(f"{V2}/a/b/c/cgroup.procs", str(p.pid))
    assert p.task.mems_allowed == 0b10
    a = thp_region(p, 2)
    assert node_at(m, p, a) == 1
    assert fs.read(f"{V2}/a/b/c/cpuset.mems.effective") == "1\n"

    before = dict(m.kernel.vmstat.events)
    fs.write(f"{V2}/a/cpuset.mems", "0")  # b: {1} & {0} is empty: b inherits {0}
    d = delta(m, before)
    assert d["thp_migration_success"] == 2
    assert [fs.read(f"{V2}/{x}/cpuset.mems.effective") for x in ("a", "a/b", "a/b/c")] == [
        "0\n", "0\n", "0\n"]
    assert fs.read(f"{V2}/a/b/cpuset.mems") == "1\n"  # the configured mask stays
    assert p.task.mems_allowed == 0b01
    assert node_at(m, p, a) == 0 and is_pmd_mapped(p, a)

    fs.write(f"{V2}/a/cpuset.mems", "\n")  # a inherits the root's: b's {1} applies again
    assert fs.read(f"{V2}/a/b/c/cpuset.mems.effective") == "1\n"
    assert node_at(m, p, a) == 1 and node_at(m, p, a + HPAGE_PMD_SIZE) == 1
    check_data(p, a, 2 * HPAGE_PMD_SIZE)


def test_v2_no_internal_process_rule():
    """cgroup_migrate_vet_dst(): a cgroup that enables cpuset for its children and has a
    populated child takes no process (EBUSY); with no populated child it still can (it
    becomes a thread root: cpuset is a threaded controller, and its children then
    refuse tasks with EOPNOTSUPP); the root always can.
    cgroup_vet_subtree_control_enable(): +cpuset in a cgroup with tasks and a populated
    child is EBUSY."""
    m = machine("mainline")
    p = m.spawn(cpu=0)
    q = m.spawn(cpu=1)
    fs = m.fs
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    fs.mkdir(f"{V2}/a")
    fs.mkdir(f"{V2}/a/b")
    fs.write(f"{V2}/a/cgroup.subtree_control", "+cpuset")
    fs.write(f"{V2}/a/cgroup.procs", str(q.pid))  # no populated child yet: allowed,
    assert fs.read(f"{V2}/a/cgroup.type") == "domain threaded\n"  # a thread root now
    # ... whose children cannot host tasks (the 7.2 oracle: EOPNOTSUPP)
    assert errno_of(fs.write, f"{V2}/a/b/cgroup.procs", str(p.pid)) == errno.EOPNOTSUPP
    assert fs.read(f"{V2}/a/b/cgroup.type") == "domain invalid\n"
    fs.write(f"{V2}/cgroup.procs", str(q.pid))
    assert fs.read(f"{V2}/a/b/cgroup.type") == "domain\n"
    fs.write(f"{V2}/a/b/cgroup.procs", str(p.pid))
    assert errno_of(fs.write, f"{V2}/a/cgroup.procs", str(q.pid)) == errno.EBUSY
    assert v2_procs(fs, f"{V2}/a") == "" and v2_procs(fs, f"{V2}/a/b") == f"{p.pid}\n"
    fs.write(f"{V2}/cgroup.procs", str(q.pid))  # the root is exempt
    # a cgroup with tasks and a populated child may not start enabling cpuset
    fs.mkdir(f"{V2}/x")
    fs.mkdir(f"{V2}/x/y")
    fs.write(f"{V2}/x/cgroup.procs", str(q.pid))
    fs.write(f"{V2}/x/y/cgroup.procs", str(p.pid))
    assert errno_of(fs.write, f"{V2}/x/cgroup.subtree_control", "+cpuset") == errno.EBUSY
    fs.write(f"{V2}/cgroup.procs", str(p.pid))  # y empties: x may enable it now
    fs.write(f"{V2}/x/cgroup.subtree_control", "+cpuset")
    assert fs.read(f"{V2}/x/y/cgroup.controllers") == "cpuset\n"
    assert errno_of(fs.rmdir, f"{V2}/x") == errno.EBUSY  # a child
    assert errno_of(fs.write, f"{V2}/x/cgroup.procs", "abc") == errno.EINVAL
    # cgroup_procs_write_start(): ``kstrtoint() || pid < 0`` -> EINVAL; unknown: ESRCH
    assert errno_of(fs.write, f"{V2}/x/cgroup.procs", "-7") == errno.EINVAL
    assert errno_of(fs.write, f"{V2}/x/cgroup.procs", "99999") == errno.ESRCH
    # x has q and now +cpuset: a thread root, y cannot host tasks until q leaves
    assert errno_of(p.fs.write, f"{V2}/x/y/cgroup.procs", "0") == errno.EOPNOTSUPP
    fs.write(f"{V2}/cgroup.procs", str(q.pid))
    assert p.fs.write(f"{V2}/x/y/cgroup.procs", "0") == 1  # 0: the writer itself
    assert v2_procs(fs, f"{V2}/x/y") == f"{p.pid}\n"


def test_v2_disable_rehomes_tasks_to_the_parents_cpuset():
    """-cpuset: the children lose their css (and cpuset files); their tasks take the
    parent's cpus and mems (cgroup_update_dfl_csses -> cpuset_attach) but stay in their
    cgroup. +cpuset again: a new css with empty masks (the parent's effective)."""
    m = machine("mainline")
    p = m.spawn(cpu=0)
    fs = m.fs
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    fs.mkdir(f"{V2}/a")
    fs.write(f"{V2}/a/cpuset.mems", "1")
    fs.write(f"{V2}/a/cpuset.cpus", "1")
    fs.write(f"{V2}/a/cgroup.procs", str(p.pid))
    assert (p.task.mems_allowed, p.task.cpus_allowed) == (0b10, 0b10)
    fs.write(f"{V2}/cgroup.subtree_control", "-cpuset")
    assert not fs.exists(f"{V2}/a/cpuset.mems")
    assert fs.read(f"{V2}/a/cgroup.controllers") == "\n"
    assert v2_procs(fs, f"{V2}/a") == f"{p.pid}\n"
    assert (p.task.mems_allowed, p.task.cpus_allowed) == (0b11, 0b11)
    fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    assert fs.read(f"{V2}/a/cpuset.mems") == "\n"
    assert fs.read(f"{V2}/a/cpuset.mems.effective") == "0-1\n"
    fs.write(f"{V2}/a/cpuset.mems", "0")
    assert p.task.mems_allowed == 0b01


def test_v2_cpus_effective_and_errors():
    """cpuset.cpus: cpulist_parse() over nr_cpu_ids (a CPU beyond it: ERANGE, not a
    list: EINVAL); effective CPUs down the tree like mems; the tasks' cpus_allowed
    follows, their CPU does not (the model records the mask only)."""
    m = machine("mainline")
    p = m.spawn(cpu=0)
    fs = m.fs
    v2_tree(fs, "a", "a/b")
    assert errno_of(fs.write, f"{V2}/a/cpuset.cpus", "2") == errno.ERANGE
    assert errno_of(fs.write, f"{V2}/a/cpuset.cpus", "x") == errno.EINVAL
    assert errno_of(fs.write, f"{V2}/a/cpuset.cpus", "1-0") == errno.EINVAL
    assert errno_of(fs.write, f"{V2}/a/cpuset.mems", "2000") == errno.ERANGE  # >= 1024
    fs.write(f"{V2}/a/b/cgroup.procs", str(p.pid))
    assert p.task.cpus_allowed is None  # the same effective CPUs: nothing updated
    fs.write(f"{V2}/a/cpuset.cpus", "1\n")
    assert fs.read(f"{V2}/a/cpuset.cpus") == "1\n"
    assert fs.read(f"{V2}/a/b/cpuset.cpus.effective") == "1\n"
    assert p.task.cpus_allowed == 0b10 and p.task.cpu == 0
    fs.write(f"{V2}/a/b/cpuset.cpus", "0")  # {0} & {1} is empty: b keeps a's
    assert fs.read(f"{V2}/a/b/cpuset.cpus.effective") == "1\n"
    fs.write(f"{V2}/a/cpuset.cpus", "0-1")
    assert fs.read(f"{V2}/a/b/cpuset.cpus.effective") == "0\n"
    assert p.task.cpus_allowed == 0b01
    fs.write(f"{V2}/cgroup.procs", str(p.pid))
    assert p.task.cpus_allowed == 0b11  # the root: every possible CPU


# ---------------------------------------------------------------- v1 nesting, cpus
def test_v1_nested_subset_rules():
    """4.14 validate_change(): a child stays within its parent (EACCES), a parent keeps
    what its children use (EBUSY), a cpuset with tasks keeps some CPUs and nodes
    (ENOSPC); the top cpuset's cpus are read-only (EACCES, like CS-10)."""
    m = machine("seed", nodes=4)
    p = m.spawn(cpu=0)
    fs = m.fs
    assert fs.read(f"{V1}/cpuset.cpus") == "0-3\n"
    assert fs.read(f"{V1}/cpuset.effective_mems") == "0-3\n"
    assert errno_of(fs.write, f"{V1}/cpuset.cpus", "0") == errno.EACCES
    v1_setup(m, None, "A", "0-1", True, cpus="0-1")
    fs.mkdir(f"{V1}/A/B")
    assert errno_of(fs.write, f"{V1}/A/B/cpuset.mems", "2") == errno.EACCES
    assert errno_of(fs.write, f"{V1}/A/B/cpuset.cpus", "0-2") == errno.EACCES
    assert errno_of(fs.write, f"{V1}/A/B/cpuset.cpus", "4") == errno.ERANGE
    fs.write(f"{V1}/A/B/cpuset.cpus", "1")
    fs.write(f"{V1}/A/B/cpuset.mems", "1")
    fs.mkdir(f"{V1}/A/B/C")
    fs.write(f"{V1}/A/B/C/cpuset.cpus", "1")
    fs.write(f"{V1}/A/B/C/cpuset.mems", "1")
    assert fs.read(f"{V1}/A/B/C/cpuset.effective_mems") == "1\n"
    assert errno_of(fs.write, f"{V1}/A/cpuset.mems", "0") == errno.EBUSY  # B uses 1
    assert errno_of(fs.write, f"{V1}/A/B/cpuset.cpus", "\n") == errno.EBUSY  # C uses 1
    fs.write(f"{V1}/A/B/C/tasks", str(p.pid))
    assert errno_of(fs.write, f"{V1}/A/B/C/cpuset.mems", "\n") == errno.ENOSPC
    assert errno_of(fs.write, f"{V1}/A/B/C/cpuset.cpus", "\n") == errno.ENOSPC
    assert (p.task.cpus_allowed, p.task.mems_allowed) == (0b10, 0b10)
    assert errno_of(fs.rmdir, f"{V1}/A/B/C") == errno.EBUSY  # a task
    fs.write(f"{V1}/tasks", str(p.pid))
    assert p.task.cpus_allowed == 0b1111  # the top cpuset: every possible CPU
    fs.rmdir(f"{V1}/A/B/C")
    fs.write(f"{V1}/A/B/cpuset.cpus", "\n")  # nothing below, no task: allowed


def test_v1_attach_needs_cpus_and_mems():
    """cpuset_can_attach(): a v1 cpuset with mems but no cpus, or cpus but no mems,
    takes no task (ENOSPC); with both the thread gets them."""
    m = machine("seed")
    p = m.spawn(cpu=0)
    fs = m.fs
    fs.mkdir(f"{V1}/N")
    fs.write(f"{V1}/N/cpuset.mems", "1")
    assert errno_of(fs.write, f"{V1}/N/cgroup.procs", str(p.pid)) == errno.ENOSPC
    fs.write(f"{V1}/N/cpuset.mems", "\n")
    fs.write(f"{V1}/N/cpuset.cpus", "1")
    assert errno_of(fs.write, f"{V1}/N/cgroup.procs", str(p.pid)) == errno.ENOSPC
    fs.write(f"{V1}/N/cpuset.mems", "1")
    fs.write(f"{V1}/N/cgroup.procs", str(p.pid))
    assert (p.task.cpus_allowed, p.task.mems_allowed) == (0b10, 0b10)
    assert p.task.cpu == 0  # recorded only: the task is not moved
    assert errno_of(fs.write, f"{V1}/N/tasks", "-1") == errno.EINVAL


def test_v1_nested_migrate_follows_the_child():
    """CS-2 one level down: a nested cpuset with memory_migrate moves its task's THPs
    whole when its mems change."""
    m = machine("seed")
    p = m.spawn(cpu=0)
    fs = m.fs
    v1_setup(m, None, "A", "0-1", False)
    fs.mkdir(f"{V1}/A/B")
    fs.write(f"{V1}/A/B/cpuset.cpus", "0")
    fs.write(f"{V1}/A/B/cpuset.mems", "0")
    fs.write(f"{V1}/A/B/cpuset.memory_migrate", "1")
    fs.write(f"{V1}/A/B/tasks", str(p.pid))
    a = thp_region(p, 1)
    fs.write(f"{V1}/A/B/cpuset.mems", "1")
    assert node_at(m, p, a) == 1 and is_pmd_mapped(p, a)
    check_data(p, a, HPAGE_PMD_SIZE)


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_children_and_threads_start_in_the_parents_cpuset(profile):
    """cgroup_post_fork(): a forked child and a new thread join the parent's cgroup with
    its masks; /proc/PID/status shows them (Cpus_allowed_list, Mems_allowed_list)."""
    m = machine(profile)
    p = m.spawn(cpu=0)
    fs = m.fs
    root = V2 if profile == "mainline" else V1
    if profile == "mainline":
        fs.write(f"{V2}/cgroup.subtree_control", "+cpuset")
    fs.mkdir(f"{root}/kid")
    fs.write(f"{root}/kid/cpuset.cpus", "1")
    fs.write(f"{root}/kid/cpuset.mems", "1")
    fs.write(f"{root}/kid/cgroup.procs", str(p.pid))
    c = p.fork()
    t = p.clone(cpu=1)
    procs = fs.read(f"{root}/kid/cgroup.procs").split()
    assert str(c.pid) in procs and str(p.pid) in procs
    h = m._vfs.state["cpuset"]
    assert h.task_cgroup(t.task) is h.task_cgroup(p.task) is h.top.children["kid"]
    for task in (c.task, t.task):
        assert task.mems_allowed == 0b10 and task.cpus_allowed == 0b10
    status = c.fs.read(f"/proc/{c.pid}/status")
    assert "Mems_allowed_list:\t1\n" in status and "Cpus_allowed_list:\t1\n" in status
    a = c.mmap(0, 4 * PAGE_SIZE, RW, ANON)
    c.threads[0].write(a, 1)
    assert node_at(m, c, a) == 1  # the child's faults obey the cpuset
    top = p.fork()
    fs.write(f"{root}/cgroup.procs", str(top.pid))
    assert "Mems_allowed_list:\t0-1\n" in top.fs.read(f"/proc/{top.pid}/status")


def test_mems_change_holds_the_mm_while_its_task_exits():
    """The stress find: a child exits while the cpuset work migrates its mm. The work
    holds an mm reference (get_task_mm() ... mmput() in cpuset_migrate_mm_workfn()), so
    the address space stays whole until the migration is done, then goes away."""
    m = machine("mainline", check=False)  # no checks after each call: a write is half-way
    p = m.spawn(cpu=0)
    fs = m.fs
    v2_join(fs, p, "w", "0")
    a = thp_region(p, 2)
    c = p.fork()
    c.threads[0].write(a, 99)  # the child's own copy of the first THP
    h = m._vfs.state["cpuset"]
    cs = h.top.children["w"]
    ctx = m.kernel
    w = Stepper(ctx, cpuset_write_resmask(h, cs, "1"), task=None)
    # on until the work runs for the child's mm (after the parent's)
    w.run_until(lambda: not h.migrate_work and c.mm.mm_users == 2)
    w.step()
    assert c.exit() == []  # the task is gone; its mm is not
    assert not c.mm.dead and c.mm.mm_users == 1
    assert w.finish() == 0
    assert c.mm.dead  # the work's mmput() was the last
    assert node_at(m, p, a) == 1 and is_pmd_mapped(p, a)
    check_data(p, a, 2 * HPAGE_PMD_SIZE)
    m.check_integrity()
