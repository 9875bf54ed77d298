"""thpsim.usr.numactl: ``thpsim numactl`` --hardware, --show, node lists, and starting a
scenario's process under a policy."""

from __future__ import annotations

import json

import pytest
from usr_helpers import BASE, EXAMPLES, run_cli, scenario

from thpsim.cliutil import UsageError
from thpsim.usr.numactl import format_list, parse_nodestring

#: Three nodes with sparse ids, a node without CPUs, a SLIT table.
THREE = """\
[machine]
nodes = {0 = "128MiB", 1 = "128MiB", 3 = "256MiB"}
cpus = {0 = 2, 1 = 0, 3 = 2}
distance = [[10, 21, 31], [21, 10, 21], [31, 21, 10]]

[[process]]
name = "app"
cpu = 3
interleave = "1,3"
"""


def _meminfo_mb(capsys, f: str, nid: int, key: str) -> int:
    rc, out, _ = run_cli(capsys, "proc", "--scenario", f,
                         f"/sys/devices/system/node/node{nid}/meminfo")
    assert rc == 0
    kb = next(int(ln.split()[3]) for ln in out.splitlines() if ln.split()[2] == key + ":")
    return kb * 1024 >> 20  # numa_node_size64() reads kB; numactl prints bytes >> 20


def test_hardware_format(capsys, tmp_path) -> None:
    """numactl(8) --hardware: ``available: N nodes (LIST)``, per node ``node N cpus:`` with
    a space before each CPU, ``size:``/``free:`` in MB, then the distance table whose
    cells are printf("% 3d ") (so each line ends in a space)."""
    f = scenario(tmp_path, base=THREE)
    rc, out, err = run_cli(capsys, "numactl", "--scenario", f, "--hardware")
    assert (rc, err) == (0, "")
    sz = {n: (_meminfo_mb(capsys, f, n, "MemTotal"), _meminfo_mb(capsys, f, n, "MemFree"))
          for n in (0, 1, 3)}
    expected = (
        "available: 3 nodes (0-1,3)\n"
        "node 0 cpus: 0 1\n"
        f"node 0 size: {sz[0][0]} MB\n"
        f"node 0 free: {sz[0][1]} MB\n"
        "node 1 cpus:\n"
        f"node 1 size: {sz[1][0]} MB\n"
        f"node 1 free: {sz[1][1]} MB\n"
        "node 3 cpus: 2 3\n"
        f"node 3 size: {sz[3][0]} MB\n"
        f"node 3 free: {sz[3][1]} MB\n"
        "node distances:\n"
        "node   0   1   3 \n"
        "  0:  10  21  31 \n"
        "  1:  21  10  21 \n"
        "  3:  31  21  10 \n")
    assert out == expected
    assert sz[1] == (128, 128) and sz[3][0] == 256  # the sizes the file asked for


def test_hardware_free_follows_the_state(capsys) -> None:
    f = str(EXAMPLES / "migrate-pages-thp.toml")
    _, before, _ = run_cli(capsys, "numactl", "--scenario", f, "--hardware", "--at", "2")
    _, after, _ = run_cli(capsys, "numactl", "--scenario", f, "--hardware")
    free = [{ln.split()[1]: int(ln.split()[3]) for ln in o.splitlines() if " free: " in ln}
            for o in (before, after)]
    assert free[0]["0"] - free[1]["0"] >= 4  # db's and web's 4 MiB each: 2 MiB net on node 0
    assert free[0]["1"] - free[1]["1"] == 4  # db's THPs migrated to node 1


