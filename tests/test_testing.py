"""The schedule test API: force an interleaving with a schedule string, assert what
each thread saw."""

from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, MPOL_MF_MOVE, PROT_READ, PROT_WRITE, Machine
from thpsim.arch.x86_64.pgtable import HPAGE_PMD_SIZE, PMD_SHIFT
from thpsim.kernel.task import SIGINT, signal_pending
from thpsim.testing import (
    Op,
    Race,
    describe_entry,
    make_scheduler,
    memory_word,
    mm_counters,
    node_free_pages,
    page_tables,
    run_interleaved,
    table_owners,
    thread_program,
    vmas,
    writable_entries,
)

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


def test_reading_the_machine_through_the_api_objects():
    """The debugger's reads take what the API hands out: the Machine, or a Process,
    Thread or Syscalls of the address space."""
    m, p, t0, a = build()
    assert memory_word(p, a) == memory_word(t0, a) == memory_word(p.sys, a) == 1
    assert memory_word(p, a + 5 * HPAGE_PMD_SIZE) is None
    assert writable_entries(t0, a, a + HPAGE_PMD_SIZE) == [f"{a:#x} (PMD)"]
    assert [(s, e) for s, e, _ in vmas(p) if s <= a < e] != []
    assert mm_counters(p.sys)["MM_ANONPAGES"] == 512
    vm = m.vmstat()
    assert vm["nr_free_pages"] == node_free_pages(m, 0) + node_free_pages(m, 1)
    tables = page_tables(m)
    owners = table_owners(m)
    assert owners and all(tables[pfn][0] == level for pfn, (_, level, _) in owners.items())
    pmd_table, (_, _, base) = next((pfn, o) for pfn, o in owners.items()
                                   if o[1] == 2 and o[2] <= a < o[2] + (1 << 30))
    i = (a - base) >> PMD_SHIFT
    word = int.from_bytes(tables[pmd_table][1][8 * i: 8 * i + 8], "little")
    text = describe_entry(m, 2, word)
    assert text.startswith("pfn ") and " huge rw A D" in text


def test_a_thread_program_runs_each_op_as_a_system_call():
    """thread_program(): each operation goes through the kernel entry as the thread
    (pending signals are handled on the way in), run by run_interleaved(machine, ...)."""
    m, p, t0, a = build()
    t1 = p.threads[0]
    p.kill(SIGINT)
    sched = make_scheduler("rr", 0)
    sched.new_execution()
    prog = thread_program(t1, [Op("store", lambda: t1.sys.store(a, 5))])
    assert prog.cpu == t1.cpu == 1
    ex = run_interleaved(m, [prog], sched)
    assert ex.failure is None and memory_word(p, a) == 5
    assert not signal_pending(p.threads[0].sys.task)


def test_integrity_failure_is_the_checkers_message_or_none():
    """integrity_failure(): what the stress harness and the scenarios report."""
    from thpsim.mm.vmstat import NR_ANON_MAPPED
    from thpsim.testing import integrity_failure

    m, p, t0, a = build()
    assert integrity_failure(m) is None
    m.kernel.vmstat.mod_node_page_state(0, NR_ANON_MAPPED, 1)
    assert "check_vmstat: nr_anon_pages" in integrity_failure(m)


def test_pause_shows_a_pmd_migration_entry_mid_migration():
    """The public mid-migration view: move_pages held while its PMD migration entry is
    installed; pagemap reads it as swapped (bit 62) and soft-dirty (bit 55), smaps still
    counts the THP; the call then finishes and the THP is on node 1."""
    from thpsim import MAP_ANONYMOUS, MAP_PRIVATE, MPOL_MF_MOVE, PROT_READ, PROT_WRITE, Machine
    from thpsim.testing import migration_entry_at, pause

    m = Machine(nodes={0: 256 << 20, 1: 256 << 20}, cpus=2, profile="mainline", check=True)
    p = m.spawn()
    t = p.threads[0]
    a = p.mmap(0, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    t.write(a, 1)
    assert migration_entry_at(p, a) is None
    with pause(t, t.sys.move_pages(0, [a], [1], MPOL_MF_MOVE),
               until=lambda: migration_entry_at(p, a) == "pmd") as call:
        assert not call.done and call.steps > 0
        word = int.from_bytes(m.fs.read(f"/proc/{p.pid}/pagemap", offset=a // 4096 * 8,
                                        length=8), "little")
        assert word >> 62 & 1 and not word >> 63 & 1
        assert "AnonHugePages:      2048 kB" in m.fs.read(f"/proc/{p.pid}/smaps")
    assert call.done and call.result == (0, [1])
    assert migration_entry_at(p, a) is None and p.pages_nodes([a]) == [1]
    assert t.read(a) == 1
