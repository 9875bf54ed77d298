"""The interleaving driver and its schedulers: determinism, strict replay, the race
scenarios under bounded exhaustive search, and replay from printed failure output
(Shuttle's check_replay_roundtrip)."""

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thpsim.errors import KernelBug, ScheduleError
from thpsim.kernel.interleave import Op, Program, run_interleaved
from thpsim.kernel.locking import spin_lock, spin_unlock, spinlock_t
from thpsim.kernel.sched import PREEMPT, Schedule, WaitOn
from thpsim.kernel.schedulers import (
    DfsScheduler,
    PctScheduler,
    RandomScheduler,
    ReplayScheduler,
    RoundRobinScheduler,
    make_scheduler,
)
from thpsim.scenarios import (
    SCENARIOS,
    cli_explore,
    cli_replay,
    explore,
    format_failure,
    run_scenario,
)

B3 = {"bug_b3_pmd_migration_no_flush": True}
#: scenarios that are no race: one CPU runs (their interleaving is the only one)
SINGLE_CPU = {"migrate_to_fragmented_node"}
#: lower preemption bounds for the scenarios whose paths have many preemption points
#: (bound 2: faults_vs_migration 4245 interleavings, about 20 s; a THP split remaps
#: 512 pages, so split_vs_migration_after_fork has about 2000 at bound 1,
#: and mainline's soft offline splits the THP: 1042 at bound 1, about 30 s)
BOUNDS: dict = {"faults_vs_migration": 1, "mlock_fork_vs_migration": 1,
                "split_vs_migration_after_fork": 0,
                ("soft_offline_vs_migration", "mainline"): 0}


@given(st.integers(0, 2**32), st.lists(st.integers(0, 7), max_size=60))
def test_schedule_round_trip(seed, steps):
    s = Schedule(seed, tuple(steps))
    text = s.encode()
    assert Schedule.decode(text) == s
    assert shlex.quote(text) == text  # shell-safe


def test_schedule_encoding_example():
    assert Schedule(42, (0, 0, 0, 1, 1, 0, 2, 2, 2, 2, 2)).encode() == "s1.42.0r3_1r2_0_2r5"


@pytest.mark.parametrize("bad", ["s2.1.0", "s1.x.0", "s1.1.0rr", "nonsense"])
def test_schedule_decode_rejects(bad):
    with pytest.raises(ScheduleError):
        Schedule.decode(bad)


