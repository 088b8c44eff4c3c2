"""The Board's citation alerts page in Chromium: a running sweep's progress moves without a reload, and the
finished sweep offers its alerts. The screenshot is saved in test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from articles import watch
from tests import watch_checkers
from tests.browser import describe, login, screenshot, serious_violations
from tests.test_citation_watch import reference

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_board_page_follows_a_running_sweep(page: Page, live_server: Any, cast: Any, settings: Any) -> None:
    settings.CITATION_CHECKERS = ["tests.watch_checkers.ScriptedDoiChecker"]
    watch_checkers.FINDINGS.clear()
    reference("one"), reference("two"), reference("three")  # two batches of the scripted checker
    plan = watch.plan_sweep(timezone.now())
    login(page, live_server, cast.reviewer)
    page.goto(f"{live_server.url}/desk/alerts/")
    progress = page.locator(".sweep-progress")
    expect(page.get_by_role("heading", name="Sweep running")).to_be_visible()
    expect(progress).to_have_text("0 of 2 batches done (0%)")

    first, second = plan.batches
    watch.run_batch(first), watch.batch_finished(first)
    expect(progress).to_have_text("1 of 2 batches done (50%)")  # no reload: the page asks every 2 s
    expect(page.locator("progress")).to_have_attribute("value", "1")
    watch.run_batch(second), watch.batch_finished(second)
    expect(page.get_by_role("heading", name="Last sweep")).to_be_visible()
    expect(page.get_by_role("link", name="Show the alerts it found")).to_be_visible()
    screenshot(page, "board-sweep-finished")
    violations = serious_violations(page)
    assert not violations, describe(violations)
