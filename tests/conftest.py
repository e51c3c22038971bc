"""Shared pytest configuration: Hypothesis profiles.

* ``ci``: bounded, reproducible runs (``derandomize``), no deadline (shared CI machines are
  slow and JIT compilation makes first calls long), failures print a reproduction blob.
* ``dev``: the local default; more examples, random exploration, still no deadline.

The profile is ``$HYPOTHESIS_PROFILE`` when set, else ``ci`` when ``$CI`` is set, else ``dev``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
