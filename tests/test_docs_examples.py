"""docs/examples.md runs: its Python blocks in order in one namespace, each line of its
``sh`` blocks as a command (through the real entry point, in a fresh directory that
sees the repository's examples/). A worked example that stops working fails here."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "examples.md"
BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", re.M | re.S)


def _blocks(kind: str) -> list[str]:
    return [body for k, body in BLOCK.findall(PAGE.read_text()) if k == kind]


def test_the_page_has_both_kinds_of_block():
    assert len(_blocks("python")) >= 5 and len(_blocks("sh")) >= 2


def test_python_examples_run():
    ns: dict = {"__name__": "docs_examples"}
    for i, body in enumerate(_blocks("python")):
        code = compile(body, f"docs/examples.md python block {i + 1}", "exec")
        exec(code, ns)  # noqa: S102 - the page's own examples


def _commands() -> list[str]:
    return [line for body in _blocks("sh") for line in body.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("examples")
    os.symlink(ROOT / "examples", d / "examples")
    return d


@pytest.mark.parametrize("line", _commands())
def test_command_examples_run(workdir, line):
    """Each command exits 0 (in order: the campaign lines build the store the report
    line reads; pytest runs parametrized cases in the page's order)."""
    argv = shlex.split(line.split("  #")[0])
    assert argv[0] == "thpsim", line
    r = subprocess.run([sys.executable, "-m", "thpsim", *argv[1:]], cwd=workdir,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (line, r.stdout[-2000:], r.stderr[-2000:])
