"""Browser fixtures and helpers: headless Debian Chromium driven by Playwright's sync API.

Test modules use them through `pytest_plugins = ["tests.browser"]` in `tests/conftest.py` (or by importing
the fixtures). Pages are served by pytest-django's `live_server`, which also serves the static files.

Chromium is Debian's package (`apt-get install -y chromium`): Playwright cannot download its own browser
here. Without it the browser tests skip, except under `CI=true`, where they fail so CI cannot go green
without running them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, sync_playwright

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
TEST_PASSWORD = "a-test-password-123"  # what tests/conftest.py gives every test user
DEFAULT_TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in a container, where the sandbox cannot start
    "--disable-gpu",
    # No calls home: the machine has no internet and a test must not depend on it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERIOUS_IMPACTS = frozenset({"serious", "critical"})


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _chromium_path() -> str:
    """The Chromium binary, or skip (locally) / fail (CI) with the reason."""
    path = shutil.which("chromium")
    if path:
        return path
    reason = "Debian's chromium is not installed (apt-get install -y chromium)"
    if _in_ci():
        pytest.fail(f"{reason}; browser tests must run under CI=true", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module.

    Module scope, not session scope, because a started Playwright changes the process for every test that
    runs meanwhile (see below); stopping it after the browser module keeps the rest of the suite unaffected.
    """
    executable = _chromium_path()
    # Playwright's sync API keeps an asyncio event loop running in the main thread for as long as it is
    # started, so Django's ORM sees "async context" and raises SynchronousOnlyOperation. Our ORM calls really
    # are synchronous (the loop only serves Playwright), so allow them, for exactly Playwright's lifetime:
    # the variable also reaches child processes, and `check --deploy` rejects it (async.E001).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # Note: Django's connections are context-local and this loop is a new context, so tests now get
            # fresh connection objects; `serialized_rollback` finds no saved contents on them and silently
            # restores nothing. Browser tests recreate the rows they need instead.
            # A non-persistent launch gets a fresh temporary profile.
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _new_page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    """A page in its own context, so cookies and storage never leak between tests."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, viewport=DESKTOP)


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    yield from _new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True, user_agent=PHONE_USER_AGENT)


def login(page: Page, live_server: Any, user: User | str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the real form, as a person would; fails loudly if the form rejects us."""
    username = user if isinstance(user, str) else user.get_username()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/accounts/login/" in page.url:
        errors = page.locator(".form-errors, .field-errors").all_inner_texts()
        raise AssertionError(f"signing in as {username!r} failed: {' '.join(errors) or 'still on the login page'}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/screenshots/ (gitignored) for people to look at."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe(page: Page) -> list[dict[str, Any]]:
    """Run axe-core (bundled in the axe-playwright-python wheel, so no network) on the current page."""
    # page.evaluate injects through the DevTools protocol, so a Content-Security-Policy cannot block it.
    return list(Axe().run(page).response["violations"])


def serious_violations(page: Page) -> list[dict[str, Any]]:
    return [v for v in axe(page) if v.get("impact") in SERIOUS_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and offending element, for assertion messages."""
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} -> {', '.join(map(str, node['target']))}"
        for v in violations
        for node in v["nodes"]
    )
