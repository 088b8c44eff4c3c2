"""Reader trust in Chromium: the "On this page" list beside the text on a 1,366 px screen and collapsed on a
390 px phone, the cited sentence highlighted on the way back from a reference, the print view, a question
sent through the form page (CSRF on a fresh page), and axe-core on every new page. Screenshots are saved in
test-artifacts/screenshots/ for people to look at."""

from __future__ import annotations

import importlib
import io
import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from articles import workflow
from articles.models import Article, ReaderFeedback
from tests.browser import SCREENSHOT_DIR, _new_page, describe, login, screenshot, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QA_SLUG = "continue-dupilumab-despite-persistent-cough"
LAPTOP = {"width": 1366, "height": 800}
REM = 16


@pytest.fixture
def qa() -> Article:
    importlib.import_module("articles.migrations.0007_site_page").add_policy(apps, None)
    call_command("load_demo", stdout=io.StringIO())
    return Article.objects.select_related("live_publication").get(slug=QA_SLUG)


@pytest.fixture
def laptop(browser: Browser) -> Any:
    yield from _new_page(browser, viewport=LAPTOP)


def box(page: Page, selector: str) -> Any:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


def test_contents_list_sits_beside_the_text_at_1366px(laptop: Page, live_server: Any, qa: Article) -> None:
    laptop.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    toc = laptop.locator("nav.toc")
    expect(toc.locator("details")).to_have_attribute("open", "")
    expect(toc.get_by_role("link", name="Why you may still cough")).to_be_visible()
    expect(toc.get_by_role("link", name="References")).to_be_visible()
    text, contents = box(laptop, ".reader-text"), box(laptop, "nav.toc")
    # Beside, not above: the list starts right of the text column, level with its top.
    assert contents["x"] >= text["x"] + text["width"]
    assert abs(contents["y"] - text["y"]) < 40
    # The text keeps a readable measure (at most 46rem) while the page uses the desktop's width.
    assert 36 * REM <= text["width"] <= 46 * REM + 1
    assert contents["x"] + contents["width"] - text["x"] >= 960
    screenshot(laptop, "trust-article-1366")
    # Sticky: deep in the references the list is still on screen.
    laptop.locator("#references-h").scroll_into_view_if_needed()
    laptop.mouse.wheel(0, 400)
    laptop.wait_for_timeout(100)
    still = box(laptop, "nav.toc")
    assert 0 <= still["y"] < LAPTOP["height"]
    laptop.screenshot(path=str(SCREENSHOT_DIR / "trust-article-1366-scrolled.png"))  # the viewport only
    # A link in the list jumps to its section.
    toc.get_by_role("link", name="Keep taking Dupixent for now").click()
    expect(laptop).to_have_url(re.compile(r"#section-keep-taking-dupixent-for-now$"))


def test_contents_list_collapses_at_390px(phone_page: Page, live_server: Any, qa: Article) -> None:
    phone_page.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    details = phone_page.locator("nav.toc details")
    expect(details).not_to_have_attribute("open", "")
    expect(phone_page.locator("nav.toc").get_by_role("link", name="References")).to_be_hidden()
    assert box(phone_page, "nav.toc")["y"] < box(phone_page, ".variant-title")["y"]  # above the text, one line
    assert box(phone_page, "nav.toc")["height"] < 80
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "trust-article-390")
    phone_page.locator("nav.toc").scroll_into_view_if_needed()
    phone_page.screenshot(path=str(SCREENSHOT_DIR / "trust-article-390-contents.png"))  # the viewport only
    phone_page.locator("nav.toc summary").click()
    expect(phone_page.locator("nav.toc").get_by_role("link", name="References")).to_be_visible()
    phone_page.screenshot(path=str(SCREENSHOT_DIR / "trust-article-390-contents-open.png"))
    phone_page.locator(".reader-feedback").scroll_into_view_if_needed()
    phone_page.screenshot(path=str(SCREENSHOT_DIR / "trust-article-390-feedback.png"))


