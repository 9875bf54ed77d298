"""``thpsim zoo``: the table, --json, and --all-off finding nothing (small budgets)."""

from __future__ import annotations

import json

from thpsim.cli import main as thpsim_main
from thpsim.profiles import PROFILES
from thpsim.scenarios import SCENARIOS
from thpsim.stress.workload import StressConfig
from thpsim.zoo.catalog import CATALOG, DETECTOR_KINDS
from thpsim.zoo.cli import main as zoo_main


def test_catalog_is_consistent():
    """Every entry names switches the profiles have (off in both), detectors of a known
    kind with a known scenario or StressConfig options, and its docs page."""
    fields = set(StressConfig.__dataclass_fields__)
    assert {"B1", "B2", "B3", "B4", "B15"} <= set(CATALOG)
    for bid, bug in CATALOG.items():
        assert bug.id == bid and bug.doc == f"docs/zoo/b{int(bid[1:]):02d}.md"
        assert bug.profile in PROFILES and bug.detectors and bug.switches
        for k in bug.switches:
            assert k.startswith(f"bug_b{int(bid[1:])}_"), k
            assert all(getattr(p, k) in (False, 0) for p in PROFILES.values()), k
        for d in bug.detectors:
            assert d.kind in DETECTOR_KINDS and d.budget > 0
            if d.kind == "stress":
                assert set(d.stress) <= fields, d.stress
            else:
                assert d.scenario in SCENARIOS, d.scenario


def test_the_table(tmp_path, capsys):
    """Small budgets: B3 is found (by two stress rounds or, failing that, the explorer on
    stale_tlb); its reproducer shrinks, replays, and passes with the switch off."""
    rc = thpsim_main(["zoo", "--bug", "B3", "--budget-scale", "0.01",
                      "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    head, rule, row = out.splitlines()[:3]
    assert head.split()[:3] == ["bug", "found", "by"] and set(rule) <= {"-", " "}
    assert row.startswith("B3 ") and "lost write" in row and " yes " in row
    assert "thpsim stress --replay" in row or "thpsim replay --scenario stale_tlb" in row


def test_json_with_seeds(tmp_path, capsys):
    rc = zoo_main(["--bug", "B2", "--seeds", "2", "--budget-scale", "0.03", "--json",
                   "--no-shrink", "--out", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0, data
    (r,) = data
    assert r["bug"] == "B2" and r["found"] == 2 and r["seeds"] == 2
    assert r["passes_now"] is True and r["replays_same"] is True
    assert r["median_seconds"] > 0 and r["median_steps"] > 0
    assert [s["seed"] for s in r["seeds_detail"]] == [0, 1]
    assert r["replay"].startswith("thpsim ")
    assert r["switches"] == {"bug_b2_clear_bad_ignores_migration": True}


def test_all_off_finds_nothing(tmp_path, capsys):
    """Every one of these bugs' detectors, switches off, both profiles, small budgets:
    nothing (the explorers at their full bounds)."""
    rc = zoo_main(["--all-off", "--bug", "B1", "--bug", "B2", "--bug", "B3", "--bug", "B4",
                   "--bug", "B15", "--budget-scale", "0.02", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "0 false alarm(s)" in out
    lines = out.splitlines()
    assert any(" mainline " in x and "explore mprotect_vs_migration" in x for x in lines)
    assert all(x.rstrip().endswith("nothing") for x in lines[2:-1])


def test_all_off_reports_a_false_alarm(tmp_path, capsys, monkeypatch):
    """--all-off fails when a run finds something: every detector reports a failure."""
    import thpsim.zoo.runner as runner

    def found(d, profile, switches, seed, scale=1.0, out="", tag=""):
        return runner.Finding(runner.detector_name(d), seed, 0.0, 1, 1, kind="check",
                              message="planted: found", replay="thpsim replay ...")

    monkeypatch.setattr(runner, "run_detector", found)
    rc = zoo_main(["--all-off", "--bug", "B3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "4 false alarm(s) in 4 runs" in out and "planted: found" in out


def test_random_and_pct_detectors(tmp_path):
    """The scheduler detectors: runs of a scenario under random or PCT schedules, seeded
    from the hunt's seed; B3's lost write on stale_tlb, nothing with the switch off."""
    from thpsim.zoo.catalog import Detector
    from thpsim.zoo.runner import confirm, run_detector

    bug = CATALOG["B3"]
    for kind in ("random", "pct"):
        d = Detector(kind, scenario="stale_tlb", budget=60)
        fd = run_detector(d, "seed", bug.switches, seed=0, out=str(tmp_path))
        assert fd.found and fd.detector == f"{kind} stale_tlb" and fd.runs <= 60
        assert "lost write" in fd.message and fd.replay.startswith("thpsim replay ")
        c = confirm(bug, fd, str(tmp_path))
        assert c.replays_same and c.passes_now
        off = run_detector(d, "seed", {}, seed=0, out=str(tmp_path))
        assert not off.found and off.runs == 60
