"""thpsim.usr.scenario: the file format, the runner, its errors (``thpsim run``)."""

from __future__ import annotations

import json
import re

import pytest
from usr_helpers import BASE, EXAMPLES, run_cli, scenario

from thpsim.cliutil import UsageError
from thpsim.usr.scenario import (
    DEFAULT_MAX_HOST_MIB,
    STEP_KINDS,
    estimate_host_bytes,
    load,
    loads,
    run,
)

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.toml"))


def test_there_are_examples() -> None:
    names = {p.stem for p in EXAMPLE_FILES}
    assert {"move-pages-thp", "mbind-move-thp", "migrate-pages-thp", "cpuset-move",
            "memory-offline", "fork-cow"} <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_every_example_passes(capsys, path, profile) -> None:
    rc, out, err = run_cli(capsys, "run", str(path), "--profile", profile)
    assert (rc, err) == (0, "")
    assert out.endswith("checks passed: ok\n")
    checks = int(out.rsplit(" checks passed", 1)[0].rsplit(" ", 1)[1])
    assert checks >= 1  # each example ends with checks that ran


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_every_step_kind_runs(capsys, profile) -> None:
    path = str(EXAMPLES.parent / "tests" / "usr" / "data" / "every-step.toml")
    assert {st.kind for st in load(path).steps} == set(STEP_KINDS)
    rc, out, err = run_cli(capsys, "run", path, "--profile", profile, "-v")
    assert (rc, err) == (0, ""), err
    assert "step 12 move_pages: 0 status 0 0\n" in out  # moved to node 0 by "other"
    assert "step 16 cpuset: /sys/fs/cgroup" in out
    assert out.endswith("26 steps, 1 checks passed: ok\n")


def test_move_pages_prints_the_status_array(capsys) -> None:
    rc, out, _ = run_cli(capsys, "run", str(EXAMPLES / "move-pages-thp.toml"))
    assert rc == 0
    assert "step 4 move_pages: 0 status 1 1 1 1\n" in out


def test_a_check_that_fails_is_exit_1_naming_step_and_numbers(capsys, tmp_path) -> None:
    f = scenario(tmp_path, """
[[step]]
do = "check"
region = "heap"
thp_on_node = {node = 1, count = 4}
""")
    rc, out, err = run_cli(capsys, "run", f)
    assert rc == 1
    assert err == (f"thpsim run: FAIL: {f}: step 3 (check): thp_on_node: node 1 holds 0 THPs "
                   f"of region 'heap', expected 4\n")
    assert "ok" not in out


def test_vmstat_check_compares_deltas_since_a_step(capsys, tmp_path) -> None:
    extra = """
[[step]]
do = "move_pages"
region = "heap"
nodes = 1

[[step]]
do = "check"
vmstat = {thp_migration_success = 4, thp_fault_alloc = ">= 4"}

[[step]]
do = "check"
since = 3
vmstat = {thp_fault_alloc = 0, thp_migration_success = "%s"}
"""
    rc, _, err = run_cli(capsys, "run", scenario(tmp_path, extra % "4"))
    assert (rc, err) == (0, "")
    rc, _, err = run_cli(capsys, "run", scenario(tmp_path, extra % "< 4"))
    assert rc == 1
    assert "step 5 (check): vmstat: thp_migration_success went up by 4 since step 3, " \
           "expected < 4" in err


def test_expect_errno(capsys, tmp_path) -> None:
    # move_pages(2) to a node the machine does not have: ENODEV for the whole call
    extra = """
[[step]]
do = "move_pages"
region = "heap"
nodes = 7
expect_errno = "%s"
"""
    rc, _, err = run_cli(capsys, "run", scenario(tmp_path, extra % "ENODEV"))
    assert (rc, err) == (0, "")
    rc, _, err = run_cli(capsys, "run", scenario(tmp_path, extra % "EFAULT"))
    assert rc == 1
    assert "step 3 (move_pages): failed with ENODEV (No such device), expected EFAULT" in err


def test_an_unexpected_errno_is_named(capsys, tmp_path) -> None:
    f = scenario(tmp_path, """
[[step]]
do = "madvise"
region = "heap"
offset = "4KiB"
length = "4KiB"
advice = "remove"
""")
    rc, _, err = run_cli(capsys, "run", f)
    assert rc == 1
    assert err == f"thpsim run: FAIL: {f}: step 3 (madvise): failed with EINVAL " \
                  f"(Invalid argument)\n"


