"""Readers' follow-up questions and problem reports: the forms on a cached-safe article page, the backlog
and its decisions, spam defences counted in the real Redis, the reply sent once, and forgetting emails."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from articles import feedback, workflow
from articles.feedback import MAX_TEXT_LENGTH
from articles.models import ReaderFeedback

from . import editorial

pytestmark = pytest.mark.django_db

QUESTION = "Does the advice change if I also use a nasal spray every morning?"


@pytest.fixture
def address() -> str:
    """A reader address of this test alone: the rate-limit counter lives in the shared Redis."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.fixture
def article(cast: Any) -> Any:
    return editorial.approved(cast, co_authors=(cast.co_writer,))


def ask(client: Client, article: Any, address: str, **data: str) -> Any:
    return client.post(f"/articles/{article.slug}/ask/", {"text": QUESTION, **data}, REMOTE_ADDR=address)


def report(client: Client, article: Any, address: str, **data: str) -> Any:
    fields = {"text": "The second paragraph gives last year's dose.", "category": "outdated", **data}
    return client.post(f"/articles/{article.slug}/report/", fields, REMOTE_ADDR=address)


# --- The public forms -------------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["patient", "clinician"])
def test_every_article_page_offers_both_routes_without_a_csrf_token(
    client: Client, article: Any, audience: str
) -> None:
    html = client.get(f"/articles/{article.slug}/{audience}/").content.decode()
    assert "Have a follow-up question?" in html
    assert f'href="/articles/{article.slug}/ask/?audience={audience}"' in html
    assert f'href="/articles/{article.slug}/report/?audience={audience}"' in html
    # The page may be cached for everyone: a per-visitor token in it would break the form for the others.
    assert "csrfmiddlewaretoken" not in html and '<form method="post"' not in html


def test_form_page_is_never_cached_and_carries_a_fresh_token(article: Any, address: str) -> None:
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/articles/{article.slug}/ask/?audience=clinician")
    assert "no-cache" in page["Cache-Control"] and "private" in page["Cache-Control"]
    html = page.content.decode()
    assert "Please do not include personal health details" in html and "not an emergency service" in html
    token = page.context["csrf_token"]
    sent = browser.post(
        f"/articles/{article.slug}/ask/",
        {"text": QUESTION, "audience": "clinician", "csrfmiddlewaretoken": str(token)},
        REMOTE_ADDR=address,
    )
    assert sent.status_code == 302
    assert ReaderFeedback.objects.get().audience == "clinician"
    # Without the token (e.g. a page from someone else's cache) the post is refused, nothing stored.
    assert (
        Client(enforce_csrf_checks=True).post(f"/articles/{article.slug}/ask/", {"text": QUESTION}).status_code == 403
    )
    assert ReaderFeedback.objects.count() == 1


