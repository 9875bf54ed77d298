"""The zoo's catalog: one :class:`Bug` per historical bug, with its detectors.

Model-only. A bug is a set of profile switches (``bug_*`` in thpsim/profiles.py,
off in every profile) that brings the historical code back, the profile it is run
in, and the detectors ``thpsim zoo`` tries, in order, with a fixed budget. A
detector never knows the answer: it is the default stress mix (or a named
StressConfig option a user would plausibly turn on), or a scheduler over a named
race scenario of :mod:`thpsim.scenarios`, with the model's general checks.

Entries live in one module per area (``bugs_pmd.py``: the PMD-level races of the
seed series, ``bugs_entry.py``: entry formats and their bits, ``bugs_acct.py``:
accounting); each defines ``BUGS: list[Bug]`` and this module gathers them into
``CATALOG`` (by bug id) the first time it is asked for, from ENTRY_MODULES.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

# CATALOG is served by __getattr__ below (built on first use)
__all__ = ["Detector", "Bug", "DETECTOR_KINDS", "ENTRY_MODULES"]

#: stress: the stress harness (thpsim.stress); explore: the bounded exhaustive explorer
#: over a scenario; random / pct: that many runs of a scenario under the random or the
#: PCT scheduler
DETECTOR_KINDS = ("stress", "explore", "random", "pct")


@dataclass(frozen=True)
class Detector:
    kind: str                 # "stress" | "explore" | "random" | "pct"
    scenario: str | None = None          # a name in thpsim.scenarios.SCENARIOS (explore/random/pct)
    stress: dict[str, Any] = field(default_factory=dict)  # StressConfig overrides (kind "stress")
    budget: int = 100         # stress: rounds; explore: preemption bound; random/pct: runs


@dataclass(frozen=True)
class Bug:
    id: str                   # "B1"
    title: str
    switches: dict[str, Any]  # what brings the bug back, e.g.
    #                           {"bug_b3_pmd_migration_no_flush": True}
    profile: str              # the profile it is run in ("seed" for 4.14-era code, else "mainline")
    symptom: str              # what the model reports when it is found (e.g. "lost write")
    fix: str                  # the kernel fix: commit id, title, version
    detectors: tuple[Detector, ...]   # in the order `thpsim zoo` tries them
    doc: str                  # "docs/zoo/b01.md"


#: the modules whose ``BUGS`` make up the catalog (one per area; each imports this
#: module for Bug and Detector, so they are loaded by name when CATALOG is first asked for)
ENTRY_MODULES = (
    "thpsim.zoo.bugs_pmd",
    "thpsim.zoo.bugs_entry",
    "thpsim.zoo.bugs_acct",
)


def _gather() -> dict[str, Bug]:
    out: dict[str, Bug] = {}
    for name in ENTRY_MODULES:
        for bug in importlib.import_module(name).BUGS:
            if bug.id in out:
                raise ValueError(f"bug {bug.id} defined twice ({name})")
            out[bug.id] = bug
    return dict(sorted(out.items(), key=lambda kv: int(kv[0][1:])))


_catalog: dict[str, Bug] | None = None


def __getattr__(name: str) -> Any:
    """``CATALOG``: every bug of the zoo, by id ("B1" ... "B20"), in numeric order; built
    on first use, so an entry module may import this one first."""
    global _catalog
    if name == "CATALOG":
        if _catalog is None:
            _catalog = _gather()
        return _catalog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
