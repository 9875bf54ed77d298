"""thpsim.fuzz: the ApiFuzzer state machine in both profiles, the Machine(...) property,
the runner and ``thpsim fuzz`` (a finding's reproducer replays), and the fuzzer's own
checks (each can fail)."""

from __future__ import annotations

import errno
import io
import json
import sys
import types

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, rule

import thpsim.api
from thpsim import Machine
from thpsim.cli import main
from thpsim.errors import ConfigError
from thpsim.fuzz import MACHINES, load, runner
from thpsim.fuzz.syscalls import (
    ERRNOS,
    KNOWN_FINDINGS,
    PARTIAL,
    STATS,
    ApiFuzzer,
    Finding,
    machine_config_strategy,
)

LAYOUT = {0: 256 << 20, 1: 256 << 20}


@pytest.mark.parametrize("profile", ["seed", "mainline"])
def test_api_fuzzer(profile):
    """The state machine under the CI profile (derandomized), a small budget per
    profile: every call's outcome is documented, the invariant checker passes, reads
    return what was written, failed argument checks change nothing."""
    cls = ApiFuzzer.for_profile(profile)
    STATS.reset()
    cls.TestCase.settings = settings(settings.default, max_examples=12, stateful_step_count=30)
    cls.TestCase().runTest()
    assert STATS.examples >= 12 and STATS.steps > 12
    assert sum(STATS.calls.values()) > 0


@given(machine_config_strategy())
def test_bad_machine_arguments_are_config_errors(kw):
    """Machine(...) with anything invalid raises ConfigError, never another exception;
    what it builds runs a process."""
    switches = kw.pop("switches", {})
    kw.setdefault("host_memory", 1 << 40)
    try:
        m = Machine(**kw, **switches)
    except ConfigError:
        return
    p = m.spawn()
    assert p.pid > 0


def test_the_tables_name_real_calls():
    assert set(MACHINES) >= {"api"} and load("api") is ApiFuzzer
    assert {call for call, _ in PARTIAL} <= set(ERRNOS)
    for name, text in KNOWN_FINDINGS.items():
        assert name and text


# ---------------------------------------------------------------- the checks can fail
def _booted(profile="seed"):
    fz = ApiFuzzer.for_profile(profile)()
    fz.boot(layout=LAYOUT, profile=profile, thp="always")
    return fz


def test_a_failed_call_that_changed_something_is_a_finding(monkeypatch):
    """A planted defect: mprotect of an unaligned address changes the page's protection
    and then fails with EINVAL. The "a failed call changed nothing" check sees it."""
    real = thpsim.api._Syscalls.mprotect

    def half_done(self, addr, length, prot):
        if addr & 0xFFF:
            real(self, addr & ~0xFFF, 4096, prot)
            raise OSError(errno.EINVAL, "planted")
        return real(self, addr, length, prot)

    fz = _booted()
    fz.mprotect(p=0, sel=0, ak="vma_start", lk="pages", prot=3)  # the real one: fine
    monkeypatch.setattr(thpsim.api._Syscalls, "mprotect", half_done)
    with pytest.raises(Finding, match="failed with EINVAL but changed the machine"):
        fz.mprotect(p=0, sel=0, ak="unaligned", lk="pages", prot=1)


def test_an_errno_linux_does_not_give_is_a_finding(monkeypatch):
    def enotty(self, *args):
        raise OSError(errno.ENOTTY, "planted")

    fz = _booted("mainline")
    monkeypatch.setattr(thpsim.api._Syscalls, "munlock", enotty)
    with pytest.raises(Finding, match="errno ENOTTY is not one Linux gives for munlock"):
        fz.munlock(p=0, sel=0, ak="vma_start", lk="pages")


def test_an_internal_exception_is_not_swallowed(monkeypatch):
    def boom(self, *args):
        raise KeyError("planted")

    fz = _booted()
    monkeypatch.setattr(thpsim.api._Syscalls, "madvise", boom)
    with pytest.raises(KeyError):
        fz.madvise(p=0, sel=0, ak="vma_start", lk="pages", advice=4)


