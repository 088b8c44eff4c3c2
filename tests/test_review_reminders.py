"""The daily sweep: overdue reviews get a reminder, approved articles come back for re-review."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from articles import workflow
from articles.models import Article
from articles.reminders import send_review_reminders

from . import editorial

pytestmark = pytest.mark.django_db


def at(days: int) -> datetime:
    return datetime(2026, 3, 2, 9, 0).replace(tzinfo=timezone.get_current_timezone()) + timedelta(days=days)


def sweep(days: int, capture: Any) -> dict[str, int]:
    with time_machine.travel(at(days)), capture(execute=True):
        return send_review_reminders(timezone.now())


def test_overdue_assignment_gets_one_reminder_then_another_after_three_days(
    cast: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REVIEW_SLA_DAYS = 7
    with time_machine.travel(at(0)):
        article = editorial.submitted(cast)
        workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer2])
    mail.outbox.clear()
    assert sweep(6, django_capture_on_commit_callbacks)["overdue_reminders"] == 0
    assert sweep(8, django_capture_on_commit_callbacks)["overdue_reminders"] == 1
    assert [m.to for m in mail.outbox] == [[cast.reviewer2.email]]
    assert "overdue" in mail.outbox[0].subject.lower()
    assert sweep(9, django_capture_on_commit_callbacks)["overdue_reminders"] == 0  # not every day
    assert sweep(12, django_capture_on_commit_callbacks)["overdue_reminders"] == 1


def test_decided_assignment_is_not_reminded(cast: Any, django_capture_on_commit_callbacks: Any) -> None:
    with time_machine.travel(at(0)):
        article = editorial.under_review(cast)
        workflow.request_changes(article, by=cast.reviewer, note="Needs a dosing table.", **editorial.seen(article))
    assert sweep(30, django_capture_on_commit_callbacks)["overdue_reminders"] == 0


def test_approved_article_is_due_for_rereview_after_the_interval(
    cast: Any, settings: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REVIEW_INTERVAL_DAYS = 365
    with time_machine.travel(at(0)):
        article = editorial.approved(cast)
    mail.outbox.clear()
    assert sweep(364, django_capture_on_commit_callbacks)["rereview_notices"] == 0
    assert sweep(366, django_capture_on_commit_callbacks)["rereview_notices"] == 1
    assert [m.to for m in mail.outbox] == [[cast.reviewer.email]]  # the reviewer of record
    assert sweep(367, django_capture_on_commit_callbacks)["rereview_notices"] == 0  # told once
    with time_machine.travel(at(367)):
        client.force_login(cast.reviewer2)
        queue = client.get("/desk/queue/").content.decode()
        assert article.slug in queue.split("Due for re-review")[1]
        workflow.confirm_still_accurate(
            article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article)
        )
        assert not Article.objects.due_for_rereview(timezone.now()).exists()
