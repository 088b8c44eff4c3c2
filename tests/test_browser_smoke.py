# ruff: noqa: F811
"""Smoke journeys in a real browser over the demo content: reading, signing in and out, accessibility,
and screenshots at desktop and phone widths (saved under test-artifacts/screenshots/ for people to look at)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from articles.models import Article

# Until tests/conftest.py has `pytest_plugins = ["tests.browser"]`, the fixtures (browser, page, phone_page)
# come in by import; test arguments named like them "redefine" the import, hence the file-level F811 waiver.
from tests.browser import browser, describe, login, page, phone_page, screenshot, serious_violations  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    # The live server answers from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

WRITER = ("writer", "writer-demo-2026")


@pytest.fixture
def demo() -> list[Article]:
    # load_demo puts back the editorial groups a transactional test's flush removed.
    call_command("load_demo", stdout=io.StringIO())  # keep its "ready" line out of the test output
    return list(Article.objects.order_by("title"))


def test_home_lists_both_demo_articles_and_a_click_opens_one(page: Page, live_server: Any, demo: list[Article]) -> None:
    page.goto(live_server.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Medically reviewed articles")
    links = page.locator(".article-card a")
    expect(links).to_have_count(len(demo))  # every demo article, the retraction demo included
    for article in demo:
        expect(page.get_by_role("link", name=article.title)).to_be_visible()

    first = demo[0]
    page.get_by_role("link", name=first.title).click()
    expect(page).to_have_url(re.compile(re.escape(f"{live_server.url}{first.get_absolute_url()}")))
    expect(page.get_by_role("heading", level=1)).to_have_text(first.title)
    expect(page.locator(".bottom-line")).to_be_visible()


def test_writer_signs_in_sees_my_articles_and_signs_out(page: Page, live_server: Any, demo: list[Article]) -> None:
    nav = page.get_by_role("navigation", name="Main")
    login(page, live_server, *WRITER)
    expect(nav.get_by_role("link", name="My articles")).to_be_visible()
    expect(nav).to_contain_text("Dana Okafor")

    nav.get_by_role("button", name="Sign out").click()
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
    expect(nav.get_by_role("link", name="My articles")).to_have_count(0)


@pytest.mark.parametrize("where", ["home", "article"])
def test_no_serious_accessibility_violations(page: Page, live_server: Any, demo: list[Article], where: str) -> None:
    path = "/" if where == "home" else demo[0].get_absolute_url()
    page.goto(f"{live_server.url}{path}")
    found = serious_violations(page)
    assert not found, f"axe-core found serious/critical problems on {path}:\n{describe(found)}"


def test_screenshots_at_desktop_and_phone_widths(
    page: Page, phone_page: Page, live_server: Any, demo: list[Article]
) -> None:
    pages = {"home": "/", "article": demo[0].get_absolute_url()}
    for width, tab in (("desktop", page), ("phone", phone_page)):
        for name, path in pages.items():
            tab.goto(f"{live_server.url}{path}")
            assert screenshot(tab, f"{name}-{width}").stat().st_size > 0
            # Nothing may stick out sideways: a phone reader would have to scroll horizontally. Compare with
            # the device width, not innerWidth: mobile emulation widens the layout viewport to fit wide content.
            overflow = (
                tab.evaluate("document.documentElement.scrollWidth") - (tab.viewport_size or {"width": 0})["width"]
            )
            assert overflow <= 0, f"{path} is {overflow}px wider than the {width} viewport"
