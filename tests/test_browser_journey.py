"""The whole editorial journey in headless Chromium, every step through the real pages and forms.

A writer drafts an article with both audience versions and submits it; a board reviewer starts the review and
requests changes (first with an empty note, which is refused); the writer edits and resubmits; the reviewer
sees the earlier round, tries to approve without a conflict-of-interest declaration (refused), then approves;
an anonymous reader sees the approved text with the reviewer's name. Along the way: axe-core on every desk
page, the history and diff pages, and screenshots at desktop and phone widths (test-artifacts/screenshots/).

The database is only touched to create the people and to read results for the assertions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from articles.models import Article, Publication
from tests.browser import (
    DEFAULT_TIMEOUT_MS,
    DESKTOP,
    PHONE,
    PHONE_USER_AGENT,
    describe,
    login,
    screenshot,
    serious_violations,
)

pytestmark = [
    pytest.mark.browser,
    # The live server answers from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

TITLE = "Can I use my eczema cream every day?"
PATIENT_TITLE = "Can I use my skin cream every day?"
PATIENT_SUMMARY = "Yes. Use a thin layer once a day. Ask your nurse if your skin gets worse."
PATIENT_BODY = "## How to use it\n\nWash your hands. Put a thin layer on the dry skin. Do this once a day.\n"
ADDED_SENTENCE = "Stop if your skin burns, and call your nurse."
# Round 2: one word replaced (so the diff shows a deletion and an insertion) and one sentence added.
PATIENT_BODY_2 = PATIENT_BODY.replace("the dry skin", "the dry patches") + "\n" + ADDED_SENTENCE + "\n"
CLINICIAN_TITLE = "Daily emollient therapy in atopic dermatitis"
CLINICIAN_SUMMARY = "Regular emollient use reduces flare frequency; apply at least once daily."
CLINICIAN_BODY = "## Rationale\n\nEmollients restore barrier function and reduce topical corticosteroid requirements.\n"
CHANGE_NOTE = "Please tell readers to stop the cream if their skin burns."
EDIT_COMMENT = "Added when to stop the cream"


def submit_and_wait(page: Page, button: Locator) -> None:
    """Click a button that posts a form and wait for the page it leads to (also when the URL stays the same)."""
    with page.expect_navigation():
        button.click()


def status_badge(page: Page) -> Locator:
    return page.locator(".desk-head .status")


def assert_accessible(page: Page, where: str) -> None:
    found = serious_violations(page)
    assert not found, f"axe-core found serious/critical problems on {where} ({page.url}):\n{describe(found)}"


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open pages in their own browser contexts (one per person and width); all closed after the test."""
    opened: list[BrowserContext] = []

    def open_page(*, phone: bool = False) -> Page:
        options: dict[str, Any] = (
            {"viewport": PHONE, "is_mobile": True, "has_touch": True, "user_agent": PHONE_USER_AGENT}
            if phone
            else {"viewport": DESKTOP}
        )
        context = browser.new_context(**options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        opened.append(context)
        return context.new_page()

    yield open_page
    for context in opened:
        context.close()


def shoot(name: str, desktop: Page, phone: Page) -> None:
    """Screenshot what the desktop page shows, and the same address on the phone (the same person signed in)."""
    assert screenshot(desktop, f"journey-{name}-desktop").stat().st_size > 0
    phone.goto(desktop.url)
    assert screenshot(phone, f"journey-{name}-phone").stat().st_size > 0
    # Nothing may stick out sideways on a phone (compare with the device width, as the smoke test does).
    overflow = phone.evaluate("document.documentElement.scrollWidth") - PHONE["width"]
    assert overflow <= 0, f"{name} ({desktop.url}) is {overflow}px wider than the phone viewport"


def test_writer_submits_reviewer_requests_changes_writer_resubmits_reviewer_approves_reader_reads(
    live_server: Any, cast: Any, contexts: Callable[..., Page]
) -> None:
    base = live_server.url
    writer, writer_phone = contexts(), contexts(phone=True)
    reviewer, reviewer_phone = contexts(), contexts(phone=True)
    for tab in (writer, writer_phone):
        login(tab, live_server, cast.writer)
    for tab in (reviewer, reviewer_phone):
        login(tab, live_server, cast.reviewer)

    # --- The writer drafts both versions and submits -----------------------------------------------------
    writer.goto(f"{base}/desk/articles/new/")
    expect(writer.get_by_role("heading", level=1)).to_have_text("New article")
    writer.locator("#id_title").fill(TITLE)
    writer.locator("#id_topic").fill("Eczema")
    for prefix, (title, summary, body) in {
        "patient": (PATIENT_TITLE, PATIENT_SUMMARY, PATIENT_BODY),
        "clinician": (CLINICIAN_TITLE, CLINICIAN_SUMMARY, CLINICIAN_BODY),
    }.items():
        writer.locator(f"#id_{prefix}-title").fill(title)
        writer.locator(f"#id_{prefix}-summary").fill(summary)
        writer.locator(f"#id_{prefix}-body").fill(body)
    # The live preview renders what was typed (through the server's renderer).
    expect(writer.locator("#preview-patient")).to_contain_text("Put a thin layer on the dry skin.")
    expect(writer.locator("#preview-clinician")).to_contain_text("Emollients restore barrier function")
    assert_accessible(writer, "the new-article editor")
    shoot("editor-new", writer, writer_phone)
    submit_and_wait(writer, writer.get_by_role("button", name="Save"))
    match = re.fullmatch(re.escape(base) + r"/desk/articles/([\w-]+)/", writer.url)
    assert match, f"saving the new article led to {writer.url}"
    slug = match.group(1)
    desk_url = f"{base}/desk/articles/{slug}/"
    expect(writer.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(status_badge(writer)).to_have_text("Draft")

    writer.get_by_role("navigation", name="Main").get_by_role("link", name="My articles").click()
    expect(writer).to_have_url(f"{base}/desk/articles/")
    row = writer.locator("tbody tr").filter(has=writer.get_by_role("link", name=TITLE))
    expect(row).to_contain_text("Draft")
    expect(row).to_contain_text("Finish and submit")
    shoot("my-articles", writer, writer_phone)
    row.get_by_role("link", name=TITLE).click()
    expect(writer).to_have_url(desk_url)
    submit_and_wait(writer, writer.get_by_role("button", name="Submit for review"))
    expect(writer.locator(".message-success")).to_contain_text("Submitted to the Medical Advisory Board")
    expect(status_badge(writer)).to_have_text("Submitted")

    # --- The reviewer picks it up and requests changes ---------------------------------------------------
    reviewer.goto(f"{base}/desk/queue/")
    waiting = reviewer.locator("section", has=reviewer.get_by_role("heading", name="Submitted, waiting for a reviewer"))
    expect(waiting.get_by_role("link", name=TITLE)).to_be_visible()
    assert_accessible(reviewer, "the review queue")
    shoot("queue", reviewer, reviewer_phone)

    waiting.get_by_role("link", name=TITLE).click()
    expect(reviewer).to_have_url(desk_url)
    expect(reviewer.get_by_role("heading", name=PATIENT_TITLE)).to_be_visible()
    expect(reviewer.get_by_role("heading", name=CLINICIAN_TITLE)).to_be_visible()
    submit_and_wait(reviewer, reviewer.get_by_role("button", name="Start review"))
    expect(status_badge(reviewer)).to_have_text("Under review")
    expect(reviewer.get_by_role("heading", name="Your decision")).to_be_visible()
    assert_accessible(reviewer, "the review page")
    shoot("review", reviewer, reviewer_phone)

    changes_form = reviewer.locator("form", has=reviewer.get_by_role("button", name="Request changes"))
    submit_and_wait(reviewer, changes_form.get_by_role("button", name="Request changes"))
    changes_form = reviewer.locator("form", has=reviewer.get_by_role("button", name="Request changes"))
    expect(changes_form.locator(".field-errors")).to_contain_text("This field is required")
    expect(status_badge(reviewer)).to_have_text("Under review")
    assert Article.objects.get(slug=slug).status == Article.Status.UNDER_REVIEW

    changes_form.get_by_label("What needs to change").fill(CHANGE_NOTE)
    submit_and_wait(reviewer, changes_form.get_by_role("button", name="Request changes"))
    expect(reviewer).to_have_url(desk_url)
    expect(reviewer.locator(".message-success")).to_contain_text("Changes requested")
    expect(status_badge(reviewer)).to_have_text("Draft")

    # --- The writer reads the note, edits the patient text and resubmits (round 2) -----------------------
    writer.goto(f"{base}/desk/articles/")
    expect(writer.locator("tbody tr").filter(has_text=TITLE)).to_contain_text("Changes requested by Rita Reviewer")
    writer.get_by_role("link", name=TITLE).click()
    expect(writer.locator(".turn")).to_contain_text(CHANGE_NOTE)
    expect(writer.locator(".round").filter(has_text="Round 1").locator(".comment")).to_contain_text(CHANGE_NOTE)
    writer.get_by_role("link", name="Edit").click()
    expect(writer).to_have_url(f"{desk_url}edit/")
    body_field = writer.locator("#id_patient-body")
    expect(body_field).to_have_value(PATIENT_BODY.rstrip("\n"))  # the browser drops a textarea's last newline
    body_field.fill(PATIENT_BODY_2)
    writer.get_by_label("What changed (optional)").fill(EDIT_COMMENT)
    expect(writer.locator("#preview-patient")).to_contain_text(ADDED_SENTENCE)
    assert_accessible(writer, "the article editor")
    shoot("editor", writer, writer_phone)
    submit_and_wait(writer, writer.get_by_role("button", name="Save"))
    expect(writer).to_have_url(desk_url)
    expect(writer.locator(".message-success")).to_have_text("Saved.")
    submit_and_wait(writer, writer.get_by_role("button", name="Submit for review"))
    expect(status_badge(writer)).to_have_text("Submitted")
    writer.goto(f"{base}/desk/articles/")
    expect(writer.locator("tbody tr").filter(has_text=TITLE).locator("td").nth(2)).to_have_text("2")

    # --- The reviewer sees round 1, starts round 2, and approves after declaring no conflict -------------
    reviewer.goto(f"{base}/desk/queue/")
    reviewer.get_by_role("link", name=TITLE).click()
    expect(reviewer).to_have_url(desk_url)
    round_1 = reviewer.locator(".round").filter(has_text="Round 1")
    expect(round_1).to_contain_text("Changes requested")
    expect(round_1.locator(".comment")).to_contain_text(CHANGE_NOTE)
    expect(reviewer.locator(".round").filter(has_text="Round 2")).to_be_visible()
    expect(reviewer.get_by_role("link", name="History")).to_be_visible()
    expect(reviewer.locator(".version-panel").filter(has_text=PATIENT_TITLE)).to_contain_text(ADDED_SENTENCE)
    submit_and_wait(reviewer, reviewer.get_by_role("button", name="Start review"))
    expect(status_badge(reviewer)).to_have_text("Under review")
    shoot("review-round-2", reviewer, reviewer_phone)

    submit_and_wait(reviewer, reviewer.get_by_role("button", name="Approve version"))
    approve_form = reviewer.locator("form", has=reviewer.get_by_role("button", name="Approve version"))
    expect(approve_form.locator(".field-errors")).to_contain_text("This field is required")
    expect(status_badge(reviewer)).to_have_text("Under review")
    assert Article.objects.get(slug=slug).status == Article.Status.UNDER_REVIEW
    assert not Publication.objects.filter(article__slug=slug).exists()

    approve_form.get_by_label("I have no conflict of interest").check()
    submit_and_wait(reviewer, approve_form.get_by_role("button", name="Approve version"))
    expect(reviewer).to_have_url(desk_url)
    expect(reviewer.locator(".message-success")).to_contain_text("Your approval is recorded")
    expect(status_badge(reviewer)).to_have_text("Approved")
    article = Article.objects.get(slug=slug)
    assert article.status == Article.Status.APPROVED
    assert article.live_publication is not None
    assert article.live_publication.reviewers[0]["name"] == "Rita Reviewer"

    # --- History and diff ---------------------------------------------------------------------------------
    reviewer.get_by_role("link", name="History").click()
    expect(reviewer).to_have_url(f"{desk_url}history/")
    rows = reviewer.locator("table.history tbody tr")
    live_row = rows.filter(has=reviewer.locator(".status", has_text="Live"))
    expect(live_row).to_have_count(1)
    expect(live_row).to_contain_text("Approved by Rita Reviewer")
    expect(rows.filter(has_text=EDIT_COMMENT)).not_to_have_count(0)
    assert rows.count() >= 2
    assert_accessible(reviewer, "the history page")
    shoot("history", reviewer, reviewer_phone)

    rows.last.get_by_role("link", name="Compare with latest").click()
    expect(reviewer).to_have_url(re.compile(re.escape(f"{desk_url}diff/?from=")))
    expect(reviewer.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"Changes from version \d+ to version \d+")
    )
    patient_body_diff = reviewer.locator(".diff-field").filter(has_text=ADDED_SENTENCE)
    expect(patient_body_diff.locator(".diff-text ins").first).to_be_visible()
    expect(patient_body_diff.locator(".diff-text del").first).to_be_visible()
    assert_accessible(reviewer, "the diff page")
    shoot("diff", reviewer, reviewer_phone)

    # --- An anonymous reader sees the approved text -----------------------------------------------------
    reviewer.goto(desk_url)
    public_path = reviewer.get_by_role("link", name="View the public page").get_attribute("href")
    assert public_path and not public_path.startswith("/desk/")
    reader, reader_phone = contexts(), contexts(phone=True)
    reader.goto(f"{base}{public_path}")
    expect(reader.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(reader.locator(".reviewed-by")).to_contain_text("Medically reviewed by Rita Reviewer")
    expect(reader.locator(".article-body")).to_contain_text(ADDED_SENTENCE)
    expect(reader.locator(".article-body")).to_contain_text("Put a thin layer on the dry patches.")
    expect(reader.locator(".bottom-line")).to_contain_text(PATIENT_SUMMARY)
    assert_accessible(reader, "the public article page")
    shoot("public", reader, reader_phone)
