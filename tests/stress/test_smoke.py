"""Seconds of interleaved stress on fixed seeds, all checks on; the planted defect
(B3: no TLB flush when installing a PMD migration entry) is found, replays, shrinks,
and its trace exports as Chrome/Perfetto JSON."""

import json

import pytest

from thpsim.stress import StressConfig, run_stress
from thpsim.stress.cli import main as stress_main
from thpsim.stress.harness import (
    failure_signature,
    load_reproducer,
    replay_reproducer,
    save_reproducer,
)
from thpsim.stress.shrink import shrink_reproducer

B3 = {"bug_b3_pmd_migration_no_flush": True}


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_smoke_no_failure(profile):
    res = run_stress(StressConfig(profile=profile, rounds=8, check_every=2), seed=11)
    assert res.failure is None, res.failure
    assert res.migrations > 0 and res.thp_migrations > 0 and res.steps > 1000
    # every kind of kernel activity of the default mix ran
    kinds = {"move_pages", "mbind", "migrate_pages", "soft_offline", "cpuset attach",
             "cpuset.mems", "offline", "online", "munmap", "madvise(DONTNEED)",
             "madvise(FREE)", "mprotect", "mmap(FIXED)", "fork", "child exit",
             "clear_refs 1", "clear_refs 4", "read pagemap", "read smaps", "unpoison"}
    assert kinds <= set(res.ops), kinds - set(res.ops)


def test_without_leaves_kinds_out():
    cfg = StressConfig(rounds=8, hotplug=False, cpusets=False, clear_refs=False,
                       proc_readers=False, fork=False)
    res = run_stress(cfg, seed=11)
    assert res.failure is None, res.failure
    assert not {k for k in res.ops if k.startswith(("offline", "online", "cpuset", "clear_refs",
                                                     "read ", "fork"))}


@pytest.fixture(scope="module")
def b3_failure(tmp_path_factory):
    cfg = StressConfig(profile="seed", rounds=200, switches=B3)
    res = run_stress(cfg, seed=0)
    assert res.failure is not None, "the planted defect was not found in 200 rounds"
    path = str(tmp_path_factory.mktemp("repro") / "b3.json")
    save_reproducer(path, cfg, 0, res)
    return cfg, res, path


def test_planted_defect_is_found(b3_failure):
    cfg, res, path = b3_failure
    assert res.failure.kind == "integrity"
    assert "lost write" in res.failure.message or "COW broken" in res.failure.message


def test_reproducer_replays_to_the_same_failure(b3_failure):
    cfg, res, path = b3_failure
    again = replay_reproducer(path)
    assert again.failure is not None
    assert again.failure.message == res.failure.message
    assert again.failed_round == res.failed_round


def test_shrinking_makes_it_shorter(b3_failure, tmp_path):
    cfg, res, path = b3_failure
    before, after, out = shrink_reproducer(path, str(tmp_path / "b3.min.json"), extra_seeds=1)
    assert after < before
    scfg, seed, rnd, schedule, failure = load_reproducer(out)
    again = replay_reproducer(out)
    assert again.failure is not None
    assert failure_signature(again.failure) == failure_signature(res.failure)


def test_shrinking_stops_at_its_time_budget(b3_failure, tmp_path):
    """No time: no candidate is tried; the reproducer cut at its failing round is written
    and still fails the same way."""
    cfg, res, path = b3_failure
    before, after, out = shrink_reproducer(path, str(tmp_path / "b3.cut.json"), seconds=0)
    scfg, seed, rnd, schedule, failure = load_reproducer(out)
    assert seed == 0 and rnd == res.failed_round and scfg.rounds == rnd + 1
    assert (scfg.user_threads, scfg.ops_per_round) == (cfg.user_threads, cfg.ops_per_round)
    assert after <= before
    again = replay_reproducer(out)
    assert failure_signature(again.failure) == failure_signature(res.failure)


def test_trace_export_is_chrome_json_with_one_track_per_cpu(b3_failure, tmp_path):
    cfg, res, path = b3_failure
    trace = str(tmp_path / "trace.json")
    assert stress_main(["--replay", path, "--trace", trace]) == 1
    with open(trace) as fh:
        data = json.load(fh)
    events = data["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    ncpu = cfg.user_threads + cfg.migrators
    assert names == {c: f"CPU{c}" for c in range(ncpu)}
    spans = [e for e in events if e.get("ph") == "X"]
    assert spans and {e["tid"] for e in spans} <= set(names)
    assert all(isinstance(e["ts"], int) and e["dur"] > 0 for e in spans)
    assert all({"cpu", "thread", "from", "trap", "step"} <= set(e["args"]) for e in spans)
    # each step names the entries it changed, before and after, by address
    changed = [x for e in spans for x in e["args"].get("entries", [])]
    installs = [x for x in changed if x.get("level") == "pmd" and "huge" in x.get("was", "")
                and x.get("now", "").startswith("migration entry")]
    assert installs, "no PMD migration entry installation in the trace"
    x = installs[0]
    assert int(x["addr"], 16) % (2 << 20) == 0 and int(x["before"], 16) != int(x["after"], 16)
    assert any(x.get("was", "").startswith("migration entry") and "huge" in x.get("now", "")
               for x in changed), "no PMD migration entry removal in the trace"


def test_stress_command_smoke(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert stress_main(["--rounds", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "migrations/s" in out and "no integrity or invariant failure" in out


def test_stress_command_reports_the_replay_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert stress_main(["--rounds", "200", "--seed", "0", "--switch",
                        "bug_b3_pmd_migration_no_flush=1"]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("replay: "))
    argv = line.split()[1:]
    assert argv[:2] == ["thpsim", "stress"]
    assert stress_main(argv[2:]) == 1


def test_failure_at_the_end_replays(tmp_path, monkeypatch):
    """A failure found by the checks after the last round saves the last round's
    schedule, so the reproducer replays to it instead of diverging."""
    from thpsim.errors import IntegrityError
    from thpsim.stress.workload import Workload

    def final_check(self):
        raise IntegrityError(f"planted: {self.rounds_built} rounds built")

    monkeypatch.setattr(Workload, "final_check", final_check)
    cfg = StressConfig(rounds=3, check_every=100)
    res = run_stress(cfg, seed=5)
    assert res.failure is not None and res.failed_round == 2
    assert res.failure.message == "planted: 3 rounds built"
    assert res.failure.schedule.steps  # the last round's context switches
    path = save_reproducer(str(tmp_path / "end.json"), cfg, 5, res)
    again = replay_reproducer(path)
    assert again.failure is not None and again.failure.message == res.failure.message
