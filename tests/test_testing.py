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


def test_generator_forms_are_the_blocking_calls():
    """thread.sys returns the kernel paths the blocking methods run: run to completion
    they give the kernel's raw results (a negative errno, no OSError)."""
    import errno

    import pytest

    from thpsim.testing import Stepper

    m, p, t0, a = build()
    sys = p.threads[0].sys
    ctx = m.kernel
    assert Stepper(ctx, sys.munmap(a + 1, 4096), sys.task).finish() == -errno.EINVAL
    with pytest.raises(OSError):
        p.munmap(a + 1, 4096)
    ret, status = Stepper(ctx, sys.move_pages(0, [a], None), sys.task).finish()
    assert (ret, status) == p.move_pages(0, [a], None)
    with pytest.raises(OSError) as e:
        sys.move_pages(0, [a, a], [0])
    assert e.value.errno == errno.EFAULT
    value, frame = Stepper(ctx, sys.load(a), sys.task).finish()
    assert value == p.threads[0].read(a) == 1 and m.kernel.mem.pfn_to_nid(frame) == 0


def test_file_access_through_the_vfs_as_a_kernel_path():
    """sys.read_file/write_file run the file's own kernel path (pagemap_read,
    clear_refs_write) inside the VFS's: the same bytes as a blocking read."""
    from thpsim.testing import Stepper, assert_preempts

    m, p, t0, a = build()
    sys = p.threads[0].sys
    off = (a >> 12) * 8
    blocking = p.fs.read("/proc/self/pagemap", offset=off, length=8 * 512)
    stepped = Stepper(m.kernel, sys.read_file("/proc/self/pagemap", off, 8 * 512), sys.task)
    assert stepped.finish() == blocking
    assert Stepper(m.kernel, sys.write_file("/proc/self/clear_refs", "1"), sys.task).finish() == 1
    assert_preempts(sys.read_file(f"/proc/{p.pid}/smaps"))  # takes mmap_lock: may wait


def test_race_runs_any_syscall_by_name():
    import pytest

    from thpsim import MPOL_BIND

    m, p, t0, a = build()
    race = Race(m)
    race.on(0, t0).syscall("mbind", a, HPAGE_PMD_SIZE, MPOL_BIND, 1 << 1, 64, MPOL_MF_MOVE)
    race.on(1, p.threads[0]).load(a)
    ex = race.run(policy="random", seed=1)
    assert ex.failure is None and ex.result(0, 0) == 0 and ex.result(1, 0) == 1
    with pytest.raises(ValueError):
        race.on(0, t0).syscall("no_such_call")


def test_integrity_failure_is_the_checkers_message_or_none():
    """integrity_failure(): what the stress harness and the scenarios report."""
    from thpsim.mm.vmstat import NR_ANON_MAPPED
    from thpsim.testing import integrity_failure

    m, p, t0, a = build()
    assert integrity_failure(m) is None
    m.kernel.vmstat.mod_node_page_state(0, NR_ANON_MAPPED, 1)
    assert "check_vmstat: nr_anon_pages" in integrity_failure(m)
