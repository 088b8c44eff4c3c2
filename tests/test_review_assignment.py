"""Assignments mean something: who is offered, validated due dates, re-assignment, removal, every change an
event; once the editor has assigned reviewers only they decide; independence covers everyone who edited the
text under review; "confirm still accurate" only when a re-review is due; the panel shows only what fits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from articles import workflow
from articles.models import Article, ReviewAssignment, ReviewRound, WorkflowEvent
from articles.roles import ADVISORY_BOARD

from . import editorial
from .conftest import make_person
from .fakeweb import closed_port

pytestmark = pytest.mark.django_db
Status = Article.Status
Action = WorkflowEvent.Action


def in_days(days: int) -> Any:
    return timezone.now() + timedelta(days=days)


def test_a_due_date_in_the_past_is_refused_by_the_workflow_and_the_form(cast: Any, client: Any) -> None:
    article = editorial.submitted(cast)
    with pytest.raises(workflow.WorkflowError, match="must be in the future"):
        workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer], due_at=in_days(-1))
    client.force_login(cast.editor)
    response = client.post(
        f"/desk/articles/{article.slug}/do/assign/", {"reviewers": [cast.reviewer.pk], "due_on": "2020-01-01"}
    )
    assert response.status_code == 400
    assert "Choose a date after today." in response.content.decode()
    assert not ReviewAssignment.objects.exists()
    assert not WorkflowEvent.objects.filter(action=Action.ASSIGN).exists()


def test_assigning_again_with_a_new_date_updates_it_and_records_the_change(cast: Any, client: Any) -> None:
    article = editorial.submitted(cast)
    client.force_login(cast.editor)
    first = (timezone.localdate() + timedelta(days=5)).isoformat()
    later = (timezone.localdate() + timedelta(days=12)).isoformat()
    url = f"/desk/articles/{article.slug}/do/assign/"
    assert client.post(url, {"reviewers": [cast.reviewer.pk], "due_on": first}).status_code == 302
    assert client.post(url, {"reviewers": [cast.reviewer.pk], "due_on": later}).status_code == 302
    assignment = ReviewAssignment.objects.get(reviewer=cast.reviewer)
    assert timezone.localtime(assignment.due_at).date().isoformat() == later
    events = list(WorkflowEvent.objects.filter(article=article, action__in=[Action.ASSIGN, Action.DUE_DATE_CHANGED]))
    assert [e.action for e in events] == [Action.ASSIGN, Action.DUE_DATE_CHANGED]
    assert "→" in events[1].note


def test_the_editor_removes_a_reviewer_and_it_is_recorded(cast: Any, client: Any) -> None:
    article = editorial.submitted(cast)
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer, cast.reviewer2])
    client.force_login(cast.editor)
    response = client.post(f"/desk/articles/{article.slug}/do/unassign/", {"reviewer": cast.reviewer.pk})
    assert response.status_code == 302
    assert list(ReviewAssignment.objects.values_list("reviewer__username", flat=True)) == [cast.reviewer2.username]
    removal = WorkflowEvent.objects.get(article=article, action=Action.UNASSIGN)
    assert cast.reviewer.profile.display_name in removal.note and removal.actor == cast.editor
    client.force_login(cast.writer)
    assert (
        client.post(f"/desk/articles/{article.slug}/do/unassign/", {"reviewer": cast.reviewer2.pk}).status_code == 403
    )


def test_a_removed_reviewer_is_told_by_email_once_the_removal_commits(
    cast: Any, client: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.SITE_URL = "https://review.example.org"
    article = editorial.submitted(cast)
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer, cast.reviewer2])
    client.force_login(cast.editor)
    url = f"/desk/articles/{article.slug}/do/unassign/"
    with django_capture_on_commit_callbacks() as after_commit:
        assert client.post(url, {"reviewer": cast.reviewer.pk}).status_code == 302
    assert mail.outbox == []  # nothing leaves before the removal is committed
    for callback in after_commit:
        callback()
    [message] = mail.outbox
    assert message.to == [cast.reviewer.email]
    assert message.subject == f"[contentreview] You are no longer asked to review: {article.title}"
    assert cast.editor.profile.signature in message.body and f"“{article.title}”" in message.body
    assert "https://review.example.org/desk/queue/" in message.body

    # Nothing changed, nothing sent: removing them again, or someone who already decided, is refused.
    settings.APPROVALS_REQUIRED = 2  # reviewer2's approval leaves the round open
    mail.outbox.clear()
    workflow.start_review(article, by=cast.reviewer2)
    article = editorial.refreshed(article)
    workflow.approve(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"reviewer": cast.reviewer.pk}).status_code == 409
        assert client.post(url, {"reviewer": cast.reviewer2.pk}).status_code == 409
    assert not [m for m in mail.outbox if "no longer" in m.subject]
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW


@pytest.mark.django_db(transaction=True)
def test_a_mail_failure_does_not_turn_a_committed_removal_into_an_error(
    cast: Any, client: Any, settings: Any, caplog: Any
) -> None:
    article = editorial.submitted(cast)
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer, cast.reviewer2])
    # Then the mail server goes down: a real SMTP backend at a closed port.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    client.force_login(cast.editor)
    response = client.post(f"/desk/articles/{article.slug}/do/unassign/", {"reviewer": cast.reviewer.pk}, follow=True)
    assert response.status_code == 200 and "Reviewer removed." in response.content.decode()
    assert not ReviewAssignment.objects.filter(reviewer=cast.reviewer).exists()
    assert WorkflowEvent.objects.filter(article=article, action=Action.UNASSIGN).count() == 1
    assert "notification unassigned failed" in caplog.text


def test_a_reviewer_who_decided_stays_on_record(cast: Any, settings: Any) -> None:
    settings.APPROVALS_REQUIRED = 2
    article = editorial.under_review(cast)
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    with pytest.raises(workflow.WrongState, match="already decided"):
        workflow.unassign_reviewer(article, by=cast.editor, reviewer=cast.reviewer)


def test_the_assignment_form_shows_names_credentials_workload_and_who_is_assigned(cast: Any, client: Any) -> None:
    busy = editorial.submitted(cast, text=editorial.article_text("Another question"))
    workflow.assign_reviewers(busy, by=cast.editor, reviewers=[cast.reviewer2])
    article = editorial.submitted(cast, co_authors=(cast.board_author,))
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer])
    client.force_login(cast.editor)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert f"{cast.reviewer2.profile.signature} · 1 open review" in page
    assert f"{cast.reviewer.profile.signature} · 1 open review" in page
    assert cast.board_author.profile.display_name not in page.split('id="assign-h"')[1].split("</section>")[0]
    assigned = page.split('id="assign-h"')[1].split("<form")[0:2]
    assert cast.reviewer.profile.signature in "".join(assigned)
    assert f'name="reviewer" value="{cast.reviewer.pk}"' in page  # a Remove button


def test_once_reviewers_are_assigned_an_unassigned_board_member_is_refused(cast: Any, client: Any) -> None:
    article = editorial.submitted(cast)
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer2])
    with pytest.raises(workflow.TransitionNotAllowed, match="assigned this review to"):
        workflow.start_review(article, by=cast.reviewer)
    client.force_login(cast.reviewer)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "Start review" not in page
    workflow.start_review(article, by=cast.reviewer2)
    with pytest.raises(workflow.TransitionNotAllowed, match="Only they can approve"):
        workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW


def test_unassigned_articles_stay_open_to_any_independent_board_member(cast: Any) -> None:
    article = editorial.under_review(cast)  # started by cast.reviewer, nobody assigned by the editor
    workflow.approve(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    assert editorial.refreshed(article).status == Status.APPROVED


def test_an_editor_on_the_board_who_edited_during_review_cannot_approve(cast: Any, client: Any) -> None:
    board_editor = make_person("bob_boardeditor", ADVISORY_BOARD, is_staff=True)
    article = editorial.under_review(cast)
    assert editorial.edit(article, board_editor, patient_body="The editor's own sentence.\n")
    with pytest.raises(workflow.TransitionNotAllowed, match="You edited the text under review"):
        workflow.approve(article, by=board_editor, conflict_of_interest="None", **editorial.seen(article))
    client.force_login(board_editor)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "Approve version" not in page
    response = client.post(
        f"/desk/articles/{article.slug}/do/approve/", {"conflict": "none", **editorial.seen(article)}
    )
    assert response.status_code == 403
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    assert client.get(f"/articles/{article.slug}/patient/").status_code == 404


def test_confirm_still_accurate_is_refused_until_a_re_review_is_due(cast: Any, settings: Any, client: Any) -> None:
    settings.REVIEW_INTERVAL_DAYS = 365
    article = editorial.approved(cast)
    with pytest.raises(workflow.WrongState, match="not due for re-review until"):
        workflow.confirm_still_accurate(
            article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article)
        )
    client.force_login(cast.reviewer)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "Confirm still accurate" not in page  # nothing to re-review right after approving
    assert "Approve: conflict" not in page and "— Approve;" not in page
    assert "approved version 1" in page and "(no conflict of interest)" in page


def test_confirm_still_accurate_when_due_is_a_re_review_with_its_own_declaration(cast: Any, settings: Any) -> None:
    import time_machine

    settings.REVIEW_INTERVAL_DAYS = 30
    article = editorial.approved(cast)
    approved_before = article.approved_at
    assert approved_before is not None
    with time_machine.travel(in_days(31)):
        event = workflow.confirm_still_accurate(
            article, by=cast.reviewer2, conflict_of_interest="Advisory fees, 2025", **editorial.seen(article)
        )
    approved_now = editorial.refreshed(article).approved_at
    assert approved_now is not None and approved_now > approved_before + timedelta(days=30)
    rereview = ReviewRound.objects.get(article=article, outcome=ReviewRound.Outcome.CONFIRMED)
    (assignment,) = rereview.assignments.all()
    assert assignment.reviewer == cast.reviewer2
    assert assignment.conflict_of_interest == "Advisory fees, 2025"
    assert assignment.approved_content_version == 1
    assert event.action == Action.REREVIEW_CONFIRMED and event.review_round == rereview


def test_editors_may_bring_a_re_review_forward(cast: Any) -> None:
    board_editor = make_person("bob_boardeditor", ADVISORY_BOARD, is_staff=True)
    article = editorial.approved(cast)
    workflow.confirm_still_accurate(article, by=board_editor, conflict_of_interest="None", **editorial.seen(article))
    assert WorkflowEvent.objects.filter(article=article, action=Action.REREVIEW_CONFIRMED).count() == 1
