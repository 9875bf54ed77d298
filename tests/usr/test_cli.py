"""thpsim.usr.cli through the real entry point (``python -m thpsim``): exit statuses,
one-line errors, output on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from usr_helpers import EXAMPLES, REPO


def _thpsim(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "thpsim", *argv], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO)


def test_run_an_example() -> None:
    r = _thpsim("run", "examples/mbind-move-thp.toml")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "bind:1 anon=2048 dirty=2048 N1=2048" in r.stdout
    assert r.stdout.endswith("examples/mbind-move-thp.toml: 7 steps, 1 checks passed: ok\n")


def test_a_failing_check_is_exit_1(tmp_path) -> None:
    f = tmp_path / "fail.toml"
    f.write_text((EXAMPLES / "cpuset-move.toml").read_text().replace(
        "thp_on_node = {node = 1, count = 2}", "thp_on_node = {node = 0, count = 2}"))
    r = _thpsim("run", str(f))
    assert r.returncode == 1
    assert r.stderr == (f"thpsim run: FAIL: {f}: step 5 (check): thp_on_node: node 0 holds "
                        f"0 THPs of region 'heap', expected 2\n")


def test_bad_input_is_exit_2_one_line(tmp_path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[machine]\nnodes = ["128MiB"]\n[[process]]\nname = "p"\n'
                 '[[step]]\ndo = "mmap"\nregion = "r"\nsize = "2MiB"\nprto = "rw"\n')
    r = _thpsim("run", str(f))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"thpsim run: error: {f}: step 1 (mmap): unknown key 'prto'")
    assert r.stderr.count("\n") == 1


def test_tools_through_the_entry_point() -> None:
    r = _thpsim("numactl", "--scenario", "examples/move-pages-thp.toml", "--hardware")
    assert r.returncode == 0 and r.stdout.startswith("available: 2 nodes (0-1)\nnode 0 cpus: 0 1\n")
    r = _thpsim("proc", "--scenario", "examples/move-pages-thp.toml", "/proc/app/numa_maps")
    assert r.returncode == 0 and " N1=2048 " in r.stdout
    r = _thpsim("proc", "--scenario", "examples/move-pages-thp.toml", "/proc/nope")
    assert r.returncode == 2
    assert r.stderr == "thpsim proc: error: /proc/nope: No such file or directory\n"


def test_proc_binary_file_by_offset() -> None:
    # fork-cow's region is the 2 MiB-aligned 4 MiB below 0x7f0000000000 (top-down mmap)
    r = _thpsim("run", "examples/fork-cow.toml", "--json")
    addr = json.loads(r.stdout)["steps"][0]["result"]
    off = (addr >> 12) * 8
    r = _thpsim("proc", "--scenario", "examples/fork-cow.toml", "/proc/parent/pagemap",
                "--offset", str(off), "--length", "16")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split(": ")[0] for ln in lines] == [hex(off), hex(off + 8)]
    words = [int(ln.split(": ")[1], 16) for ln in lines]
    assert all(w >> 63 for w in words)  # present
    assert (words[1] & ((1 << 55) - 1)) == (words[0] & ((1 << 55) - 1)) + 1  # one THP
