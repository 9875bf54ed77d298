"""The stress harness: interleaved workloads, the integrity oracle, reproducers that
replay and shrink, traces. See harness.py and workload.py."""

from thpsim.stress.harness import StressResult, replay_reproducer, run_stress
from thpsim.stress.workload import StressConfig

__all__ = ["StressConfig", "StressResult", "run_stress", "replay_reproducer"]