def test_question_lands_in_the_backlog_and_notifies_the_writers(
    client: Client, cast: Any, article: Any, address: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(client, article, address, email="reader@example.net", audience="patient")
    assert response.status_code == 302 and response["Location"] == f"/articles/{article.slug}/sent/"
    item = ReaderFeedback.objects.get()
    assert (item.kind, item.status, item.text, item.email) == ("question", "new", QUESTION, "reader@example.net")
    assert set(item.handlers.all()) == {cast.writer, cast.co_writer}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([cast.writer.email, cast.co_writer.email])
    assert QUESTION not in mail.outbox[0].body  # the reader's words stay on the desk, never in an email
    assert f"/desk/feedback/{item.pk}/" in mail.outbox[0].body


def test_problem_report_opens_an_item_for_writers_and_the_reviewer_of_record(
    client: Client, cast: Any, article: Any, address: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert report(client, article, address).status_code == 302
    item = ReaderFeedback.objects.get()
    assert (item.kind, item.category) == ("problem", "outdated")
    assert set(item.handlers.all()) == {cast.writer, cast.co_writer, cast.reviewer}
    assert cast.reviewer.email in {m.to[0] for m in mail.outbox}
    assert "out of date" in mail.outbox[0].subject.lower()


def test_report_without_a_category_is_refused_with_the_text_kept(client: Client, article: Any, address: str) -> None:
    response = report(client, article, address, category="")
    assert response.status_code == 400
    assert "The second paragraph gives last year&#x27;s dose." in response.content.decode()
    assert not ReaderFeedback.objects.exists()


def test_honeypot_refuses_and_stores_nothing(client: Client, article: Any, address: str) -> None:
    response = ask(client, article, address, website="http://cheap-pills.example")
    assert response.status_code == 400
    assert not ReaderFeedback.objects.exists()


def test_rate_limit_is_counted_in_redis_per_address(client: Client, article: Any, address: str, settings: Any) -> None:
    settings.FEEDBACK_RATE_LIMIT = 3
    for _ in range(3):
        assert ask(client, article, address).status_code == 302
    assert cache.get(feedback._rate_key(address)) == 3  # the shared counter, not a per-process one
    refused = ask(client, article, address)
    assert refused.status_code == 429
    assert "try again" in refused.content.decode()
    assert QUESTION in refused.content.decode()  # what the reader typed is kept
    assert ReaderFeedback.objects.count() == 3
    # Another reader is not affected.
    assert ask(client, article, address + "9").status_code == 302


def test_rate_limit_window_ends(client: Client, article: Any, address: str, settings: Any) -> None:
    settings.FEEDBACK_RATE_LIMIT = 1
    settings.FEEDBACK_RATE_WINDOW_SECONDS = 1
    assert ask(client, article, address).status_code == 302
    assert ask(client, article, address).status_code == 429
    cache.delete(feedback._rate_key(address))  # what Redis does when the window's key expires
    assert ask(client, article, address).status_code == 302


def test_over_long_question_is_refused_with_the_text_kept(client: Client, article: Any, address: str) -> None:
    long_text = "Why " + "really " * (MAX_TEXT_LENGTH // 7 + 2) + "?"
    response = ask(client, article, address, text=long_text)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"under {MAX_TEXT_LENGTH} characters" in html
    assert long_text in html
    assert 'maxlength="' not in html.split('name="text"')[0].rsplit("<textarea", 1)[-1]
    assert not ReaderFeedback.objects.exists()


def test_bad_email_and_tiny_text_are_refused(client: Client, article: Any, address: str) -> None:
    assert ask(client, article, address, email="not-an-address").status_code == 400
    assert ask(client, article, address, text="why").status_code == 400
    assert not ReaderFeedback.objects.exists()


def test_drafts_take_no_questions(client: Client, cast: Any, address: str) -> None:
    draft = editorial.new_article(cast)
    assert client.get(f"/articles/{draft.slug}/ask/").status_code == 404
    assert client.post(f"/articles/{draft.slug}/ask/", {"text": QUESTION}, REMOTE_ADDR=address).status_code == 404


# --- The backlog --------------------------------------------------------------------------------------


def received(article: Any, address: str, *, kind: str = "question", email: str = "reader@example.net") -> Any:
    category = "factual_error" if kind == "problem" else ""
    return feedback.receive(article, kind=kind, text=QUESTION, address=address, email=email, category=category)


def test_links_a_reader_typed_are_never_rendered(client: Client, cast: Any, article: Any, address: str) -> None:
    text = 'Look at https://cheap-pills.example and <a href="https://evil.example">this</a>'
    item = feedback.receive(article, kind="question", text=text, address=address)
    client.force_login(cast.writer)
    for url in (f"/desk/feedback/{item.pk}/", "/desk/feedback/"):
        html = client.get(url).content.decode()
        assert 'href="https://cheap-pills.example' not in html and 'href="https://evil.example' not in html
    assert (
        "&lt;a href=&quot;https://evil.example&quot;&gt;" in client.get(f"/desk/feedback/{item.pk}/").content.decode()
    )


def test_backlog_shows_a_writer_only_their_articles(client: Client, cast: Any, article: Any, address: str) -> None:
    mine = received(article, address)
    other_article = editorial.approved(cast, text=editorial.article_text("Another inhaler question?"))
    other_article.authors.set([cast.other_writer])
    theirs = received(other_article, address)
    client.force_login(cast.co_writer)
    html = client.get("/desk/feedback/").content.decode()
    assert f"/desk/feedback/{mine.pk}/" in html and f"/desk/feedback/{theirs.pk}/" not in html
    assert client.get(f"/desk/feedback/{theirs.pk}/").status_code == 403
    assert client.post(f"/desk/feedback/{theirs.pk}/spam/").status_code == 403
    client.force_login(cast.outsider)
    assert client.get("/desk/feedback/").status_code == 403
    client.force_login(cast.reviewer2)  # the board sees everything
    html = client.get("/desk/feedback/").content.decode()
    assert f"/desk/feedback/{mine.pk}/" in html and f"/desk/feedback/{theirs.pk}/" in html


def test_reply_is_emailed_once_and_recorded(
    client: Client, cast: Any, article: Any, address: str, django_capture_on_commit_callbacks: Any
) -> None:
    item = received(article, address)
    mail.outbox.clear()
    client.force_login(cast.writer)
    reply = "Yes: keep both. The spray treats the nose; the injection treats the lungs."
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(f"/desk/feedback/{item.pk}/answer/", {"reply": reply})
    assert first.status_code == 302
    # A second moderator with the page still open, and a double click: refused, no second email.
    client.force_login(cast.co_writer)
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(f"/desk/feedback/{item.pk}/answer/", {"reply": "Another answer."})
    assert second.status_code == 409
    assert [m.to for m in mail.outbox] == [["reader@example.net"]]
    assert reply in mail.outbox[0].body and "not medical advice" in mail.outbox[0].body
    item.refresh_from_db()
    assert (item.status, item.reply, item.decided_by) == ("answered", reply, cast.writer)
    assert item.replied_at is not None


def test_answer_without_an_address_is_recorded_but_not_sent(
    cast: Any, article: Any, address: str, django_capture_on_commit_callbacks: Any
) -> None:
    item = received(article, address, email="")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        feedback.answer(item, by=cast.writer, reply="Answered in the next update.")
    assert mail.outbox == [] and item.status == "answered" and item.replied_at is None


def test_accept_links_the_article_decline_needs_a_reason_spam_erases_the_address(
    client: Client, cast: Any, article: Any, address: str
) -> None:
    idea = editorial.new_article(cast, text=editorial.article_text("Nasal sprays and asthma biologics?"))
    accepted, declined, spam = (received(article, address) for _ in range(3))
    client.force_login(cast.writer)
    assert client.post(f"/desk/feedback/{accepted.pk}/accept/", {"linked_article": idea.pk}).status_code == 302
    assert client.post(f"/desk/feedback/{declined.pk}/decline/", {"reason": ""}).status_code == 400
    assert client.post(f"/desk/feedback/{declined.pk}/decline/", {"reason": "Personal advice"}).status_code == 302
    assert client.post(f"/desk/feedback/{spam.pk}/spam/").status_code == 302
    accepted.refresh_from_db(), declined.refresh_from_db(), spam.refresh_from_db()
    assert (accepted.status, accepted.linked_article) == ("accepted", idea)
    assert (declined.status, declined.decline_reason) == ("declined", "Personal advice")
    assert (spam.status, spam.email) == ("spam", "") and spam.email_erased_at is not None
    with pytest.raises(feedback.AlreadyHandled):
        feedback.accept(spam, by=cast.writer)


def test_counts_per_article_for_writers_and_the_board(client: Client, cast: Any, article: Any, address: str) -> None:
    for _ in range(3):
        received(article, address)
    received(article, address, kind="problem")
    feedback.mark_spam(received(article, address), by=cast.writer)
    assert feedback.counts_for([article.pk])[article.pk] == feedback.FeedbackCounts(questions=3, problems=1, new=4)
    client.force_login(cast.writer)
    desk = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "Readers: 3 follow-up questions, 1 problem report (4 new)" in desk
    assert "4 from readers, 4 new" in client.get("/desk/articles/").content.decode()


def test_counts_feed_the_rereview_queue(client: Client, cast: Any, article: Any, address: str, settings: Any) -> None:
    received(article, address)
    received(article, address, kind="problem")
    with time_machine.travel(timezone.now() + timedelta(days=settings.REVIEW_INTERVAL_DAYS + 1)):
        client.force_login(cast.reviewer2)
        html = client.get("/desk/queue/").content.decode()
    assert "1 question, 1 problem report" in html


# --- Forgetting emails --------------------------------------------------------------------------------


def test_purge_erases_addresses_past_retention_only(cast: Any, article: Any, address: str, settings: Any) -> None:
    settings.FEEDBACK_EMAIL_RETENTION_DAYS = 30
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=31)):
        old = received(article, address)
    recent = received(article, address)
    assert feedback.erase_expired_emails(timezone.now()) == 1
    old.refresh_from_db(), recent.refresh_from_db()
    assert old.email == "" and old.email_erased_at is not None and old.text == QUESTION
    assert recent.email == "reader@example.net"
    assert feedback.erase_expired_emails(timezone.now()) == 0


def test_purge_runs_daily_in_beat(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["erase-reader-emails-daily"]
    assert entry["task"] == "articles.tasks.erase_expired_reader_emails"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_purge_task_runs_on_the_real_worker(celery_worker: Any, settings: Any) -> None:
    from articles.tasks import erase_expired_reader_emails

    cast = editorial_cast()
    article = editorial.approved(cast)
    with time_machine.travel(timezone.now() - timedelta(days=settings.FEEDBACK_EMAIL_RETENTION_DAYS + 1)):
        old = received(article, f"10.9.{uuid.uuid4().int % 250}.1")
    assert erase_expired_reader_emails.delay().get(timeout=20) == 1
    old.refresh_from_db()
    assert old.email == ""


def editorial_cast() -> Any:
    from .conftest import Cast

    return Cast()


def test_workflow_is_untouched_by_feedback(cast: Any, article: Any, address: str, settings: Any) -> None:
    settings.REVIEW_INTERVAL_DAYS = 0  # due for re-review, so "confirm still accurate" is offered
    received(article, address, kind="problem")
    assert workflow.available_actions(article, cast.reviewer2) == ["confirm_still_accurate"]
