"""Running the zoo: each bug's detectors with a fixed budget and seed, then the shrunk
reproducer, its replay, and the same replay with the bug's switches off.

Model-only tooling. For one bug and one seed, :func:`hunt` tries the bug's
detectors in catalog order until one reports a failure:

* ``stress``: :func:`thpsim.stress.run_stress` for ``budget`` rounds, the default mix
  with the detector's StressConfig overrides;
* ``explore``: the bounded exhaustive explorer over a scenario, ``budget`` being the
  preemption bound (the seed does not matter: the search is deterministic);
* ``random`` / ``pct``: ``budget`` runs of a scenario under that scheduler, the
  runs' seeds following from the hunt's seed.

None of them knows the bug: they run the model's general checks (the integrity
oracle, the invariant checker, KernelBug, the scenarios' end checks). What found
it, the symptom, the wall time and the scheduling steps until the failure, and the
replay command are recorded. :func:`confirm` then shrinks the reproducer (stress:
:func:`thpsim.stress.shrink.shrink_reproducer`; a scenario: its schedule, one context
switch at a time), replays the shrunk one to the same failure signature, and
replays it once more with the bug's switches off: that run follows the recorded
schedule as far as it still applies (a lenient replay) and must pass ("passes now").
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from thpsim.scenarios import replay_command, run_scenario
from thpsim.stress.harness import (
    failure_signature,
    load_reproducer,
    replay_reproducer,
    run_stress,
    save_reproducer,
)
from thpsim.stress.shrink import shrink_reproducer
from thpsim.stress.workload import StressConfig
from thpsim.testing import DfsScheduler, Failure, ReplayScheduler, Schedule, make_scheduler
from thpsim.zoo.catalog import Bug, Detector

__all__ = ["Finding", "Hunt", "hunt", "confirm", "run_bug", "all_off", "symptom_of",
           "scenario_signature", "replay_stress", "replay_scenario", "detector_name"]

#: where ``thpsim zoo`` writes stress reproducers unless told otherwise
DEFAULT_OUT = "thpsim-zoo"


@dataclass
class Finding:
    """One detector's report of a failure (or of nothing, ``failure`` None)."""

    detector: str                  # "stress", "explore mprotect_vs_migration", ...
    seed: int
    seconds: float                 # wall time of this detector's run, to the failure
    steps: int                     # scheduling steps run until the failure
    runs: int                      # stress rounds, explored interleavings, or scenario runs
    kind: str = ""                 # the failure's kind (integrity, invariant, check, bug...)
    message: str = ""
    signature: str = ""
    schedule: str = ""             # the failing run's (or round's) schedule
    replay: str = ""               # the command that replays it
    #: stress: the saved reproducer; a scenario: (name, profile, switches, schedule)
    reproducer: Any = None

    @property
    def found(self) -> bool:
        return bool(self.kind)


@dataclass
class Hunt:
    """A bug hunted with every detector in turn on one seed."""

    bug: str
    seed: int
    profile: str
    finding: Finding | None        # the first detector that found it, None: nothing did
    tried: list[Finding] = field(default_factory=list)  # every detector run, in order
    seconds: float = 0.0           # wall time to the first detection (all detectors run)
    steps: int = 0                 # scheduling steps to the first detection (all detectors)


def detector_name(d: Detector) -> str:
    if d.kind == "stress":
        extra = ",".join(f"{k}={v}" for k, v in sorted(d.stress.items()))
        return "stress" + (f" ({extra})" if extra else "")
    return f"{d.kind} {d.scenario}"


def symptom_of(message: str) -> str:
    """The first line that says what broke (an invariant report's first checker line)."""
    lines = [x.strip() for x in message.splitlines() if x.strip()]
    if not lines:
        return ""
    head = lines[0]
    if head.startswith("invariant broken") and len(lines) > 1:
        head = lines[1]
    return head if len(head) <= 160 else head[:157] + "..."