def test_a_step_that_succeeds_where_an_errno_was_expected_fails(capsys, tmp_path) -> None:
    f = scenario(tmp_path, '\n[[step]]\ndo = "mlock"\nregion = "heap"\nexpect_errno = "ENOMEM"\n')
    rc, _, err = run_cli(capsys, "run", f)
    assert rc == 1
    assert "step 3 (mlock): succeeded, expected ENOMEM" in err


def test_expect_signal(capsys, tmp_path) -> None:
    extra = """
[[step]]
do = "mprotect"
region = "heap"
prot = "r"

[[step]]
do = "write"
region = "heap"
length = "4KiB"
%s
"""
    rc, _, err = run_cli(capsys, "run", scenario(tmp_path, extra % 'expect_signal = "SIGSEGV"'))
    assert (rc, err) == (0, "")
    rc, _, err = run_cli(capsys, "run", scenario(tmp_path, extra % ""))
    assert rc == 1 and "step 4 (write): SIGSEGV at 0x" in err


def test_read_expect_mismatch(capsys, tmp_path) -> None:
    f = scenario(tmp_path, '\n[[step]]\ndo = "read"\nregion = "heap"\nexpect = 5\n')
    rc, _, err = run_cli(capsys, "run", f)
    assert rc == 1
    assert "step 3 (read): read 0x7" in err and "expected 0x5" in err


def test_process_policy_places_pages(capsys, tmp_path) -> None:
    base = BASE.replace('name = "app"', 'name = "app"\ninterleave = "0-1"')
    f = scenario(tmp_path, """
[[step]]
do = "check"
region = "heap"
thp_on_node = [{node = 0, count = 2}, {node = 1, count = 2}]
pages_on_node = [{node = 0, count = 1024}, {node = 1, count = 1024}]
""", base=base)
    rc, _, err = run_cli(capsys, "run", f)
    assert (rc, err) == (0, "")


def test_show_path_with_process_name_and_grep(capsys, tmp_path) -> None:
    f = scenario(tmp_path, """
[[step]]
do = "show"
path = "/proc/app/smaps"
grep = "AnonHugePages"
""")
    rc, out, _ = run_cli(capsys, "run", f)
    assert rc == 0
    assert "# step 3: cat /proc/1/smaps\nAnonHugePages:      8192 kB\n" in out


def test_file_write_step_and_contains_check(capsys, tmp_path) -> None:
    f = scenario(tmp_path, """
[[step]]
do = "write"
path = "/sys/kernel/mm/transparent_hugepage/enabled"
data = "never"

[[step]]
do = "check"
contains = {path = "/sys/kernel/mm/transparent_hugepage/enabled", text = "[never]"}
not_contains = {path = "/proc/app/numa_maps", text = "N1="}
""")
    rc, _, err = run_cli(capsys, "run", f)
    assert (rc, err) == (0, "")


