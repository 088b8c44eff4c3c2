"""Every decision is bound to the exact text the reviewer saw.

A reviewer loads the decision form; someone changes the text in another session; the loaded form is posted:
nothing is recorded, nothing is published, and the reviewer is shown what changed before deciding again.
The same for two reviewers with APPROVALS_REQUIRED=2, for request changes and for confirm still accurate.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from articles import editing, workflow
from articles.models import Article, Publication, Reference, ReviewAssignment, ReviewComment, WorkflowEvent
from articles.reference_forms import ReferenceForm

from . import editorial
from . import test_citation_watch as citation_watch

pytestmark = pytest.mark.django_db
Status = Article.Status
NEW_SENTENCE = "Double your dose whenever you feel wheezy."


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def loaded_form(client: Client, article: Article) -> dict[str, str]:
    """What the decision forms on the desk page carry, as the browser would post it."""
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    version = re.search(r'name="seen_version" value="(\d+)"', page)
    revision = re.search(r'name="seen_revision" value="(\d+)"', page)
    assert version and revision, "the decision forms carry the version and revision shown"
    return {"seen_version": version.group(1), "seen_revision": revision.group(1)}


def edit_in_another_session(article: Article, editor: Any, body: str) -> None:
    """An editor changes the patient text through the real edit form, in their own browser session."""
    client = signed_in(editor)
    current = editing.current_text(editorial.refreshed(article))
    data = {
        "title": current.title,
        "kind": current.kind,
        "topic": current.topic,
        "base_version": editorial.refreshed(article).content_version,
        "comment": "Editor's correction",
    }
    for audience, variant in current.variants.items():
        data |= {f"{audience}-title": variant.title, f"{audience}-summary": variant.summary}
        data[f"{audience}-body"] = body if audience == "patient" else variant.body
    response = client.post(f"/desk/articles/{article.slug}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:800]


def test_approving_a_text_changed_since_it_was_loaded_is_refused_through_the_function(cast: Any) -> None:
    article = editorial.under_review(cast)
    seen = editorial.seen(article)
    assert editorial.edit(article, cast.editor, patient_body=NEW_SENTENCE + "\n")
    with pytest.raises(workflow.TextChanged, match="you read version 1, it is now version 2"):
        workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **seen)
    article = editorial.refreshed(article)
    assert article.status == Status.UNDER_REVIEW
    assert article.live_publication is None and not Publication.objects.exists()
    assert not ReviewAssignment.objects.filter(recommendation=ReviewAssignment.Recommendation.APPROVE).exists()


def test_approving_a_changed_text_over_http_is_refused_and_the_reviewer_sees_the_diff(cast: Any) -> None:
    article = editorial.under_review(cast)
    reviewer = signed_in(cast.reviewer)
    form = loaded_form(reviewer, article)
    edit_in_another_session(article, cast.editor, NEW_SENTENCE + "\n")

    response = reviewer.post(f"/desk/articles/{article.slug}/do/approve/", {**form, "conflict": "none"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "The text changed after you loaded the page" in page
    assert "What changed since the version you read" in page
    assert "<ins>" in page and NEW_SENTENCE.split()[0] in page.split("<ins>", 1)[1]
    assert re.search(r'value="none"[^>]*checked', page)  # the declaration made is kept
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    assert Client().get(f"/articles/{article.slug}/patient/").status_code == 404  # nothing published

    # Having seen the change, the reviewer decides on the new text: the refreshed form carries version 2.
    again = re.search(r'name="seen_version" value="(\d+)"', page)
    assert again and again.group(1) == "2"
    response = reviewer.post(
        f"/desk/articles/{article.slug}/do/approve/", {**loaded_form(reviewer, article), "conflict": "none"}
    )
    assert response.status_code == 302
    public = Client().get(f"/articles/{article.slug}/patient/").content.decode()
    assert NEW_SENTENCE in public
    assert editorial.refreshed(article).live_publication.content_version == 2


def test_two_approvals_count_only_for_the_version_each_reviewer_saw(cast: Any, settings: Any) -> None:
    settings.APPROVALS_REQUIRED = 2
    article = editorial.under_review(cast)
    first, second = signed_in(cast.reviewer), signed_in(cast.reviewer2)
    first_form, second_form = loaded_form(first, article), loaded_form(second, article)
    assert (
        first.post(f"/desk/articles/{article.slug}/do/approve/", {**first_form, "conflict": "none"}).status_code == 302
    )
    edit_in_another_session(article, cast.editor, NEW_SENTENCE + "\n")

    stale = second.post(f"/desk/articles/{article.slug}/do/approve/", {**second_form, "conflict": "none"})
    assert stale.status_code == 409
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    # The second reviewer approves what they now see; the first approval was of version 1 and does not count.
    assert (
        second.post(
            f"/desk/articles/{article.slug}/do/approve/", {**loaded_form(second, article), "conflict": "none"}
        ).status_code
        == 302
    )
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    assert not Publication.objects.exists()
    assert (
        first.post(
            f"/desk/articles/{article.slug}/do/approve/", {**loaded_form(first, article), "conflict": "none"}
        ).status_code
        == 302
    )
    article = editorial.refreshed(article)
    assert article.status == Status.APPROVED and article.live_publication.content_version == 2
    versions = set(ReviewAssignment.objects.values_list("reviewer__username", "approved_content_version"))
    assert versions == {(cast.reviewer.username, 2), (cast.reviewer2.username, 2)}


def test_two_approvals_through_the_functions_refuse_a_stale_second_approval(cast: Any, settings: Any) -> None:
    settings.APPROVALS_REQUIRED = 2
    article = editorial.under_review(cast)
    seen_by_both = editorial.seen(article)
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **seen_by_both)
    assert editorial.edit(article, cast.editor, patient_body=NEW_SENTENCE + "\n")
    with pytest.raises(workflow.TextChanged):
        workflow.approve(article, by=cast.reviewer2, conflict_of_interest="None", **seen_by_both)
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    assert not WorkflowEvent.objects.filter(action=WorkflowEvent.Action.APPROVE).exists()


def test_requesting_changes_to_a_changed_text_is_refused(cast: Any) -> None:
    article = editorial.under_review(cast)
    reviewer = signed_in(cast.reviewer)
    form = loaded_form(reviewer, article)
    seen = editorial.seen(article)
    edit_in_another_session(article, cast.editor, NEW_SENTENCE + "\n")
    with pytest.raises(workflow.TextChanged):
        workflow.request_changes(article, by=cast.reviewer, note="Too vague.", **seen)
    response = reviewer.post(f"/desk/articles/{article.slug}/do/request_changes/", {**form, "note": "Too vague."})
    assert response.status_code == 409
    page = response.content.decode()
    assert "What changed since the version you read" in page
    assert "Too vague." in page  # the note typed is kept for the second try
    assert editorial.refreshed(article).status == Status.UNDER_REVIEW
    assert not ReviewComment.objects.filter(body="Too vague.").exists()


def test_confirming_still_accurate_a_text_replaced_meanwhile_is_refused(cast: Any, settings: Any) -> None:
    settings.REVIEW_INTERVAL_DAYS = 0  # due for re-review at once
    article = editorial.approved(cast)
    reviewer = signed_in(cast.reviewer2)
    form = loaded_form(reviewer, article)
    seen = editorial.seen(article)
    # Meanwhile the writer revises it and it is approved again, by someone else, as version 2.
    assert editorial.edit(article, cast.writer, patient_body=NEW_SENTENCE + "\n")
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
    workflow.approve(
        article, by=cast.reviewer, conflict_of_interest="None", change_note="Dose advice.", **editorial.seen(article)
    )
    approved_at = editorial.refreshed(article).approved_at

    with pytest.raises(workflow.TextChanged):
        workflow.confirm_still_accurate(article, by=cast.reviewer2, conflict_of_interest="None", **seen)
    response = reviewer.post(f"/desk/articles/{article.slug}/do/confirm_still_accurate/", {**form, "conflict": "none"})
    assert response.status_code == 409
    assert "What changed since the version you read" in response.content.decode()
    assert editorial.refreshed(article).approved_at == approved_at
    assert not WorkflowEvent.objects.filter(action=WorkflowEvent.Action.REREVIEW_CONFIRMED).exists()


def test_writers_cannot_change_the_text_once_review_started(cast: Any, client: Any) -> None:
    article = editorial.under_review(cast)
    with pytest.raises(editing.EditNotAllowed, match="locked while the Advisory Board reviews it"):
        editorial.edit(article, cast.writer, patient_body=NEW_SENTENCE + "\n")
    client.force_login(cast.writer)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert f'href="/desk/articles/{article.slug}/edit/"' not in page
    assert "locked while the Advisory Board reviews it" in page
    response = client.get(f"/desk/articles/{article.slug}/edit/", follow=True)
    assert "locked while the Advisory Board reviews it" in response.content.decode()
    assert editorial.refreshed(article).content_version == 1


def test_a_writer_may_still_edit_before_any_reviewer_starts(cast: Any) -> None:
    article = editorial.submitted(cast)
    assert editorial.edit(article, cast.writer, patient_body="Use your preventer every day.\n")
    assert editorial.refreshed(article).status == Status.SUBMITTED


# --- A library entry is part of the text under review ----------------------------------------------------


def edit_reference(client: Client, reference: Reference, **changes: Any) -> Any:
    """Posts the library's edit form as a person would: every field as loaded, some changed."""
    data = {name: getattr(reference, name) or "" for name in ReferenceForm.Meta.fields} | changes
    return client.post(f"/library/{reference.pk}/edit/", data)


