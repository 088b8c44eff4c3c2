"""Every change is a revision; publications are frozen; history, diffs, revert, conflicts and pruning."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from reversion.models import Revision, Version

from articles import editing, versioning, workflow
from articles.importers import import_article
from articles.models import Article, Reference, WorkflowEvent
from articles.texts import VariantText

from . import editorial

pytestmark = pytest.mark.django_db


def revisions(article: Article) -> list[Revision]:
    return [v.revision for v in versioning.versions_of(article)]


def editor_post(
    client: Any, article: Article, *, patient_body: str, base_version: int, base_revision: int, comment: str = ""
) -> Any:
    text = editing.current_text(article)
    data = {
        "title": text.title,
        "kind": text.kind,
        "topic": text.topic,
        "base_version": base_version,
        "base_revision": base_revision,
        "comment": comment,
    }
    for audience, variant in text.variants.items():
        body = patient_body if audience == "patient" else variant.body
        data |= {f"{audience}-title": variant.title, f"{audience}-summary": variant.summary, f"{audience}-body": body}
    return client.post(f"/desk/articles/{article.slug}/edit/", data)


# --- Revisions from every entry point -------------------------------------------------------------------


def test_creation_is_a_revision_with_user_and_comment(cast: Any) -> None:
    article = editorial.new_article(cast)
    (revision,) = revisions(article)
    assert revision.user == cast.writer
    assert revision.comment == "Created"
    snap = versioning.snapshot(revision, article)
    assert snap.text.variants["patient"].body == editorial.PATIENT.body.strip()  # stored normalised


def test_editor_save_records_a_revision_and_a_noop_save_records_none(cast: Any, client: Any) -> None:
    article = editorial.new_article(cast)
    client.force_login(cast.writer)
    first = revisions(article)[0]
    response = editor_post(
        client,
        article,
        patient_body="New plain text.",
        base_version=1,
        base_revision=first.pk,
        comment="Simpler wording",
    )
    assert response.status_code == 302
    latest = revisions(article)
    assert len(latest) == 2 and latest[0].comment == "Simpler wording" and latest[0].user == cast.writer
    article.refresh_from_db()
    response = editor_post(
        client,
        article,
        patient_body="New plain text.",
        base_version=article.content_version,
        base_revision=latest[0].pk,
    )
    assert response.status_code == 302
    assert len(revisions(article)) == 2  # nothing changed, nothing recorded


def test_importer_and_load_demo_record_revisions(cast: Any) -> None:
    call_command("load_demo")
    for article in Article.objects.filter(slug__in=["continue-dupilumab-despite-persistent-cough"]):
        (revision,) = revisions(article)
        assert revision.comment == "Demo content loaded"
        assert len(versioning.snapshot(revision, article).references) >= 6
    text = "# Does a spacer help?\n\n## Bottom line\n\nYes, for most.\n\nA spacer helps the medicine reach the lungs.\n"
    report = import_article(text, audience="patient", author=cast.writer, title="", topic="Asthma", kind="qa")
    (revision,) = revisions(report.article)
    assert revision.user == cast.writer


def test_admin_change_records_a_revision_and_a_noop_admin_save_none(cast: Any, client: Any) -> None:
    article = editorial.approved(cast)
    client.force_login(cast.editor)
    cast.editor.is_superuser = True
    cast.editor.save()
    url = f"/admin/articles/article/{article.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in ("slug", "title", "kind", "topic")}
    data["authors"] = [u.pk for u in article.authors.all()]
    inline = client.get(url).context["inline_admin_formsets"]
    for formset in inline:
        management = formset.formset.management_form
        data |= {f"{management.prefix}-{k}": v for k, v in management.initial.items()}
        for f in formset.formset.forms:
            for name, field in f.fields.items():
                value = f.initial.get(name, field.initial)
                data[f"{f.prefix}-{name}"] = getattr(value, "pk", value) if value is not None else ""
    before = len(revisions(article))
    assert client.post(url, data).status_code == 302
    assert len(revisions(article)) == before  # unchanged: no revision
    data["title"] = "A retitled question"
    assert client.post(url, data).status_code == 302
    assert len(revisions(article)) == before + 1
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT  # the admin goes through the same rule as the editor
    assert article.live_publication is not None


# --- Publications ---------------------------------------------------------------------------------------


def test_public_html_is_byte_identical_after_edits_to_article_and_references(cast: Any, client: Any) -> None:
    reference = Reference.objects.create(
        key="gina2024", kind="guideline", title="Global strategy for asthma", source="GINA", year=2024
    )
    text = editorial.article_text(
        patient=VariantText("Keep your inhaler", "Yes, keep it.", "Your inhaler calms the airways [@gina2024].\n"),
        clinician=editorial.CLINICIAN,
    )
    article = editorial.approved(cast, text=text)
    url = f"/articles/{article.slug}/patient/"
    before = client.get(url).content
    assert b"Global strategy for asthma" in before
    reference.title = "A different title typed later"
    reference.save()
    editorial.edit(article, cast.writer, patient_body="Changed after approval [@gina2024].\n")
    assert client.get(url).content == before
    assert editorial.refreshed(article).live_publication.revision_id == revisions(article)[1].pk


# --- Diffs ----------------------------------------------------------------------------------------------


def test_revert_creates_a_revision_deletes_nothing_and_keeps_the_public_page(cast: Any, client: Any) -> None:
    article = editorial.approved(cast)
    url = f"/articles/{article.slug}/patient/"
    public = client.get(url).content
    original = revisions(article)[0]
    editorial.edit(article, cast.writer, patient_body="A first rewrite.\n")
    editorial.refreshed(article)
    count_before = Revision.objects.count()
    assert editing.revert_article(editorial.refreshed(article), by=cast.writer, revision_id=original.pk)
    assert Revision.objects.count() == count_before + 1
    latest = revisions(article)[0]
    assert latest.comment == f"Reverted to version {versioning.snapshot(original, article).content_version}"
    assert versioning.snapshot(latest, article).text.variants == versioning.snapshot(original, article).text.variants
    assert editorial.refreshed(article).status == Article.Status.DRAFT
    assert client.get(url).content == public


def test_revert_of_an_approved_article_sends_it_back_to_draft(cast: Any, client: Any) -> None:
    article = editorial.new_article(cast)
    first = revisions(article)[0]
    editorial.edit(article, cast.writer, patient_body="Second wording.\n")
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
    workflow.approve(
        editorial.refreshed(article), by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article)
    )
    client.force_login(cast.writer)
    response = client.post(f"/desk/articles/{article.slug}/revisions/{first.pk}/revert/")
    assert response.status_code == 302
    article = editorial.refreshed(article)
    assert article.status == Article.Status.DRAFT
    assert WorkflowEvent.objects.filter(article=article, action="reopen").exists()


def test_concurrent_editors_never_overwrite_each_other(cast: Any, client: Any) -> None:
    from django.test import Client

    article = editorial.new_article(cast, co_authors=(cast.co_writer,))
    for n in range(4):  # bring it to content version 5
        editorial.edit(article, cast.writer, patient_body=f"Wording number {n}.\n")
    article = editorial.refreshed(article)
    assert article.content_version == 5
    loaded_revision = revisions(article)[0].pk
    first, second = Client(), Client()
    first.force_login(cast.writer)
    second.force_login(cast.co_writer)
    assert (
        editor_post(
            first,
            article,
            patient_body="Alpha text by the first editor.",
            base_version=5,
            base_revision=loaded_revision,
        ).status_code
        == 302
    )
    response = editor_post(
        second, article, patient_body="Beta text by the second editor.", base_version=5, base_revision=loaded_revision
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "Beta text by the second editor." in page  # what they typed is kept in the form
    assert "<ins>Alpha text by the first editor.</ins>" in page or "Alpha" in page.split("What the other person")[1]
    assert editorial.refreshed(article).variant("patient").body == "Alpha text by the first editor."
    bodies = {versioning.snapshot(r, article).text.variants["patient"].body for r in revisions(article)}
    assert "Alpha text by the first editor." in bodies
    # The second editor merges and saves on top of the latest revision: both texts end up in history.
    merged = editor_post(
        second,
        editorial.refreshed(article),
        patient_body="Alpha and Beta, merged.",
        base_version=6,
        base_revision=revisions(article)[0].pk,
    )
    assert merged.status_code == 302
    newest_first = [versioning.snapshot(r, article).text.variants["patient"].body for r in revisions(article)]
    assert newest_first[:2] == ["Alpha and Beta, merged.", "Alpha text by the first editor."]


# --- Permissions on every auxiliary view ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["outsider", "other_writer", "anonymous"])
def test_side_views_are_404_for_anyone_outside_the_article(cast: Any, client: Any, who: str) -> None:
    article = editorial.new_article(cast)
    editorial.edit(article, cast.writer, patient_body="Secret unpublished sentence.\n")
    revision = revisions(article)[0]
    if who != "anonymous":
        client.force_login(getattr(cast, who))
    base = f"/desk/articles/{article.slug}"
    for response in (
        client.get(f"{base}/history/"),
        client.get(f"{base}/diff/"),
        client.get(f"{base}/diff/?from={revisions(article)[1].pk}&to={revision.pk}"),
        client.get(f"{base}/revisions/{revision.pk}/"),
        client.post(f"{base}/revisions/{revision.pk}/revert/"),
        client.get(f"{base}/revisions/{revision.pk}/revert/"),
    ):
        assert response.status_code == 404
        assert b"Secret unpublished" not in response.content
    assert len(revisions(article)) == 2


def test_revision_of_another_article_is_404(cast: Any, client: Any) -> None:
    mine, other = editorial.new_article(cast), editorial.new_article(cast, text=editorial.article_text("Other"))
    client.force_login(cast.writer)
    foreign = revisions(other)[0].pk
    assert client.get(f"/desk/articles/{mine.slug}/revisions/{foreign}/").status_code == 404
    assert client.post(f"/desk/articles/{mine.slug}/revisions/{foreign}/revert/").status_code == 404


# --- History page ---------------------------------------------------------------------------------------


def test_history_with_500_revisions_has_a_fixed_query_count_and_pages(cast: Any, client: Any) -> None:
    article = editorial.new_article(cast)
    for n in range(499):
        editorial.edit(article, cast.writer, patient_body=f"Wording {n}.\n")
    assert len(revisions(article)) == 500
    client.force_login(cast.reviewer)
    url = f"/desk/articles/{article.slug}/history/"
    with CaptureQueriesContext(connection) as first_page:
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count('class="row-actions"') == 25
    assert "Page 1 of 20" in response.content.decode()
    with CaptureQueriesContext(connection) as last_page:
        assert client.get(url + "?page=20").status_code == 200
    assert len(first_page) == len(last_page) <= 12


def test_history_marks_the_approved_and_live_revision(cast: Any, client: Any) -> None:
    article = editorial.approved(cast)
    editorial.edit(article, cast.writer, patient_body="After approval.\n")
    client.force_login(cast.writer)
    page = client.get(f"/desk/articles/{article.slug}/history/").content.decode()
    assert page.count(">Live</span>") == 1
    assert f"Approved by {cast.reviewer.profile.display_name}" in page
    assert "Edited" in page and "Created" in page


# --- Retention ------------------------------------------------------------------------------------------


def test_prune_keeps_published_event_referenced_and_latest_revisions(cast: Any) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        article = editorial.new_article(cast)  # revision A: referenced by the submit event below
        workflow.submit(article, by=cast.writer)
        workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
        workflow.approve(
            editorial.refreshed(article), by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article)
        )
        for n in range(3):  # drafts nobody acted on
            editorial.edit(article, cast.writer, patient_body=f"Draft {n}.\n")
    published = editorial.refreshed(article).live_publication.revision_id
    acted_on = set(WorkflowEvent.objects.filter(article=article).values_list("revision_id", flat=True))
    all_before = [r.pk for r in revisions(article)]
    call_command("prune_revisions", "--keep-days", "30")
    kept = {r.pk for r in revisions(article)}
    assert published in kept and acted_on <= kept
    assert all_before[0] in kept  # the current text
    assert kept < set(all_before)  # and the unreferenced drafts are gone
    assert Version.objects.get_for_object(article).count() == len(kept)


def test_review_page_shows_the_changes_since_the_live_version_by_default(cast: Any, client: Any) -> None:
    article = editorial.approved(cast)
    editorial.edit(article, cast.writer, patient_body="Use the <b>new</b> wording, please.\n")
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    client.force_login(cast.reviewer2)
    page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    section = page.split("Changes since the approved version readers see")[1]
    assert "<ins>" in section and "<del>" in section
    assert "&lt;b&gt;new&lt;/b&gt;" in section  # the writer's markup is shown as text, never injected


def test_first_edit_of_demo_content_changes_only_what_was_edited(cast: Any) -> None:
    call_command("load_demo")
    article = Article.objects.get(slug="continue-dupilumab-despite-persistent-cough")
    writer = article.authors.get()
    before = revisions(article)[0]
    assert editorial.edit(article, writer, patient_title="Should you keep taking Dupixent?")
    from articles.views.history import diff_between

    changed = [f.label for f in diff_between(article, before, revisions(article)[0]).fields if f.changed]
    assert changed == ["Patient or caregiver: heading"]
