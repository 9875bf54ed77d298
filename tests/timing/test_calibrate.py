"""``thpsim calibrate`` (src/thpsim/experiment/calibrate.py): the shipped parameters
reproduce the v3 series' cover-letter move_pages figures, and the least-squares fit
recovers a known table from the times it produces."""

from __future__ import annotations

import json

import pytest

from thpsim.cli import main
from thpsim.experiment.calibrate import (
    V3_COVER_LETTER,
    calibrate,
    default_params,
    run_measurement,
)


@pytest.mark.parametrize("meas", V3_COVER_LETTER, ids=[m["name"] for m in V3_COVER_LETTER])
def test_shipped_defaults_reproduce_the_cover_letter(meas: dict) -> None:
    ns, _ = run_measurement(meas)
    assert abs(ns / 1000 - meas["us"]) <= 0.10 * meas["us"], (meas, ns / 1000)


def test_thp_migration_is_about_three_times_the_throughput() -> None:
    """The series' headline: 512 base pages take ~3x as long as one THP."""
    t = {m["name"]: run_measurement(m)[0] for m in V3_COVER_LETTER}
    assert 2.7 < t["512 4 KiB pages"] / t["one 2 MiB THP"] < 3.3


def test_fit_recovers_a_synthetic_table() -> None:
    """Times made by a known table (other values for the three fitted parameters, and
    one more measurement) are fitted back to that table from the shipped one."""
    truth = default_params()
    truth.update(lru_add_drain_all_ns=20_000.0, migrate_folio_ns=5_000.0,
                 remote_bandwidth_gbs=6.0)
    meas = [dict(m) for m in V3_COVER_LETTER] + [
        {"name": "4 THPs", "op": "move_pages", "pages": 4, "thp": True, "us": 0.0}]
    for m in meas:
        m.pop("us")
        m["ns"] = run_measurement(m, truth)[0]
    got = calibrate(meas)
    for k in ("lru_add_drain_all_ns", "migrate_folio_ns", "remote_bandwidth_gbs"):
        assert got["params"][k] == pytest.approx(truth[k], rel=1e-9), k
    assert all(abs(m["error_pct"]) < 1e-6 for m in got["measurements"])
    # held parameters stay as they were
    assert got["params"]["fault_ns"] == default_params()["fault_ns"]


def test_fit_of_another_parameter_set() -> None:
    """With migrate_folio_ns held at 0, fitting rmap_walk_ns instead puts the per-folio
    cost there: two rmap walks per folio carry the 2,080 ns the shipped table gives the
    folio (fitted from the same figures)."""
    base = default_params()
    base["migrate_folio_ns"] = 0.0
    got = calibrate([dict(m) for m in V3_COVER_LETTER], base,
                    fit=["lru_add_drain_all_ns", "rmap_walk_ns", "remote_bandwidth_gbs"])
    assert all(abs(m["error_pct"]) < 1e-6 for m in got["measurements"])
    shipped = default_params()
    assert got["params"]["rmap_walk_ns"] == pytest.approx(
        shipped["rmap_walk_ns"] + shipped["migrate_folio_ns"] / 2, rel=1e-3)


def test_cli_fits_a_file_and_writes_the_table(tmp_path, capsys) -> None:
    src = tmp_path / "m.toml"
    assert main(["calibrate", "--example"]) == 0
    src.write_text(capsys.readouterr().out)
    out = tmp_path / "fitted.json"
    assert main(["calibrate", str(src), "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [round(m["modeled_us"], 2) for m in doc["measurements"]] == [62.47, 658.54,
                                                                        1987.38]
    table = json.loads(out.read_text())
    assert table == doc["params"]
    # the table feeds the experiment and a Machine
    from thpsim import Machine

    Machine(nodes={0: 128 << 20}, cpus=1, modeled_time=table)


@pytest.mark.parametrize("text,what", [
    ("[[measurement]]\npages = 1\nus = 1\nop = 'nope'\n", "op"),
    ("[[measurement]]\npages = 0\nus = 1\n", "pages"),
    ("[[measurement]]\npages = 1\n", "us or ns"),
    ("nothing = 1\n", "unknown key"),
    ("[[measurement\n", "not valid TOML"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, text: str, what: str) -> None:
    src = tmp_path / "bad.toml"
    src.write_text(text)
    assert main(["calibrate", str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and what in err[0], err


def test_cli_unknown_parameter_to_fit(capsys) -> None:
    assert main(["calibrate", "--fit", "warp_ns"]) == 2
    assert "unknown parameter" in capsys.readouterr().err
