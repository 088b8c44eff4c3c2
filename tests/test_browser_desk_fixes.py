"""In Chromium: the editor preview's lists keep their bullets; a refused submit stays on the article page
with each reason once; revert asks first; the queue and a 404 page at desktop and phone widths
(screenshots in test-artifacts/screenshots/)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from articles.models import Article
from tests import editorial
from tests.browser import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MISSING = "The healthcare professional version is missing."


def test_preview_lists_have_bullets(page: Page, live_server: Any, cast: Any) -> None:
    login(page, live_server, cast.writer)
    page.goto(f"{live_server.url}/desk/articles/new/")
    page.locator("#id_patient-body").fill("What helps:\n\n- a daily preventer\n- a spacer\n")
    item = page.locator("#preview-patient .article-body li").first
    expect(item).to_have_text("a daily preventer")
    assert item.evaluate("li => getComputedStyle(li).listStyleType") == "disc"
    assert item.evaluate("li => getComputedStyle(li.parentElement).paddingLeft") != "0px"


def test_a_refused_submit_stays_on_the_article_page_with_each_reason_once(
    page: Page, live_server: Any, cast: Any
) -> None:
    article = editorial.new_article(cast, text=editorial.article_text(patient=editorial.PATIENT))
    login(page, live_server, cast.writer)
    page.goto(f"{live_server.url}/desk/articles/{article.slug}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit for review").click()
    assert page.url == f"{live_server.url}/desk/articles/{article.slug}/"
    text = page.locator("main").inner_text()
    assert text.count(MISSING) == 1
    expect(page.locator(".message-error")).to_contain_text("Not submitted: one thing to fix first")
    assert Article.objects.get(pk=article.pk).status == Article.Status.DRAFT


def test_revert_asks_for_confirmation(page: Page, live_server: Any, cast: Any) -> None:
    article = editorial.new_article(cast)
    editorial.edit(article, cast.writer, patient_body="Second wording.\n")
    login(page, live_server, cast.writer)
    page.goto(f"{live_server.url}/desk/articles/{article.slug}/history/")
    page.get_by_role("link", name="Revert to this…").click()
    expect(page.get_by_role("heading", name="Revert to version 1?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    assert Article.objects.get(pk=article.pk).content_version == 2  # nothing happened
    page.get_by_role("link", name="Revert to this…").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Revert to version 1").click()
    expect(page.locator(".message")).to_contain_text("Reverted to the text of version 1.")
    assert Article.objects.get(pk=article.pk).content_version == 3


def test_screenshots_of_the_queue_and_a_404(
    page: Page, phone_page: Page, live_server: Any, cast: Any, settings: Any
) -> None:
    editorial.submitted(cast, co_authors=(cast.co_writer,))
    editorial.under_review(cast, text=editorial.article_text("Is a spacer better than an inhaler alone?"))
    settings.DEBUG = False  # the production 404 page, not the technical one
    for name, tab in (("desktop", page), ("phone", phone_page)):
        login(tab, live_server, cast.reviewer)
        tab.goto(f"{live_server.url}/desk/queue/")
        expect(tab.get_by_role("heading", name="Review queue")).to_be_visible()
        expect(tab.locator(".queue-table").first).to_contain_text(cast.reviewer.profile.display_name)
        screenshot(tab, f"h13-queue-{name}")
        response = tab.goto(f"{live_server.url}/articles/no-such-article/patient/")
        assert response is not None and response.status == 404
        expect(tab.get_by_role("heading", name="We could not find that page")).to_be_visible()
        screenshot(tab, f"h13-404-{name}")