def test_audience_switch_keeps_the_contents_list_placed(laptop: Page, live_server: Any, qa: Article) -> None:
    laptop.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    laptop.get_by_role("link", name="Healthcare professional").click()
    expect(laptop).to_have_url(f"{live_server.url}/articles/{QA_SLUG}/clinician/")
    expect(laptop.locator("nav.toc details")).to_have_attribute("open", "")


def highlighted(page: Page) -> str:
    return page.evaluate(
        "() => { const h = CSS.highlights.get('cited-sentence'); return h ? [...h][0].toString() : ''; }"
    )


def test_returning_from_a_reference_highlights_the_citing_sentence(page: Page, live_server: Any, qa: Article) -> None:
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    marker = page.locator(".article-body sup.citation a").first
    # No space between the word and its citation number.
    before = marker.evaluate("a => a.closest('sup').previousSibling.textContent")
    assert not before[-1].isspace()
    marker.click()
    expect(page).to_have_url(re.compile(r"#ref-1$"))
    page.locator("#ref-1 a.citation-backlink").first.click()
    expect(page).to_have_url(re.compile(r"#cite-1-1$"))
    sentence = " ".join(highlighted(page).split())
    assert sentence == "Mucus can drip down the back of your throat and make you cough1."
    screenshot(page, "trust-cited-sentence")


def test_print_view_keeps_references_and_review_information(page: Page, live_server: Any, qa: Article) -> None:
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/clinician/")
    page.emulate_media(media="print")
    for kept in (".references-section", ".review-banner", ".reviewed-by", ".review-dates", ".written-by"):
        expect(page.locator(kept).first).to_be_visible()
    for dropped in ("nav.toc", ".reader-feedback", ".related", ".site-header"):
        expect(page.locator(dropped).first).to_be_hidden()
    page.emulate_media(media="screen")


def test_a_question_sent_from_the_form_page_reaches_the_backlog(page: Page, live_server: Any, qa: Article) -> None:
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    page.get_by_role("link", name="Ask a follow-up question").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Have a follow-up question?")
    expect(page.locator("#id_website")).to_be_hidden()  # the honeypot
    page.get_by_label("Your question").fill("Should I keep the nose spray going while on the injection?")
    page.get_by_label("Your email (optional)").fill("reader@example.net")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    item = ReaderFeedback.objects.get()
    assert (item.kind, item.audience, item.email) == ("question", "patient", "reader@example.net")

    writer = page  # the same browser, now signed in as the article's writer
    login(writer, live_server, "writer", "writer-demo-2026")
    writer.goto(f"{live_server.url}/desk/feedback/")
    writer.get_by_role("link", name=re.compile("nose spray")).click()
    writer.get_by_label("Your reply").fill("Yes, keep both: they treat different parts of the airway.")
    writer.get_by_role("button", name="Send the answer").click()
    expect(writer.locator(".status").first).to_have_text("Answered")
    assert not serious_violations(writer), describe(serious_violations(writer))
    screenshot(writer, "trust-desk-feedback-item")


def test_new_pages_have_no_serious_accessibility_violations(
    laptop: Page, phone_page: Page, live_server: Any, qa: Article, settings: Any
) -> None:
    settings.REVIEW_INTERVAL_DAYS = 0  # due for re-review at once
    reviewer2 = User.objects.get(username="reviewer2")
    workflow.confirm_still_accurate(qa, by=reviewer2, conflict_of_interest="None", seen_version=qa.content_version)
    reviewer = User.objects.get(username="reviewer").profile
    pages = {
        "article": f"/articles/{QA_SLUG}/patient/",
        "updates": "/updates/",
        "board": "/advisory-board/",
        "profile": f"/people/{reviewer.pk}/",
        "ask": f"/articles/{QA_SLUG}/ask/?audience=patient",
        "report": f"/articles/{QA_SLUG}/report/?audience=clinician",
    }
    for name, path in pages.items():
        for page, width in ((laptop, 1366), (phone_page, 390)):
            page.goto(live_server.url + path)
            violations = serious_violations(page)
            assert not violations, f"{name} at {width}px:\n{describe(violations)}"
            screenshot(page, f"trust-{name}-{width}")
    laptop.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    expect(laptop.locator(".updates")).to_contain_text("no changes needed")
