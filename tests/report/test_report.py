"""thpsim report: from a results store and from one --stress run; bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from thpsim.cli import main as thpsim_main
from thpsim.report.data import build_report
from thpsim.report.html import render


def _report(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = thpsim_main(["report", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_report_from_store(store_path: Path, tmp_path: Path, capsys, parse_html,
                           assert_self_contained):
    out = tmp_path / "r.html"
    rc, stdout, err = _report(["--store", str(store_path), "--campaign", "profiles",
                               "--out", str(out)], capsys)
    assert (rc, stdout, err) == (0, "", "")
    text = out.read_text()
    page = parse_html(text)
    assert_self_contained(page)
    h2 = [t for tag, t in page.headings if tag == "h2"]
    assert h2 == ["Summary per configuration", "Migrations per caller",
                  "THPs migrated whole and split", "Counters", "Failures",
                  "Over a run, per configuration"]
    # the summary: one row per configuration of the campaign, in order of first run
    summary = page.tables[0]
    assert summary[0][:6] == ["configuration", "hash", "runs", "ok", "failed", "error"]
    assert [row[0] for row in summary[1:]] == ["seed", "mainline -cow"]
    assert [row[2:6] for row in summary[1:]] == [["2", "2", "0", "0"], ["2", "1", "1", "0"]]
    # folios migrated: 30 per seed run, 90 per mainline run; 2 s each
    assert [row[8] for row in summary[1:]] == ["60", "180"]
    assert [row[10] for row in summary[1:]] == ["15", "45"]
    # counters: mean per run, one column per configuration
    counters = next(t for t in page.tables if t[0][0] == "counter (/proc/vmstat)")
    assert ["pgmigrate_success", "30", "90"] in counters
    # the failure and its replay command, copyable
    assert "thpsim stress --replay thpsim-repro/seed2-w0.json" in page.code
    assert any("seed 2 (failed; reproducer round 3)" in t for _, t in page.headings)
    assert "invariant failure: frame 0x1234 leaked" in text
    # the command that made it
    assert f"thpsim report --store {store_path} --campaign profiles --out {out}" in page.code
    # 2 bar charts, then per configuration 4 figures (memory, THPs, rate, map)
    assert len(page.imgs) == 2 + 2 * 4
    assert sum(1 for _, t in page.headings if ": run " in t) == 2
    assert "no campaign" not in text and "No per-caller" not in text


def test_report_all_campaigns_and_run_choice(store_path: Path, tmp_path: Path, capsys, parse_html):
    out = tmp_path / "all.html"
    rc, _, _ = _report(["--store", str(store_path), "--run", "2", "--out", str(out)], capsys)
    assert rc == 0
    page = parse_html(out.read_text())
    summary = page.tables[0]
    assert [row[2] for row in summary[1:]] == ["3", "2"]  # campaign "other" adds a seed run
    assert "seed: run 2 (seed 2, ok, 6 rounds)" in [t for _, t in page.headings]


def test_json_data(store_path: Path, capsys):
    rc, stdout, err = _report(["--store", str(store_path), "--campaign", "profiles",
                               "--json"], capsys)
    assert (rc, err) == (0, "")
    data = json.loads(stdout)
    assert data["totals"]["runs"] == 4
    assert data["totals"]["failed"] == 1
    seed, mainline = data["configurations"]
    assert seed["migrations_by_caller"]["move_pages"] == 2  # 1 per run, 2 runs
    assert mainline["migrations_by_caller"]["other"] == 2 * 27
    assert seed["migration_rate"] == pytest.approx(60 / 4.0)
    series = seed["run"]["series"]
    assert series["round"] == list(range(1, 9))
    # the fixture's run faults 4 THPs on node 0, then moves them to node 1 one a round
    assert [v // 512 for v in series["nodes"]["0"]["thp"]] == [1, 2, 3, 4, 3, 2, 1, 0]
    assert [v // 512 for v in series["nodes"]["1"]["thp"]] == [0, 0, 0, 0, 1, 2, 3, 4]
    assert seed["run"]["memmap"]["nodes"]["1"]["blocks"] == 64
    assert [f["seed"] for f in data["failures"]] == [2]


def test_report_from_stress(tmp_path: Path, capsys, parse_html, assert_self_contained):
    out = tmp_path / "stress.html"
    rc, stdout, err = _report(["--stress", "--seed", "1", "--rounds", "6", "--out", str(out),
                               "--json"], capsys)
    assert rc == 0, err
    data = json.loads(stdout)
    (config,) = data["configurations"]
    assert config["label"] == "seed"
    assert config["runs"] == config["ok"] == 1
    assert config["seeds"] == [1000]  # thpsim stress --seed 1, worker 0
    assert config["rounds"] == 6 and config["migrations"] > 0
    series = config["run"]["series"]
    assert series["round"] == [1, 2, 3, 4, 5, 6]
    for nodes in zip(*[series["nodes"][n]["free"] for n in series["nodes"]], strict=True):
        assert sum(nodes) > 0
    total = 2 * 256 * 256  # two 256 MiB nodes, in pages
    for i in range(6):
        assert sum(sum(cols[k][i] for k in cols) for cols in series["nodes"].values()) == total
    assert config["run"]["memmap"]["block_pages"] == 512
    page = parse_html(out.read_text())
    assert_self_contained(page)
    assert len(page.imgs) >= 4  # THP outcomes, memory, THPs per node, rate, map
    assert "thpsim stress --seed 1 --rounds 6 --profile seed" in out.read_text()


def test_stress_run_is_the_stress_commands_run():
    """--stress --seed S is worker 0 of ``thpsim stress --seed S``: the same digest."""
    from thpsim.report.cli import stress_run
    from thpsim.stress.harness import run_stress
    from thpsim.stress.workload import StressConfig

    run = stress_run(2, 3, "seed", {}, progress=False)
    assert run["digest"] == run_stress(StressConfig(rounds=3), 2000).digest
    assert run["rounds"] == 3 and len(run["samples"]) == 3


def test_render_says_why_a_figure_is_missing(parse_html):
    run = {"id": 1, "config": {"profile": "seed", "switches": {}}, "config_hash": "ab" * 32,
           "seed": 0, "outcome": "error", "report": "Traceback: boom"}
    data = build_report([run], command="x", title="t", source="s")
    page = parse_html(render(data))
    assert page.imgs == []  # nothing recorded: no empty plots
    text = render(data)
    assert "No per-caller migration counts were recorded" in text
    assert "No samples were recorded for this run" in text
    assert "No memory map was recorded" in text
    assert "No replay command was recorded" in text


# ---------------------------------------------------------------- bad input
def _bad(argv: list[str], capsys, tmp_path: Path, out: Path | None = None) -> str:
    before = sorted(tmp_path.rglob("*"))
    rc, stdout, err = _report(argv, capsys)
    assert rc == 2, (argv, err)
    assert stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thpsim report: error: "), err
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even a temp file
    return lines[0]


def test_bad_inputs(store_path: Path, tmp_path: Path, capsys):
    out = str(tmp_path / "r.html")
    err = _bad(["--store", str(tmp_path / "nope.sqlite"), "--out", out], capsys, tmp_path)
    assert "no such results store" in err
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all, just text\n")
    assert "not an SQLite file" in _bad(["--store", str(junk), "--out", out], capsys, tmp_path)
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert "empty" in _bad(["--store", str(empty), "--out", out], capsys, tmp_path)
    assert empty.read_bytes() == b""
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    assert "not a thpsim results store" in _bad(["--store", str(other), "--out", out],
                                                capsys, tmp_path)
    err = _bad(["--store", str(store_path), "--campaign", "nosuch", "--out", out], capsys,
               tmp_path)
    assert "no campaign 'nosuch'" in err and "profiles, other" in err
    assert "--run 99" in _bad(["--store", str(store_path), "--run", "99", "--out", out],
                              capsys, tmp_path)
    # unwritable --out: a directory, a path under a regular file
    assert "is a directory" in _bad(["--store", str(store_path), "--out", str(tmp_path)],
                                    capsys, tmp_path)
    assert "cannot write there" in _bad(["--store", str(store_path), "--out",
                                         str(junk / "r.html")], capsys, tmp_path)
    assert "nothing to write" in _bad(["--store", str(store_path)], capsys, tmp_path)
    assert "goes with --store" in _bad(["--stress", "--campaign", "x", "--out", out],
                                       capsys, tmp_path)
    assert "goes with --stress" in _bad(["--store", str(store_path), "--rounds", "3",
                                         "--out", out], capsys, tmp_path)
    _bad(["--out", out], capsys, tmp_path)  # neither --store nor --stress
    _bad(["--stress", "--rounds", "0", "--out", out], capsys, tmp_path)
    _bad(["--stress", "--switch", "no_such_switch=1", "--out", out], capsys, tmp_path)


def test_failed_stress_run_is_reported_with_its_command(tmp_path: Path, capsys, parse_html):
    """A bug switch on: the run fails, the report is still written (exit 1) and shows
    the thpsim stress command that repeats the run (and saves its reproducer)."""
    out = tmp_path / "failed.html"
    rc, _, err = _report(["--stress", "--seed", "1", "--rounds", "40", "--switch",
                          "bug_b3_pmd_migration_no_flush=1", "--out", str(out)], capsys)
    assert rc == 1, err
    page = parse_html(out.read_text())
    summary = page.tables[0]
    assert summary[1][0] == "seed +bug_b3_pmd_migration_no_flush=1"
    assert summary[1][2:6] == ["1", "0", "1", "0"]
    assert ("thpsim stress --seed 1 --rounds 40 --profile seed --switch "
            "bug_b3_pmd_migration_no_flush=1") in page.code