def test_verbose_and_json(capsys) -> None:
    path = str(EXAMPLES / "fork-cow.toml")
    rc, out, _ = run_cli(capsys, "run", path, "-v")
    assert rc == 0
    assert "step 3 fork (parent): 2\n" in out
    rc, out, _ = run_cli(capsys, "run", path, "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] and doc["failure"] is None
    assert [r["do"] for r in doc["steps"]][:3] == ["mmap", "write", "fork"]
    assert doc["profile"] == "seed" and doc["seed"] == 6


def test_json_failure(capsys, tmp_path) -> None:
    f = scenario(tmp_path, '\n[[step]]\ndo = "check"\nthp_on_node = {node = 1, count = 1}\n')
    rc, out, _ = run_cli(capsys, "run", f, "--json")
    doc = json.loads(out)
    assert rc == 1 and not doc["ok"]
    assert "node 1 holds 0 THPs of the machine, expected 1" in doc["failure"]


def test_at_stops_after_step_n(tmp_path) -> None:
    sc = load(scenario(tmp_path))
    st = run(sc, at=1)
    assert [r["do"] for r in st.records] == ["mmap"]
    assert "N0=" not in st.machine.fs.read(f"/proc/{st.procs['app'].pid}/numa_maps")
    st = run(sc)
    assert "N0=2048" in st.machine.fs.read(f"/proc/{st.procs['app'].pid}/numa_maps")


def test_runs_are_deterministic(capsys) -> None:
    path = str(EXAMPLES / "migrate-pages-thp.toml")
    outs = [run_cli(capsys, "numastat", "--scenario", path)[1] for _ in range(2)]
    assert outs[0] == outs[1] and "numa_hit" in outs[0]


def test_profile_and_switch_override_the_file(capsys, tmp_path) -> None:
    sc = load(scenario(tmp_path))
    assert run(sc, at=0).machine.profile.name == "seed"
    assert run(sc, at=0, profile="mainline").machine.profile.name == "mainline"
    # a kernel version in the file or on the command line: mainline with its switch set
    f = scenario(tmp_path, base=BASE.replace("seed = 7", 'seed = 7\nprofile = "6.1"'))
    rc, out, _ = run_cli(capsys, "run", f, "--json", "--at", "0")
    assert rc == 0 and json.loads(out)["profile"] == "mainline"
    rc, out, _ = run_cli(capsys, "run", scenario(tmp_path), "--json", "--profile", "7.2")
    assert rc == 0 and json.loads(out)["profile"] == "mainline"
    # --switch wins over the file's switches
    f = scenario(tmp_path, base=BASE.replace(
        "seed = 7", "seed = 7\nswitches = {thp_cow_copies_huge = false}"))
    assert not run(load(f), at=0).machine.profile.thp_cow_copies_huge
    assert run(load(f), at=0, switches={"thp_cow_copies_huge": True}
               ).machine.profile.thp_cow_copies_huge


# ---------------------------------------------------------------- bad input: one line, exit 2
BAD = [
    # (what, scenario text replacing or extending BASE, the error's tail)
    ("unknown step key", BASE + '\n[[step]]\ndo = "mlock"\nregion = "heap"\nlenght = 4096\n',
     "step 3 (mlock): unknown key 'lenght'"),
    ("unknown step kind", BASE + '\n[[step]]\ndo = "mlockall"\n',
     "step 3: do = 'mlockall' is not a step kind"),
    ("missing do", BASE + '\n[[step]]\nregion = "heap"\n', "step 3: missing key 'do'"),
    ("unknown region", BASE + '\n[[step]]\ndo = "munmap"\nregion = "stack"\n',
     "step 3 (munmap): region: no region 'stack' defined before this step (defined: heap)"),
    ("region used before it is mapped",
     BASE.replace('do = "write"\nregion = "heap"', 'do = "write"\nregion = "later"')
     + '\n[[step]]\ndo = "mmap"\nregion = "later"\nsize = "2MiB"\n',
     "step 2 (write): region: no region 'later' defined before this step"),
    ("unknown process", BASE + '\n[[step]]\ndo = "exit"\nprocess = "ghost"\n',
     "step 3 (exit): process: no process 'ghost' (known: app)"),
    ("wrong type", BASE + '\n[[step]]\ndo = "fork"\nchild = 3\n',
     "step 3 (fork): child must be a non-empty string, not 3"),
    ("bad size", BASE.replace('size = "8MiB"', 'size = "8 parsecs"'),
     "step 1 (mmap): size: '8 parsecs' is not a size"),
    ("bad node list", BASE + '\n[[step]]\ndo = "migrate_pages"\nfrom = "0"\nto = "1-3"\n',
     "step 3 (migrate_pages): to: <1-3> is invalid: no node 2 (the machine has 0-1)"),
    ("bad node list syntax", BASE + '\n[[step]]\ndo = "migrate_pages"\nfrom = "zero"\nto = "1"\n',
     "step 3 (migrate_pages): from: <zero> is invalid: 'zero' is not a node number or range"),
    ("unknown machine key", BASE.replace("cpus = 4", "cpu = 4"),
     "[machine]: unknown key 'cpu'"),
    ("unknown switch", BASE.replace("seed = 7", "seed = 7\nswitches = {no_such = true}"),
     "[machine]: switches: unknown profile switch 'no_such'"),
    ("unknown top-level table", BASE + "\n[machines]\n", "unknown key 'machines'"),
    ("no process", BASE.split("[[process]]")[0], "at least one [[process]] table is needed"),
    ("duplicate region", BASE + '\n[[step]]\ndo = "mmap"\nregion = "heap"\nsize = 4096\n',
     "step 3 (mmap): region: 'heap' is already defined"),
    ("conflicting policies", BASE.replace('name = "app"',
                                          'name = "app"\nmembind = "0"\npreferred = 1'),
     "process 1 ('app'): Conflicting policies: --membind and --preferred"),
    ("bad errno name", BASE + '\n[[step]]\ndo = "exit"\nexpect_errno = "EWHATEVER"\n',
     "step 3 (exit): expect_errno must be an errno name"),
    ("bad flag name", BASE + '\n[[step]]\ndo = "madvise"\nregion = "heap"\nadvice = "MADV_FAST"\n',
     "step 3 (madvise): advice: unknown MADV_* name 'MADV_FAST'"),
    ("range past the region", BASE + '\n[[step]]\ndo = "mlock"\nregion = "heap"\noffset = "6MiB"'
     '\nlength = "4MiB"\n',
     "step 3 (mlock): offset 6MiB + length 4MiB goes past the end of region 'heap' (8MiB)"),
    ("check of nothing", BASE + '\n[[step]]\ndo = "check"\nregion = "heap"\n',
     "step 3 (check): nothing to check"),
    ("bad tool", BASE + '\n[[step]]\ndo = "show"\ntool = "top -b"\n',
     "step 3 (show): tool: 'top -b': not a tool"),
    ("bad tool option", BASE + '\n[[step]]\ndo = "show"\ntool = "numastat --bogus"\n',
     "step 3 (show): tool: numastat: unrecognized arguments: --bogus"),
    ("since a later step", BASE + '\n[[step]]\ndo = "check"\nsince = 4\nvmstat = {pgfault = 1}\n',
     "step 3 (check): since: 4 is not a step before this one (1-3)"),
    ("numactl policy in a show step", BASE + '\n[[step]]\ndo = "show"\ntool = "numactl -m 1"\n',
     "step 3 (show): tool: numactl: inside a scenario only --hardware and --show"),
    ("too large a machine", BASE.replace('["128MiB", "128MiB"]', '["2TiB", "2TiB"]'),
     "this machine (2 nodes, 4TiB) would take about"),
]


@pytest.mark.parametrize("what,text,tail", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, what, text, tail) -> None:
    f = scenario(tmp_path, base=text)
    rc, out, err = run_cli(capsys, "run", f)
    assert rc == 2, err
    assert err.startswith(f"thpsim run: error: {f}: ")
    assert tail in err
    assert err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("what,text,tail", [b for b in BAD if b[0] != "too large a machine"],
                         ids=[b[0] for b in BAD if b[0] != "too large a machine"])
def test_bad_input_is_found_before_the_machine_is_built(what, text, tail) -> None:
    with pytest.raises(UsageError, match=re.escape(tail)):
        loads(text, "f.toml")


def test_missing_file_and_toml_syntax(capsys, tmp_path) -> None:
    rc, _, err = run_cli(capsys, "run", str(tmp_path / "nope.toml"))
    assert (rc, err) == (2, f"thpsim run: error: {tmp_path / 'nope.toml'}: no such file\n")
    f = scenario(tmp_path, base="[machine\nnodes = 1\n")
    rc, _, err = run_cli(capsys, "run", f)
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith(f"thpsim run: error: {f}: TOML syntax error: ") and "line 1" in err


def test_host_memory_estimate_and_limit(capsys, tmp_path) -> None:
    sc = loads(BASE.replace('["128MiB", "128MiB"]', '["1GiB", "1GiB"]'))
    est = estimate_host_bytes(sc)
    # the model's measured cost: tens of MiB per simulated GiB, not hundreds
    assert 2 * (5 << 20) < est - (64 << 20) < 2 * (64 << 20)
    mib = est >> 20
    f = scenario(tmp_path, base=BASE.replace('["128MiB", "128MiB"]', '["1GiB", "1GiB"]'))
    rc, _, err = run_cli(capsys, "run", f, "--max-host-mib", str(mib - 1), "--at", "0")
    assert rc == 2
    assert f"would take about {mib} MiB of host memory; the limit is {mib - 1} MiB" in err
    rc, _, err = run_cli(capsys, "run", f, "--max-host-mib", str(mib + 1), "--at", "0")
    assert (rc, err) == (0, "")
    assert DEFAULT_MAX_HOST_MIB == 8192


def test_loads_rejects_non_tables() -> None:
    with pytest.raises(UsageError, match="step 1: must be a table"):
        loads("step = [1]\n" + BASE.split("[[step]]")[0])
