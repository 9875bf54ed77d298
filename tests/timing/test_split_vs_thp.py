"""``thpsim experiment split-vs-thp`` (src/thpsim/experiment/split_vs_thp.py): for each
of the six callers, THP migration keeps the THPs and costs less per page moved, and the
accesses after it miss the TLB less; the modeled times add up to the cost model's
parameters times what was done."""

from __future__ import annotations

import json

import pytest

from thpsim import PAGE_SIZE
from thpsim.cli import main
from thpsim.demo import CALLERS
from thpsim.experiment.calibrate import default_params
from thpsim.experiment.split_vs_thp import split_vs_thp

NR_THP = 8  # 4,096 pages: over the 1,536-entry 4 KiB TLB, 8 of the 1,024 2 MiB entries
ROUNDS = 2


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, bool], dict]:
    return {(r["caller"], r["thp_migration"]): r
            for r in split_vs_thp(nr_thp=NR_THP, rounds=ROUNDS)}


@pytest.mark.parametrize("caller", CALLERS)
def test_thps_preserved_with_thp_migration_split_without(rows, caller: str) -> None:
    on, off = rows[(caller, True)], rows[(caller, False)]
    assert on["thp_before"] == off["thp_before"] == NR_THP
    assert on["thp_after"] == NR_THP and on["splits"] == 0
    assert off["thp_after"] < NR_THP and off["splits"] >= 1


@pytest.mark.parametrize("caller", CALLERS)
def test_thp_migration_costs_less_per_page(rows, caller: str) -> None:
    on, off = rows[(caller, True)], rows[(caller, False)]
    assert on["pages_moved"] > 0 and off["pages_moved"] > 0
    assert on["migration_us"] / on["pages_moved"] < off["migration_us"] / off["pages_moved"]
    if caller != "soft-offline":  # soft offline moves one page of the split THP, not 512
        assert on["pages_moved"] == off["pages_moved"] == NR_THP * 512
        assert on["migration_us"] < off["migration_us"]
        # the series' figure: about three times the throughput
        assert 2.5 < off["migration_us"] / on["migration_us"] < 4.0


@pytest.mark.parametrize("caller", CALLERS)
def test_fewer_tlb_misses_after_the_move_with_thps(rows, caller: str) -> None:
    on, off = rows[(caller, True)], rows[(caller, False)]
    assert on["accesses"] == off["accesses"] == ROUNDS * NR_THP * 512
    assert on["tlb_misses_after"] < off["tlb_misses_after"]
    split = NR_THP - off["thp_after"]
    # each split THP's 512 PTEs overflow (all split) or stay within (one) the 4 KiB TLB
    assert off["tlb_misses_after"] >= split * 512
    assert on["tlb_misses_after"] <= NR_THP  # one walk per THP, then hits
    assert on["access_us_after"] < off["access_us_after"]


@pytest.mark.parametrize("caller", CALLERS)
def test_times_follow_the_cost_model(rows, caller: str) -> None:
    """Each modeled time is the parameters times what was counted: the table's ns equal
    the usage-weighted sum, the copy is bytes over the bandwidth of the node pair, and
    the split-first run pays the split costs THP migration does not."""
    p = default_params()
    for whole in (True, False):
        r = rows[(caller, whole)]
        assert r["migration_us"] == pytest.approx(r["migration_us_from_usage"], abs=0.01)
        assert r["total_us"] == pytest.approx(r["migration_us"] + r["access_us_after"])
        copy = r["migration_ns_by_category"]["copy"]
        nbytes = r["pages_moved"] * PAGE_SIZE
        remote, local = nbytes / p["remote_bandwidth_gbs"], nbytes / p["node.bandwidth_gbs"]
        assert copy == pytest.approx(remote, abs=1) or copy == pytest.approx(local, abs=1)
        assert r["migration_ns_by_category"]["split"] == pytest.approx(
            r["splits"] * (p["split_huge_page_ns"] + 512 * p["split_subpage_ns"])
            + r["pmd_splits"] * (p["split_huge_pmd_ns"] + 512 * p["pte_update_ns"]), abs=1)
    off = rows[(caller, False)]
    assert off["splits"] == NR_THP - off["thp_after"] and off["pmd_splits"] >= off["splits"]
    assert rows[(caller, True)]["migration_ns_by_category"]["split"] == 0


def test_cli_json_and_plot(tmp_path, capsys) -> None:
    png = tmp_path / "svt.png"
    assert main(["experiment", "split-vs-thp", "--caller", "mbind", "--nr-thp", "2",
                 "--json", "--plot", str(png)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["caller"], r["thp_migration"]) for r in doc["results"]] == [
        ("mbind", True), ("mbind", False)]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,what", [
    (["experiment", "nope"], "invalid choice"),
    (["experiment", "split-vs-thp", "--switch", "thp_migration_supported=0"], "both ways"),
    (["experiment", "split-vs-thp", "--nr-thp", "0"], "positive integer"),
    (["experiment", "split-vs-thp", "--params", "/nonexistent.json"], "No such file"),
])
def test_cli_bad_usage(capsys, argv: list[str], what: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and what in err[0], err
