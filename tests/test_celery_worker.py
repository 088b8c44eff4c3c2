"""A real worker consumes a task from the real Redis broker and its result comes back."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from articles.tasks import HEARTBEAT_CACHE_KEY, heartbeat


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_runs_heartbeat_through_the_broker(celery_worker, client) -> None:
    cache.delete(HEARTBEAT_CACHE_KEY)
    result = heartbeat.delay()
    stamp = result.get(timeout=20)
    assert result.successful()
    assert cache.get(HEARTBEAT_CACHE_KEY) == stamp
    assert client.get("/healthz").json()["worker_heartbeat"] == stamp
