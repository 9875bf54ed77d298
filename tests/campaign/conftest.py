"""Helpers for the campaign tests: the ``thpsim`` command in a subprocess, tiny runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

#: Tiny runs: two 128 MiB nodes, four rounds (about 0.1-0.3 s each).
TINY = ["--node-mib", "128", "--rounds", "4"]


def thpsim_env() -> dict[str, str]:
    """The environment for a ``python -m thpsim`` child: this tree's sources first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def run_thpsim(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    """``python -m thpsim ARGS`` in ``cwd`` (the real entry point), output captured."""
    return subprocess.run([sys.executable, "-m", "thpsim", *args], cwd=cwd, env=thpsim_env(),
                          capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def thpsim(tmp_path):
    """``thpsim(*args)``: run the command in a fresh directory (tmp_path)."""
    return lambda *args: run_thpsim(*args, cwd=tmp_path)


@pytest.fixture
def thpsim_command(tmp_path):
    """``(argv prefix, env)`` to start ``python -m thpsim`` yourself (Popen)."""
    return [sys.executable, "-m", "thpsim"], thpsim_env()
