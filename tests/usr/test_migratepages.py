"""thpsim.usr.migratepages: ``thpsim migratepages PID FROM TO`` on a scenario's process."""

from __future__ import annotations

import json

import pytest
from usr_helpers import EXAMPLES, run_cli

MIGRATE = str(EXAMPLES / "migrate-pages-thp.toml")


def _private(out: str) -> list[str]:
    """The Private row of a one-process ``numastat -p`` table: node 0, node 1, total."""
    return next(ln for ln in out.splitlines() if ln.startswith("Private")).split()[1:]


def test_moves_the_pages_and_prints_nothing(capsys) -> None:
    # after step 4 both processes have 4 MiB on node 0; web's are never migrated
    _, before, _ = run_cli(capsys, "numastat", "--scenario", MIGRATE, "--at", "4", "-p", "web")
    assert _private(before) == ["4.00", "0.00", "4.00"]
    rc, out, err = run_cli(capsys, "migratepages", "--scenario", MIGRATE, "--at", "4",
                           "web", "0", "1")
    assert (rc, out, err) == (0, "", "")  # like migratepages(8): silent on success
    rc, out, _ = run_cli(capsys, "migratepages", "--scenario", MIGRATE, "--at", "4",
                         "--numastat", "web", "0", "1")
    assert rc == 0 and _private(out) == ["0.00", "4.00", "4.00"]


def test_verbose_and_json_report_the_counts(capsys) -> None:
    rc, out, _ = run_cli(capsys, "migratepages", "--scenario", MIGRATE, "--at", "4", "-v",
                         "2", "all", "1")
    assert rc == 0
    assert out == ("pid 2: 1024 pages moved from 0-1 to 1, 0 not moved\n"
                   "before: N0=1024\nafter:  N1=1024\n")
    rc, out, _ = run_cli(capsys, "migratepages", "--scenario", MIGRATE, "--json", "db", "1",
                         "0")
    doc = json.loads(out)
    assert rc == 0
    assert (doc["moved_pages"], doc["not_moved"]) == (1024, 0)
    assert doc["before"] == {"1": 1024} and doc["after"] == {"0": 1024}


def test_as_a_scenario_step(capsys, tmp_path) -> None:
    f = tmp_path / "m.toml"
    f.write_text(MIGRATE_TEXT + """
[[step]]
do = "show"
tool = "migratepages web 0 1"

[[step]]
do = "check"
thp_on_node = [{node = 0, count = 0}, {node = 1, count = 4}]
""")
    rc, _, err = run_cli(capsys, "run", str(f))
    assert (rc, err) == (0, "")


MIGRATE_TEXT = (EXAMPLES / "migrate-pages-thp.toml").read_text()


@pytest.mark.parametrize("argv,msg", [
    (["web", "0", "2"], "migratepages: <2> is invalid: no node 2 (the machine has 0-1)"),
    (["web", "0-", "1"], "migratepages: <0-> is invalid"),
    (["ghost", "0", "1"], "no process 'ghost'"),
    (["web", "0"], "the following arguments are required: TO-NODES"),
])
def test_bad_arguments(capsys, argv, msg) -> None:
    rc, out, err = run_cli(capsys, "migratepages", "--scenario", MIGRATE, *argv)
    assert rc == 2 and out == ""
    assert err.startswith("thpsim migratepages: error: ") and msg in err
    assert err.count("\n") == 1
