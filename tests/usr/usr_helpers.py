"""Helpers shared by the tests of thpsim.usr: write a scenario, run a command in-process."""

from __future__ import annotations

from pathlib import Path

from thpsim.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

#: A small machine and one process with 8 MiB of THPs on node 0 (steps 1-2).
BASE = """\
[machine]
nodes = ["128MiB", "128MiB"]
cpus = 4
seed = 7

[[process]]
name = "app"

[[step]]
do = "mmap"
region = "heap"
size = "8MiB"
align = "2MiB"

[[step]]
do = "write"
region = "heap"
"""


def scenario(tmp_path: Path, extra: str = "", base: str = BASE, name: str = "s.toml") -> str:
    """Write ``base + extra`` to a file under ``tmp_path``; returns its path."""
    p = tmp_path / name
    p.write_text(base + extra)
    return str(p)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``thpsim ARGV`` in-process: (exit status, stdout, stderr)."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err
