"""``thpsim fuzz``: run the registered state machines for a time budget.

:func:`run` cycles over the machines (:data:`thpsim.fuzz.MACHINES`) and profiles,
one Hypothesis run of ``examples`` examples after another, each under its own seed
derived from the run's ``--seed`` (:func:`derive_seed`), until the minutes are used
up. Hypothesis settings: no example database, the seed from the command line (so
a run is repeatable), no deadline, the too-slow health checks off.

A failing run is shrunk by Hypothesis and saved as a reproducer (JSON) in ``out_dir``:
the machine, the profile, the seed and example count of that run, the falsifying
example as Hypothesis printed it, its ``@reproduce_failure`` blob, and the error.
Either command printed with it replays the failure::

    thpsim fuzz --replay FILE                        # the blob (same Hypothesis)
    thpsim fuzz --seed S --machine M --profile P --examples N    # the search again

The summary says how many examples and steps ran, the calls by kind, the errnos
seen, and the findings.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from thpsim.fuzz import MACHINES, load

__all__ = ["run", "replay", "derive_seed", "settings_for", "run_one", "PROFILES",
           "DEFAULT_EXAMPLES", "DEFAULT_STEPS"]

PROFILES = ("seed", "mainline")
#: examples per Hypothesis run in a timed run (a run is the unit a reproducer names)
DEFAULT_EXAMPLES = 5
#: steps per example
DEFAULT_STEPS = 30

_BLOB = re.compile(r"@reproduce_failure\('([^']+)', (b'[^']*')\)")


def derive_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th run of a fuzz run seeded ``seed`` (stable across
    Python versions: a SHA-256, not ``hash()``)."""
    h = hashlib.sha256(f"thpsim-fuzz:{seed}:{index}".encode()).digest()
    return int.from_bytes(h[:4], "big")


def settings_for(examples: int, steps: int = DEFAULT_STEPS) -> Any:
    """The Hypothesis settings of one run."""
    from hypothesis import HealthCheck, settings  # optional dependency: loaded on use

    return settings(max_examples=examples, stateful_step_count=steps, database=None,
                    deadline=None, derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much],
                    report_multiple_bugs=False)


def _machine_for(cls: type, profile: str) -> type:
    """The machine class booting ``profile``: its ``for_profile`` if it has one, else a
    subclass with ``PROFILE`` set (the convention every registered machine follows)."""
    maker = getattr(cls, "for_profile", None)
    if maker is not None:
        return maker(profile)
    return type(f"{cls.__name__}_{profile}", (cls,), {"PROFILE": profile})


def run_one(cls: type, profile: str, seed: int, examples: int, steps: int = DEFAULT_STEPS,
            blob: tuple[str, str] | None = None) -> BaseException | None:
    """One Hypothesis run of machine ``cls`` in ``profile``; the exception it failed
    with (its ``__notes__`` carry the falsifying example), or None."""
    import hypothesis  # optional dependency: loaded on use
    from hypothesis.stateful import run_state_machine_as_test  # optional dependency

    machine = hypothesis.seed(seed)(_machine_for(cls, profile))
    if blob is not None:
        machine = hypothesis.reproduce_failure(blob[0], ast.literal_eval(blob[1]))(machine)
    try:
        run_state_machine_as_test(machine, settings=settings_for(examples, steps))
    except Exception as e:  # every failure is a finding: the reproducer says which
        return e
    return None


def _stats_of(cls: type) -> Any:
    """The FuzzStats of a machine's module (``STATS``), or None."""
    return getattr(sys.modules.get(cls.__module__), "STATS", None)


def _load(name: str, out: TextIO) -> type | None:
    """The machine registered as ``name``; None (with a message) when its module is not
    there. Only the registered module's own absence is forgiven: an ImportError inside
    it is a bug and propagates."""
    module = f"thpsim.fuzz.{MACHINES[name].split(':')[0]}"
    try:
        return load(name)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        print(f"thpsim fuzz: machine {name!r} skipped: {module} is not installed", file=out)
        return None


def _write_reproducer(out_dir: Path, record: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{record['machine']}-{record['profile']}-{record['seed']}.json"
    path = out_dir / name
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def _record(name: str, profile: str, seed: int, examples: int, steps: int,
            err: BaseException) -> dict[str, Any]:
    notes = [str(n) for n in getattr(err, "__notes__", ())]
    text = "\n".join(notes)
    blob = _BLOB.search(text)
    return {
        "machine": name, "profile": profile, "seed": seed, "examples": examples,
        "steps": steps, "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(type(err), err, err.__traceback__,
                                                        limit=-8)),
        "falsifying_example": text,
        "reproduce_failure": [blob[1], blob[2]] if blob else None,
    }


