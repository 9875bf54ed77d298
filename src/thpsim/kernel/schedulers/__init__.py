"""Scheduling policies for the interleaving driver, one small module each."""

from thpsim.errors import ConfigError
from thpsim.kernel.schedulers.dfs import DfsScheduler
from thpsim.kernel.schedulers.pct import PctScheduler
from thpsim.kernel.schedulers.random import RandomScheduler
from thpsim.kernel.schedulers.replay import ReplayScheduler
from thpsim.kernel.schedulers.round_robin import RoundRobinScheduler

__all__ = [
    "DfsScheduler",
    "PctScheduler",
    "RandomScheduler",
    "ReplayScheduler",
    "RoundRobinScheduler",
    "make_scheduler",
]


def make_scheduler(policy: str, seed: int = 0, **kw):
    """``random``, ``pct`` (depth=), ``rr`` (quantum=), ``dfs`` (preemption_bound=), or a
    schedule string to replay."""
    if policy.startswith("s1."):
        return ReplayScheduler(policy)
    if policy == "random":
        return RandomScheduler(seed)
    if policy == "pct":
        return PctScheduler(seed, **kw)
    if policy in ("rr", "round-robin"):
        return RoundRobinScheduler(seed, **kw)
    if policy == "dfs":
        return DfsScheduler(**kw)

    raise ConfigError(f"unknown scheduling policy {policy!r}")