def test_a_wrong_value_is_a_finding():
    """The fuzzer's own record of written values: a value it did not write is caught
    (here the record is made wrong, as a lost write would make the read wrong)."""
    fz = _booted()
    fz.access(p=0, sel=0, ak="vma_start", n=1, write=True)
    pr = fz.procs[0]
    (addr, value), = pr.known.items()
    pr.known[addr] = value ^ 1
    with pytest.raises(Finding, match="was written last"):
        fz.integrity()


# ---------------------------------------------------------------- the runner and the CLI
class Tiny(RuleBasedStateMachine):
    """A deliberately failing machine: it fails once x > 900 in the mainline profile."""

    PROFILE = None

    @rule(x=st.integers(0, 1000))
    def step(self, x):
        if self.PROFILE == "mainline":
            assert x <= 900, f"planted failure at {x}"


@pytest.fixture
def tiny(monkeypatch):
    mod = types.ModuleType("thpsim.fuzz.tiny_for_tests")
    mod.Tiny = Tiny
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(MACHINES, "tiny", "tiny_for_tests:Tiny")
    return mod


def test_a_short_run_prints_a_summary(tmp_path):
    out = io.StringIO()
    found = runner.run(["api"], minutes=0.001, seed=1, profiles=("seed",), out_dir=tmp_path,
                       per_run=1, steps=5, out=out)
    text = out.getvalue()
    assert found == 0, text
    assert "--- thpsim fuzz summary" in text
    assert "examples: 1  steps: " in text and "findings: 0" in text
    assert "calls by kind: " in text and "outcomes: " in text
    assert not list(tmp_path.iterdir())


def test_a_finding_is_saved_and_both_replay_commands_reproduce_it(tiny, tmp_path):
    out = io.StringIO()
    found = runner.run(["tiny"], minutes=0.001, seed=3, profiles=("seed", "mainline"),
                       out_dir=tmp_path, per_run=50, steps=5, out=out)
    text = out.getvalue()
    assert found == 1, text
    (path,) = tmp_path.iterdir()
    rec = json.loads(path.read_text())
    assert rec["machine"] == "tiny" and rec["profile"] == "mainline"
    assert "planted failure" in rec["error"] and "state.step(x=" in rec["falsifying_example"]
    assert rec["reproduce_failure"] is not None
    replay, again = [line.split("replay: ", 1)[1] for line in text.splitlines()
                     if "replay: " in line]
    assert replay == f"thpsim fuzz --replay {path}"
    assert main(replay.split()[1:]) == 1          # the blob reproduces it
    assert main(again.split()[1:] + ["--out", str(tmp_path / "again")]) == 1  # the search
    (again_path,) = (tmp_path / "again").iterdir()
    assert json.loads(again_path.read_text())["error"] == rec["error"]
    # a blob that no longer fits the machine (its rules changed): the search replays it
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(rec | {"reproduce_failure": [rec["reproduce_failure"][0],
                                                             "b'AAAA'"]}))
    out = io.StringIO()
    assert runner.replay(stale, out=out) == 1
    assert "replaying the search instead" in out.getvalue()


def test_a_missing_machine_module_is_skipped(monkeypatch, tmp_path):
    monkeypatch.setitem(MACHINES, "gone", "no_such_module:Gone")
    out = io.StringIO()
    assert runner.run(["gone"], 0.001, out_dir=tmp_path, out=out) == 0
    assert "machine 'gone' skipped: thpsim.fuzz.no_such_module is not installed" \
        in out.getvalue()


def test_cli_without_hypothesis(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "hypothesis" else real(name, *a))
    assert main(["fuzz", "--minutes", "0.01"]) == 2
    assert "pip install 'thpsim[fuzz]'" in capsys.readouterr().err
