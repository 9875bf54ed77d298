"""Fixtures for the /proc and /sys view tests (helpers live in fs_helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["seed", "mainline"])
def profile(request) -> str:
    """Run a test under both behaviour profiles (4.14 formats and mainline ones)."""
    return request.param