def _commands(record: dict[str, Any], path: Path) -> list[str]:
    return [f"thpsim fuzz --replay {path}",
            f"thpsim fuzz --seed {record['seed']} --machine {record['machine']} "
            f"--profile {record['profile']} --examples {record['examples']} "
            f"--steps {record['steps']}"]


def run(machine_names: list[str], minutes: float, seed: int = 0,
        profiles: tuple[str, ...] = PROFILES, out_dir: str | Path = "fuzz-findings", *,
        examples: int | None = None, steps: int = DEFAULT_STEPS,
        per_run: int = DEFAULT_EXAMPLES, out: TextIO | None = None) -> int:
    """Fuzz ``machine_names`` in ``profiles`` for ``minutes``; returns the number of
    findings (each saved in ``out_dir``). ``examples`` given: exactly one run per
    machine and profile, of that many examples, under ``seed`` itself (what a
    reproducer's second command does); else runs of ``per_run`` examples under
    derived seeds until the time is up (at least one run per machine and profile)."""
    out = sys.stdout if out is None else out
    out_dir = Path(out_dir)
    classes = {n: c for n in machine_names if (c := _load(n, out)) is not None}
    stats = {id(s): s for c in classes.values() if (s := _stats_of(c)) is not None}
    for s in stats.values():
        s.reset()
    jobs = [(n, p) for n in classes for p in profiles]
    findings: list[tuple[dict[str, Any], Path]] = []
    runs: Counter[str] = Counter()
    start = time.monotonic()
    deadline = start + minutes * 60
    index = 0
    while jobs:
        name, profile = jobs[index % len(jobs)]
        run_seed = seed if examples is not None else derive_seed(seed, index)
        n = examples if examples is not None else per_run
        err = run_one(classes[name], profile, run_seed, n, steps)
        runs[f"{name}/{profile}"] += 1
        index += 1
        if err is not None:
            rec = _record(name, profile, run_seed, n, steps, err)
            path = _write_reproducer(out_dir, rec)
            findings.append((rec, path))
            print(f"FINDING in {name}/{profile} (seed {run_seed}): {rec['error'][:300]}",
                  file=out)
            for cmd in _commands(rec, path):
                print(f"  replay: {cmd}", file=out)
        if examples is not None and index >= len(jobs):
            break
        if examples is None and time.monotonic() >= deadline and index >= len(jobs):
            break
    _summary(out, time.monotonic() - start, runs, list(stats.values()), findings)
    return len(findings)


def _summary(out: TextIO, elapsed: float, runs: Counter[str], stats: list[Any],
             findings: list[tuple[dict[str, Any], Path]]) -> None:
    print(f"--- thpsim fuzz summary ({elapsed:.1f} s)", file=out)
    print("runs: " + ", ".join(f"{k} {v}" for k, v in sorted(runs.items())), file=out)
    calls: Counter[str] = Counter()
    errnos: Counter[str] = Counter()
    ex = steps = 0
    for s in stats:
        ex += s.examples
        steps += s.steps
        calls.update(s.calls)
        errnos.update(s.errnos)
    print(f"examples: {ex}  steps: {steps}  calls: {sum(calls.values())}", file=out)
    print("calls by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())),
          file=out)
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(errnos.items())), file=out)
    print(f"findings: {len(findings)}", file=out)
    for rec, path in findings:
        print(f"  {path}: {rec['machine']}/{rec['profile']} seed {rec['seed']}: "
              f"{rec['error'].splitlines()[0][:200]}", file=out)


def replay(path: str | Path, out: TextIO | None = None) -> int:
    """Replay a reproducer file: with its ``@reproduce_failure`` blob when this
    Hypothesis is the one that wrote it, else by running the same search (seed and
    example count) again. Returns 1 if the failure reproduced, 0 if not."""
    out = sys.stdout if out is None else out
    rec = json.loads(Path(path).read_text())
    cls = _load(rec["machine"], out)
    if cls is None:
        return 2
    import hypothesis  # optional dependency: loaded on use
    import hypothesis.errors  # optional dependency: loaded on use

    blob = rec.get("reproduce_failure")
    if blob and blob[0] != hypothesis.__version__:
        print(f"blob from Hypothesis {blob[0]}, this is {hypothesis.__version__}: "
              f"replaying the search instead", file=out)
        blob = None
    steps = rec.get("steps", DEFAULT_STEPS)
    err = run_one(cls, rec["profile"], rec["seed"], rec["examples"], steps,
                  tuple(blob) if blob else None)
    if isinstance(err, hypothesis.errors.DidNotReproduce):
        print("the blob no longer fits the machine (its rules changed): replaying the "
              "search instead", file=out)
        err = run_one(cls, rec["profile"], rec["seed"], rec["examples"], steps)
    if err is None:
        print(f"{path}: did not reproduce", file=out)
        return 0
    print(f"{path}: reproduced: {type(err).__name__}: {err}", file=out)
    for note in getattr(err, "__notes__", ()):
        print(note, file=out)
    return 1

