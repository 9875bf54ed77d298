"""Fixed-seed stress runs must do exactly what they did when these digests were recorded.

A run's digest covers every round's schedule, each operation's result in order and the
final /proc/vmstat. Restructuring and speed work must not change kernel behaviour, so
these stay fixed; a change that is meant to alter behaviour (a model fix) re-records
them in the same commit and says why. Recorded at 5f344ec plus the digest itself;
re-recorded when cpuset limits moved into the allocator (issue 10, ALLOC_CPUSET): a
THP fault on a CPU whose node the task's cpuset excludes no longer gets a THP on an
allowed node (mempolicy's second copy of alloc_pages_mpol() put it there; the kernel
tries the THP on the local node only, except mainline's reclaiming retry).
"""

from __future__ import annotations

import pytest

from thpsim.stress.harness import run_stress
from thpsim.stress.workload import StressConfig

GOLDEN = [
    ("seed", 1, dict(rounds=12, migrators=2),
     "b642b323d1f8308029598467df5f1ef3fa2414b3c7296ffb47944ccd1d6c079a"),
    ("seed", 2, dict(rounds=12, migrators=2),
     "44bf0801419201c71b163b375fa3fdcfe1fe506d2030a1868de63d72bb74113b"),
    ("seed", 3, dict(rounds=12, migrators=2),
     "fea37cf2bfd674497725e9777407ed72aab4a4d9ebc8bc58168f62fa5f9841d5"),
    ("mainline", 1, dict(rounds=12, migrators=2),
     "0d72adb9574417570a84d4511d4dc4c7cdc34674b1c756c5f3e34bd5b58f880d"),
    ("mainline", 2, dict(rounds=12, migrators=2),
     "82b14af281bb01e3e813ce9a8b5af0b67f990de6ee55bf1a1d2589c48ec10679"),
    ("mainline", 3, dict(rounds=12, migrators=2),
     "73fd5e4391cc1ac29bc8b6d6e9ce9df9ad64c4b489e82643dfc9c8deaf9a92ac"),
    ("seed", 11, dict(rounds=40, migrators=2, policy="pct"),
     "a771ca6e50a957f57222a314fd034f9809dd57c3f81cd8119ede30bae1b89045"),
    ("mainline", 12, dict(rounds=40, migrators=2, user_threads=3),
     "022c6564ccda56d1b4e6d6b174fbd867b88948c33b481902f1cd0c3431e78a48"),
]


@pytest.mark.parametrize("profile,seed,kw,digest", GOLDEN,
                         ids=[f"{p}-{s}" for p, s, _, _ in GOLDEN])
def test_stress_digest_unchanged(profile: str, seed: int, kw: dict, digest: str) -> None:
    r = run_stress(StressConfig(profile=profile, **kw), seed)
    assert r.failure is None, r.failure
    assert r.digest == digest, (
        f"stress run (profile {profile}, seed {seed}, {kw}) behaves differently: "
        f"digest {r.digest}")


def test_digest_sees_a_change() -> None:
    """The digest is not a constant: another seed, or one more round, changes it."""
    a = run_stress(StressConfig(rounds=3), 5).digest
    assert a == run_stress(StressConfig(rounds=3), 5).digest
    assert a != run_stress(StressConfig(rounds=3), 6).digest
    assert a != run_stress(StressConfig(rounds=4), 5).digest
