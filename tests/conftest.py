"""Shared test fixtures and the Hypothesis profiles (CI: derandomized, no deadline)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def machine():
    from thpsim import Machine

    return Machine(nodes={0: 256 << 20, 1: 256 << 20}, block_size=128 << 20, check=True)
