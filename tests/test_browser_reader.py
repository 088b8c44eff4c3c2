"""The reader's page in Chromium: switching audience without a reload (and with plain links when JavaScript
is off), following a citation to its reference, printing, the admin under the Content-Security-Policy,
accessibility, and screenshots of both audiences at desktop and phone widths for people to look at."""

from __future__ import annotations

import importlib
import io
import re
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from articles.models import Article
from tests.browser import describe, screenshot, serious_violations

pytestmark = [
    pytest.mark.browser,
    # The live server answers from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

QA_SLUG = "continue-dupilumab-despite-persistent-cough"
EDITOR = ("editor", "editor-demo-2026")


def restore_policy_page() -> None:
    """Transactional tests flush the rows data migrations made; load_demo puts the editorial groups back,
    and this puts back the editorial policy page, through the migration's own code."""
    importlib.import_module("articles.migrations.0007_site_page").add_policy(apps, None)


@pytest.fixture
def qa() -> Article:
    restore_policy_page()
    call_command("load_demo", stdout=io.StringIO())
    return Article.objects.select_related("live_publication").get(slug=QA_SLUG)


def version_title(article: Article, audience: str) -> str:
    return article.live_publication.variant(audience).title


def csp_errors(page: Page) -> list[str]:
    """Collects console errors about the Content-Security-Policy from now on."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", on_console)
    return found


def audience_cookie(page: Page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "audience"), None)


def test_switching_audience_swaps_the_article_without_a_reload(page: Page, live_server: Any, qa: Article) -> None:
    blocked = csp_errors(page)
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/")
    expect(page).to_have_url(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    expect(page.locator(".variant-title")).to_have_text(version_title(qa, "patient"))
    # A full page load would give a fresh window object and lose this marker.
    page.evaluate("window.__sameDocument = 'yes'")

    page.get_by_role("link", name="Healthcare professional").click()
    expect(page).to_have_url(f"{live_server.url}/articles/{QA_SLUG}/clinician/")
    expect(page.locator(".variant-title")).to_have_text(version_title(qa, "clinician"))
    expect(page.get_by_role("link", name="Healthcare professional")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Professional medical disclaimer")).to_be_visible()
    assert page.evaluate("window.__sameDocument") == "yes"
    assert page.title().startswith(version_title(qa, "clinician"))
    assert page.locator('link[rel="canonical"]').get_attribute("href").endswith("/clinician/")
    assert '"Clinician"' in (page.locator("#structured-data").text_content() or "")
    assert audience_cookie(page) == "clinician"  # remembered, though the cookie is httponly

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    expect(page.locator(".variant-title")).to_have_text(version_title(qa, "patient"))
    assert page.evaluate("window.__sameDocument") == "yes"
    assert audience_cookie(page) == "patient"
    assert not blocked, blocked


def test_switching_works_with_plain_links_when_javascript_is_off(
    browser: Browser, live_server: Any, qa: Article
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/articles/{QA_SLUG}/")
        page.get_by_role("link", name="Healthcare professional").click()
        expect(page).to_have_url(f"{live_server.url}/articles/{QA_SLUG}/clinician/")
        expect(page.locator(".variant-title")).to_have_text(version_title(qa, "clinician"))
        page.goto(f"{live_server.url}/articles/{QA_SLUG}/")  # the bare URL now remembers the choice
        expect(page).to_have_url(f"{live_server.url}/articles/{QA_SLUG}/clinician/")
    finally:
        context.close()


def test_a_citation_leads_to_its_reference(page: Page, live_server: Any, qa: Article) -> None:
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/patient/")
    page.get_by_role("link", name="Healthcare professional").click()  # also after a switch
    expect(page.locator(".variant-title")).to_have_text(version_title(qa, "clinician"))
    marker = page.locator(".article-body sup.citation a").first
    target = marker.get_attribute("href")
    assert target and re.fullmatch(r"#ref-\d+", target)
    marker.click()
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))
    reference = page.locator(target)
    expect(reference).to_be_in_viewport()
    first_cited = qa.live_publication.variant("clinician").references[int(target.removeprefix("#ref-")) - 1]
    expect(reference).to_contain_text(first_cited["title"])


def test_printing_keeps_the_references_and_drops_the_navigation(page: Page, live_server: Any, qa: Article) -> None:
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/clinician/")
    page.emulate_media(media="print")
    expect(page.locator(".references-section")).to_be_visible()
    expect(page.locator("#ref-1")).to_be_visible()
    expect(page.locator(".disclaimer")).to_be_visible()
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".audience-switch")).to_be_hidden()


@pytest.mark.parametrize("audience", ["patient", "clinician"])
def test_no_serious_accessibility_violations(page: Page, live_server: Any, qa: Article, audience: str) -> None:
    page.goto(f"{live_server.url}/articles/{QA_SLUG}/{audience}/")
    found = serious_violations(page)
    assert not found, f"axe-core on the {audience} page:\n{describe(found)}"
    # And once more after a switch made by the script.
    other = "Patient or caregiver" if audience == "clinician" else "Healthcare professional"
    page.get_by_role("link", name=other).click()
    expect(page.get_by_role("link", name=other)).to_have_attribute("aria-current", "page")
    found = serious_violations(page)
    assert not found, f"axe-core after switching from {audience}:\n{describe(found)}"


@pytest.mark.parametrize("path", ["/?q=dupixent", "/about/editorial-policy/"])
def test_index_search_and_policy_page_are_accessible(page: Page, live_server: Any, qa: Article, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    found = serious_violations(page)
    assert not found, f"axe-core on {path}:\n{describe(found)}"


def test_screenshots_of_both_audiences_at_desktop_and_phone_widths(
    page: Page, phone_page: Page, live_server: Any, qa: Article
) -> None:
    for width, tab in (("desktop", page), ("phone", phone_page)):
        for audience in ("patient", "clinician"):
            tab.goto(f"{live_server.url}/articles/{QA_SLUG}/{audience}/")
            assert screenshot(tab, f"reader-{audience}-{width}").stat().st_size > 0
            overflow = (
                tab.evaluate("document.documentElement.scrollWidth") - (tab.viewport_size or {"width": 0})["width"]
            )
            assert overflow <= 0, f"the {audience} page is {overflow}px wider than the {width} viewport"
        tab.goto(f"{live_server.url}/?q=asthma")
        screenshot(tab, f"reader-search-{width}")


def test_the_admin_runs_its_scripts_under_the_policy(page: Page, live_server: Any, qa: Article) -> None:
    blocked = csp_errors(page)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/articles/sitepage/add/")
    page.get_by_label("Username").fill(EDITOR[0])
    page.get_by_label("Password").fill(EDITOR[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Add site page")).to_be_visible()
    # The slug is filled in by the admin's prepopulate script as one types (it listens to key events).
    page.get_by_label("Title").press_sequentially("About our reviewers")
    assert not blocked, blocked
    expect(page.get_by_label("Slug")).to_have_value("about-our-reviewers")
