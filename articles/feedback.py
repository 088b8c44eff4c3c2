"""Reader questions and problem reports: receiving them, the writers' moderation, and forgetting emails.

A reader sends a follow-up question or a problem report from an article page. It lands in a backlog for the
article's writers (problem reports also for its reviewers of record), who accept it (linked to the article
that takes it up), answer it (one reply email through the configured backend), decline it with a reason, or
mark it spam. Each decision is a conditional write from "new", so two moderators clicking at once give one
decision and one email. Views, tasks and the admin call these functions; none sets `status` itself.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from . import jobs, notifications, roles, tasks
from .models import Article, ReaderFeedback
from .reminders import reviewers_of_record

logger = logging.getLogger(__name__)

Status = ReaderFeedback.Status
Kind = ReaderFeedback.Kind

# Long enough for a real question with its context, short enough that nobody pastes a medical record.
MAX_TEXT_LENGTH = 2000
MIN_TEXT_LENGTH = 10
MAX_REPLY_LENGTH = 5000
MAX_REASON_LENGTH = 500


class FeedbackError(Exception):
    """A refused step, with a message fit to show the person who tried it."""


class RateLimited(FeedbackError):
    pass


class NotAllowed(FeedbackError):
    pass


class AlreadyHandled(FeedbackError):
    pass


# --- Receiving ----------------------------------------------------------------------------------------


def _rate_key(address: str) -> str:
    # Hashed with the secret key: Redis never holds readers' addresses in the clear.
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{address}".encode()).hexdigest()[:32]
    return f"feedback-rate:{digest}"


def take_rate_slot(address: str) -> bool:
    """Counts one message from this address in the shared cache (Redis), so every web process agrees;
    False once FEEDBACK_RATE_LIMIT messages were sent within the window."""
    key = _rate_key(address)
    # add() only sets a missing key, so the window starts at the first message and is never extended.
    cache.add(key, 0, timeout=settings.FEEDBACK_RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add() and incr(): this message opens a new one
        cache.add(key, 1, timeout=settings.FEEDBACK_RATE_WINDOW_SECONDS)
        count = 1
    return count <= settings.FEEDBACK_RATE_LIMIT


def handlers_for(article: Article, kind: str) -> list[Any]:
    """The article's writers; for a problem report also whoever signed off the live text."""
    people = list(article.authors.all())
    if kind == Kind.PROBLEM:
        people += [reviewer for reviewer in reviewers_of_record(article) if reviewer not in people]
    return people


def receive(
    article: Article, *, kind: str, text: str, address: str, email: str = "", category: str = "", audience: str = ""
) -> ReaderFeedback:
    """Store a reader's message (already validated by the form) and tell the people who must act on it."""
    if article.live_publication_id is None:
        raise NotAllowed("This article is not published.")
    if kind == Kind.PROBLEM and category not in ReaderFeedback.Category.values:
        raise FeedbackError("Choose what kind of problem it is.")
    if not take_rate_slot(address):
        raise RateLimited("You have sent several messages in a short time. Please try again in an hour.")
    with transaction.atomic():
        item = ReaderFeedback.objects.create(
            article=article,
            kind=kind,
            category=category if kind == Kind.PROBLEM else "",
            audience=audience,
            text=text.strip(),
            email=email.strip(),
        )
        item.handlers.set(handlers_for(article, kind))
        notifications.after_commit(notifications.reader_feedback_received, item)
    return item


# --- Moderation ---------------------------------------------------------------------------------------


def can_handle(user: Any, item: ReaderFeedback) -> bool:
    if roles.is_editor(user) or roles.is_board_member(user):
        return True
    return bool(getattr(user, "is_authenticated", False)) and (
        item.handlers.filter(pk=user.pk).exists() or item.article.authors.filter(pk=user.pk).exists()
    )


def visible_to(user: Any) -> QuerySet[ReaderFeedback]:
    """The backlog a person sees: everything for the board and editors; a writer their articles' items."""
    items = ReaderFeedback.objects.select_related("article", "decided_by__profile", "linked_article")
    if roles.is_editor(user) or roles.is_board_member(user):
        return items
    if roles.is_writer(user):
        return items.filter(Q(article__authors=user) | Q(handlers=user)).distinct()
    return items.none()


def _decide(item: ReaderFeedback, *, by: Any, status: str, **fields: Any) -> ReaderFeedback:
    if not can_handle(by, item):
        raise NotAllowed("Only the article's writers, its reviewers and editors can handle reader messages.")
    now = timezone.now()
    # The conditional write settles two moderators deciding at once: only one leaves "new".
    done = ReaderFeedback.objects.filter(pk=item.pk, status=Status.NEW).update(
        status=status, decided_by=by, decided_at=now, **fields
    )
    if done != 1:
        raise AlreadyHandled(_already_handled(item.pk))
    item.refresh_from_db()
    return item


