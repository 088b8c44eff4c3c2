"""The API documentation page works in a real browser under the site's CSP (no inline code, no CDN)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import screenshot
from tests.editorial import approved

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_schema_from_our_own_files(page: Page, live_server: Any, cast: Any) -> None:
    approved(cast)
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    outside: list[str] = []
    page.on(
        "request", lambda request: outside.append(request.url) if not request.url.startswith(live_server.url) else None
    )
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("contentreview syndication API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert page.get_by_text("/articles/{slug}/{audience}/").count() >= 1
    screenshot(page, "api-docs")
    assert outside == [], f"the docs page fetched from elsewhere: {outside}"
    assert blocked == [], f"the CSP blocked: {blocked}"