def scenario_signature(f: Failure | None) -> str:
    """What "the same failure" of a scenario is: its kind and the message up to its
    first colon (an invariant report: the checkers that fired)."""
    if f is None:
        return ""
    lines = [x.strip() for x in f.message.splitlines() if x.strip()]
    if lines and lines[0].startswith("invariant broken"):
        return f.kind + ":" + ",".join(sorted({x.split(":", 1)[0] for x in lines[1:]}))
    return f.kind + ":" + (lines[0].split(":", 1)[0] if lines else "")


def _switch_args(switches: dict[str, Any]) -> str:
    return " ".join(f"--switch {k}={int(v) if isinstance(v, bool) else v}"
                    for k, v in sorted(switches.items()))


def _off(switches: dict[str, Any]) -> dict[str, Any]:
    """The switches turned off: False for a bool, 0 for an int (a bit position: none)."""
    return {k: (False if isinstance(v, bool) else 0) for k, v in switches.items()}


# ---------------------------------------------------------------- detectors
def run_detector(d: Detector, profile: str, switches: dict[str, Any], seed: int,
                 scale: float = 1.0, out: str = DEFAULT_OUT, tag: str = "zoo") -> Finding:
    """Run one detector with its budget (stress rounds and scenario runs times
    ``scale``, at least 1) on ``seed``; the Finding says whether it failed."""
    t0 = time.perf_counter()
    name = detector_name(d)
    if d.kind == "stress":
        cfg = StressConfig(profile=profile, switches=dict(switches),
                           rounds=max(1, round(d.budget * scale)), **d.stress)
        res = run_stress(cfg, seed)
        fd = Finding(name, seed, time.perf_counter() - t0, res.steps, res.rounds)
        if res.failure is not None:
            path = os.path.join(out, f"{tag}-seed{seed}.json")
            save_reproducer(path, replace(cfg, rounds=res.failed_round + 1), seed, res)
            fd.kind, fd.message = res.failure.kind, res.failure.message
            fd.signature = failure_signature(res.failure)
            fd.schedule = res.failure.schedule.encode()
            fd.reproducer = path
            fd.replay = f"thpsim stress --replay {path}"
        return fd
    assert d.scenario is not None, f"{d.kind} detector without a scenario"
    steps = runs = 0
    failure: Failure | None = None
    if d.kind == "explore":
        sched = DfsScheduler(d.budget, 100_000)
        while sched.new_execution():
            ex = run_scenario(d.scenario, sched, profile, switches)
            steps += len(ex.schedule.steps) if ex.failure is None else len(
                ex.failure.schedule.steps)
            runs += 1
            if ex.failure is not None:
                failure = ex.failure
                break
    elif d.kind in ("random", "pct"):
        kw: dict[str, int] = {}
        if d.kind == "pct":
            probe = make_scheduler("rr", seed)
            probe.new_execution()
            length = len(run_scenario(d.scenario, probe, profile, switches,
                                      seed).schedule.steps)
            kw = {"depth": 3, "max_steps": max(1, length)}
        for i in range(max(1, round(d.budget * scale))):
            s = seed * 100_003 + i
            sched = make_scheduler(d.kind, s, **kw)
            sched.new_execution()
            ex = run_scenario(d.scenario, sched, profile, switches, s)
            runs += 1
            if ex.failure is not None:
                failure = ex.failure
                steps += len(failure.schedule.steps)
                break
            steps += len(ex.schedule.steps)
    else:
        raise ValueError(f"unknown detector kind {d.kind!r}")
    fd = Finding(name, seed, time.perf_counter() - t0, steps, runs)
    if failure is not None:
        fd.kind, fd.message = failure.kind, failure.message
        fd.signature = scenario_signature(failure)
        fd.schedule = failure.schedule.encode()
        fd.reproducer = (d.scenario, profile, dict(switches), fd.schedule)
        fd.replay = replay_command(d.scenario, profile, switches, fd.schedule)
    return fd