@pytest.mark.parametrize("policy", ["random", "pct", "rr"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_same_run(policy, name):
    """Determinism: the same seed and policy give the same event log, byte for byte."""
    logs = []
    for _ in range(2):
        sched = make_scheduler(policy, 7)
        sched.new_execution()
        ex = run_scenario(name, sched, "seed", seed=7)
        assert ex.failure is None, ex.failure
        logs.append("\n".join(ex.events))
    assert logs[0] == logs[1]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replay_reproduces_the_run(name):
    sched = RandomScheduler(3)
    sched.new_execution()
    ex = run_scenario(name, sched, "mainline", seed=3)
    rep = ReplayScheduler(ex.schedule.encode())
    rep.new_execution()
    again = run_scenario(name, rep, "mainline", seed=3)
    assert again.failure is None
    assert again.events == ex.events


def test_dfs_is_deterministic_and_counts():
    """Two searches visit the same schedules in the same order, and no schedule twice."""
    from thpsim.kernel.schedulers import DfsScheduler
    from thpsim.scenarios import run_scenario

    def schedules():
        sched, out = DfsScheduler(1, 1000), []
        while sched.new_execution():
            out.append(run_scenario("stale_tlb", sched, "seed").schedule.encode())
        return out

    a, b = schedules(), schedules()
    assert a == b and len(a) > 5 and len(set(a)) == len(a)
    assert explore("stale_tlb", 1, "seed")[0] == len(a)


def test_replay_divergence_names_the_step():
    rep = ReplayScheduler("s1.0.1r50")
    rep.new_execution()
    ex = run_scenario("stale_tlb", rep, "seed")
    assert ex.failure is not None and ex.failure.kind == "divergence"
    assert "diverged at step" in ex.failure.message


@pytest.mark.parametrize("profile", ["seed", "mainline"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_pass_exhaustively(name, profile, capsys):
    """Bounded exhaustive search finds no failure; the count is printed."""
    bound = 1 if name == "fork_vs_migration" and profile == "mainline" else 2
    bound = min(bound, BOUNDS.get(name, bound), BOUNDS.get((name, profile), bound))
    n, fails = explore(name, bound, profile)
    print(f"{name} {profile}: {n} interleavings explored (bound {bound})")
    assert n > 1 or name in SINGLE_CPU
    assert not fails, format_failure(name, profile, None, fails[0])


def test_fault_waits_on_migration_entry_in_some_interleaving():
    from thpsim.kernel.schedulers import DfsScheduler

    sched = DfsScheduler(2)
    waited = 0
    while sched.new_execution():
        ex = run_scenario("fault_vs_migration", sched, "seed")
        assert ex.failure is None
        if any("WaitOn('page_locked'" in e for e in ex.events):
            waited += 1
    assert waited > 0


def test_missing_flush_loses_the_write_and_the_replay_command_reproduces_it(capsys):
    """B3: DFS finds the lost write; the printed command replays the identical failure."""
    n, fails = explore("stale_tlb", 1, "seed", B3)
    assert fails
    text = format_failure("stale_tlb", "seed", B3, fails[0])
    assert "lost write" in text
    cmd = next(line for line in text.splitlines() if line.startswith("replay: "))
    argv = shlex.split(cmd[len("replay: "):])
    assert argv[:2] == ["thpsim", "replay"]
    capsys.readouterr()
    assert cli_replay(argv[2:]) == 1
    out = capsys.readouterr().out.strip()
    assert out == text
    # with the flush (every profile's default) no interleaving loses the write
    assert explore("stale_tlb", 2, "seed")[1] == []


def test_explore_command_prints_counts(capsys):
    assert cli_explore(["--scenario", "stale_tlb", "--bound", "1"]) == 0
    out = capsys.readouterr().out
    assert "interleavings explored" in out


def _lock_program(ctx, first, second):
    def start():
        yield from spin_lock(first)
        yield PREEMPT
        yield from spin_lock(second)
        spin_unlock(second)
        spin_unlock(first)

    return start


def _ctx():
    from thpsim import Machine

    return Machine(nodes={0: 32 << 20}, block_size=32 << 20, cpus=2).kernel


def test_abba_deadlock_is_reported_with_its_schedule():
    ctx = _ctx()
    a, b = spinlock_t(ctx, "ptl", "A"), spinlock_t(ctx, "ptl", "B")
    progs = [Program(0, "t0", [Op("ab", _lock_program(ctx, a, b))]),
             Program(1, "t1", [Op("ba", _lock_program(ctx, b, a))])]
    found = None
    sched = DfsScheduler(2)
    while sched.new_execution():
        ctx = _ctx()
        a, b = spinlock_t(ctx, "ptl", "A"), spinlock_t(ctx, "ptl", "B")
        progs = [Program(0, "t0", [Op("ab", _lock_program(ctx, a, b))]),
                 Program(1, "t1", [Op("ba", _lock_program(ctx, b, a))])]
        ex = run_interleaved(ctx, progs, sched)
        if ex.failure is not None:
            found = ex
            break
    assert found is not None and found.failure.kind == "deadlock"
    assert "Spin(ptl" in found.failure.message


def test_lock_order_violation_is_reported():
    from thpsim.kernel.locking import down_read, rw_semaphore, up_read

    ctx = _ctx()
    ptl = spinlock_t(ctx, "ptl", "pt")
    sem = rw_semaphore(ctx, "mmap_lock", "mm")

    def bad():
        yield from spin_lock(ptl)
        yield from down_read(sem)  # mmap_lock under a page-table lock
        up_read(sem)
        spin_unlock(ptl)

    ex = run_interleaved(ctx, [Program(0, "t", [Op("bad", bad)])], RandomScheduler(0))
    assert ex.failure is not None and ex.failure.kind == "lock-order"
    assert "mmap_lock" in ex.failure.message


def test_wait_on_blocks_until_condition():
    ctx = _ctx()
    flag = {"set": False}
    waits = []

    def waiter():
        while not flag["set"]:
            waits.append(1)  # resumed while the condition is still false: not blocked
            yield WaitOn(("flag",), lambda: flag["set"])
        return "woke"

    def setter():
        yield PREEMPT
        flag["set"] = True
        return "set"

    ex = run_interleaved(ctx, [Program(0, "w", [Op("wait", waiter)]),
                               Program(1, "s", [Op("set", setter)])], RoundRobinScheduler(0))
    assert ex.failure is None
    assert ex.result(0, 0) == "woke" and ex.result(1, 0) == "set"
    assert len(waits) == 1  # the waiter ran again only once the setter had run


def test_pct_priorities_and_change_points_are_seeded():
    a, b = PctScheduler(5, depth=3), PctScheduler(5, depth=3)
    a.new_execution()
    b.new_execution()
    picks_a = [a.next_cpu([0, 1, 2], None) for _ in range(50)]
    picks_b = [b.next_cpu([0, 1, 2], None) for _ in range(50)]
    assert picks_a == picks_b


def test_kernel_bug_in_a_path_is_a_failure_not_an_exception():
    ctx = _ctx()

    def boom():
        yield PREEMPT
        raise KernelBug("VM_BUG_ON")

    ex = run_interleaved(ctx, [Program(0, "t", [Op("boom", boom)])], RandomScheduler(0))
    assert ex.failure is not None and ex.failure.kind == "bug"


def test_python_error_in_a_path_is_a_bug_failure_with_its_schedule():
    """A model defect (an IndexError deep in a kernel path) must still end as a failure
    with a schedule, so the harness saves a reproducer instead of crashing."""
    ctx = _ctx()

    def spin():
        for _ in range(3):
            yield PREEMPT
        return 0

    def boom():
        yield PREEMPT
        return [][0]

    ex = run_interleaved(ctx, [Program(0, "t", [Op("spin", spin)]),
                               Program(1, "u", [Op("boom", boom)])], RandomScheduler(3))
    assert ex.failure is not None and ex.failure.kind == "bug"
    assert "IndexError" in ex.failure.message and "boom" in ex.failure.message
    assert ex.failure.schedule.steps
