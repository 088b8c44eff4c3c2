# ruff: noqa: F811
"""The import page in Chromium: found from the desk, a file previewed (amber warnings, nothing saved), then
imported; screenshots of the page and the preview at desktop and phone widths for people to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from articles.models import Article, Reference
from tests.browser import browser, describe, login, page, phone_page, screenshot, serious_violations  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).parent / "samples" / "qa_bottom_first.txt"


@pytest.fixture
def writer(cast: Any) -> User:
    return cast.writer


def overflow(tab: Page) -> int:
    return int(tab.evaluate("document.documentElement.scrollWidth")) - tab.viewport_size["width"]  # type: ignore[index]


def test_writer_finds_the_importer_previews_and_imports(page: Page, live_server: Any, writer: User) -> None:
    login(page, live_server, writer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import an article")
    found = serious_violations(page)
    assert not found, describe(found)

    page.get_by_label("File").set_input_files(str(SAMPLE))
    page.get_by_label("Topic").fill("Asthma")
    page.get_by_role("button", name="Preview the import").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check before importing")
    expect(page.locator(".message-warning").first).to_contain_text("New library reference")
    assert Article.objects.count() == 0 and Reference.objects.count() == 0
    found = serious_violations(page)
    assert not found, describe(found)

    page.get_by_role("button", name="Import").click()
    expect(page.locator(".message-success")).to_contain_text("as a draft")
    expect(page.locator(".message-warning").first).to_be_visible()
    assert Article.objects.get().title.startswith("Should my child keep using a spacer")


def test_import_page_screenshots_at_desktop_and_phone_widths(
    page: Page, phone_page: Page, live_server: Any, writer: User
) -> None:
    for width, tab in (("desktop", page), ("phone", phone_page)):
        login(tab, live_server, writer)
        tab.goto(f"{live_server.url}/desk/import/")
        assert screenshot(tab, f"import-{width}").stat().st_size > 0
        assert overflow(tab) <= 0, f"the import page is {overflow(tab)}px wider than the {width} viewport"
        tab.get_by_label("File").set_input_files(str(SAMPLE))
        tab.get_by_role("button", name="Preview the import").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Check before importing")
        assert screenshot(tab, f"import-preview-{width}").stat().st_size > 0
        assert overflow(tab) <= 0, f"the preview is {overflow(tab)}px wider than the {width} viewport"
