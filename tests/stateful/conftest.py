"""Hypothesis profiles for the differential test.

``ci`` (the default): derandomized, so every CI run replays the same sequences; ``nightly``:
many more and longer random sequences. Pick with ``HYPOTHESIS_PROFILE=nightly``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, stateful_step_count=80, derandomize=True,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=1500, stateful_step_count=200,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
