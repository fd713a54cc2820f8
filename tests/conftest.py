"""Shared test setup: a private certificate cache and a deterministic hypothesis profile."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Never read or write the user's certificate cache from the tests.
os.environ.setdefault("PGCHECK_CACHE_DIR", tempfile.mkdtemp(prefix="pgcheck-test-cache-"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the MJX tests last. They import JAX, whose threads live on in the pytest process, and the
    validator forks a child per check (its time budget): a fork of a multithreaded process can deadlock,
    so no validator test may run after JAX is imported."""
    items.sort(key=lambda item: item.get_closest_marker("mjx") is not None)   # a stable sort keeps the rest
