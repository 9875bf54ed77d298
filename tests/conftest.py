"""Shared test fixtures and the Hypothesis profiles (CI: derandomized, no deadline)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from mm_helpers import numa_machine

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
    """Two 256 MiB nodes, the invariant checker on (mm_helpers.numa_machine())."""
    return numa_machine()
