"""Unfinished references never reach readers: a lookup still pending, a lookup that failed and was not
completed by hand, no title, no source, or a year in the future block submission and approval, each with a
reason that names the reference and says what to do."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from articles import editing, workflow
from articles.editing import ArticleText, VariantText
from articles.models import Article, Reference
from articles.references import fill_metadata
from tests.fakeweb import FakeWeb, fakeweb_fixture  # noqa: F401

from . import editorial

pytestmark = pytest.mark.django_db
PENDING_DOI = "10.1056/nejmoa2034975"  # cited, its lookup not yet run
UNKNOWN_DOI = "10.9999/no-such-paper"  # the fake Crossref answers 404 for it
PENDING_KEY = "pending-doi-10.1056-nejmoa2034975"
FAILED_KEY = "pending-doi-10.9999-no-such-paper"


def text_citing(*citations: str) -> Any:
    patient = editorial.PATIENT
    body = patient.body + "\nYour nurse can check your technique " + " ".join(citations) + ".\n"
    return editorial.article_text(
        patient=VariantText(patient.title, patient.summary, body), clinician=editorial.CLINICIAN
    )


def hand_typed_without_title_in_the_future() -> Reference:
    return Reference.objects.create(key="test2030", kind=Reference.Kind.OTHER, title="", source="", year=3013)


def expected_reasons() -> list[str]:
    return [
        f"Reference {PENDING_KEY} is still waiting for its details",
        f"Reference {FAILED_KEY}: the lookup of its details did not finish. Not found",
        "Reference test2030 has no title",
        "Reference test2030 has no source",
        "Reference test2030 has the year 3013, which is in the future",
    ]


def test_unfinished_references_block_submission_each_with_its_reason(cast: Any, fakeweb: FakeWeb, client: Any) -> None:
    hand_typed_without_title_in_the_future()
    article = editorial.new_article(
        cast, text=text_citing(f"[@doi:{PENDING_DOI}]", f"[@doi:{UNKNOWN_DOI}]", "[@test2030]")
    )
    fill_metadata([Reference.objects.get(doi=UNKNOWN_DOI).pk])  # what the worker does: Crossref says 404
    assert Reference.objects.get(doi=UNKNOWN_DOI).metadata_status == Reference.MetadataStatus.NOT_FOUND
    assert Reference.objects.get(doi=PENDING_DOI).metadata_status == Reference.MetadataStatus.PENDING

    with pytest.raises(workflow.NotFit) as refused:
        workflow.submit(article, by=cast.writer)
    for reason in expected_reasons():
        assert any(r.startswith(reason) for r in refused.value.reasons), (reason, refused.value.reasons)
    client.force_login(cast.writer)
    page = client.post(f"/desk/articles/{article.slug}/do/submit/", follow=True).content.decode()
    assert "is still waiting for its details" in page and "which is in the future" in page
    assert editorial.refreshed(article).status == Article.Status.DRAFT


def test_a_failed_lookup_completed_by_hand_may_be_published(cast: Any, fakeweb: FakeWeb, client: Any) -> None:
    article = editorial.new_article(cast, text=text_citing(f"[@doi:{UNKNOWN_DOI}]"))
    reference = Reference.objects.get(doi=UNKNOWN_DOI)
    fill_metadata([reference.pk])
    Reference.objects.filter(pk=reference.pk).update(title="Inhaler technique in adults", source="Thorax", year=2021)
    workflow.submit(article, by=cast.writer)
    workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    page = client.get(f"/articles/{article.slug}/patient/").content.decode()
    assert "Inhaler technique in adults" in page
    assert "pending-" not in page


def test_a_reference_that_became_unfinished_blocks_approval(cast: Any, client: Any) -> None:
    Reference.objects.create(key="gina2024", kind="guideline", title="Global strategy", source="GINA", year=2024)
    article = editorial.under_review(cast, text=text_citing("[@gina2024]"))
    # Someone mistypes the year in the library while the article is under review.
    Reference.objects.filter(key="gina2024").update(year=3024)
    with pytest.raises(workflow.NotFit, match="Reference gina2024 has the year 3024, which is in the future"):
        workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    client.force_login(cast.reviewer)
    response = client.post(
        f"/desk/articles/{article.slug}/do/approve/", {"conflict": "none", **editorial.seen(article)}, follow=True
    )
    assert "Reference gina2024 has the year 3024" in response.content.decode()
    assert client.get(f"/articles/{article.slug}/patient/").status_code == 404


def test_a_pending_citation_added_during_review_blocks_approval(cast: Any) -> None:
    article = editorial.under_review(cast)
    body = editorial.PATIENT.body + f"\nSee the new trial [@doi:{PENDING_DOI}].\n"
    assert editorial.edit(article, cast.editor, patient_body=body)
    with pytest.raises(workflow.NotFit, match=f"Reference {PENDING_KEY} is still waiting"):
        workflow.approve(article, by=cast.reviewer, conflict_of_interest="None", **editorial.seen(article))
    assert editorial.refreshed(article).live_publication is None


def test_the_public_pages_of_demo_articles_never_show_a_placeholder_key(cast: Any, client: Any) -> None:
    call_command("load_demo")
    demo = Article.objects.get(slug="why-asthma-returns-after-biologics")
    writer = demo.authors.get()
    # The writer cites a brand-new DOI (its lookup pending) and tries to take it through review again.
    current = editing.current_text(demo)
    patient = current.variants["patient"]
    body = patient.body + f"\n\nA new trial supports this [@doi:{PENDING_DOI}].\n"
    text = ArticleText(
        current.title,
        current.kind,
        current.topic,
        {**current.variants, "patient": VariantText(patient.title, patient.summary, body)},
    )
    editing.save_article(demo, by=writer, base_version=demo.content_version, text=text)
    with pytest.raises(workflow.NotFit):
        workflow.submit(editorial.refreshed(demo), by=writer)
    for article in Article.objects.all():
        for audience in ("patient", "clinician"):
            page = client.get(f"/articles/{article.slug}/{audience}/").content.decode()
            assert "pending-" not in page
