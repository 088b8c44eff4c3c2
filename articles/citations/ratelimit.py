"""A request rate shared by every process that uses the same cache (Redis): all workers, all machines.

NCBI allows 3 requests a second without an API key (10 with one); Crossref's pools allow a few a second.
The limit belongs to our site, not to one worker, so it cannot live in process memory.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache

# Requests are spaced a little wider than the limit: a thread that wakes a few tens of milliseconds late
# must not put one request too many into the service's one-second window.
MARGIN = 1.1


class RateLimiter:
    """At most `per_second` calls a second, shared by every process using the same cache.

    Time is cut into slots of MARGIN/per_second s; a caller claims the next free slot with an atomic
    cache.add (Redis SET NX) and sleeps until the slot starts.
    """

    def __init__(self, name: str, per_second: float) -> None:
        self.name = name
        self.interval = MARGIN / per_second

    def wait(self) -> None:
        slot = math.ceil(time.time() / self.interval)
        while not cache.add(f"ratelimit:{self.name}:{slot}", 1, timeout=60):
            slot += 1
        time.sleep(max(0.0, slot * self.interval - time.time()))
