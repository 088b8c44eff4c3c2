"""Liveness of the parts the site depends on, for /healthz and monitoring."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from kombu import Connection

from .tasks import HEARTBEAT_CACHE_KEY

BROKER_TIMEOUT_SECONDS = 2


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict[str, Any]:
    # Read the URL at call time so the check follows the settings actually in force.
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "transport": transport}


def last_worker_heartbeat() -> str | None:
    """Informational: a stale heartbeat means beat or the workers stopped, not that the site is down."""
    try:
        heartbeat: str | None = cache.get(HEARTBEAT_CACHE_KEY)
        return heartbeat
    except Exception:
        return None


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {"database": check_database(), "broker": check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "worker_heartbeat": last_worker_heartbeat(),
    }
