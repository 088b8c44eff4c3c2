"""Two people deciding at once: exactly one transition, one event; the other is told.

On PostgreSQL the row lock orders them; on SQLite (a file, as the site's) the write lock every transaction
takes when it begins (transaction_mode IMMEDIATE)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from articles import workflow
from articles.models import Article, Publication, WorkflowEvent

from . import editorial

pytestmark = [pytest.mark.django_db(transaction=True)]

DECISIVE = {WorkflowEvent.Action.APPROVE, WorkflowEvent.Action.REQUEST_CHANGES}


def race(*calls: Callable[[], Any]) -> list[BaseException | Any]:
    """Run the calls in threads released at the same instant; collect each result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[BaseException | Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except BaseException as exc:  # collected and asserted on by the test
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_reviewers_approving_at_once_give_one_approval(cast: Any) -> None:
    article = editorial.under_review(cast)
    outcomes = race(
        lambda: workflow.approve(
            Article.objects.get(pk=article.pk),
            by=cast.reviewer,
            conflict_of_interest="None",
            seen_version=article.content_version,
        ),
        lambda: workflow.approve(
            Article.objects.get(pk=article.pk),
            by=cast.reviewer2,
            conflict_of_interest="None",
            seen_version=article.content_version,
        ),
    )
    refused = [o for o in outcomes if isinstance(o, workflow.WrongState)]
    assert len(refused) == 1, outcomes
    assert editorial.refreshed(article).status == Article.Status.APPROVED
    assert WorkflowEvent.objects.filter(article=article, action=WorkflowEvent.Action.APPROVE).count() == 1
    assert Publication.objects.filter(article=article).count() == 1


def test_approve_racing_request_changes_gives_exactly_one_decision(cast: Any) -> None:
    article = editorial.under_review(cast)
    outcomes = race(
        lambda: workflow.approve(
            Article.objects.get(pk=article.pk),
            by=cast.reviewer,
            conflict_of_interest="None",
            seen_version=article.content_version,
        ),
        lambda: workflow.request_changes(
            Article.objects.get(pk=article.pk), by=cast.reviewer2, note="Not yet.", seen_version=article.content_version
        ),
    )
    refused = [o for o in outcomes if isinstance(o, workflow.WrongState)]
    assert len(refused) == 1, outcomes
    decisions = WorkflowEvent.objects.filter(article=article, action__in=DECISIVE)
    assert decisions.count() == 1
    expected_status = Article.Status.APPROVED if decisions.get().action == "approve" else Article.Status.DRAFT
    assert editorial.refreshed(article).status == expected_status


def test_two_clicks_on_submit_give_one_submission(cast: Any) -> None:
    article = editorial.new_article(cast)
    outcomes = race(
        lambda: workflow.submit(Article.objects.get(pk=article.pk), by=cast.writer),
        lambda: workflow.submit(Article.objects.get(pk=article.pk), by=cast.writer),
    )
    assert sum(isinstance(o, workflow.WrongState) for o in outcomes) == 1, outcomes
    assert WorkflowEvent.objects.filter(article=article, action=WorkflowEvent.Action.SUBMIT).count() == 1
    assert article.review_rounds.count() == 1
