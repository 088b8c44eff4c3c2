"""Celery tasks. Thin: each takes ids, calls plain functions, and owns only its retry policy."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "worker-heartbeat"


@shared_task
def send_review_reminders() -> dict[str, int]:
    """Daily: remind reviewers of overdue reviews and list approved articles due for re-review."""
    from .reminders import send_review_reminders as sweep

    return sweep(timezone.now())


@shared_task
def heartbeat() -> str:
    """Leaves the time in the shared cache so /healthz can tell when a worker last ran a job."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now


# 1, 2 then 4 minutes between attempts: enough for a brief outage or a rate-limit window to pass.
METADATA_RETRY_SECONDS = 60


@shared_task(bind=True, max_retries=3)
def fetch_reference_metadata(self, reference_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Fills new library entries from Crossref/PubMed; an unreachable service is retried, then recorded."""
    # Imported when run: references.py queues this task, so importing it here at load time would be circular.
    from .citations import ServiceUnreachable
    from .references import fill_metadata, mark_metadata_failed

    try:
        fill_metadata(reference_ids)
    except ServiceUnreachable as exc:
        if self.request.retries >= self.max_retries:
            mark_metadata_failed(reference_ids, f"The metadata service could not be reached: {exc}")
            return
        raise self.retry(exc=exc, countdown=METADATA_RETRY_SECONDS * 2**self.request.retries) from exc


@shared_task
def erase_expired_reader_emails() -> int:
    """Daily: readers' email addresses are kept only FEEDBACK_EMAIL_RETENTION_DAYS after receipt."""
    from .feedback import erase_expired_emails

    return erase_expired_emails(timezone.now())
