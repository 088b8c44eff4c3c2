"""Celery tasks. Thin: each takes ids, calls plain functions, and owns only its retry policy."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "worker-heartbeat"


@shared_task
def heartbeat() -> str:
    """Leaves the time in the shared cache so /healthz can tell when a worker last ran a job."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now
