"""The Python forms of the NUMA calls (issue 14, item 7): node sets instead of
bitmask-and-maxnode, named results. The C-exact forms keep working beside them."""

import errno

import pytest

from thpsim import (
    HPAGE_PMD_SIZE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MPOL_BIND,
    MPOL_INTERLEAVE,
    MPOL_MF_MOVE,
    PROT_READ,
    PROT_WRITE,
    Machine,
    Mempolicy,
    MovePagesResult,
)
from thpsim.api import nodemask_arg

MiB = 1 << 20


def _thps(nodes=2, nr=2):
    m = Machine(nodes={n: 256 * MiB for n in range(nodes)}, cpus=nodes, thp="always",
                profile="mainline", seed=0, check=True)
    p = m.spawn(cpu=0)
    a = p.mmap(0, nr * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    for x in range(a, a + nr * HPAGE_PMD_SIZE, 4096):
        p.threads[0].write(x, x)
    return m, p, a


def test_nodemask_arg_forms():
    assert nodemask_arg(0b110, 8) == (0b110, 8)  # C form passes through
    assert nodemask_arg(None, 0) == (None, 0)
    assert nodemask_arg({1, 2}) == (0b110, 64)
    assert nodemask_arg(range(3), 0) == (0b111, 64)
    assert nodemask_arg([63]) == (1 << 63, 128)  # the kernel reads maxnode - 1 bits
    assert nodemask_arg(frozenset(), 0) == (0, 64)
    for bad in ([-1], ["1"], [1.0]):
        with pytest.raises(OSError) as e:
            nodemask_arg(bad)
        assert e.value.errno == errno.EINVAL


def test_mbind_with_a_node_set_moves_the_thps():
    m, p, a = _thps()
    assert p.mbind(a, 2 * HPAGE_PMD_SIZE, MPOL_BIND, {1}, flags=MPOL_MF_MOVE) == 0
    assert p.pages_nodes(range(a, a + 2 * HPAGE_PMD_SIZE, 4096)) == [1] * 1024
    pol = p.get_mempolicy(64, a, 2)  # MPOL_F_ADDR
    assert isinstance(pol, Mempolicy) and pol.mode == MPOL_BIND and pol.nodes == {1}
    mode, mask = pol  # still the (mode, nodemask) pair of the C-exact form
    assert mask == 0b10


def test_move_pages_named_result_and_node_counts():
    m, p, a = _thps()
    r = p.move_pages(0, [a, a + HPAGE_PMD_SIZE], [1, 1], MPOL_MF_MOVE)
    assert isinstance(r, MovePagesResult) and r.ret == 0 and r.status == [1, 1]
    ret, status = r
    assert (ret, status) == (0, [1, 1])
    q = p.move_pages(0, list(range(a, a + 2 * HPAGE_PMD_SIZE, 4096)), None)
    assert q.nodes() == {1: 1024}


def test_set_mempolicy_and_migrate_pages_with_sets():
    m, p, a = _thps(nodes=3)
    assert p.set_mempolicy(MPOL_INTERLEAVE, {0, 2}) == 0
    assert p.get_mempolicy(64).nodes == {0, 2}
    assert p.migrate_pages(p.pid, 0, {0}, {2}) == 0
    assert set(p.pages_nodes(range(a, a + 2 * HPAGE_PMD_SIZE, 4096))) == {2}
    # the C-exact form still works
    assert p.migrate_pages(p.pid, 64, 0b100, 0b010) == 0
    assert set(p.pages_nodes([a])) == {1}
