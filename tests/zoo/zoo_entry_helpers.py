"""Helpers for the zoo-entry bug tests (B5-B11): find a bug with its catalog detector,
replay the reproducer strictly with the bug's switches, and leniently without them
("passes now": the same operations under the same schedule as far as it applies)."""

from __future__ import annotations

from typing import Any

from thpsim.scenarios import explore, run_scenario
from thpsim.stress import StressConfig, run_stress
from thpsim.stress.harness import failure_signature, load_reproducer, save_reproducer
from thpsim.stress.shrink import shrink_reproducer
from thpsim.testing import ReplayScheduler
from thpsim.zoo.catalog import CATALOG


def bug(bug_id: str) -> Any:
    return CATALOG[bug_id]


def explore_first_failure(bug_id: str, scenario: str | None = None) -> tuple[int, Any]:
    """Run the bug's explore detector (its scenario, its bound); returns (interleavings
    explored, the first failing execution). Fails the test when none fails."""
    b = bug(bug_id)
    det = next(d for d in b.detectors if d.kind == "explore"
               and (scenario is None or d.scenario == scenario))
    n, fails = explore(det.scenario, det.budget, b.profile, dict(b.switches))
    assert fails, f"{bug_id}: {det.scenario} at bound {det.budget}: no failure in {n}"
    return n, fails[0]


def replay_scenario(scenario: str, profile: str, switches: dict[str, Any], schedule: str,
                    strict: bool = True) -> Any:
    sched = ReplayScheduler(schedule, strict=strict)
    sched.new_execution()
    return run_scenario(scenario, sched, profile, switches, sched.schedule.seed)


def signature(ex: Any) -> str:
    f = ex.failure
    return "" if f is None else f"{f.kind}:{f.message.split(':', 1)[0]}"


def explore_finds_nothing(scenario: str, bound: int) -> None:
    """The scenario's checks pass in every interleaving, in both profiles, switches off."""
    for profile in ("seed", "mainline"):
        n, fails = explore(scenario, bound, profile, {})
        assert not fails, fails[0].failure.message
        assert n > 1


def stress_first_failure(bug_id: str, seed: int, tmp_path: Any) -> tuple[StressConfig, Any, str]:
    """Run the bug's stress detector (default mix) from ``seed``; save the reproducer."""
    b = bug(bug_id)
    det = next(d for d in b.detectors if d.kind == "stress")
    cfg = StressConfig(profile=b.profile, rounds=det.budget, switches=dict(b.switches),
                       **det.stress)
    res = run_stress(cfg, seed=seed)
    assert res.failure is not None, f"{bug_id}: nothing found in {det.budget} rounds"
    path = str(tmp_path / f"{bug_id}.json")
    save_reproducer(path, cfg, seed, res)
    return cfg, res, path


def shrink(path: str, tmp_path: Any) -> str:
    _, _, out = shrink_reproducer(path, str(tmp_path / "min.json"), extra_seeds=0)
    return out


def replay_stress(path: str, switches: dict[str, Any] | None = None,
                  strict: bool = True) -> Any:
    """Replay a stress reproducer; ``switches`` replaces its profile switches."""
    cfg, seed, rnd, schedule, _ = load_reproducer(path)
    if switches is not None:
        cfg.switches = dict(switches)
    return run_stress(cfg, seed, max_rounds=rnd + 1, replay_round=rnd,
                      replay_schedule=schedule if rnd >= 0 else None, lenient=not strict)


__all__ = ["bug", "explore_first_failure", "replay_scenario", "signature",
           "explore_finds_nothing", "stress_first_failure", "shrink", "replay_stress",
           "failure_signature"]
