"""The ``thpsim`` command: the demo runs end to end and shows what it promises."""

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from thpsim import ConfigError, Machine
from thpsim.cli import main, switches_page
from thpsim.demo import CALLERS
from thpsim.profiles import Profile
from thpsim.stress.workload import StressConfig


def _demo_facts(out: str) -> None:
    m = re.search(r"thp_fault_alloc=(\d+)", out)
    assert m and int(m[1]) == 4, out  # 8 MiB, 2 MiB-aligned: four THPs fault in
    assert re.search(r"thp_split_pmd \+1\b", out), out  # munmap of half a THP split its PMD
    assert "fork -> pid 2" in out
    assert out.rstrip().endswith("check_integrity: ok")


@pytest.mark.parametrize("argv", [["demo"], []])
def test_demo(capsys, argv):
    assert main(argv + ["--node-mib", "256"]) == 0
    out = capsys.readouterr().out
    _demo_facts(out)


def test_demo_default_sizes(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    _demo_facts(out)
    assert "nodes={0: 1073741824, 1: 1073741824}" in out


def test_demo_counters_view(capsys):
    """--counters: the same facts straight from the counters, without the VFS."""
    assert main(["demo", "--counters", "--node-mib", "256"]) == 0
    out = capsys.readouterr().out
    _demo_facts(out)
    assert "MM_ANONPAGES" in out and "nr_anon_transparent_hugepages" in out


def test_demo_mainline(capsys):
    assert main(["demo", "--profile", "mainline", "--node-mib", "256"]) == 0
    _demo_facts(capsys.readouterr().out)


# ---------------------------------------------------------------- the demo's migrations
@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_demo_json_each_caller_moves_thps_whole_and_splits_without(capsys, profile):
    """With THP migration each caller (but mainline's soft offline, which splits as
    6.x does) keeps both THPs PMD-mapped and moves them to node 1 (the offline block's
    pages leave node 0 too); without it every THP is split (thp_split_page +2, no
    thp_migration_success) and the pages still move."""
    assert main(["demo", "--json", "--profile", profile]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {(r["caller"], r["thp_migration"]): r for r in doc["migrations"]}
    assert sorted({c for c, _ in rows}) == sorted(CALLERS)
    for caller in CALLERS:
        whole, split = rows[caller, True], rows[caller, False]
        assert whole["thp_before"] == split["thp_before"] == 2
        assert whole["integrity"] == split["integrity"] == "ok"
        if caller == "soft-offline":
            # one page's THP moves (seed: whole; mainline: split), within node 0
            assert whole["pages_per_node_after"] == {"0": 1024}
            assert whole["thp_after"] == (2 if profile == "seed" else 1)
            assert split["thp_after"] == 1 and split["vmstat_delta"]["thp_split_page"] == 1
            continue
        assert whole["thp_after"] == 2, caller
        assert whole["vmstat_delta"]["thp_migration_success"] == 2
        assert whole["vmstat_delta"]["thp_split_page"] == 0
        assert whole["pages_per_node_after"] == {"1": 1024}, caller
        assert split["thp_after"] == 0, caller
        assert split["vmstat_delta"]["thp_split_page"] == 2
        assert split["vmstat_delta"]["thp_migration_success"] == 0
        if caller == "move_pages" and profile == "seed":
            # 4.14's FOLL_SPLIT: only the two addressed pages move
            assert split["pages_per_node_after"] == {"0": 1022, "1": 2}
        else:
            assert split["pages_per_node_after"] == {"1": 1024}, caller


# ---------------------------------------------------------------- the tools' common surface
def _run(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "thpsim", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_version_and_help_list_every_command():
    r = _run("--version")
    assert r.returncode == 0 and re.fullmatch(r"thpsim \S+\n", r.stdout)
    r = _run("--help")
    assert r.returncode == 0
    for cmd in ("demo", "run", "numactl", "migratepages", "numastat", "proc", "stress",
                "campaign", "runs", "replay", "shrink", "report", "bench", "zoo",
                "switches", "oracle", "explore", "race", "fuzz"):
        assert re.search(rf"^\s+{cmd}\s", r.stdout, re.M), cmd


def test_switches_lists_every_switch_with_values_and_docs(capsys):
    assert main(["switches", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = [f.name for f in fields(Profile) if f.name != "name"]
    assert [r["name"] for r in rows] == names
    by = {r["name"]: r for r in rows}
    assert by["swap_layout_4_14_0"]["seed"] is True
    assert by["swap_layout_4_14_0"]["mainline"] is False
    assert by["mprotect_pte_batch"]["7.2"] is True and by["mprotect_pte_batch"]["6.12"] is False
    assert all(r["doc"] for r in rows), [r["name"] for r in rows if not r["doc"]]
    assert main(["switches", "bug_b1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("bug_b15_change_pmd_multiread (bool)") or "bug_b1_" in out
    assert "thp_cow" not in out


def test_switches_page_is_current():
    """docs/switches.md is ``thpsim switches --markdown``: regenerate it with
    ``thpsim switches --markdown > docs/switches.md`` when a switch changes."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "switches.md").read_text()
    assert page == switches_page()


@pytest.mark.parametrize("args, message", [
    (["demo", "--switch", "thp_migration_supported=maybe"], "takes 0/1/true/false/on/off"),
    (["demo", "--switch", "thp_migration_supported"], "expected NAME=VALUE"),
    (["demo", "--switch", "thp_migraton_supported=1"], "did you mean thp_migration_supported"),
    (["demo", "--node-mib", "1048576"], "of host memory"),
    (["stress", "--workers", "0"], "not a positive integer"),
    (["stress", "--migrators", "0"], "not a positive integer"),
    (["stress", "--check-every", "0"], "not a positive integer"),
    (["stress", "--rounds", "-1"], "not a non-negative integer"),
    (["stress", "--profile", "nosuch"], "invalid choice"),
    (["stress", "--user-threads", "1000"], "need about"),
    (["stress", "--replay", "missing.json"], "no such reproducer file"),
    (["stress", "--shrink", "missing.json"], "no such reproducer file"),
    (["stress", "--rounds", "1", "--out", "/proc/nope"], "cannot write there"),
    (["stress", "--rounds", "1", "--trace", "/proc/nope.json"], "cannot write there"),
    (["explore", "--bound", "-1"], "not a non-negative integer"),
    (["race", "--scenario", "stale_tlb", "--runs", "-5"], "not a positive integer"),
    (["replay", "--scenario", "stale_tlb", "--schedule", "zz"], "not a s1 schedule"),
    (["bench", "--compare", "missing.json", "--only", "nothing"], "no such baseline"),
    (["switches", "nosuch"], "no profile switch"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, message):
    r = _run(*args, cwd=tmp_path)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    err = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr
    assert message in err[-1], (args, r.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, mutate, message", [
    ("corrupt", lambda d: "{not json", "bad JSON"),
    ("version", lambda d: {**d, "version": 99}, "format version 99"),
    ("noseed", lambda d: {k: v for k, v in d.items() if k != "seed"}, "'seed' missing"),
    ("badcfg", lambda d: {**d, "config": {**d["config"], "bogus": 1}}, "unknown config keys"),
    ("badswitch", lambda d: {**d, "config": {**d["config"], "switches": {"x": True}}},
     "unknown profile switch"),
    ("badthreads", lambda d: {**d, "config": {**d["config"], "user_threads": 0}},
     "at least 1"),
])
def test_bad_reproducer_files(tmp_path, name, mutate, message):
    """A reproducer that is corrupt, of another format version, or with a bad
    configuration is refused before anything runs (one line, exit 2)."""
    good = {"version": 1, "seed": 0, "round": 0, "schedule": "s1.0.",
            "config": StressConfig().to_json(), "failure": {}}
    data = mutate(good)
    path = tmp_path / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    r = _run("stress", "--replay", str(path), cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_broken_pipe_is_quiet():
    """``thpsim switches | head -1``: no BrokenPipeError traceback, exit 0."""
    r = subprocess.run(f"{sys.executable} -m thpsim switches | head -1", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.count("\n") == 1
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr


def test_machine_switch_values_are_strict():
    """Machine(name='no') would be a true switch: refused, as are unknown names."""
    with pytest.raises(ConfigError, match="takes True/False"):
        Machine(nodes={0: 256 << 20}, thp_migration_supported="no")
    with pytest.raises(ConfigError, match="non-negative int"):
        Machine(nodes={0: 256 << 20}, bug_b5_swp_soft_dirty_bit=-1)
    with pytest.raises(ConfigError, match="unknown profile switch"):
        Machine(nodes={0: 256 << 20}, no_such_switch=True)
    assert Machine(nodes={0: 256 << 20}, thp_migration_supported=0).profile \
        .thp_migration_supported is False


def test_explore_lists_every_interleaving_and_replay_traces_one(tmp_path, capsys):
    """``explore --list`` prints each interleaving with its schedule (passing ones too);
    ``replay --schedule S --events --trace F`` re-runs one and shows every step."""
    assert main(["explore", "--scenario", "stale_tlb", "--bound", "1", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line for line in out if line.startswith("stale_tlb #")]
    n = int(re.search(r"stale_tlb: (\d+) interleavings", out[-1])[1])
    assert len(listed) == n > 1 and all(" ok " in line for line in listed)
    schedule = listed[1].split()[-1]
    trace = tmp_path / "t.json"
    assert main(["replay", "--scenario", "stale_tlb", "--schedule", schedule, "--events",
                 "--trace", str(trace)]) == 0
    events = [line for line in capsys.readouterr().out.splitlines() if " cpu" in line]
    doc = json.loads(trace.read_text())
    assert len(doc["traceEvents"]) == len(events) > 0
    assert doc["otherData"]["schedule"] == schedule
    assert {e["tid"] for e in doc["traceEvents"]} == {0, 1}
    assert main(["explore", "--scenario", "stale_tlb", "--bound", "1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d[0]["explored"] == n and d[0]["failing"] == 0
