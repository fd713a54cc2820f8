"""Shared test setup: a private certificate cache and a deterministic hypothesis profile."""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Never read or write the user's certificate cache from the tests.
os.environ.setdefault("PGCHECK_CACHE_DIR", tempfile.mkdtemp(prefix="pgcheck-test-cache-"))
