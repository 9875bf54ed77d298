"""A tiered machine: a fast node with every CPU and a slow node without CPUs.

Model-only (a machine configuration, not a kernel mechanism). The slow node is what
a CXL memory expander or persistent memory looks like to Linux: a CPU-less NUMA node
farther away. The cost model prices it through its per-node table
(``node1.latency_ns``, ``node1.bandwidth_gbs``: ``CostParams(nodes={1: NodeCost(...)})``,
docs/modeled-time.md): a load from the CPUs' node pays ``latency_ns`` of the slow node
plus ``remote_latency_ns`` per hop, a copy runs at the lowest of the two nodes' and the
interconnect's bandwidth.

Simplified: the kernel's memory tiers (mm/memory-tiers.c: abstract distances, the
demotion targets) are not modeled; a policy is told which node is fast and which slow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from thpsim import Machine

__all__ = ["TieredTopology", "FAST", "SLOW"]

#: node ids of the two tiers
FAST, SLOW = 0, 1
MiB = 1 << 20


@dataclass(frozen=True)
class TieredTopology:
    """The machine option: node sizes, CPUs (all on the fast node), the slow node's
    modeled latency and bandwidth, the SLIT distance between them, and the TLB sizes.

    ``tlb_entries`` defaults to 1,536 4 KiB and 32 2 MiB entries (a Skylake core: a
    1,536-entry second-level TLB, a 32-entry first-level one for 2 MiB pages): idle
    tracking clears accessed bits without a TLB flush (mm/page_idle.py), so an access
    sets the bit again only when its translation was evicted; a TLB that holds the
    whole working set for ever would hide every access from every policy.
    """

    fast_mib: int = 256
    slow_mib: int = 512
    cpus: int = 2
    slow_latency_ns: float = 200.0
    slow_bandwidth_gbs: float = 4.0
    distance: int = 20
    tlb_entries: tuple[int, int] = (512, 8)

    def describe(self) -> dict[str, Any]:
        """The topology as plain data (for reports)."""
        return {"fast_node": FAST, "slow_node": SLOW, "fast_mib": self.fast_mib,
                "slow_mib": self.slow_mib, "cpus": self.cpus,
                "slow_latency_ns": self.slow_latency_ns,
                "slow_bandwidth_gbs": self.slow_bandwidth_gbs, "distance": self.distance,
                "tlb_entries": list(self.tlb_entries)}

    def cost_params(self, base: Mapping[str, float] | None = None) -> dict[str, float]:
        """The cost table in its flat form (the cost_params file's names, as
        ``thpsim calibrate --out`` writes it): ``base`` (default: the shipped table)
        with the slow node's entries set."""
        out = dict(base or {})
        out[f"node{SLOW}.latency_ns"] = self.slow_latency_ns
        out[f"node{SLOW}.bandwidth_gbs"] = self.slow_bandwidth_gbs
        return out

    def machine(self, profile: str = "seed", seed: int = 0,
                params: Mapping[str, float] | None = None, **options: Any) -> Machine:
        """A Machine with this topology and the cost model on."""
        return Machine(nodes={FAST: self.fast_mib * MiB, SLOW: self.slow_mib * MiB},
                       cpus={FAST: self.cpus, SLOW: 0}, profile=profile, seed=seed,
                       distance={(FAST, SLOW): self.distance, (SLOW, FAST): self.distance},
                       tlb_entries=self.tlb_entries, shadow=False,
                       modeled_time=self.cost_params(params), **options)
