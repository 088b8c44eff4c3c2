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
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from . import notifications, roles
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
        raise AlreadyHandled("Someone already handled this message; reload the page.")
    item.refresh_from_db()
    return item


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
    """Records the reply and, if the reader left an address, emails it once after commit."""
    reply = reply.strip()
    if not reply:
        raise FeedbackError("Write the reply.")
    if len(reply) > MAX_REPLY_LENGTH:
        raise FeedbackError(f"Keep the reply under {MAX_REPLY_LENGTH} characters.")
    with transaction.atomic():
        item = _decide(item, by=by, status=Status.ANSWERED, reply=reply)
        if item.email:
            transaction.on_commit(lambda: _send_reply(item.pk))
    return item


def _send_reply(item_id: int) -> None:
    # Only the moderator whose conditional write won reaches this, and replied_at is set only once the
    # backend accepted the message, so the page never claims an email that was not sent.
    item = ReaderFeedback.objects.select_related("article").get(pk=item_id)
    try:
        send_mail(
            f"Your question about “{item.article.title}”",
            reply_body(item),
            settings.DEFAULT_FROM_EMAIL,
            [item.email],
        )
    except Exception:
        logger.exception("reply to reader feedback %s could not be sent", item_id)
        return
    ReaderFeedback.objects.filter(pk=item_id, replied_at__isnull=True).update(replied_at=timezone.now())


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
