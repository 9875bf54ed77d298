"""The ``thpsim`` command: the demo runs end to end and shows what it promises."""

import re

import pytest

from thpsim.cli import main


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
