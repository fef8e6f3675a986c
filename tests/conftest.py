from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["p0f.testing.pytest_plugin"]

settings.register_profile(
    "fast", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("P0F_HYPOTHESIS_PROFILE", "fast"))