def _already_handled(item_id: int) -> str:
    current = ReaderFeedback.objects.select_related("decided_by__profile").get(pk=item_id)
    who = current.decided_by.profile.signature if current.decided_by else "someone else"
    return (
        f"This message was already {current.get_status_display().lower()} by {who}: your decision was not "
        "recorded and nothing was emailed."
    )


def accept(item: ReaderFeedback, *, by: Any, linked_article: Article | None = None) -> ReaderFeedback:
    """Taken up: as an edit of this article (the default) or by another article, e.g. a new idea."""
    return _decide(item, by=by, status=Status.ACCEPTED, linked_article=linked_article or item.article)


def decline(item: ReaderFeedback, *, by: Any, reason: str) -> ReaderFeedback:
    reason = reason.strip()
    if not reason:
        raise FeedbackError("Give a reason for declining.")
    return _decide(item, by=by, status=Status.DECLINED, decline_reason=reason[:MAX_REASON_LENGTH])


def mark_spam(item: ReaderFeedback, *, by: Any) -> ReaderFeedback:
    # Spam keeps no address: there is nobody to reply to.
    return _decide(item, by=by, status=Status.SPAM, email="", email_erased_at=timezone.now())


def answer(item: ReaderFeedback, *, by: Any, reply: str) -> ReaderFeedback:
    """Records the reply and, if the reader left an address, emails it once: tried right after commit,
    and while the mail server does not take it, again by beat's owed-work sweep until it does.
    The item returned says whether the email has gone (`replied_at`)."""
    reply = reply.strip()
    if not reply:
        raise FeedbackError("Write the reply.")
    if len(reply) > MAX_REPLY_LENGTH:
        raise FeedbackError(f"Keep the reply under {MAX_REPLY_LENGTH} characters.")
    with transaction.atomic():
        # Owed from the start: if the process dies before the first try, the sweep still sends it.
        item = _decide(item, by=by, status=Status.ANSWERED, reply=reply, reply_due_at=_first_try_due(item))
        if item.email:
            transaction.on_commit(lambda: _send_reply_safely(item.pk))
    item.refresh_from_db()  # after commit, so it shows the outcome of the first try
    return item


def _first_try_due(item: ReaderFeedback) -> datetime | None:
    # Far enough ahead that the sweep leaves the first try, made in the request, to finish.
    return timezone.now() + REPLY_SENDING_LEASE if item.email else None


def _send_reply_safely(item_id: int) -> None:
    # The answer is already committed: whatever goes wrong sending, the page must not become an error.
    try:
        send_reply(item_id)
    except Exception:
        logger.exception("reply to reader feedback %s: first try failed; the owed-work sweep retries it", item_id)


# Longer than one try can take (EMAIL_TIMEOUT per connection): a sender that died mid-try holds the reply
# this long, then the sweep takes it up again.
REPLY_SENDING_LEASE = timedelta(minutes=10)
OWED_REPLIES_PER_SWEEP = 100


def send_reply(item_id: int) -> bool:
    """Sends the reply email if it is still owed; True if this call sent it.

    The claim is a conditional write: of two senders at once (the request's first try and a queued
    retry, or a task delivered twice) only one finds the reply unsent and unclaimed; the other stops.
    A reply once sent (`replied_at`) is never sent again. A failed try is recorded with its reason and
    due again after a pause that doubles with each try."""
    if not _claim_reply(item_id):
        return False
    item = ReaderFeedback.objects.select_related("article").get(pk=item_id)
    try:
        send_mail(_reply_subject(item), reply_body(item), settings.DEFAULT_FROM_EMAIL, [item.email])
    except Exception as exc:  # any failure means the same: not sent, try again later
        _record_failed_try(item, exc)
        return False
    _mark_sent(item.pk)
    return True


def _mark_sent(item_id: int) -> None:
    # The email has gone: this write must outlast a busy database, or the reply would be sent again once
    # the claim lapsed.
    sent = {"replied_at": timezone.now(), "reply_due_at": None, "reply_sending_until": None, "reply_error": ""}
    tasks.while_locked(lambda: ReaderFeedback.objects.filter(pk=item_id).update(**sent))


def _claim_reply(item_id: int) -> bool:
    now = timezone.now()
    unclaimed = Q(reply_sending_until__isnull=True) | Q(reply_sending_until__lt=now)
    owed = ReaderFeedback.objects.filter(unclaimed, pk=item_id, status=Status.ANSWERED, replied_at__isnull=True)
    claim = {"reply_sending_until": now + REPLY_SENDING_LEASE, "reply_attempts": F("reply_attempts") + 1}
    return owed.exclude(email="").update(**claim) == 1


