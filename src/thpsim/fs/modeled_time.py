"""thpsim's own debugfs directory: the cost model's view (not a Linux interface).

Model-only. With modeled time on (``Machine(modeled_time=True)``, hw/cost.py), the
machine's debugfs has ``/sys/kernel/debug/thpsim/``, read-only, root only (0400, as
debugfs files of the kernel's own debugging aids are):

=================  ==================================================================
modeled_time       modeled nanoseconds per category (rows) and CPU (columns), totals
modeled_events     what the model counted per CPU: TLB hits and misses, walks to a
                   2 MiB and a 4 KiB leaf, faults, flushes, IPIs, bytes copied ...
cost_usage         each parameter's count and linear value (``count x value`` is the
                   ns it contributed; what ``thpsim calibrate`` fits)
cost_params        the machine's parameter table (docs/modeled-time.md)
=================  ==================================================================

Nothing is registered when the model is off, so the tree is the kernel's.
"""

from __future__ import annotations

from typing import Any

__all__ = ["THPSIM_DEBUGFS", "register"]

THPSIM_DEBUGFS = "/sys/kernel/debug/thpsim"


def register(vfs: Any) -> None:
    """The four files, if the machine has a cost model."""
    cost = vfs.ctx.cost
    if cost is None:
        return
    vfs.register_dir(THPSIM_DEBUGFS, mode=0o500)
    for name, render in (("modeled_time", cost.render_time),
                         ("modeled_events", cost.render_events),
                         ("cost_usage", cost.render_usage),
                         ("cost_params", cost.render_params)):
        vfs.register_file(f"{THPSIM_DEBUGFS}/{name}",
                          lambda f, render=render: render(), mode=0o400)
