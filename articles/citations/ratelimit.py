"""A request rate shared by every process that uses the same cache (Redis): all workers, all machines.

NCBI allows 3 requests a second without an API key (10 with one); Crossref's pools allow a few a second.
The limit belongs to our site, not to one worker, so it cannot live in process memory.
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Iterator

from django.core.cache import cache

# Requests are spaced wider than the limit, because the service counts arrivals, not our send times: a
# request opening a new connection (a TLS handshake) arrives a couple of hundred milliseconds after one on
# a kept-alive connection sent at the same moment, and a thread may wake late. Measured on loopback with
# two workers, the first arrival lagged 0.12-0.15 s; 20 % leaves 0.2 s of slack in every window.
MARGIN = 1.2


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


class HostSlots:
    """At most `per_host` requests to one host at once, across every process sharing the cache.

    A slot is a cache key taken with an atomic add and a lease (so a worker killed mid-request frees it
    after `lease` seconds); whoever finds all slots taken polls until one frees or `wait` runs out.
    """

    POLL_SECONDS = 0.05

    def __init__(self, per_host: int, *, lease: float, wait: float) -> None:
        self.per_host = max(1, per_host)
        self.lease = lease
        self.wait = wait

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[bool]:
        """Yields True holding a slot, or False when none freed in time (the caller goes ahead regardless:
        a politeness limit must not turn into a failed check)."""
        key = self._take(host)
        try:
            yield key is not None
        finally:
            if key is not None:
                cache.delete(key)

    def _take(self, host: str) -> str | None:
        token = uuid.uuid4().hex
        give_up = time.monotonic() + self.wait
        while True:
            for number in range(self.per_host):
                key = f"hostslot:{host}:{number}"
                if cache.add(key, token, timeout=math.ceil(self.lease)):
                    return key
            if time.monotonic() >= give_up:
                return None
            time.sleep(self.POLL_SECONDS)