def test_a_writer_cannot_change_a_reference_an_article_under_review_cites(cast: Any) -> None:
    cited = citation_watch.reference("asthma-trial")
    article = editorial.under_review(cast, text=citation_watch.citing("asthma-trial"))
    form_page = signed_in(cast.writer).get(f"/library/{cited.pk}/edit/").content.decode()
    assert "locked until the decision" in form_page  # said before anything is typed
    response = edit_reference(signed_in(cast.writer), cited, title="A retitled trial nobody reviewed")
    assert response.status_code == 200
    page = response.content.decode()
    assert "is cited by “" in page and article.title in page and "locked until the decision" in page
    assert "A retitled trial nobody reviewed" in page  # what was typed is kept
    assert Reference.objects.get(pk=cited.pk).title == cited.title
    assert editorial.refreshed(article).content_version == article.content_version

    # Once decided, the library entry is the writer's to correct again; the publication keeps what was approved.
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    assert edit_reference(signed_in(cast.writer), cited, title="A retitled trial").status_code == 302
    public = Client().get(f"/articles/{article.slug}/patient/").content.decode()
    assert cited.title in public and "A retitled trial" not in public


def test_an_editor_changing_a_cited_reference_makes_a_loaded_decision_stale(cast: Any) -> None:
    cited = citation_watch.reference("asthma-trial")
    article = editorial.under_review(cast, text=citation_watch.citing("asthma-trial"))
    reviewer = signed_in(cast.reviewer)
    form = loaded_form(reviewer, article)
    assert edit_reference(signed_in(cast.editor), cited, title="A corrected trial title").status_code == 302

    response = reviewer.post(f"/desk/articles/{article.slug}/do/approve/", {**form, "conflict": "none"})
    page = response.content.decode()
    assert response.status_code == 409 and "The text changed after you loaded the page" in page
    changes = page.split("What changed since the version you read", 1)[1].split("History", 1)[0]
    assert "asthma-trial" in changes and "A corrected trial title" in changes  # the reviewer sees the change
    assert Client().get(f"/articles/{article.slug}/patient/").status_code == 404  # nothing published
    event = WorkflowEvent.objects.filter(article=article).latest("pk")
    assert (event.action, event.actor) == (WorkflowEvent.Action.EDIT_DURING_REVIEW, cast.editor)

    # Decided again on what is now shown, the new details are what readers see.
    response = reviewer.post(
        f"/desk/articles/{article.slug}/do/approve/", {**loaded_form(reviewer, article), "conflict": "none"}
    )
    assert response.status_code == 302
    assert "A corrected trial title" in Client().get(f"/articles/{article.slug}/patient/").content.decode()


def test_an_editor_changing_a_cited_reference_in_the_admin_makes_a_loaded_decision_stale(cast: Any) -> None:
    cited = citation_watch.reference("asthma-trial")
    article = editorial.under_review(cast, text=citation_watch.citing("asthma-trial"))
    seen = editorial.seen(article)
    cast.editor.is_superuser = True
    cast.editor.save()
    change = f"/admin/articles/reference/{cited.pk}/change/"
    form = signed_in(cast.editor).get(change).context["adminform"].form
    data = {name: "" if value is None else value for name, value in form.initial.items() if name in form.fields}
    assert signed_in(cast.editor).post(change, data | {"year": 2019}).status_code == 302
    with pytest.raises(workflow.TextChanged):
        workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **seen)
    assert editorial.refreshed(article).content_version == seen["seen_version"] + 1
