"""thpsim.usr.numastat: ``thpsim numastat`` in numastat(8)'s table formats."""

from __future__ import annotations

import json

from usr_helpers import EXAMPLES, run_cli

MOVE = str(EXAMPLES / "move-pages-thp.toml")
MIGRATE = str(EXAMPLES / "migrate-pages-thp.toml")


def _node_file(capsys, f: str, nid: int, name: str) -> list[list[str]]:
    rc, out, _ = run_cli(capsys, "proc", "--scenario", f,
                         f"/sys/devices/system/node/node{nid}/{name}")
    assert rc == 0
    return [ln.split() for ln in out.splitlines()]


def test_default_is_the_perl_scripts_format(capsys) -> None:
    """No options: the old script's layout, ``printf "%16s%s"`` for the header and
    ``"%-16s"`` + ``"%16u"`` per node for each counter of nodeN/numastat (written here
    with str.format's equivalents)."""
    rc, out, err = run_cli(capsys, "numastat", "--scenario", MIGRATE)
    assert (rc, err) == (0, "")
    stats = [dict(_node_file(capsys, MIGRATE, n, "numastat")) for n in (0, 1)]
    names = [w[0] for w in _node_file(capsys, MIGRATE, 0, "numastat")]
    expected = "{:16s}{}\n".format("", "".join(f"{f'node{n}':>16s}" for n in (0, 1)))
    for name in names:
        expected += "{:<16s}{}\n".format(name, "".join(f"{int(s[name]):16d}" for s in stats))
    assert out == expected
    assert names == ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit",
                     "local_node", "other_node"]
    assert int(stats[1]["numa_hit"]) >= 2  # the two THPs db's migration allocated there


def test_process_table_one_pid(capsys) -> None:
    """-p with one process: the per-category table (Huge, Heap, Stack, Private), a rule
    and Total; the label column 17 wide (16 + gutter), data columns 16, MB with two
    decimals. The THPs were moved to node 1 by move_pages."""
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "-p", "app")
    assert rc == 0
    assert out == (
        "\n"
        "Per-node process memory usage (in MBs) for PID 1 (app)\n"
        "                           Node 0          Node 1           Total\n"
        "                  --------------- --------------- ---------------\n"
        "Huge                         0.00            0.00            0.00\n"
        "Heap                         0.00            0.00            0.00\n"
        "Stack                        0.00            0.00            0.00\n"
        "Private                      0.00            8.00            8.00\n"
        "----------------  --------------- --------------- ---------------\n"
        "Total                        0.00            8.00            8.00\n")
    # before the move (after step 2) the same 8 MiB are on node 0; a pid works as well
    _, before, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "--at", "2", "-p", "1")
    assert "Private                      8.00            0.00            8.00\n" in before


def test_process_table_many_pids(capsys) -> None:
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MIGRATE, "-p", "web", "db")
    assert rc == 0
    assert out == (
        "\n"
        "Per-node process memory usage (in MBs)\n"
        "PID                        Node 0          Node 1           Total\n"
        "----------------  --------------- --------------- ---------------\n"
        "1 (db)                       0.00            4.00            4.00\n"
        "2 (web)                      4.00            0.00            4.00\n"
        "----------------  --------------- --------------- ---------------\n"
        "Total                        4.00            4.00            8.00\n")
    _, verbose, _ = run_cli(capsys, "numastat", "--scenario", MIGRATE, "-v", "-p", "db",
                            "-p", "web")
    assert verbose.count("Per-node process memory usage (in MBs) for PID") == 2


def test_compressed(capsys) -> None:
    """-c: no decimals, each column as wide as its widest cell plus one: 8 for the labels
    ("Private"), 7 for "Node 0", 6 for "Total"; the rules are one shorter than their
    column."""
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "-c", "-p", "app")
    assert rc == 0
    assert out == (
        "\n"
        "Per-node process memory usage (in MBs) for PID 1 (app)\n"
        "         Node 0 Node 1 Total\n"
        "         ------ ------ -----\n"
        "Huge          0      0     0\n"
        "Heap          0      0     0\n"
        "Stack         0      0     0\n"
        "Private       0      8     8\n"
        "-------  ------ ------ -----\n"
        "Total         0      8     8\n")


def test_n_is_numastat_in_mb(capsys) -> None:
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MIGRATE, "-n")
    assert rc == 0
    lines = out.splitlines()
    assert lines[:4] == ["", "Per-node numastat info (in MBs):",
                         " " * 16 + "{:>16s}{:>16s}{:>16s}".format("Node 0", "Node 1", "Total"),
                         " " * 16 + (" " + "-" * 15) * 3]
    stats = [dict(_node_file(capsys, MIGRATE, n, "numastat")) for n in (0, 1)]
    mb = [int(s["numa_hit"]) * 4096 / (1 << 20) for s in stats]
    assert lines[4] == f"{'Numa_Hit':<16s}{mb[0]:16.2f}{mb[1]:16.2f}{sum(mb):16.2f}"
    assert [ln.split()[0] for ln in lines[4:]] == ["Numa_Hit", "Numa_Miss", "Numa_Foreign",
                                                   "Interleave_Hit", "Local_Node",
                                                   "Other_Node"]


def test_m_is_meminfo_in_mb_and_z_drops_zero_rows(capsys) -> None:
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "-m")
    assert rc == 0
    assert out.startswith("\nPer-node system memory usage (in MBs):\n")
    rows = {ln[:16].strip(): ln[16:].split() for ln in out.splitlines()[4:]}
    assert rows["AnonHugePages"] == ["0.00", "8.00", "8.00"]
    assert rows["MemTotal"][2] == f"{sum(map(float, rows['MemTotal'][:2])):.2f}"
    assert "Mlocked" in rows  # all-zero rows stay without -z
    _, z, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "-m", "-z")
    assert "Mlocked" not in z and "AnonHugePages" in z


def test_p_and_m_together_and_json(capsys) -> None:
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "-p", "app", "-m")
    assert rc == 0
    assert out.index("for PID 1 (app)") < out.index("Per-node system memory usage")
    assert "Per-node numastat info" not in out
    rc, out, _ = run_cli(capsys, "numastat", "--scenario", MOVE, "-p", "app", "--json")
    doc = json.loads(out)
    assert doc["process"]["processes"]["1"]["rows"]["Private"] == {"0": 0.0, "1": 8.0,
                                                                   "Total": 8.0}


def test_unknown_process(capsys) -> None:
    rc, out, err = run_cli(capsys, "numastat", "--scenario", MOVE, "-p", "ghost")
    assert rc == 2 and out == ""
    assert err == ("thpsim numastat: error: no process 'ghost' in the scenario's state "
                   "(live: app (pid 1))\n")