def hunt(bug: Bug, seed: int, scale: float = 1.0, out: str = DEFAULT_OUT,
         switches: dict[str, Any] | None = None, profile: str | None = None) -> Hunt:
    """Try the bug's detectors in order on ``seed`` until one finds a failure.
    ``switches``/``profile`` override the bug's own (the all-off runs)."""
    sw = bug.switches if switches is None else switches
    prof = bug.profile if profile is None else profile
    h = Hunt(bug.id, seed, prof, None)
    for d in bug.detectors:
        fd = run_detector(d, prof, sw, seed, scale, out, tag=f"{bug.id.lower()}")
        h.tried.append(fd)
        h.seconds += fd.seconds
        h.steps += fd.steps
        if fd.found:
            h.finding = fd
            break
    return h


# ---------------------------------------------------------------- replays
def replay_stress(path: str, switches: dict[str, Any] | None = None) -> tuple[Any, bool]:
    """Replay a stress reproducer, the switches in ``switches`` overriding its own;
    strictly first, and where the recorded schedule no longer fits (a divergence),
    again leniently: the schedule followed as far as it applies. Returns (the
    StressResult, whether the schedule fitted)."""
    res = replay_reproducer(path, switches=switches)
    if res.failure is None or res.failure.kind != "divergence":
        return res, True
    return replay_reproducer(path, switches=switches, lenient=True), False


def replay_scenario(name: str, profile: str, switches: dict[str, Any], schedule: str,
                    lenient: bool = False) -> Any:
    """One run of a scenario under a recorded schedule (strict, or ``lenient``)."""
    sched = ReplayScheduler(schedule, strict=not lenient)
    sched.new_execution()
    return run_scenario(name, sched, profile, switches, sched.schedule.seed)


def _runs(steps: tuple[int, ...]) -> int:
    """A schedule's length as the runs of one CPU (each ends at a context switch)."""
    return sum(1 for i in range(len(steps)) if i == 0 or steps[i] != steps[i - 1])


def shrink_schedule(name: str, profile: str, switches: dict[str, Any], schedule: str,
                    sig: str) -> str:
    """Remove context switches from a failing scenario schedule while it still fails
    the same way (a lenient replay keeps the running CPU where the shortened record
    no longer fits); returns the shortest schedule found, re-recorded."""
    best = Schedule.decode(schedule)
    steps = list(best.steps)
    i = 1
    while i < len(steps):
        if steps[i] != steps[i - 1]:
            cand = steps[:i] + [steps[i - 1]] + steps[i + 1:]
            ex = replay_scenario(name, profile, switches,
                                 Schedule(best.seed, tuple(cand)).encode(), lenient=True)
            if ex.failure is not None and scenario_signature(ex.failure) == sig and (
                    _runs(ex.failure.schedule.steps) < _runs(tuple(steps))):
                best = ex.failure.schedule
                steps = list(best.steps)
                continue
        i += 1
    return best.encode()


@dataclass
class Confirmation:
    """The shrunk reproducer, its replay, and the replay with the switches off."""

    shrunk_length: int             # stress: operations + schedule runs; scenario: runs
    original_length: int
    replay: str                    # the command replaying the shrunk reproducer
    replays_same: bool             # the shrunk reproducer fails with the same signature
    passes_now: bool               # ... and passes with the bug's switches off
    passes_now_replay: str         # the command for that
    schedule_fitted: bool          # the switches-off replay followed the whole schedule
    reproducer: Any = None


