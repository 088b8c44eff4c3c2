"""Review rounds, approvals, conflicts of interest, edits during review, and what readers see."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from articles import workflow
from articles.models import Article, ReviewAssignment, ReviewRound, WorkflowEvent

from . import editorial

pytestmark = pytest.mark.django_db
Status = Article.Status


def test_reviewer_cannot_approve_own_article(cast: Any) -> None:
    article = editorial.under_review(cast, co_authors=(cast.board_author,))
    with pytest.raises(workflow.TransitionNotAllowed, match="wrote or co-wrote"):
        workflow.approve(article, by=cast.board_author, conflict_of_interest="None declared", **editorial.seen(article))
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW


def test_approval_requires_a_conflict_of_interest_declaration(cast: Any) -> None:
    article = editorial.under_review(cast)
    with pytest.raises(workflow.WorkflowError, match="conflicts of interest"):
        workflow.approve(article, by=cast.reviewer, conflict_of_interest="  ", **editorial.seen(article))
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    assert not ReviewAssignment.objects.filter(recommendation="approve").exists()


def test_declared_conflict_is_recorded_on_the_assignment(cast: Any) -> None:
    article = editorial.under_review(cast)
    workflow.approve(
        article,
        by=cast.reviewer,
        conflict_of_interest="Speaker fees from the manufacturer, 2024",
        **editorial.seen(article),
    )
    assignment = ReviewAssignment.objects.get(reviewer=cast.reviewer)
    assert assignment.conflict_of_interest == "Speaker fees from the manufacturer, 2024"
    assert assignment.coi_declared_at is not None


def test_request_changes_needs_a_note(cast: Any) -> None:
    article = editorial.under_review(cast)
    with pytest.raises(workflow.WorkflowError, match="note is required"):
        workflow.request_changes(article, by=cast.reviewer, note="", **editorial.seen(article))
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW


def test_two_approvals_required_means_two_different_reviewers(cast: Any, settings: Any) -> None:
    settings.APPROVALS_REQUIRED = 2
    article = editorial.under_review(cast)
    first = workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    assert first.action == WorkflowEvent.Action.APPROVAL_RECORDED
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    # The same reviewer approving twice is still one approval.
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    final = workflow.approve(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    assert final.action == WorkflowEvent.Action.APPROVE
    article = editorial.refreshed(article)
    assert article.status == Status.APPROVED
    names = {r["name"] for r in article.live_publication.reviewers}
    assert names == {cast.reviewer.profile.display_name, cast.reviewer2.profile.display_name}


def test_edit_during_review_resets_earlier_approvals(cast: Any, settings: Any) -> None:
    settings.APPROVALS_REQUIRED = 2
    article = editorial.under_review(cast)
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    # Writers cannot touch the text once review started; an editor's correction is what can still happen.
    assert editorial.edit(article, cast.editor, patient_body="Use your preventer inhaler every day.\n")
    assert WorkflowEvent.objects.filter(action=WorkflowEvent.Action.EDIT_DURING_REVIEW).exists()
    # The second approval is of a different text than the first, so it is not enough.
    workflow.approve(
        editorial.refreshed(article), by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article)
    )
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    workflow.approve(
        editorial.refreshed(article), by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article)
    )
    assert editorial.refreshed(article).status == Status.APPROVED


def test_resubmission_opens_round_two_and_keeps_the_first_rounds_comments(cast: Any, client: Any) -> None:
    article = editorial.under_review(cast)
    workflow.request_changes(
        article, by=cast.reviewer, note="Give the step-down interval in months.", **editorial.seen(article)
    )
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    rounds = list(ReviewRound.objects.filter(article=article).order_by("number"))
    assert [(r.number, r.outcome) for r in rounds] == [(1, "changes_requested"), (2, "open")]
    client.force_login(cast.reviewer)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "Give the step-down interval in months." in page
    assert "Round 1" in page and "Round 2" in page


def test_unfit_article_cannot_be_submitted_and_every_reason_is_given(cast: Any, client: Any) -> None:
    text = editorial.article_text(patient=editorial.PATIENT)  # no clinician version
    article = editorial.new_article(cast, text=text)
    with pytest.raises(workflow.NotFit) as refused:
        workflow.submit(article, by=cast.writer)
    assert refused.value.reasons == ["The healthcare professional version is missing."]
    client.force_login(cast.writer)
    response = client.post(f"/desk/articles/{article.slug}/do/submit/", follow=True)
    assert response.redirect_chain == [(f"/desk/articles/{article.slug}/", 302)]
    assert response.content.decode().count("The healthcare professional version is missing.") == 1
    assert editorial.refreshed(article).status == Status.DRAFT


def test_editing_an_approved_article_starts_a_draft_and_readers_keep_the_approved_text(cast: Any, client: Any) -> None:
    article = editorial.approved(cast)
    page_before = client.get(f"/articles/{article.slug}/patient/").content.decode()
    assert editorial.edit(article, cast.writer, patient_body="An unreviewed sentence that must not be public.\n")
    article = editorial.refreshed(article)
    assert article.status == Status.DRAFT
    assert WorkflowEvent.objects.filter(article=article, action=WorkflowEvent.Action.REOPEN).count() == 1
    page_after = client.get(f"/articles/{article.slug}/patient/").content.decode()
    assert page_after == page_before
    assert "must not be public" not in page_after


def test_drafts_and_pending_articles_are_not_public_by_default(cast: Any, client: Any) -> None:
    draft, pending = editorial.new_article(cast), editorial.submitted(cast, text=editorial.article_text("Another"))
    for article in (draft, pending):
        assert client.get(f"/articles/{article.slug}/patient/").status_code == 404
    assert draft.slug not in client.get("/").content.decode()


def test_publish_pending_shows_submissions_with_a_caution_banner(cast: Any, client: Any, settings: Any) -> None:
    settings.PUBLISH_PENDING = True
    draft, pending = editorial.new_article(cast), editorial.submitted(cast, text=editorial.article_text("Another"))
    assert client.get(f"/articles/{draft.slug}/patient/").status_code == 404
    page = client.get(f"/articles/{pending.slug}/patient/").content.decode()
    assert "Pending review by the Medical Advisory Board" in page
    assert '<meta name="robots" content="noindex">' in page
    assert 'class="tracker-step current" aria-current="step">Submitted' in page


def test_withdraw_returns_to_draft_and_closes_the_round(cast: Any) -> None:
    article = editorial.submitted(cast)
    workflow.withdraw(article, by=cast.writer, note="Adding a new trial first.")
    assert editorial.refreshed(article).status == Status.DRAFT
    assert ReviewRound.objects.get(article=article).outcome == ReviewRound.Outcome.WITHDRAWN


def test_editor_assigns_named_reviewers_with_a_due_date(cast: Any, settings: Any) -> None:
    settings.REVIEW_SLA_DAYS = 10
    article = editorial.submitted(cast)
    (assignment,) = workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer2])
    assert (assignment.due_at - assignment.assigned_at).days in (9, 10)
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.assign_reviewers(article, by=cast.writer, reviewers=[cast.reviewer])
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.other_writer])


def test_timeline_lists_every_event_with_actor_and_note(cast: Any, client: Any) -> None:
    article = editorial.under_review(cast)
    workflow.request_changes(article, by=cast.reviewer, note="Cite the 2020 guideline.", **editorial.seen(article))
    client.force_login(cast.writer)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    for label in ("Submitted", "Review started", "Changes requested"):
        assert f"<strong>{label}</strong>" in page
    assert "Cite the 2020 guideline." in page
    assert cast.reviewer.profile.display_name in page


def test_working_copy_pages_are_hidden_from_outsiders(cast: Any, client: Any) -> None:
    article = editorial.new_article(cast)
    for user in (cast.outsider, cast.other_writer):
        client.force_login(user)
        assert client.get(f"/desk/articles/{article.slug}/").status_code == 404
        assert client.get(f"/desk/articles/{article.slug}/edit/").status_code == 404
    client.logout()
    assert client.get(f"/desk/articles/{article.slug}/").status_code == 302  # to the login page


def test_queue_lists_submissions_oldest_first_with_overdue_highlighted(cast: Any, client: Any) -> None:
    import time_machine

    with time_machine.travel("2026-01-05 09:00Z"):
        older = editorial.submitted(cast, text=editorial.article_text("Older question"))
        workflow.assign_reviewers(older, by=cast.editor, reviewers=[cast.reviewer])
    with time_machine.travel("2026-01-20 09:00Z"):
        newer = editorial.submitted(cast, text=editorial.article_text("Newer question"))
        client.force_login(cast.reviewer)
        page = client.get("/desk/queue/").content.decode()
    assert page.index("Older question") < page.index("Newer question")
    assert "Overdue" in page
    assert newer.slug in page


def test_notifications_go_to_the_right_people(cast: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        article = editorial.submitted(cast)
    board = {cast.reviewer.email, cast.reviewer2.email, cast.board_author.email} - {""}
    assert {m.to[0] for m in mail.outbox} == board
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.start_review(article, by=cast.reviewer)
    assert {m.to[0] for m in mail.outbox} == {cast.writer.email}
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.request_changes(
            editorial.refreshed(article), by=cast.reviewer, note="Shorter sentences.", **editorial.seen(article)
        )
    assert {m.to[0] for m in mail.outbox} == {cast.writer.email}  # the reviewer is not told of their own act
    assert "Shorter sentences." in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.submit(editorial.refreshed(article), by=cast.writer)
    assert {m.to[0] for m in mail.outbox} == {cast.reviewer.email}  # resubmission: whoever asked for changes


def test_no_notification_when_the_transaction_rolls_back(cast: Any, django_capture_on_commit_callbacks: Any) -> None:
    from django.db import transaction

    article = editorial.new_article(cast)

    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abort), transaction.atomic():
        workflow.submit(article, by=cast.writer)
        raise Abort
    assert callbacks == []
    assert mail.outbox == []
    assert editorial.refreshed(article).status == Status.DRAFT


def test_editor_preview_renders_sanitised_text_with_citations(cast: Any, client: Any) -> None:
    from articles.models import Reference

    Reference.objects.create(key="gina2024", kind="guideline", title="Global strategy", source="GINA", year=2024)
    client.force_login(cast.writer)
    body = "Use it daily [@gina2024]. <script>alert(1)</script> [@nobody2020]"
    html = client.post("/desk/preview/", {"body": body}).content.decode()
    assert '<a href="#patient-ref-1"' in html and "Global strategy" in html  # anchors per audience
    assert "<script>" not in html
    assert "Not in the library: [@nobody2020] (line 1)" in html
    client.force_login(cast.outsider)
    assert client.post("/desk/preview/", {"body": body}).status_code == 403


def test_editor_preview_shows_the_reading_level_of_the_text_as_typed(cast: Any, client: Any) -> None:
    client.force_login(cast.writer)
    hard = "Eosinophilic inflammation necessitates individualised pharmacotherapeutic considerations. " * 6
    easy = "Use it once a day. It helps you breathe. Ask your nurse. " * 6
    over = client.post("/desk/preview/", {"audience": "patient", "title": "T", "summary": "S", "body": hard})
    under = client.post("/desk/preview/", {"audience": "patient", "title": "T", "summary": "S", "body": easy})
    assert "Reading level" in over.content.decode() and "Reading level" in under.content.decode()
    assert "within the limit" in under.content.decode()
    assert "within the limit" not in over.content.decode()


def test_editor_pages_open_for_writers_with_the_live_preview(cast: Any, client: Any) -> None:
    article = editorial.new_article(cast)
    client.force_login(cast.writer)
    for url in ("/desk/articles/new/", f"/desk/articles/{article.slug}/edit/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "js/editor-preview.js" in response.content.decode()
    edit_page = client.get(f"/desk/articles/{article.slug}/edit/").content.decode()
    assert 'name="base_version" value="1"' in edit_page
    assert editorial.PATIENT.summary in edit_page


def test_each_note_on_the_review_page_has_its_own_label(cast: Any, client: Any) -> None:
    article = editorial.under_review(cast)
    client.force_login(cast.reviewer)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert page.count('id="id_note"') == 1  # the approval note
    assert 'for="changes-note"' in page and 'id="changes-note"' in page


def test_desk_page_query_count_does_not_grow_with_review_history(cast: Any, client: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_page(article: Article) -> int:
        client.force_login(cast.reviewer2)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/desk/articles/{article.slug}/").status_code == 200
        return len(captured)

    def one_more_round(article: Article, n: int) -> None:
        workflow.request_changes(
            editorial.refreshed(article),
            by=cast.reviewer,
            note=f"Round {n}: shorter, please.",
            **editorial.seen(article),
        )
        workflow.add_comment(editorial.refreshed(article), by=cast.writer, body=f"Done for round {n}.")
        workflow.submit(editorial.refreshed(article), by=cast.writer)
        workflow.start_review(editorial.refreshed(article), by=cast.reviewer)

    article = editorial.under_review(cast)
    one_more_round(article, 1)
    short_history = queries_for_page(article)
    for n in range(2, 6):
        one_more_round(article, n)
    assert queries_for_page(article) == short_history


def test_unassigned_submission_is_due_a_service_level_after_submission(cast: Any, client: Any, settings: Any) -> None:
    import time_machine

    settings.REVIEW_SLA_DAYS = 7
    with time_machine.travel("2026-02-02 09:00Z"):
        editorial.submitted(cast, text=editorial.article_text("Waiting question"))
    client.force_login(cast.reviewer2)
    with time_machine.travel("2026-02-06 09:00Z"):
        on_time = client.get("/desk/queue/").content.decode()
    with time_machine.travel("2026-02-10 09:00Z"):
        late = client.get("/desk/queue/").content.decode()
    assert "9 Feb 2026" in on_time and "Overdue" not in on_time
    assert "Overdue" in late
