"""Django's Redis cache, keeping one Redis client per connection pool.

Django's client builds a new `redis.Redis` (and its table of ~170 response callbacks) for every cache
operation; on a stored page that one cost is a third of the request. The pools, and so the connections,
are Django's own; each thread still has its own cache object (django.core.cache.caches is per thread).
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis import Redis


class _OneClientPerPool(RedisCacheClient):
    def __init__(self, servers: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(servers, *args, **kwargs)
        # With replicas Django picks a server per read; keep its behaviour there, share the client otherwise.
        self._single_server = len(servers) == 1
        self._shared: Redis | None = None

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        if not self._single_server:
            return super().get_client(key, write=write)
        if self._shared is None:
            self._shared = super().get_client(key, write=True)
        return self._shared


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _OneClientPerPool
