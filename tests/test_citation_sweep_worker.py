"""The citation sweep through real Celery workers and the real Redis broker: the right alerts, told once,
the reader notice on the next request, nothing new from a second sweep, and a worker killed mid-sweep
(SIGKILL) costing time but never a duplicate row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from celery.signals import task_retry
from django.core import mail
from django.db import connection, transaction

from articles import watch
from articles.citations.verdicts import Standing
from articles.models import CitationAlert, Reference, ReferenceCheck
from articles.tasks import sweep_citations
from tests import watch_checkers
from tests.editorial import approved, new_article
from tests.fakeweb import FakeWeb, crossref_update, fakeweb_fixture  # noqa: F401
from tests.test_citation_checkers import WAKEFIELD_DOI, add_wakefield
from tests.test_citation_watch import RETRACTED_DOI, citing, reference, retract

BASE_DIR = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for_sweep(run: str, timeout: float = 60) -> watch.SweepProgress:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = watch.sweep_progress(run)
        if progress and progress.finished:
            return progress
        time.sleep(0.1)
    raise AssertionError(f"sweep {run} did not finish: {watch.sweep_progress(run)}")


def test_sweep_through_a_worker_alerts_the_right_people_once_and_warns_readers(
    celery_worker: Any, cast: Any, client: Any, settings: Any
) -> None:
    settings.CITATION_CHECKERS = ["tests.watch_checkers.ScriptedDoiChecker", "articles.citations.age.AgeChecker"]
    watch_checkers.FINDINGS.clear()
    reference("bad", RETRACTED_DOI), reference("fine"), reference("fixed", "10.1000/fixed")
    live = approved(cast, text=citing("bad", "fine", "fixed"))
    draft = new_article(cast, text=citing("fine", "fixed"))
    retract()
    watch_checkers.FINDINGS["10.1000/fixed"] = (Standing.CORRECTED, "Corrected (erratum 10.1000/e1).", None)
    mail.outbox.clear()
    before = client.get(f"/articles/{live.slug}/clinician/").content.decode()  # now in the public page cache
    assert "was retracted" not in before

    run = sweep_citations.delay().get(timeout=30)["run"]
    progress = wait_for_sweep(run)
    assert (progress.references, progress.batches) == (3, 3)  # two of two DOIs, one of age
    alerts = {(a.article_id, a.reference.key, a.standing) for a in CitationAlert.objects.all()}
    assert alerts == {(live.pk, "bad", "retracted"), (live.pk, "fixed", "corrected"), (draft.pk, "fixed", "corrected")}
    # One message per person per article: the live article's writer and reviewer, the draft's writer.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([cast.writer.email, cast.reviewer.email, cast.writer.email])
    page = client.get(f"/articles/{live.slug}/clinician/").content.decode()
    assert "A source cited here was retracted on 12 March 2026" in page

    rows = ReferenceCheck.objects.count()
    again = sweep_citations.delay().get(timeout=30)
    wait_for_sweep(again["run"])
    assert again["references"] == 0
    assert (ReferenceCheck.objects.count(), CitationAlert.objects.count(), len(mail.outbox)) == (rows, 3, 3)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite refuses a writer kept waiting; PostgreSQL waits")
def test_a_sweep_the_database_refused_runs_again_and_finishes(celery_worker: Any, cast: Any, settings: Any) -> None:
    settings.CITATION_CHECKERS = ["tests.watch_checkers.ScriptedDoiChecker"]
    watch_checkers.FINDINGS.clear()
    reference("bad", RETRACTED_DOI), reference("fine")
    approved(cast, text=citing("bad", "fine"))
    retract()
    refusals: list[str] = []

    def refused(sender: Any, reason: Any, **kwargs: Any) -> None:  # the worker runs in this process
        refusals.append(f"{sender.name}: {reason}")

    task_retry.connect(refused, weak=False)
    try:
        # Holds SQLite's write lock past the busy timeout: the worker's sweep waits, then is refused.
        with transaction.atomic():
            ReferenceCheck.objects.create(reference=Reference.objects.get(key="fine"), checker="other",
                                          standing="clean", summary="Held.", run="held")  # fmt: skip
            sweep = sweep_citations.delay()
            time.sleep(connection.settings_dict["OPTIONS"]["timeout"] + 3)  # its write starts within 3 s
        progress = wait_for_sweep(sweep.get(timeout=60)["run"])
    finally:
        task_retry.disconnect(refused)
    assert any(r.startswith("articles.tasks.sweep_citations") and "database is locked" in r for r in refusals), refusals
    assert (progress.batches, progress.done) == (1, 1)
    assert CitationAlert.objects.get().reference.key == "bad"
    assert ReferenceCheck.objects.filter(run=progress.run).count() == 2


def library_entry(key: str, *, year: int = 2021, kind: str = "research", **identifiers: str) -> Reference:
    return Reference.objects.create(
        key=key, title=f"The source called {key}", source="A Journal", year=year, kind=kind, **identifiers
    )


def test_the_real_checkers_through_a_worker_over_demo_like_sources(
    celery_worker: Any, fakeweb: FakeWeb, cast: Any, client: Any
) -> None:
    """No stand-in here: Crossref, PubMed, link and age checkers, the loopback services answering."""
    add_wakefield(fakeweb)  # retracted in 2010, as Retraction Watch records it
    fakeweb.add_work("10.5555/fixed", updated_by=[crossref_update("10.5555/erratum", "correction", date=(2025, 1, 9))])
    fakeweb.add_work("10.5555/sound")
    fakeweb.add_article("31000001", publication_types=["Journal Article", "Retracted Publication"],
                        notices=[("RetractionIn", "31000002", "J Ex. 2025 May 5;1:1")])  # fmt: skip
    fakeweb.add_clean_articles(["31000003"])
    fakeweb.add_page("/guidance/2024")
    library_entry("wakefield1998", doi=WAKEFIELD_DOI, year=1998)
    library_entry("fixed2022", doi="10.5555/fixed")
    library_entry("sound2023", doi="10.5555/sound")
    library_entry("pulled2019", pmid="31000001")
    library_entry("trial2020", pmid="31000003")
    library_entry("moved", kind="website", url=fakeweb.redirect("/guidance/2019", "/guidance/2024"))
    library_entry("gone", kind="website", url=fakeweb.add_page("/guidance/withdrawn", 404))
    library_entry("oldguide", kind="guideline", year=2015, url=fakeweb.url("/guidance/2024"))
    live = approved(cast, text=citing("wakefield1998", "fixed2022", "sound2023", "pulled2019", "moved", "gone"))
    draft = new_article(cast, text=citing("trial2020", "fixed2022", "oldguide"))
    mail.outbox.clear()
    assert "was retracted" not in client.get(f"/articles/{live.slug}/patient/").content.decode()  # now cached

    run = sweep_citations.delay().get(timeout=30)["run"]
    assert wait_for_sweep(run).references == 8

    standing = {(c.reference.key, c.checker): c.standing for c in ReferenceCheck.objects.select_related("reference")}
    assert {k: v for k, v in standing.items() if v not in ("clean", "aging")} == {
        ("wakefield1998", "crossref"): "retracted",
        ("fixed2022", "crossref"): "corrected",
        ("pulled2019", "pubmed"): "retracted",
        ("moved", "links"): "moved",
        ("gone", "links"): "link_failing",  # one failure is not dead: three, on different days
    }
    assert (standing["oldguide", "age"], standing["sound2023", "crossref"]) == ("aging", "clean")
    alerts = {(a.article_id, a.reference.key, a.standing) for a in CitationAlert.objects.select_related("reference")}
    assert alerts == {
        (live.pk, "wakefield1998", "retracted"),
        (live.pk, "pulled2019", "retracted"),
        (live.pk, "fixed2022", "corrected"),
        (draft.pk, "fixed2022", "corrected"),
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted([cast.writer.email, cast.reviewer.email, cast.writer.email])
    assert len(fakeweb.seen("/eutils/efetch.fcgi")) == 1  # both PMIDs in one request
    page = client.get(f"/articles/{live.slug}/patient/").content.decode()
    assert "A source cited here was retracted" in page

    again = sweep_citations.delay().get(timeout=30)
    wait_for_sweep(again["run"])
    assert again["references"] == 0
    assert (CitationAlert.objects.count(), len(mail.outbox)) == (4, 3)


def _database_url() -> str:
    """The test database, for a worker in another process (on SQLite a file: see conftest)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", "contentreview", "worker", "--pool", "solo", "--loglevel", "INFO",
            "--without-mingle", "--without-gossip", "-n", f"killable-{time.monotonic_ns()}@%h"]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_sweep_leaves_the_sweep_to_another_without_duplicates(db: None, tmp_path: Path) -> None:
    for number in range(16):
        Reference.objects.create(
            key=f"ref{number}", title=f"Study {number}", doi=f"10.1000/k{number}", year=2024, source="Thorax"
        )
    queue = f"watch-kill-test-{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CITATION_CHECKERS": "tests.watch_checkers.SlowChecker,articles.citations.age.AgeChecker",
        "CELERY_TASK_DEFAULT_QUEUE": queue,  # away from the in-process test worker
        # Redis gives an unacknowledged task to another worker after this long (production: an hour).
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_TASK_TIME_LIMIT": "2",
        "CELERY_TASK_SOFT_TIME_LIMIT": "1",
    }
    log = tmp_path / "workers.log"
    first = _worker(env, log)
    try:
        run = sweep_citations.apply_async(queue=queue).get(timeout=60)["run"]
        deadline = time.monotonic() + 60
        while ReferenceCheck.objects.filter(run=run, checker="slow").count() < 4:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)  # mid-sweep, most likely mid-batch
        first.wait(timeout=10)
        assert watch.batches_done(run) < 9  # 8 slow batches and 1 age batch
        time.sleep(3.5)  # past the visibility timeout: the killed worker's task is handed out again
        second = _worker(env, log)
        try:
            wait_for_sweep(run, timeout=90)
        finally:
            second.terminate()
            second.wait(timeout=20)
    finally:
        if first.poll() is None:
            first.kill()
    checks = list(ReferenceCheck.objects.filter(run=run).values_list("reference_id", "checker"))
    assert len(checks) == len(set(checks)) == 16 * 2  # every reference once per checker, nothing twice
    assert Reference.objects.filter(checked_at__isnull=True).count() == 0
