"""Shared set-up for benchmarks: Django against a throwaway test database, timing and query counting."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentreview.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

# whitenoise warns on every request when collectstatic has never run; the folder is gitignored.
Path(settings.STATIC_ROOT).mkdir(exist_ok=True)

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


@contextmanager
def scratch_database() -> Iterator[None]:
    """A fresh test database for the run (never the development data), dropped afterwards."""
    setup_test_environment(debug=False)  # as in production
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def measure(label: str, call: Callable[[], Any], *, repeat: int = 20) -> None:
    call()  # warm-up: template and URL caches
    with CaptureQueriesContext(connection) as queries:
        call()
    query_count = len(queries)  # read now: the capture is a lazy slice of a log later requests clear
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * 1000)
    print(
        f"{label:<60} queries={query_count:>3}  median={statistics.median(timings):7.2f} ms"
        f"  p90={sorted(timings)[int(repeat * 0.9) - 1]:7.2f} ms  (n={repeat}, {connection.vendor})"
    )
