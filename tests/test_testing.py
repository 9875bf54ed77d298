"""The schedule test API: force an interleaving with a schedule string, assert what
each thread saw."""

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, MPOL_MF_MOVE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE
from thpsim.testing import Race

MB = 1 << 20


def build(profile="seed"):
    m = Machine(nodes={0: 32 * MB, 1: 32 * MB}, block_size=32 * MB, cpus=4, profile=profile,
                shadow=False)
    p = m.spawn(cpu=1)
    a = p.mmap(0, 2 * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1)
    p.threads[0].write(a, 1)
    t0 = p.clone(cpu=0)
    return m, p, t0, a


def test_forced_schedules_and_what_each_thread_saw():
    # 1. search (bounded DFS) for an interleaving in which CPU1's access waits
    from thpsim.kernel.schedulers import DfsScheduler

    waited_schedule = None
    dfs = DfsScheduler(2)
    while dfs.new_execution():
        m, p, t0, a = build()
        race = Race(m)
        race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
        race.on(1, p.threads[0]).store(a, 7).load(a)
        ex = race.run(scheduler=dfs)
        assert ex.failure is None
        assert ex.result(1, 1) == 7  # whatever the interleaving, CPU1 reads its own store
        assert ex.result(0, 0) == (0, [1])
        if any("WaitOn" in e for e in ex.events):
            waited_schedule = ex.schedule.encode()
            events = ex.events
            break
    assert waited_schedule is not None
    # 2. force exactly that interleaving again: same events, same observations
    m, p, t0, a = build()
    race = Race(m)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
    race.on(1, p.threads[0]).store(a, 7).load(a)
    ex = race.run(schedule=waited_schedule)
    assert ex.failure is None and ex.events == events
    assert ex.result(1, 1) == 7


def test_cpu0_first_then_cpu1():
    """Schedule 'all of CPU0 first': CPU1's store finds the new THP on node 1."""
    m, p, t0, a = build()
    race = Race(m)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
    race.on(1, p.threads[0]).store(a, 7)
    ex = race.run(schedule="s1.0.0r100")
    assert ex.failure is not None and ex.failure.kind == "divergence"  # too many steps given
    m, p, t0, a = build()
    race = Race(m)
    race.on(0, t0).move_pages([a], [1], MPOL_MF_MOVE)
    race.on(1, p.threads[0]).store(a, 7)
    ex = race.run(policy="rr", quantum=1000)  # run each CPU as long as it can
    assert ex.failure is None
    frame = ex.result(1, 0)
    assert m.kernel.mem.pfn_to_nid(frame) == 1
