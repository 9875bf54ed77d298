"""One campaign run: deterministic rows, migrations counted by caller."""

from __future__ import annotations

from thpsim.campaign.backends import auto_batch, run_local
from thpsim.campaign.runner import (
    CALLERS,
    CallerCounter,
    caller_of,
    job,
    run_one,
    stress_config,
)
from thpsim.campaign.spec import make_config
from thpsim.stress.harness import folio_migrations, run_stress
from thpsim.stress.workload import Workload
from thpsim.testing import make_scheduler, run_interleaved

TIMINGS = {"seconds", "started", "finished"}


def _jobs(seeds, **settings):
    cc = make_config({"node_mib": 128, "rounds": 3, **settings})
    return [job(cc.config, cc.hash, s, f"repro/{cc.hash[:12]}-seed{s}.json") for s in seeds]


def _untimed(row):
    return {k: v for k, v in row.items() if k not in TIMINGS}


def test_row_is_a_function_of_config_and_seed():
    """The same job twice: the same row but for its timings; another seed differs; the
    local back end with two workers gives what running in this process gives."""
    jobs = _jobs([0, 1, 2])
    here = [run_one(j) for j in jobs]
    assert _untimed(run_one(jobs[0])) == _untimed(here[0])
    assert here[0]["digest"] != here[1]["digest"]
    got: dict[int, dict] = {}
    run_local(jobs, 2, lambda i, row: got.__setitem__(i, row))
    assert [_untimed(got[i]) for i in range(3)] == [_untimed(r) for r in here]


def test_samples_every_n_rounds_and_at_the_end():
    (j,) = _jobs([0], rounds=5, sample_every=2)
    row = run_one(j)
    assert [s["round"] for s in row["samples"]] == [2, 4, 5]
    steps = [s["step"] for s in row["samples"]]
    assert steps == sorted(steps) and steps[-1] == row["steps"]
    totals = [sum(s["migrations"].values()) for s in row["samples"]]
    assert totals == sorted(totals) and totals[-1] <= row["migrations"]


def test_budget_stops_the_run():
    (j,) = _jobs([1], rounds=50, migrations=20)
    row = run_one(j)
    assert row["outcome"] == "ok" and row["rounds"] < 50 and row["migrations"] >= 20
    assert row["samples"][-1]["round"] == row["rounds"] and row["memmap"] is not None


def test_caller_counter_attributes_every_migration():
    """Two rounds of a stress workload on the interleaving driver with the counter as
    its ``on_step``: the callers' counts add up to the machine's migrations, and
    move_pages (most of what migrators do) has some."""
    cc = make_config({"node_mib": 128, "migrators": 2})
    wl = Workload(cc.stress_config(), 3)
    counter = CallerCounter(wl.m)
    for rnd in range(2):
        sched = make_scheduler("random", rnd)
        sched.new_execution()
        ex = run_interleaved(wl.m, wl.programs(rnd), sched, rnd, on_step=counter.on_step)
        assert ex.failure is None
    total = folio_migrations(wl.m)[0]
    totals = counter.totals(total)
    assert totals["other"] == 0 and sum(totals.values()) == total > 0
    assert totals["move_pages"] > 0
    assert set(totals) == {*CALLERS, "other"}


def test_caller_of():
    assert caller_of("offline memory5") == "hotplug"
    assert caller_of("cpuset attach") == caller_of("cpuset.mems") == "cpuset"
    assert caller_of("move_pages") == "move_pages" and caller_of("store") is None


def test_auto_batch():
    """About two seconds a task, but every CPU gets a task."""
    assert auto_batch(0.1, 1000, 4) == 20
    assert auto_batch(0.1, 12, 4) == 3
    assert auto_batch(5.0, 1000, 4) == 1


def test_a_stored_run_attributes_its_migrations_to_callers():
    """End to end through run_stress(step_observer=): a run's row splits its migrations
    over the six callers (the stress mix drives all of them), nothing left as
    ``other``, and the split adds up to the run's total; the observer leaves the run
    itself unchanged (same digest as a run without it)."""
    (j,) = _jobs([4], rounds=12, migrators=2)
    row = run_one(j)
    by = row["migrations_by_caller"]
    assert by["other"] == 0 and sum(by.values()) == row["migrations"] > 0
    assert sum(1 for c in CALLERS if by[c] > 0) >= 3, by
    assert row["samples"][-1]["migrations"] == by
    plain = run_stress(stress_config(j["config"]), j["seed"])
    assert plain.digest == row["digest"]
