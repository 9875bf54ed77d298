"""Access patterns over a THP-backed working set, deterministic from a seed.

Model-only. The working set is ``nr_thp`` 2 MiB chunks (each faulted in as a THP);
an access picks a chunk by the pattern and a 4 KiB page in it uniformly, and is one
64-bit load of that page by the workload's thread. Patterns:

* ``uniform``: every chunk equally likely (no policy can help; shows their overhead);
* ``zipf``: chunk of popularity rank ``r`` (1-based) with probability ``1 / r**s``
  normalised; the rank of each chunk is a seeded permutation, so hot chunks are spread
  over the range (and over both tiers at the start);
* ``phase``: Zipfian, with the permutation drawn anew every ``phase_ticks`` ticks
  (the hot set moves).

All randomness comes from one ``random.Random(seed)`` owned by the workload, drawn in
a fixed order: the same seed gives the same accesses.
"""

from __future__ import annotations

import itertools
import random

from thpsim import HPAGE_PMD_SIZE, PAGE_SIZE

__all__ = ["Workload", "PATTERNS"]

PATTERNS = ("uniform", "zipf", "phase")
_PAGES_PER_CHUNK = HPAGE_PMD_SIZE // PAGE_SIZE


class Workload:
    """``ticks`` of ``accesses_per_tick`` loads over ``nr_thp`` chunks."""

    def __init__(self, pattern: str = "zipf", nr_thp: int = 32, seed: int = 0,
                 zipf_s: float = 1.2, phase_ticks: int = 2500):
        if pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}, not {pattern!r}")
        if nr_thp < 1 or phase_ticks < 1 or zipf_s < 0:
            raise ValueError("nr_thp and phase_ticks must be >= 1, zipf_s >= 0")
        self.pattern = pattern
        self.nr_thp = nr_thp
        self.zipf_s = zipf_s
        self.phase_ticks = phase_ticks
        self.rng = random.Random(seed)
        s = 0.0 if pattern == "uniform" else zipf_s
        self.cum_weights = list(itertools.accumulate(1.0 / (r ** s)
                                                     for r in range(1, nr_thp + 1)))
        self.rank_to_chunk = self._permutation()
        self.phase = 0

    def _permutation(self) -> list[int]:
        order = list(range(self.nr_thp))
        self.rng.shuffle(order)
        return order

    def tick(self, tick: int, nr: int) -> list[int]:
        """The byte offsets (into the working set) of the ``nr`` loads of ``tick``."""
        if self.pattern == "phase" and tick and tick % self.phase_ticks == 0:
            self.rank_to_chunk = self._permutation()
            self.phase += 1
        rng = self.rng
        ranks = rng.choices(range(self.nr_thp), cum_weights=self.cum_weights, k=nr)
        chunks = self.rank_to_chunk
        return [chunks[r] * HPAGE_PMD_SIZE + rng.randrange(_PAGES_PER_CHUNK) * PAGE_SIZE
                for r in ranks]

    def hot_chunks(self, n: int) -> list[int]:
        """The ``n`` most popular chunks of the current phase (for reports and tests)."""
        return self.rank_to_chunk[:n]
