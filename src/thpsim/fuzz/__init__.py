"""The hostile-input fuzzer: Hypothesis state machines over the public API and the VFS.

A tool (docs/ARCHITECTURE.md): it imports only the public seams (``thpsim``,
``thpsim.api``, ``thpsim.testing``, ``thpsim.errors``, ``thpsim.profiles``), as a user's
program would. Each machine drives a :class:`thpsim.Machine` with hostile arguments mixed
with real work and checks after every call what a kernel test would: the outcome is one
Linux documents, an errno is the one Linux gives, a call that failed changed nothing,
every page reads what was last written to it, and the invariant checker passes.

``MACHINES`` names the state machines ``thpsim fuzz --machine`` can run; each entry is
``"module:Class"`` under this package, imported on use (Hypothesis is needed only here:
``pip install 'thpsim[fuzz]'``). A machine boots the profile named by its class attribute
``PROFILE`` ("seed" or "mainline"); the runner (:mod:`thpsim.fuzz.runner`) makes one
subclass per profile (the class's ``for_profile(name)`` if it has one, else a subclass
setting ``PROFILE``). A machine module may keep a ``STATS`` object (``reset()``,
``examples``, ``steps``, ``calls`` and ``errnos`` counters, see
:class:`thpsim.fuzz.syscalls.FuzzStats`) for the run's summary.
"""

from __future__ import annotations

import importlib

#: name -> "module:RuleBasedStateMachine subclass" in this package
MACHINES: dict[str, str] = {
    "api": "syscalls:ApiFuzzer",
    "files": "files:FilesFuzzer",
}


def load(name: str) -> type:
    """The state machine class registered as ``name`` (KeyError if none)."""
    module, cls = MACHINES[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
