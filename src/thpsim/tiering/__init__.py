"""Memory tiering on the model (docs/tiering.md): a tiered machine (a fast node with
the CPUs, a slow CPU-less node with its own modeled latency and bandwidth), workload
generators over a THP-backed working set, and user-space placement policies that see
only what Linux shows user space (``/sys/kernel/mm/page_idle/bitmap``,
``/proc/PID/pagemap``, ``/proc/kpageflags``, ``numa_maps``, ``move_pages`` queries) and
act only through its system calls (``move_pages``, ``mbind``, ``migrate_pages``), and,
for comparison, the kernel's own NUMA balancing (``numab``: a sysctl write;
docs/numa-balancing.md).

A tool package: it reaches the machine through ``thpsim``'s public API only
(tests/test_layers.py). ``thpsim experiment tiering`` (thpsim.experiment.tiering)
compares the policies.
"""

from thpsim.tiering.policies import (
    POLICIES,
    DamonPolicy,
    HotColdPolicy,
    NonePolicy,
    NumaBalancingPolicy,
    Policy,
)
from thpsim.tiering.topology import TieredTopology
from thpsim.tiering.view import AccessView, TieringEnv
from thpsim.tiering.workload import PATTERNS, Workload

__all__ = ["POLICIES", "PATTERNS", "Policy", "NonePolicy", "HotColdPolicy", "DamonPolicy",
           "NumaBalancingPolicy", "TieredTopology", "TieringEnv", "AccessView", "Workload"]
