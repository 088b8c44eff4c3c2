"""Who hears about what. Emails leave only after the transaction that caused them commits, so a step
that rolls back never announces itself."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse

from .models import Article, ReviewAssignment, ReviewComment, ReviewRound, WorkflowEvent
from .roles import ADVISORY_BOARD

logger = logging.getLogger(__name__)


def after_commit(notify: Callable[..., None], *args: Any) -> None:
    transaction.on_commit(lambda: _deliver_safely(notify, *args))


def _deliver_safely(notify: Callable[..., None], *args: Any) -> None:
    # The step is already committed; a mail server failure must not turn it into an error page.
    try:
        notify(*args)
    except Exception:
        logger.exception("notification %s failed", notify.__name__)


def _send(recipients: Iterable[User], subject: str, body: str, *, exclude: Any = None) -> None:
    addresses = sorted({u.email for u in recipients if u.email and u.is_active and u != exclude})
    if addresses:
        # One message per person: reviewers do not see each other's addresses.
        send_mass_mail([(f"[contentreview] {subject}", body, settings.DEFAULT_FROM_EMAIL, [a]) for a in addresses])


def _link(name: str, article: Article) -> str:
    return _absolute(reverse(name, kwargs={"slug": article.slug}))


def _queue_link() -> str:
    return _absolute(reverse("desk:queue"))


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _actor(event: WorkflowEvent) -> str:
    return event.actor.profile.signature if event.actor else "The system"


def _participants(review_round: ReviewRound | None) -> list[User]:
    if review_round is None:
        return []
    return [a.reviewer for a in review_round.assignments.select_related("reviewer")]


def submitted(event: WorkflowEvent) -> None:
    article = event.article
    board = User.objects.filter(groups__name=ADVISORY_BOARD).exclude(authored_articles=article)
    _send(
        board,
        f"Submitted for review: {article.title}",
        f"{_actor(event)} submitted “{article.title}” for review.\n\nReview queue: {_queue_link()}\n",
    )


def resubmitted(event: WorkflowEvent, previous_round: ReviewRound) -> None:
    article = event.article
    round_number = event.review_round.number if event.review_round else previous_round.number + 1
    asked = [
        a.reviewer
        for a in previous_round.assignments.select_related("reviewer")
        if a.recommendation == ReviewAssignment.Recommendation.CHANGES
    ]
    _send(
        asked,
        f"Resubmitted after your changes: {article.title}",
        f"{_actor(event)} resubmitted “{article.title}” (round {round_number}) after the changes "
        f"you requested.\n\nReview it: {_link('desk:article', article)}\n",
    )


def assigned(event: WorkflowEvent, assignment: ReviewAssignment) -> None:
    article = event.article
    _send(
        [assignment.reviewer],
        f"You are asked to review: {article.title}",
        f"{_actor(event)} asked you to review “{article.title}” by {assignment.due_at:%d %B %Y}.\n\n"
        f"Review it: {_link('desk:article', article)}\n",
    )


def unassigned(event: WorkflowEvent, reviewer: User) -> None:
    # The article's desk page no longer concerns them, so the link is to their queue.
    article = event.article
    _send(
        [reviewer],
        f"You are no longer asked to review: {article.title}",
        f"{_actor(event)} removed you from the review of “{article.title}”; you need not review it.\n\n"
        f"Review queue: {_queue_link()}\n",
        exclude=event.actor,
    )


def review_started(event: WorkflowEvent) -> None:
    article = event.article
    _send(
        article.authors.all(),
        f"Review started: {article.title}",
        f"{_actor(event)} started reviewing “{article.title}”.\n\n{_link('desk:article', article)}\n",
    )


def decided(event: WorkflowEvent) -> None:
    article = event.article
    verdict = "approved" if event.action == WorkflowEvent.Action.APPROVE else "asked for changes to"
    note = f"\n\nNote from the reviewer:\n{event.note}" if event.note else ""
    recipients = [*article.authors.all(), *_participants(event.review_round)]
    _send(
        recipients,
        f"{verdict.capitalize()}: {article.title}",
        f"{_actor(event)} {verdict} “{article.title}”.{note}\n\n{_link('desk:article', article)}\n",
        exclude=event.actor,
    )


def commented(comment: ReviewComment) -> None:
    article = comment.article
    recipients = [*article.authors.all(), *_participants(comment.review_round)]
    _send(
        recipients,
        f"New review comment: {article.title}",
        f"{comment.author.profile.signature} wrote:\n\n{comment.body}\n\n{_link('desk:article', article)}\n",
        exclude=comment.author,
    )


def review_overdue(assignment: ReviewAssignment) -> None:
    article = assignment.review_round.article
    _send(
        [assignment.reviewer],
        f"Review overdue: {article.title}",
        f"Your review of “{article.title}” was due on {assignment.due_at:%d %B %Y}.\n\n"
        f"Review it: {_link('desk:article', article)}\n",
    )


def rereview_due(article: Article, reviewers: list[User]) -> None:
    _send(
        reviewers,
        f"Due for re-review: {article.title}",
        f"“{article.title}” was last reviewed on {article.approved_at:%d %B %Y}. Please check it is still "
        f"accurate, or ask for changes.\n\nReview it: {_link('desk:article', article)}\n",
    )


def reader_feedback_received(item: Any) -> None:
    # The reader's words stay on the desk page: an email carrying them would turn any link in them live.
    article = item.article
    if item.kind == "problem":
        subject = f"Problem reported ({item.get_category_display().lower()}): {article.title}"
        what = f"A reader reported a problem ({item.get_category_display().lower()}) with"
    else:
        subject = f"Reader question: {article.title}"
        what = "A reader asked a follow-up question about"
    link = _absolute(reverse("desk:feedback_item", kwargs={"pk": item.pk}))
    _send(item.handlers.all(), subject, f"{what} “{article.title}”.\n\nRead and handle it: {link}\n")


def reviewers_of_record(article: Article) -> list[User]:
    """The reviewers of the latest round that had any: who approved (or is reviewing) the text."""
    for review_round in article.review_rounds.order_by("-number").prefetch_related("assignments__reviewer"):
        reviewers = [a.reviewer for a in review_round.assignments.all()]
        if reviewers:
            return reviewers
    return []


def citation_alerts(article: Article, alerts: list[Any]) -> None:
    findings = "\n".join(f"- {a.reference.key}: {a.get_standing_display().lower()}. {a.summary}" for a in alerts)
    _send(
        [*article.authors.all(), *reviewers_of_record(article)],
        f"A source cited in “{article.title}” needs attention",
        f"The citation watch found news about sources that “{article.title}” cites:\n\n{findings}\n\n"
        f"The article is listed in the review queue until the Advisory Board resolves this.\n\n"
        f"{_link('desk:article', article)}\n",
    )
