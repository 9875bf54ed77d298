"""Fixed-seed stress runs must do exactly what they did when these digests were recorded.

A run's digest covers every round's schedule, each operation's result in order and the
final /proc/vmstat. Restructuring and speed work must not change kernel behaviour, so
these stay fixed; a change that is meant to alter behaviour (a model fix) re-records
them in the same commit and says why. Recorded at 5f344ec plus the digest itself.
"""

from __future__ import annotations

import pytest

from thpsim.stress.harness import run_stress
from thpsim.stress.workload import StressConfig

GOLDEN = [
    ("seed", 1, dict(rounds=12, migrators=2),
     "0890bb023b519bb5e92e6cfbac89f4b9c58aa082375d4eb35dd39b12fa6add63"),
    ("seed", 2, dict(rounds=12, migrators=2),
     "42e6a1fe7bb933a5e89793a756e23df1bf866ae4c33d6027ae53fd7c23e3a19c"),
    ("seed", 3, dict(rounds=12, migrators=2),
     "4918e7a3ad5fa69320a8f33f6e77a70206c2ffb5643a78ed287683fd99142e89"),
    ("mainline", 1, dict(rounds=12, migrators=2),
     "0d72adb9574417570a84d4511d4dc4c7cdc34674b1c756c5f3e34bd5b58f880d"),
    ("mainline", 2, dict(rounds=12, migrators=2),
     "4787b52ff1d19101eca0e9b86e39b166b05623e04ffde19883c0cfdd99391729"),
    ("mainline", 3, dict(rounds=12, migrators=2),
     "49ed9f2b57fc8c5bbb046f8cf06cd30f6eefd6fe1072c060bc31d87a40adf5df"),
    ("seed", 11, dict(rounds=40, migrators=2, policy="pct"),
     "fcdd0f97c1318b9eae38bac9225cf2d292f9551366e04d09585dc45edd3831e8"),
    ("mainline", 12, dict(rounds=40, migrators=2, user_threads=3),
     "827617403ad095f6b773b98d5ad0ec297ebb80818d0017e546dc9b1808a14481"),
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
