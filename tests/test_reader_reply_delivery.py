"""A reply to a reader's question when the mail server is down: the answer is kept, the person answering
is told the email has not gone, beat's owed-work sweep sends it once the server is back, and nothing
(a second click, a second tab, a retry after success, two senders at once) ever sends it twice.

The mail server is Django's SMTP backend: down, it points at a loopback port nothing listens on; back,
at a small SMTP server on loopback (tests/fakesmtp.py) that keeps what it accepted."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.utils import timezone

from articles import feedback, jobs
from articles.models import ReaderFeedback
from tests.fakesmtp import MailServer, mail_server
from tests.fakeweb import closed_port
from tests.test_queue_outage import broker_at, wait_for
from tests.test_workflow_concurrency import race

from . import editorial

QUESTION = "Does the advice change if I also use a nasal spray every morning?"
REPLY = "Yes: keep both. The spray treats the nose; the inhaler treats the lungs."


def mail_server_down(settings: Any) -> None:
    mail_server_at(settings, closed_port())


def mail_server_at(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port


def replies_accepted(server: MailServer) -> list[Any]:
    return [m for m in server.accepted if m["To"] == "reader@example.net"]


def question(cast: Any, *, email: str = "reader@example.net") -> ReaderFeedback:
    article = editorial.approved(cast, co_authors=(cast.co_writer,))
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"  # the rate limit lives in shared Redis
    item = feedback.receive(article, kind="question", text=QUESTION, address=address, email=email)
    mail.outbox.clear()  # the writers' notifications of the new question
    return item


def answer_on_the_page(client: Client, person: Any, item: ReaderFeedback, reply: str = REPLY) -> Any:
    client.force_login(person)
    return client.post(f"/desk/feedback/{item.pk}/answer/", {"reply": reply})


def due_at(item: ReaderFeedback) -> datetime:
    """When the owed reply is tried next (it must be owed)."""
    item.refresh_from_db()
    assert item.reply_due_at is not None, "the reply is not owed"
    return item.reply_due_at


def told(response: Any) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


def replies_sent() -> list[Any]:
    return [m for m in mail.outbox if m.to == ["reader@example.net"]]


def reply_state() -> list[Any]:
    return list(ReaderFeedback.objects.values("reply_attempts", "replied_at"))


# --- While the mail server is down ------------------------------------------------------------------------


# Transactional: the first try runs after the answer's commit, inside the request, as in production.
@pytest.mark.django_db(transaction=True)
def test_answer_while_the_mail_server_is_down_is_kept_and_says_the_email_has_not_gone(
    client: Client, cast: Any, settings: Any
) -> None:
    item = question(cast)
    mail_server_down(settings)
    before = timezone.now()
    response = answer_on_the_page(client, cast.writer, item)

    assert response.status_code == 302  # no error page
    [(level, message)] = told(response)
    assert level == "warning" and "Answered and saved." in message
    assert "has not gone yet" in message and "ConnectionRefusedError" in message and "tried again" in message
    item.refresh_from_db()
    assert (item.status, item.reply, item.decided_by, item.replied_at) == ("answered", REPLY, cast.writer, None)
    assert item.reply_attempts == 1 and item.reply_error.startswith("ConnectionRefusedError")
    retry = timedelta(seconds=settings.FEEDBACK_REPLY_RETRY_SECONDS)
    assert before + retry <= due_at(item) <= timezone.now() + retry  # owed, due after the first pause
    page = client.get(f"/desk/feedback/{item.pk}/").content.decode()
    assert REPLY in page and "has not gone yet" in page and "tries so far: 1" in page
    assert replies_sent() == []


@pytest.mark.django_db
def test_owed_replies_wait_for_their_time_and_each_failed_try_doubles_the_pause(cast: Any, settings: Any) -> None:
    item = question(cast)
    mail_server_down(settings)
    feedback.answer(item, by=cast.writer, reply=REPLY)  # inside the test's transaction: nothing tried yet
    assert feedback.send_reply(item.pk) is False  # the first try, refused by the mail server
    first_due = due_at(item)
    assert feedback.owed_replies(timezone.now()).count() == 0  # not yet due: nothing to queue
    assert list(feedback.owed_replies(first_due)) == [item]

    assert feedback.send_reply(item.pk) is False  # the second try, still refused
    pause = due_at(item) - timezone.now()
    assert item.reply_attempts == 2 and pause > timedelta(seconds=settings.FEEDBACK_REPLY_RETRY_SECONDS * 1.5)
    assert replies_sent() == []


# --- When it is back: sent once, by beat's sweep and the real worker --------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_sends_the_owed_reply_once_the_mail_server_is_back(
    celery_worker: Any, client: Client, cast: Any, settings: Any
) -> None:
    item = question(cast)
    mail_server_down(settings)
    answer_on_the_page(client, cast.writer, item)
    item.refresh_from_db()
    assert item.reply_attempts == 1

    # Due, and the server still down: the sweep queues it, the worker tries, the pause doubles.
    assert jobs.requeue_owed_work(due_at(item))["reader-replies"] == 1

    def tried_twice() -> bool:
        return ReaderFeedback.objects.get(pk=item.pk).reply_attempts == 2 and not _claimed(item)

    wait_for(tried_twice, state=reply_state)
    assert replies_sent() == []

    with mail_server() as server:
        mail_server_at(settings, server.port)
        later = timezone.now() + timedelta(hours=2)
        assert jobs.requeue_owed_work(later)["reader-replies"] == 1
        wait_for(lambda: ReaderFeedback.objects.get(pk=item.pk).replied_at is not None, state=reply_state)
        [sent] = replies_accepted(server)
        body = sent.get_payload(decode=True).decode()
        assert " ".join(REPLY.split()) in " ".join(body.split()) and "not medical advice" in body
        item.refresh_from_db()
        assert (item.reply_attempts, item.reply_due_at, item.reply_error) == (3, None, "")

        # Sent: later sweeps and a stray retry of the task send nothing more.
        assert jobs.requeue_owed_work(later + timedelta(days=1))["reader-replies"] == 0
        assert feedback.send_reply(item.pk) is False
        page = client.get(f"/desk/feedback/{item.pk}/").content.decode()
        assert "The reply was emailed to the reader on" in page
        assert len(replies_accepted(server)) == 1


def _claimed(item: ReaderFeedback) -> bool:
    """A try is under way."""
    return ReaderFeedback.objects.get(pk=item.pk).reply_sending_until is not None


@pytest.mark.django_db(transaction=True)
def test_an_owed_reply_the_queue_refuses_stays_owed_for_the_next_beat(cast: Any, settings: Any) -> None:
    item = question(cast)
    mail_server_down(settings)
    feedback.answer(item, by=cast.writer, reply=REPLY)
    with broker_at(f"redis://127.0.0.1:{closed_port()}/0"):
        assert feedback.queue_owed_replies(due_at(item)) == 0
    item.refresh_from_db()
    assert item.replied_at is None and list(feedback.owed_replies(timezone.now() + timedelta(hours=1))) == [item]


# --- Never twice ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_click_and_a_retry_after_success_send_nothing_more(
    client: Client, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    item = question(cast)
    with django_capture_on_commit_callbacks(execute=True):
        first = answer_on_the_page(client, cast.writer, item)
        second = answer_on_the_page(client, cast.writer, item, reply="Yes, keep both.")  # a double click
    assert (first.status_code, second.status_code) == (302, 409)
    assert feedback.send_reply(item.pk) is False
    assert feedback.queue_owed_replies(timezone.now() + timedelta(days=1)) == 0
    [sent] = replies_sent()
    assert REPLY in sent.body
    item.refresh_from_db()
    assert item.reply == REPLY and item.reply_attempts == 1 and item.replied_at is not None


@pytest.mark.django_db
def test_the_second_tab_is_refused_plainly_and_gets_its_text_back(
    client: Client, cast: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    item = question(cast)
    other_tab = Client()
    for tab, person in ((client, cast.writer), (other_tab, cast.co_writer)):
        tab.force_login(person)
        assert "Send the answer" in tab.get(f"/desk/feedback/{item.pk}/").content.decode()  # both see it new
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/desk/feedback/{item.pk}/answer/", {"reply": REPLY}).status_code == 302
        late = other_tab.post(f"/desk/feedback/{item.pk}/answer/", {"reply": "Ask your pharmacist about it."})
    assert late.status_code == 409
    page = late.content.decode()
    signature = cast.writer.profile.signature
    assert f"This message was already answered by {signature}" in page and "nothing was emailed" in page
    assert "Your reply, not sent:" in page and "Ask your pharmacist about it." in page
    assert REPLY in page and "Send the answer" not in page  # the answer that stands, and no forms
    assert len(replies_sent()) == 1
    item.refresh_from_db()
    assert (item.reply, item.decided_by) == (REPLY, cast.writer)


@pytest.mark.django_db(transaction=True)
def test_two_people_answering_at_the_same_instant_give_one_answer_and_one_email(cast: Any) -> None:
    item = question(cast)
    outcomes = race(
        lambda: feedback.answer(ReaderFeedback.objects.get(pk=item.pk), by=cast.writer, reply=REPLY),
        lambda: feedback.answer(ReaderFeedback.objects.get(pk=item.pk), by=cast.co_writer, reply="Another reply."),
    )
    refused = [o for o in outcomes if isinstance(o, feedback.AlreadyHandled)]
    answered = [o for o in outcomes if isinstance(o, ReaderFeedback)]
    assert len(refused) == 1 and len(answered) == 1, outcomes
    [sent] = replies_sent()
    item.refresh_from_db()
    assert item.reply in sent.body and item.decided_by == answered[0].decided_by and item.replied_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_senders_of_one_owed_reply_at_the_same_instant_send_it_once(cast: Any, settings: Any) -> None:
    item = question(cast)
    mail_server_down(settings)
    feedback.answer(item, by=cast.writer, reply=REPLY)  # the first try is refused: the reply is owed
    # A queued retry and a second copy of it (a redelivered task) reach the reply at once; the slow server
    # keeps the first mid-send while the second looks at the reply, still unsent.
    with mail_server(pause_before_accepting=1.0) as server:
        mail_server_at(settings, server.port)
        outcomes = race(lambda: feedback.send_reply(item.pk), lambda: feedback.send_reply(item.pk))
        assert sorted(outcomes, key=str) == [False, True]
        assert len(replies_accepted(server)) == 1
