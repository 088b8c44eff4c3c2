"""The daily sweep behind the review reminders (plain functions; the Celery task only calls them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction

from . import notifications
from .models import Article, ReviewAssignment, ReviewRound, WorkflowEvent

REMIND_AGAIN_AFTER = timedelta(days=3)


def overdue_assignments(now: datetime) -> list[ReviewAssignment]:
    return list(
        ReviewAssignment.objects.filter(
            review_round__outcome=ReviewRound.Outcome.OPEN,
            recommendation=ReviewAssignment.Recommendation.PENDING,
            due_at__lt=now,
        )
        .exclude(reminded_at__gt=now - REMIND_AGAIN_AFTER)
        .select_related("reviewer", "review_round__article")
    )


def reviewers_of_record(article: Article) -> list[User]:
    """Who signed off the live text last: the approvers of the latest approval or re-review."""
    last = (
        article.events.filter(action__in=[WorkflowEvent.Action.APPROVE, WorkflowEvent.Action.REREVIEW_CONFIRMED])
        .select_related("review_round", "actor")
        .last()
    )
    if last is None:
        return []
    if last.action == WorkflowEvent.Action.REREVIEW_CONFIRMED or last.review_round is None:
        return [last.actor] if last.actor else []
    approvals = last.review_round.assignments.filter(recommendation=ReviewAssignment.Recommendation.APPROVE)
    return [a.reviewer for a in approvals.select_related("reviewer")]


def send_review_reminders(now: datetime) -> dict[str, int]:
    overdue = overdue_assignments(now)
    for assignment in overdue:
        with transaction.atomic():
            ReviewAssignment.objects.filter(pk=assignment.pk).update(reminded_at=now)
            notifications.after_commit(notifications.review_overdue, assignment)
    due = list(Article.objects.due_for_rereview(now).filter(rereview_notified_at__isnull=True))
    for article in due:
        with transaction.atomic():
            Article.objects.filter(pk=article.pk).update(rereview_notified_at=now)
            notifications.after_commit(notifications.rereview_due, article, reviewers_of_record(article))
    return {"overdue_reminders": len(overdue), "rereview_notices": len(due)}
