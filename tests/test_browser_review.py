"""The review pages in Chromium: on the desk page both audience versions are shown side by side, and each
citation leads to its own version's reference (and back); a writer whose article came back sees who asked
for changes, and what, at the top of the page (screenshot in test-artifacts/screenshots/)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from articles import workflow
from articles.editing import VariantText
from articles.models import Reference
from tests.browser import login, screenshot

from . import editorial

pytestmark = [
    pytest.mark.browser,
    # The live server answers from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

CHANGE_NOTE = "Say how many puffs a day, and when to call the nurse if the cough comes back."


def article_citing_different_sources(cast: Any) -> Any:
    Reference.objects.create(
        key="nurse2021", kind="research", title="Inhaler technique taught by nurses", source="Thorax", year=2021
    )
    Reference.objects.create(
        key="gina2024", kind="guideline", title="Global strategy for asthma management", source="GINA", year=2024
    )
    patient, clinician = editorial.PATIENT, editorial.CLINICIAN
    text = editorial.article_text(
        patient=VariantText(
            patient.title, patient.summary, patient.body + "\nAsk your nurse to watch you [@nurse2021].\n"
        ),
        clinician=VariantText(
            clinician.title, clinician.summary, clinician.body + "\nStep down after three months [@gina2024].\n"
        ),
    )
    return editorial.under_review(cast, text=text)


def follow_citation_one(page: Page, audience: str) -> str:
    """Click citation 1 in one audience's column; return the text of the reference it lands on."""
    column = page.locator(".version-panel").filter(has=page.locator(f'[id^="{audience}-cite-"]'))
    column.locator(".article-body sup.citation a", has_text="1").first.click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#{audience}-ref-1")
    target = page.locator(":target")
    expect(target).to_have_count(1)
    # It is this column's own reference list, not the other version's reference 1.
    assert column.locator(f"#{audience}-ref-1").count() == 1
    return target.inner_text()


def test_each_columns_citation_lands_on_its_own_reference_and_back(live_server: Any, cast: Any, page: Page) -> None:
    article = article_citing_different_sources(cast)
    login(page, live_server, cast.reviewer2)
    page.goto(f"{live_server.url}/desk/articles/{article.slug}/")
    ids = page.eval_on_selector_all("[id]", "elements => elements.map(e => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)

    assert "Inhaler technique taught by nurses" in follow_citation_one(page, "patient")
    page.locator("#patient-ref-1 .citation-backlink").first.click()
    expect(page).to_have_url(f"{live_server.url}/desk/articles/{article.slug}/#patient-cite-1-1")

    assert "Global strategy for asthma management" in follow_citation_one(page, "clinician")
    page.locator("#clinician-ref-1 .citation-backlink").first.click()
    expect(page).to_have_url(f"{live_server.url}/desk/articles/{article.slug}/#clinician-cite-1-1")


def test_the_writer_sees_the_request_for_changes_at_the_top(live_server: Any, cast: Any, page: Page) -> None:
    article = editorial.under_review(cast)
    workflow.request_changes(article, by=cast.reviewer, note=CHANGE_NOTE, **editorial.seen(article))
    login(page, live_server, cast.writer)

    page.goto(f"{live_server.url}/desk/articles/")
    row = page.locator("tbody tr").filter(has_text=article.title)
    expect(row).to_contain_text("Changes requested by Rita Reviewer, MD")
    expect(row).to_contain_text(CHANGE_NOTE)
    screenshot(page, "review-writer-my-articles-changes-requested")
    row.get_by_role("link", name="Read the request, revise and resubmit").click()

    notice = page.locator(".turn")
    expect(notice.get_by_role("heading")).to_have_text("Changes requested by Rita Reviewer, MD")
    expect(notice).to_contain_text(CHANGE_NOTE)
    expect(page.locator(".desk-head .status")).to_have_text("Changes requested")
    # At the top: seen without scrolling, above the two versions.
    box, viewport = notice.bounding_box(), page.viewport_size
    assert box and viewport and box["y"] + box["height"] < viewport["height"], box
    notice.get_by_role("link", name="Round 1").click()
    expect(page.locator("#round-1")).to_contain_text(CHANGE_NOTE)
    expect(page.get_by_role("button", name="Resubmit for review")).to_be_visible()
    page.goto(f"{live_server.url}/desk/articles/{article.slug}/")
    assert screenshot(page, "review-writer-changes-requested").stat().st_size > 0


def test_a_writer_is_told_a_cited_reference_is_locked_during_review(live_server: Any, cast: Any, page: Page) -> None:
    article = article_citing_different_sources(cast)
    cited = Reference.objects.get(key="nurse2021")
    login(page, live_server, cast.writer)
    page.goto(f"{live_server.url}/library/{cited.pk}/edit/")
    expect(page.get_by_role("status")).to_contain_text(f"cited by “{article.title}”")

    page.get_by_label("Title").fill("Inhaler technique taught by pharmacists")
    page.get_by_role("button", name="Save reference").click()
    expect(page.locator(".form-errors")).to_contain_text("locked until the decision")
    expect(page.get_by_label("Title")).to_have_value("Inhaler technique taught by pharmacists")  # kept
    screenshot(page, "library-entry-locked-during-review")
    assert Reference.objects.get(pk=cited.pk).title == "Inhaler technique taught by nurses"
