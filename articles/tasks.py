"""Celery tasks. Thin: each takes ids, calls plain functions, and owns only its retry policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
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


# Attempts after the first, with METADATA_RETRY_SECONDS times 1, 2, 4 between them (1, 2, 4 minutes by default):
# enough for a brief outage or a rate-limit window to pass.
METADATA_MAX_RETRIES = 3
# SQLite gives up on a write with "database is locked" once another process has held the file longer than
# its busy timeout (a long sweep batch in the web's way); a background job pauses and tries again rather
# than failing. PostgreSQL waits on row locks (up to lock_timeout) and never says this.
LOCKED_ATTEMPTS = 5
LOCKED_PAUSE_SECONDS = 0.2


@shared_task(bind=True, max_retries=METADATA_MAX_RETRIES)
def fetch_reference_metadata(self, reference_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Fills new library entries from Crossref/PubMed; an unreachable service is retried, then recorded."""
    # Imported when run: references.py queues this task, so importing it here at load time would be circular.
    from .citations import ServiceUnreachable
    from .references import fill_metadata, mark_metadata_failed, mark_unreachable

    try:
        while_locked(lambda: fill_metadata(reference_ids))
    except ServiceUnreachable as exc:
        if self.request.retries >= self.max_retries:
            message = f"The service could not be reached in {self.max_retries + 1} attempts ({exc})."
            while_locked(lambda: mark_metadata_failed(reference_ids, message))
            return
        countdown = settings.METADATA_RETRY_SECONDS * 2**self.request.retries
        retry_at = timezone.now() + timedelta(seconds=countdown)
        error = str(exc)
        while_locked(lambda: mark_unreachable(reference_ids, error, retry_at=retry_at))
        raise self.retry(exc=exc, countdown=countdown) from exc


def while_locked(work: Callable[[], Any]) -> None:
    """Runs a database write, again after a short pause while SQLite says the database is locked."""
    for attempt in range(LOCKED_ATTEMPTS):
        try:
            work()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == LOCKED_ATTEMPTS - 1:
                raise
            time.sleep(LOCKED_PAUSE_SECONDS * (attempt + 1))


@shared_task
def requeue_owed_work() -> dict[str, int]:
    """Beat: queues again the work a queue outage left owed (see articles/jobs.py)."""
    from .jobs import requeue_owed_work as sweep

    return sweep(timezone.now())


# A mail server refusing is not retried here: the try is recorded with its next time, and the sweep
# queues it again then. The database refusing (SQLite busy, PostgreSQL restarting) is, after 1, 2, 4 s.
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def send_reader_reply(feedback_id: int) -> bool:
    """A reply email to a reader that the mail server did not take at first, queued by the owed-work sweep."""
    from .feedback import send_reply

    return send_reply(feedback_id)


@shared_task
def erase_expired_reader_emails() -> int:
    """Daily: readers' email addresses are kept only FEEDBACK_EMAIL_RETENTION_DAYS after receipt."""
    from .feedback import erase_expired_emails

    return erase_expired_emails(timezone.now())


# --- The citation watch -------------------------------------------------------------------------------
# Acknowledged only after they ran, and put back if the worker dies (acks_late, reject_on_worker_lost):
# every step is safe to run twice (see articles.watch), so a lost worker costs time, never a duplicate.
# A step the database refused (SQLite busy past its timeout, PostgreSQL restarting) runs again after about
# 1, 2, 4, 8, 16 s; otherwise its references would wait for their claim to lapse, and the sweep would
# never show finished.
watch_task = shared_task(
    acks_late=True, reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)


def _enqueue(plan: Any) -> dict[str, Any]:
    for batch in plan.batches:
        check_citation_batch.delay(batch.as_message())
    return {"run": plan.run, "references": plan.reference_count, "batches": len(plan.batches)}


@watch_task
def sweep_citations() -> dict[str, Any]:
    """Daily (beat): claims the due references and fans their batches out over every worker."""
    from . import watch

    return _enqueue(watch.plan_sweep(timezone.now()))


@watch_task
def check_citation_batch(batch: dict[str, Any]) -> int:
    """One checker on one batch of references; its verdicts stored (one transaction), its alerts opened."""
    from . import watch

    planned = watch.Batch(**batch)
    stored = watch.run_batch(planned)
    watch.batch_finished(planned)
    return len(stored)


@watch_task
def check_reference_now(reference_id: int) -> dict[str, Any]:
    """ "Check now" on a library entry."""
    from . import watch

    return _enqueue(watch.plan_check_now([reference_id]))


@watch_task
def check_article_citations(article_id: int) -> dict[str, Any]:
    """ "Check now" on an article, and on every submission: all its references, whenever last checked."""
    from . import watch
    from .models import ArticleReference

    ids = ArticleReference.objects.filter(article_id=article_id).values_list("reference_id", flat=True)
    return _enqueue(watch.plan_check_now(ids))
