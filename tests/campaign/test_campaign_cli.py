"""``thpsim campaign`` and ``thpsim runs`` through the real entry point."""

from __future__ import annotations

import json
import shlex

import pytest

from thpsim.campaign.store import RunStore
from thpsim.cli import main as thpsim_main
from thpsim.cliutil import version
from thpsim.report.memmap import KINDS

TINY = ["--node-mib", "128", "--rounds", "4"]


def test_campaign_stores_every_run_once(thpsim, tmp_path):
    """Three seeds: three rows with the run's counters, samples and memory map; the
    same command again runs nothing and stores nothing more."""
    p = thpsim("campaign", "--name", "smoke", "--seeds", "3", *TINY, "--workers", "2", "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert (s["ran"], s["skipped"], s["configs"][0]["runs"]) == (3, 0, 3)
    with RunStore(tmp_path / "thpsim-runs.sqlite", create=False) as st:
        rows = st.runs(campaign="smoke")
    assert sorted(r["seed"] for r in rows) == [0, 1, 2]
    for r in rows:
        assert r["outcome"] == "ok" and r["version"] == version() and r["rounds"] == 4
        assert r["migrations"] == r["vmstat"]["pgmigrate_success"] > 0  # seed: in folios
        assert r["thp_split_pmd"] == r["vmstat"]["thp_split_pmd"]
        assert sum(r["migrations_by_caller"].values()) == r["migrations"]
        assert [x["round"] for x in r["samples"]] == [1, 2, 3, 4]
        nodes = r["samples"][-1]["nodes"]
        assert set(nodes) == {"0", "1"} and set(nodes["0"]) == set(KINDS)
        assert sum(nodes["0"].values()) == (128 << 20) // 4096
        assert r["memmap"]["nodes"].keys() == {"0", "1"}
    assert s["configs"][0]["migrations"] == sum(r["migrations"] for r in rows)
    again = thpsim("campaign", "--name", "smoke", "--seeds", "3", *TINY, "--json")
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["ran"], json.loads(again.stdout)["skipped"]) == (0, 3)
    with RunStore(tmp_path / "thpsim-runs.sqlite", create=False) as st:
        assert len(st) == 3


def test_campaign_file_and_compare(thpsim, tmp_path):
    """A campaign file with both profiles side by side; ``runs --compare`` by campaign
    name and by hash prefix gives each side's totals, rates and their ratio."""
    (tmp_path / "two.toml").write_text(
        'name = "two"\nseeds = "0-1"\nnode_mib = 128\nrounds = 3\n'
        '[[config]]\nprofile = "seed"\n[[config]]\nname = "ml"\nprofile = "mainline"\n')
    p = thpsim("campaign", "two.toml", "--json", "--workers", "2")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert [c["label"] for c in s["configs"]] == ["seed", "ml"]
    assert [c["runs"] for c in s["configs"]] == [2, 2]
    ha, hb = (c["config_hash"] for c in s["configs"])
    p = thpsim("runs", "--compare", ha[:10], hb[:10], "--json")
    assert p.returncode == 0, p.stderr
    cmp = json.loads(p.stdout)
    with RunStore(tmp_path / "thpsim-runs.sqlite", create=False) as st:
        ra, rb = st.runs(config_hash=ha), st.runs(config_hash=hb)
    mig = next(c for c in cmp["counters"] if c["counter"] == "migrations")
    assert mig["a_total"] == sum(r["migrations"] for r in ra)
    assert mig["b_total"] == sum(r["migrations"] for r in rb)
    rate_a = mig["a_total"] / sum(r["seconds"] for r in ra)
    rate_b = mig["b_total"] / sum(r["seconds"] for r in rb)
    assert mig["ratio"] == pytest.approx(rate_b / rate_a, rel=1e-2)
    # a campaign with two configurations is ambiguous; the text table names both sides
    p = thpsim("runs", "--compare", "two", hb[:10])
    assert p.returncode == 2 and "has 2 configurations" in p.stderr
    p = thpsim("runs", "--compare", ha[:10], hb[:10])
    assert p.returncode == 0 and "A: seed" in p.stdout and "B: ml" in p.stdout
    p = thpsim("runs", "--summary", "--json")
    assert [c["runs"] for c in json.loads(p.stdout)] == [2, 2]


def test_runs_listing_formats(thpsim):
    assert thpsim("campaign", "--name", "l", "--seeds", "1,2", *TINY).returncode == 0
    p = thpsim("runs", "--json")
    rows = json.loads(p.stdout)
    assert [r["id"] for r in rows] == [1, 2]
    assert sorted((r["campaign"], r["config"], r["seed"], r["outcome"]) for r in rows) == \
        [("l", "seed", 1, "ok"), ("l", "seed", 2, "ok")]
    assert all(r["rate"] == pytest.approx(r["migrations"] / r["seconds"], rel=1e-2)
               for r in rows)
    p = thpsim("runs", "--csv")
    lines = p.stdout.splitlines()
    assert lines[0] == "id,campaign,config,seed,outcome,steps,migrations,rate,seconds"
    assert len(lines) == 3
    assert "no runs stored that match" in thpsim("runs", "--campaign", "zz").stdout