def test_hardware_json(capsys, tmp_path) -> None:
    rc, out, _ = run_cli(capsys, "numactl", "--scenario", scenario(tmp_path, base=THREE),
                         "--hardware", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["available"] == [0, 1, 3]
    assert doc["nodes"]["1"]["cpus"] == [] and doc["nodes"]["3"]["cpus"] == [2, 3]
    assert doc["distances"][0] == [10, 21, 31]


def test_show_interleave(capsys, tmp_path) -> None:
    rc, out, _ = run_cli(capsys, "numactl", "--scenario", scenario(tmp_path, base=THREE),
                         "--show", "--pid", "app")
    assert rc == 0
    assert out == ("policy: interleave\n"
                   "preferred node: 1 (interleave next)\n"
                   "interleavemask: 1 3 \n"
                   "interleavenode: 1\n"
                   "physcpubind: 0 1 2 3 \n"
                   "cpubind: 0 3 \n"
                   "nodebind: 0 3 \n"
                   "membind: 0 1 3 \n")


@pytest.mark.parametrize("opt,policy,preferred,membind", [
    ("", "default", "current", "0 1 "),
    ('membind = "1"', "bind", "1", "1 "),
    ("preferred = 1", "preferred", "1", "0 1 "),
    # 4.14 keeps MPOL_LOCAL as MPOL_PREFERRED with no node: get_mempolicy says preferred
    ("localalloc = true", "preferred", "current", "0 1 "),
    ("localalloc = true\n#mainline", "local", "current", "0 1 "),
])
def test_show_each_policy(capsys, tmp_path, opt, policy, preferred, membind) -> None:
    base = BASE.replace('name = "app"', f'name = "app"\n{opt}')
    profile = "mainline" if "#mainline" in opt else "seed"
    rc, out, _ = run_cli(capsys, "numactl", "--scenario", scenario(tmp_path, base=base),
                         "--show", "--at", "0", "--profile", profile)
    assert rc == 0
    lines = out.splitlines(keepends=True)
    assert lines[0] == f"policy: {policy}\n"
    assert lines[1] == f"preferred node: {preferred}\n"
    assert lines[-1] == f"membind: {membind}\n"


def test_show_as_a_scenario_step(capsys, tmp_path) -> None:
    f = scenario(tmp_path, '\n[[step]]\ndo = "show"\ntool = "numactl --show --pid app"\n')
    rc, out, _ = run_cli(capsys, "run", f)
    assert rc == 0 and "# step 3: numactl --show --pid app\npolicy: default\n" in out


def test_start_a_process_under_membind(capsys, tmp_path) -> None:
    """``numactl --membind=1 -- app``: the policy is set before app's steps run, as for a
    program numactl executes; the same file run plainly leaves the pages on node 0."""
    f = scenario(tmp_path, """
[[step]]
do = "show"
tool = "numastat -c -p app"
""")
    rc, plain, _ = run_cli(capsys, "run", f)
    assert rc == 0
    rc, bound, err = run_cli(capsys, "numactl", "--scenario", f, "--membind=1", "--", "app")
    assert (rc, err) == (0, "")
    row = {o: next(ln for ln in o.splitlines() if ln.startswith("Private")).split()
           for o in (plain, bound)}
    assert row[plain] == ["Private", "8", "0", "8"]
    assert row[bound] == ["Private", "0", "8", "8"]


def test_start_under_interleave_and_cpunodebind(capsys, tmp_path) -> None:
    f = scenario(tmp_path, """
[[step]]
do = "check"
region = "heap"
thp_on_node = [{node = 0, count = 2}, {node = 1, count = 2}]
""")
    rc, _, err = run_cli(capsys, "numactl", "--scenario", f, "--interleave=all", "app")
    assert (rc, err) == (0, "")
    rc, _, err = run_cli(capsys, "numactl", "--scenario", f, "--cpunodebind=1", "app")
    assert rc == 1 and "node 0 holds 0 THPs of region 'heap', expected 2" in err


@pytest.mark.parametrize("argv,msg", [
    (["--membind=1", "--preferred=0", "app"], "Conflicting policies"),
    (["--membind=2", "app"], "<2> is invalid: no node 2"),
    (["--membind=1", "ghost"], "'ghost' is not a [[process]]"),
    (["--membind=1"], "give --hardware, --show, or a policy and the PROCESS"),
    (["--preferred=0-1", "app"], "--preferred=0-1: takes exactly one node"),
    (["--show", "--pid", "ghost"], "no process 'ghost'"),
])
def test_numactl_bad_usage(capsys, tmp_path, argv, msg) -> None:
    rc, out, err = run_cli(capsys, "numactl", "--scenario", scenario(tmp_path), *argv)
    assert rc == 2 and out == ""
    assert err.startswith("thpsim numactl: error: ") and msg in err and err.count("\n") == 1


def test_parse_nodestring() -> None:
    nodes = [0, 1, 2, 3]
    assert parse_nodestring("1", nodes) == [1]
    assert parse_nodestring("0,2-3", nodes) == [0, 2, 3]
    assert parse_nodestring("all", nodes) == nodes
    assert parse_nodestring("!1", nodes) == [0, 2, 3]
    for bad in ("", "4", "1-0", "x", "+1", "1-"):
        with pytest.raises(UsageError):
            parse_nodestring(bad, nodes)
    assert format_list([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
