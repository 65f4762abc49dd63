"""A local Ray runtime for the tests that need one (started once per module, small)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """Ray with ``num_cpus`` CPUs for the block (one already running is used and left)."""
    import ray

    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            object_store_memory=128 * 1024 * 1024,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()