def test_failure_stored_with_a_replay_that_fails_again(thpsim, tmp_path):
    """A bug switch on: the campaign exits 1, lists the failing runs with their replay
    commands; each command, run as printed, fails the same way; ``runs --show`` and
    ``runs --compare`` give the report and the command."""
    p = thpsim("campaign", "--name", "b3", "--switch", "bug_b3_pmd_migration_no_flush=1",
               "--seeds", "2,4", "--node-mib", "128", "--rounds", "10", "--workers", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    replays = [line.split("replay: ", 1)[1] for line in p.stdout.splitlines()
               if line.strip().startswith("replay: ")]
    assert len(replays) == 2
    with RunStore(tmp_path / "thpsim-runs.sqlite", create=False) as st:
        failed = st.runs(outcome="failed")
    assert sorted(r["replay"] for r in failed) == sorted(replays)
    for r in failed:
        argv = shlex.split(r["replay"])
        assert argv[:2] == ["thpsim", "stress"]
        again = thpsim(*argv[1:])
        assert again.returncode == 1
        assert again.stdout.splitlines()[0] == r["report"].splitlines()[0]
        assert r["reproducer"]["seed"] == r["seed"]
    show = thpsim("runs", "--show", str(failed[0]["id"]))
    assert failed[0]["report"].splitlines()[0] in show.stdout
    assert f"replay: {failed[0]['replay']}" in show.stdout
    cmp = thpsim("runs", "--compare", "b3", "b3")
    assert cmp.returncode == 0 and failed[0]["replay"] in cmp.stdout


# ---------------------------------------------------------------- bad input
def _toml(tmp_path, text):
    (tmp_path / "c.toml").write_text(text)
    return "c.toml"


BAD_CAMPAIGNS = {
    "corrupt toml": (lambda d: [_toml(d, "name = 'x\n[[config]\n")], "not valid TOML"),
    "unknown key": (lambda d: [_toml(d, "[[config]]\nprofile = 'seed'\nrouns = 3\n")],
                    "unknown key 'rouns'"),
    "seeds unparsable": (lambda d: ["--seeds", "1-x"], "--seeds '1-x'"),
    "seeds empty": (lambda d: ["--seeds", "0"], "no seeds"),
    "seeds empty range": (lambda d: ["--seeds", "5-2"], "empty range"),
    "workers 0": (lambda d: ["--workers", "0"], "--workers: '0' is not a positive integer"),
    "store not sqlite": (lambda d: ["--store", str(_text_file(d))], "not an SQLite file"),
    "store unwritable": (lambda d: ["--store", str(_text_file(d) / "s.sqlite")],
                         "cannot write there"),
    "profile with file": (lambda d: [_toml(d, "[[config]]\n"), "--profile", "seed"],
                          "go in the campaign file"),
    "unknown switch": (lambda d: ["--switch", "nope=1"], "unknown profile switch"),
    "too big for the nodes": (lambda d: ["--user-threads", "40"], "more than the nodes'"),
    "address without ray": (lambda d: ["--address", "auto"], "are for --backend ray"),
    "no cluster there": (lambda d: ["--backend", "ray", "--address", "127.0.0.1:1"],
                         "no Ray cluster answers there"),
}


def _text_file(d):
    f = d / "notes.txt"
    f.write_text("not a store\n")
    return f


@pytest.mark.parametrize("case", sorted(BAD_CAMPAIGNS))
def test_bad_input_one_line_exit_2_nothing_created(case, tmp_path, monkeypatch, capsys):
    make, message = BAD_CAMPAIGNS[case]
    monkeypatch.chdir(tmp_path)
    argv = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = thpsim_main(["campaign", *argv, *TINY])
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("thpsim campaign: error: "), err
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no store, no repro dir
    if case == "store not sqlite":
        assert (tmp_path / "notes.txt").read_text() == "not a store\n"


def test_ray_missing_is_one_line(tmp_path, monkeypatch, capsys):
    """Without Ray installed (its import fails), --backend ray says how to get it."""
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    monkeypatch.chdir(tmp_path)
    rc = thpsim_main(["campaign", "--backend", "ray", "--seeds", "2", *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "pip install 'thpsim[ray]'" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,message", [
    (["runs", "--store", "missing.sqlite"], "no such results store"),
    (["runs", "--store", "notes.txt"], "not an SQLite file"),
    (["runs", "--show", "-1"], "not a non-negative integer"),
])
def test_runs_bad_input(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _text_file(tmp_path)
    rc = thpsim_main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
