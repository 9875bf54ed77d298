"""The API's guards against bad arguments (api.py): CPUs that do not exist, bad
Machine arguments, a machine too big for the host, and handles of exited processes
(issue 11: hostile input never crashes or half-changes the machine)."""

import errno

import pytest

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Machine
from thpsim.api import HOST_BYTES_PER_FRAME
from thpsim.errors import ConfigError

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def test_fork_on_a_cpu_that_does_not_exist():
    """Regression: ``fork(cpu=7)`` on 4 CPUs made a child that raised IndexError later;
    spawn and clone refuse such a CPU with ConfigError, and so does fork now, before
    anything is made."""
    m = Machine(cpus=4)
    p = m.spawn()
    for cpu in (7, 4, -1):
        with pytest.raises(ConfigError):
            p.fork(cpu=cpu)
    assert list(m.processes) == [p.pid]
    assert len(m.kernel.tasks) == 1
    c = p.fork(cpu=3)
    assert c.threads[0].cpu == 3


@pytest.mark.parametrize("tlb", [(0, 0), (1, 0), (0, 1), (-1, 5), (1,), (1, 2, 3),
                                 (1.5, 2), (True, 2)])
def test_tlb_sizes_need_at_least_one_entry_each(tlb):
    """Regression: ``tlb_entries=(0, 0)`` built a machine whose first store raised
    RuntimeError (a fill into a full, empty TLB); refused at construction now."""
    with pytest.raises(ConfigError):
        Machine(tlb_entries=tlb)


def test_smallest_tlb_works():
    m = Machine(tlb_entries=[1, 1])
    p = m.spawn()
    a = p.mmap(0, 1 << 22, RW, ANON)
    for i in range(8):
        p.write(a + i * 4096, i)
    assert [p.read(a + i * 4096) for i in range(8)] == list(range(8))


@pytest.mark.parametrize("cpus", [{0: -1, 1: 2}, {0: 1, 1: -3}, {0: 1.5}, -1, 0,
                                  {0: 0, 1: 0}])
def test_bad_cpu_counts(cpus):
    """Regression: a negative count in a per-node mapping was taken (as no CPUs)."""
    with pytest.raises(ConfigError):
        Machine(cpus=cpus)


@pytest.mark.parametrize("nodes", [{0: -(128 << 20)}, {0: 0}, {0: 100}, {0: (1 << 30) + 4096},
                                   {-1: 1 << 30}, {}])
def test_bad_node_sizes(nodes):
    with pytest.raises(ConfigError):
        Machine(nodes=nodes)


def test_unknown_keyword_switch():
    with pytest.raises(ConfigError, match="unknown profile switch"):
        Machine(no_such_switch=True)


def test_a_machine_too_big_for_the_host_is_refused():
    """Regression: a 16 TiB node raised NumPy's MemoryError (or took the host's memory)
    while building. The estimate is HOST_BYTES_PER_FRAME per 4 KiB frame, checked
    against MemAvailable before any array is made; the message says how much."""
    with pytest.raises(ConfigError, match=r"would take about \d+ MiB"):
        Machine(nodes={0: 16 << 40})
    need = (2 << 30) // 4096 * HOST_BYTES_PER_FRAME
    with pytest.raises(ConfigError, match=f"about {need >> 20} MiB"):
        Machine(host_memory=need - 1)
    m = Machine(host_memory=need)  # the override: exactly enough
    assert m.nodes == {0: 1 << 30, 1: 1 << 30}


def _exited_pair():
    m = Machine(check=True)
    p = m.spawn()
    a = p.mmap(0, 1 << 21, RW, ANON)
    p.write(a, 7)
    c = p.fork()
    c.exit()
    return m, p, c, a


@pytest.mark.parametrize("call", [
    lambda c, p, a: c.move_pages(p.pid, [a], [1]),
    lambda c, p, a: c.move_pages(0, [a], None),
    lambda c, p, a: c.migrate_pages(p.pid, 1025, 1, 2),
    lambda c, p, a: c.mbind(a, 4096, 1, 2, 1025),
    lambda c, p, a: c.set_mempolicy(1, 2, 1025),
    lambda c, p, a: c.get_mempolicy(),
    lambda c, p, a: c.mmap(0, 4096, RW, ANON),
    lambda c, p, a: c.mprotect(a, 4096, PROT_READ),
    lambda c, p, a: c.read(a),
    lambda c, p, a: c.write(a, 1),
    lambda c, p, a: c.fork(),
    lambda c, p, a: c.clone(),
    lambda c, p, a: c.exit(),
    lambda c, p, a: c.threads[0].set_mempolicy(0),
    lambda c, p, a: c.sys,
    lambda c, p, a: c.fs,
    lambda c, p, a: c.threads[0].fs,
])
def test_every_call_of_an_exited_process_is_esrch(call):
    """Regression: move_pages, migrate_pages, mbind and set_mempolicy of an exited
    process were accepted (move_pages from it moved another process's pages). Every
    call through a handle of an exited task raises OSError ESRCH and changes nothing."""
    m, p, c, a = _exited_pair()
    node = m.kernel.mem.pfn_to_nid(p.mm.pgd.pfn)
    before = (p.move_pages(0, [a], None)[1], m.vmstat())
    with pytest.raises(OSError) as ei:
        call(c, p, a)
    assert ei.value.errno == errno.ESRCH
    assert (p.move_pages(0, [a], None)[1], m.vmstat()) == before
    assert p.read(a) == 7
    assert node in m.nodes


def test_reaped_pids_are_esrch():
    """A pid whose process was reaped: move_pages(pid) and migrate_pages(pid) give
    ESRCH (find_task_by_vpid() finds nothing), as in Linux."""
    m, p, c, a = _exited_pair()
    for call in (lambda: p.move_pages(c.pid, [a], None),
                 lambda: p.move_pages(c.pid, [a], [1]),
                 lambda: p.migrate_pages(c.pid, 1025, 1, 2)):
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == errno.ESRCH


@pytest.mark.parametrize("kw", [
    {"tlb_entries": None}, {"tlb_entries": "ab"}, {"seed": ()}, {"seed": 1.5},
    {"seed": "7"}, {"cpus": "x"}, {"cpus": 2.0}, {"movable": "x"}, {"movable": object()},
    {"movable": [(1, 128 << 20)]}, {"nodes": "x"}, {"nodes": [(0, 1 << 30)]},
    {"distance": 5}, {"distance": "ab"}, {"host_memory": "x"}, {"host_memory": 1.5},
])
def test_arguments_of_the_wrong_type_are_config_errors(kw):
    """Regression (found by thpsim fuzz's Machine property): arguments of the wrong type
    raised TypeError or ValueError from deep inside the build (``dict("x")``,
    ``tuple(None)``, random.Random(())); every one is a ConfigError now, before anything
    is built."""
    with pytest.raises(ConfigError):
        Machine(**kw)