def confirm(bug: Bug, fd: Finding, out: str = DEFAULT_OUT, shrink: bool = True,
            shrink_seconds: float | None = 60.0) -> Confirmation:
    """Shrink the finding's reproducer (a stress one for at most ``shrink_seconds``),
    replay it, replay it with the switches off."""
    off = _off(bug.switches)
    if fd.detector.startswith("stress"):
        path = fd.reproducer
        cfg, seed, rnd, schedule, _ = load_reproducer(path)
        before = cfg.size() + _runs(Schedule.decode(schedule).steps)
        if shrink:
            base, ext = os.path.splitext(path)
            before, after, path = shrink_reproducer(path, f"{base}.min{ext}", extra_seeds=1,
                                                    seconds=shrink_seconds)
        else:
            after = before
        again, _ = replay_stress(path)
        same = again.failure is not None and failure_signature(again.failure) == fd.signature
        fixed, fitted = replay_stress(path, off)
        return Confirmation(after, before, f"thpsim stress --replay {path}", same,
                            fixed.failure is None,
                            f"thpsim stress --replay {path} {_switch_args(off)}", fitted,
                            path)
    name, profile, switches, schedule = fd.reproducer
    before = _runs(Schedule.decode(schedule).steps)
    if shrink:
        schedule = shrink_schedule(name, profile, switches, schedule, fd.signature)
    again = replay_scenario(name, profile, switches, schedule)
    same = again.failure is not None and scenario_signature(again.failure) == fd.signature
    strict = replay_scenario(name, profile, {**switches, **off}, schedule)
    fitted = strict.failure is None or strict.failure.kind != "divergence"
    fixed = strict if fitted else replay_scenario(name, profile, {**switches, **off},
                                                  schedule, lenient=True)
    plain = {k: v for k, v in switches.items() if k not in bug.switches}
    return Confirmation(_runs(Schedule.decode(schedule).steps), before,
                        replay_command(name, profile, switches, schedule), same,
                        fixed.failure is None,
                        replay_command(name, profile, plain, schedule), fitted,
                        (name, profile, switches, schedule))


# ---------------------------------------------------------------- a bug over seeds
@dataclass
class BugReport:
    """A bug hunted on several seeds: the table row of ``thpsim zoo``."""

    bug: str
    title: str
    profile: str
    switches: dict[str, Any]
    found: int                     # seeds on which some detector found it
    seeds: int
    found_by: str                  # the detectors that found it, with their seed counts
    symptom: str
    median_seconds: float | None   # over the seeds where it was found
    median_steps: int | None
    hunts: list[Hunt]
    confirmation: Confirmation | None
    doc: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return d


def run_bug(bug: Bug, seeds: int = 1, scale: float = 1.0, out: str = DEFAULT_OUT,
            shrink: bool = True, shrink_seconds: float | None = 60.0) -> BugReport:
    """Hunt ``bug`` on seeds 0..seeds-1; confirm the first finding (shrink, replay,
    passes now)."""
    hunts = [hunt(bug, s, scale, out) for s in range(seeds)]
    found = [h for h in hunts if h.finding is not None]
    first = found[0].finding if found else None
    conf = confirm(bug, first, out, shrink, shrink_seconds) if first is not None else None
    counts: dict[str, int] = {}
    for h in found:
        assert h.finding is not None
        counts[h.finding.detector] = counts.get(h.finding.detector, 0) + 1
    order = [detector_name(d) for d in bug.detectors]
    by = ", ".join(f"{n} ({counts[n]})" if len(found) > 1 else n
                   for n in order if n in counts)
    return BugReport(
        bug.id, bug.title, bug.profile, dict(bug.switches), len(found), seeds,
        by or "-",
        symptom_of(first.message) if first else "-",
        statistics.median(h.seconds for h in found) if found else None,
        int(statistics.median(h.steps for h in found)) if found else None,
        hunts, conf, bug.doc)


def all_off(bugs: list[Bug], seeds: int = 1, scale: float = 1.0,
            profiles: tuple[str, ...] = ("seed", "mainline"),
            out: str = DEFAULT_OUT) -> list[tuple[str, str, Finding]]:
    """Every bug's detectors with the same budgets and seeds, every switch off, in each
    profile: returns (bug, profile, finding) for every run; any finding with a
    failure is a false alarm. Identical runs (the same detector, profile and seed
    for several bugs) run once."""
    done: dict[tuple[Any, ...], Finding] = {}
    rows = []
    for bug in bugs:
        for profile in profiles:
            for seed in range(seeds):
                for d in bug.detectors:
                    key = (d.kind, d.scenario, tuple(sorted(d.stress.items())), d.budget,
                           profile, seed)
                    if key not in done:
                        done[key] = run_detector(d, profile, {}, seed, scale, out,
                                                 tag=f"off-{profile}")
                    rows.append((bug.id, profile, done[key]))
    return rows
