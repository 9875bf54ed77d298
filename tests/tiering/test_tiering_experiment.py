"""``thpsim experiment tiering`` (src/thpsim/experiment/cli.py, tiering.py): its JSON,
its text and plot, and bad input refused with one line, exit 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thpsim.cli import main

SMALL = ["--ticks", "400", "--nr-thp", "8", "--fast-thp", "2"]


def test_json_has_every_run_and_field(capsys) -> None:
    rc = main(["experiment", "tiering", *SMALL, "--policy", "none", "--policy", "hotcold",
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["experiment"] == "tiering" and out["nr_thp"] == 8 and out["ticks"] == 400
    assert out["topology"]["slow_node"] == 1 and out["topology"]["fast_node"] == 0
    runs = {(r["policy"], r["thp_migration"]) for r in out["results"]}
    assert runs == {("none", True), ("none", False), ("hotcold", True), ("hotcold", False)}
    for r in out["results"]:
        for k in ("runtime_us", "access_us", "migration_us", "observation_us",
                  "pages_migrated", "thp_migrated", "thp_splits", "tlb_misses",
                  "fast_share", "fast_pages_end", "slow_pages_end", "timeline", "vmstat",
                  "ns_by_category", "syscalls"):
            assert k in r, k
        assert r["fast_pages_end"] + r["slow_pages_end"] == 8 * 512
        tl = r["timeline"]
        assert tl[0]["tick"] == 0 and tl[-1]["tick"] == 400
        assert all(a["modeled_us"] <= b["modeled_us"] for a, b in zip(tl, tl[1:], strict=False))
        assert tl[-1]["modeled_us"] == pytest.approx(r["runtime_us"], rel=1e-6)


def test_text_and_plot(tmp_path, capsys) -> None:
    png = tmp_path / "t.png"
    rc = main(["experiment", "tiering", *SMALL, "--policy", "damon", "--thp-migration", "on",
               "--pattern", "phase", "--phase-ticks", "100", "--plot", str(png)])
    text = capsys.readouterr().out
    assert rc == 0
    assert text.startswith("tiering: profile seed, phase over 8 THPs")
    assert "damon" in text and "off (split)" not in text and f"plot: {png}" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "thpsim", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["--policy", "nosuch"], "invalid choice"),
    (["--pattern", "zigzag"], "invalid choice"),
    (["--nr-thp", "1000"], "--nr-thp 1000: at most"),
    (["--nr-thp", "4", "--fast-thp", "5"], "--fast-thp 5: at most the working set"),
    (["--ticks", "0"], "not a positive integer"),
    (["--accesses", "-3"], "not a positive integer"),
    (["--zipf-s", "-1"], "not a non-negative number"),
    (["--slow-latency-ns", "inf"], "not a non-negative number"),
    (["--slow-bandwidth-gbs", "0"], "not a positive number"),
    (["--slow-bandwidth-gbs", "inf"], "not a positive number"),
    (["--ticks", "100000", "--accesses", "100"], "at most 5,000,000 loads"),
    (["--rounds", "2"], "--rounds: not an option of the tiering experiment"),
    (["--switch", "thp_migration_supported=0"], "runs both ways"),
    (["--params", "missing.json"], "missing.json"),
    (["--plot", "/proc/nope.png"], "cannot write there"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, message) -> None:
    r = _run("experiment", "tiering", *args, cwd=tmp_path)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert message in r.stderr.strip().splitlines()[-1], (args, r.stderr)
    assert list(tmp_path.iterdir()) == []


def test_split_vs_thp_refuses_tiering_options(tmp_path) -> None:
    r = _run("experiment", "split-vs-thp", "--policy", "none", cwd=tmp_path)
    assert r.returncode == 2
    assert "--policy: not an option of the split-vs-thp experiment" in r.stderr


def test_docs_tiering_python_blocks_run() -> None:
    """docs/tiering.md's Python blocks run as written (the page_idle example, the
    tiered machine)."""
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "tiering.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert len(blocks) >= 2
    ns: dict = {}
    for i, body in enumerate(blocks):
        exec(compile(body, f"docs/tiering.md python block {i + 1}", "exec"), ns)