def _record_failed_try(item: ReaderFeedback, exc: Exception) -> None:
    tries = item.reply_attempts  # counted by the claim
    pause = min(settings.FEEDBACK_REPLY_RETRY_SECONDS * 2 ** (tries - 1), settings.FEEDBACK_REPLY_RETRY_MAX_SECONDS)
    reason = f"{type(exc).__name__}: {exc}"[:300]
    logger.warning("reply to reader feedback %s not sent (try %s), again in %s s: %s", item.pk, tries, pause, reason)
    next_try = timezone.now() + timedelta(seconds=pause)
    failed = {"reply_due_at": next_try, "reply_sending_until": None, "reply_error": reason}
    tasks.while_locked(lambda: ReaderFeedback.objects.filter(pk=item.pk, replied_at__isnull=True).update(**failed))


def owed_replies(now: datetime) -> QuerySet[ReaderFeedback]:
    """Answered, with an address, not yet emailed, and due for another try."""
    return ReaderFeedback.objects.filter(
        status=Status.ANSWERED, replied_at__isnull=True, reply_due_at__lte=now
    ).exclude(email="")


@jobs.owed_work("reader-replies")
def queue_owed_replies(now: datetime) -> int:
    """Queues a send of each reply email due again (the mail server refused it, or nobody tried)."""
    queued = 0
    for item_id in owed_replies(now).order_by("reply_due_at").values_list("pk", flat=True)[:OWED_REPLIES_PER_SWEEP]:
        # Pushed ahead before queueing so the next beat does not queue it again while this one waits;
        # put back if the queue refuses it, so the next beat tries again.
        ReaderFeedback.objects.filter(pk=item_id).update(reply_due_at=now + REPLY_SENDING_LEASE)
        if not jobs.enqueue(tasks.send_reader_reply, item_id, owed="a reply email to a reader"):
            ReaderFeedback.objects.filter(pk=item_id).update(reply_due_at=now)
            break
        queued += 1
    return queued


def reply_status(item: ReaderFeedback) -> str:
    """Where the reply email stands, in one sentence for the person who answered."""
    if item.replied_at is not None:
        return f"The reply was emailed to the reader on {_when(item.replied_at)}."
    if item.email_erased_at is not None:
        return "The reply was not emailed: the reader's address was erased before it could be sent."
    if not item.email:
        return "The reply is recorded only: the reader left no address."
    if not item.reply_error:
        return "The email to the reader has not gone yet; it is being sent."
    next_try = f", next around {_when(item.reply_due_at)}" if item.reply_due_at else ""
    return (
        f"The email to the reader has not gone yet: the mail server did not take it ({item.reply_error}). "
        f"It is tried again automatically until it goes{next_try}; tries so far: {item.reply_attempts}."
    )


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "j M Y, H:i")


def _reply_subject(item: ReaderFeedback) -> str:
    return f"Your question about “{item.article.title}”"


def reply_body(item: ReaderFeedback) -> str:
    return (
        f"Thank you for writing to us about “{item.article.title}”.\n\n{item.reply}\n\n"
        "This reply is general information, not medical advice about your own care. If you are unwell or "
        "worried, contact your doctor; in an emergency call your local emergency number.\n\n"
        f"You wrote:\n{item.text}\n"
    )


# --- Keeping only what is needed ---------------------------------------------------------------------


def erase_expired_emails(now: datetime) -> int:
    """Erase readers' addresses FEEDBACK_EMAIL_RETENTION_DAYS after receipt; the message itself stays."""
    cutoff = now - timedelta(days=settings.FEEDBACK_EMAIL_RETENTION_DAYS)
    return ReaderFeedback.objects.filter(received_at__lt=cutoff).exclude(email="").update(email="", email_erased_at=now)


# --- Counts for writers and the board -----------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackCounts:
    questions: int = 0
    problems: int = 0
    new: int = 0

    @property
    def total(self) -> int:
        return self.questions + self.problems


def counts_for(article_ids: list[int]) -> dict[int, FeedbackCounts]:
    """Per article, readers' questions and problem reports (spam left out) and how many are still new: one query."""
    rows = (
        ReaderFeedback.objects.filter(article_id__in=article_ids)
        .exclude(status=Status.SPAM)
        .values("article_id")
        .annotate(
            questions=Count("pk", filter=Q(kind=Kind.QUESTION)),
            problems=Count("pk", filter=Q(kind=Kind.PROBLEM)),
            new=Count("pk", filter=Q(status=Status.NEW)),
        )
    )
    return {
        row["article_id"]: FeedbackCounts(questions=row["questions"], problems=row["problems"], new=row["new"])
        for row in rows
    }
