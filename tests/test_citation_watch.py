"""The citation watch's rules, run in this process: which references are due, claims, stored checks,
alerts and who hears of them, the reader notice, the retracted-source rule, and the pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from articles import watch, workflow
from articles.citations.verdicts import Standing
from articles.editing import VariantText
from articles.models import CitationAlert, Reference, ReferenceCheck
from contentreview.celery import app as celery_app
from tests import watch_checkers
from tests.editorial import CLINICIAN, PATIENT, approved, article_text, new_article, refreshed
from tests.fakeweb import closed_port

RETRACTED_DOI = "10.1000/retracted.1"
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def scripted_checker(settings: Any) -> Any:
    settings.CITATION_CHECKERS = ["tests.watch_checkers.ScriptedDoiChecker"]
    watch_checkers.FINDINGS.clear()
    watch_checkers.BATCHES.clear()
    return watch_checkers.FINDINGS


def reference(key: str, doi: str | None = None) -> Reference:
    return Reference.objects.create(
        key=key, title=f"A study called {key}", doi=doi or f"10.1000/{key}", year=2020, source="Thorax"
    )


def citing(*keys: str) -> Any:
    cites = " ".join(f"[@{k}]" for k in keys)
    patient = VariantText(PATIENT.title, PATIENT.summary, PATIENT.body + f"\nThe studies agree {cites}.\n")
    clinician = VariantText(CLINICIAN.title, CLINICIAN.summary, CLINICIAN.body + f"\nSee the trials {cites}.\n")
    return article_text(patient=patient, clinician=clinician)


def sweep(now: Any = None) -> watch.SweepPlan:
    """What the sweep task and its batch tasks do, here in one process."""
    plan = watch.plan_sweep(now or timezone.now())
    for batch in plan.batches:
        watch.run_batch(batch, now=now)
        watch.batch_finished(batch)
    return plan


def retract(doi: str = RETRACTED_DOI) -> None:
    watch_checkers.FINDINGS[doi] = (
        Standing.RETRACTED,
        "Retracted on 12 March 2026 (notice 10.1000/n1).",
        date(2026, 3, 12),
    )


# --- Alerts and who hears of them ----------------------------------------------------------------------


def test_retraction_opens_one_alert_per_citing_article_and_tells_writers_and_reviewers_once(
    cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reference("bad", RETRACTED_DOI), reference("good")
    live = approved(cast, text=citing("bad", "good"))
    draft = new_article(cast, text=citing("bad"))
    retract()
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    alerts = CitationAlert.objects.order_by("article_id")
    assert [(a.article_id, a.reference.key, a.standing, a.state) for a in alerts] == [
        (live.pk, "bad", "retracted", "open"),
        (draft.pk, "bad", "retracted", "open"),
    ]
    recipients = sorted(address for message in mail.outbox for address in message.to)
    # The live article: its writer and its reviewer of record; the draft: its writer.
    assert recipients == sorted([cast.writer.email, cast.reviewer.email, cast.writer.email])
    assert all("bad" in m.body and "retracted" in m.body for m in mail.outbox)

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        plan = sweep()
    assert plan.reference_count == 0  # checked today already: nothing is due again
    assert CitationAlert.objects.count() == 2 and mail.outbox == []


def test_a_batch_run_twice_stores_nothing_twice(cast: Any) -> None:
    reference("bad", RETRACTED_DOI), reference("good")
    new_article(cast, text=citing("bad", "good"))
    retract()
    plan = watch.plan_sweep(timezone.now())
    for batch in plan.batches:
        watch.run_batch(batch)
    rows, alerts, calls = ReferenceCheck.objects.count(), CitationAlert.objects.count(), len(watch_checkers.BATCHES)
    for batch in plan.batches:  # the broker redelivers every batch (a worker died before acknowledging)
        watch.run_batch(batch)
    assert (ReferenceCheck.objects.count(), CitationAlert.objects.count()) == (rows, alerts) == (2, 1)
    assert len(watch_checkers.BATCHES) == calls  # already stored: the service is not asked again


def test_a_redelivered_last_batch_still_announces_and_the_run_finishes_only_then(
    cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reference("bad", RETRACTED_DOI)
    article = new_article(cast, text=citing("bad"))
    retract()
    plan = watch.plan_sweep(timezone.now())
    (batch,) = plan.batches
    watch.run_batch(batch)
    # The worker marked the batch done and died (or the database refused) before announcing.
    cache.set(f"citation-sweep:{plan.run}:batch:{batch.number}", 1)
    progress = watch.sweep_progress(plan.run)
    assert progress is not None and progress.done == 1 and not progress.finished
    assert CitationAlert.objects.get(article=article).announced_at is None

    with django_capture_on_commit_callbacks(execute=True):
        assert watch.batch_finished(batch)  # the broker redelivers it
    assert CitationAlert.objects.get(article=article).announced_at is not None
    assert [m.to for m in mail.outbox] == [[cast.writer.email]]
    progress = watch.sweep_progress(plan.run)
    assert progress is not None and progress.done == 1 and progress.finished


def test_a_resolved_finding_is_not_reopened_by_later_sweeps(cast: Any) -> None:
    reference("bad", RETRACTED_DOI)
    new_article(cast, text=citing("bad"))
    retract()
    sweep()
    alert = CitationAlert.objects.get()
    watch.resolve(alert, by=cast.reviewer, note="Replaced the citation in the next version.")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert sweep().reference_count == 1
    assert CitationAlert.objects.get().state == "resolved"
    assert ReferenceCheck.objects.count() == 2


def test_citing_a_source_as_retracted_opens_no_retraction_alert(cast: Any) -> None:
    bad = reference("bad", RETRACTED_DOI)
    article = new_article(cast, text=citing("bad"))
    watch.cite_as_retracted(article, bad, by=cast.writer)
    retract()
    sweep()
    assert not CitationAlert.objects.exists()


# --- Which references are due --------------------------------------------------------------------------


def test_checks_spread_over_the_week_oldest_first_and_nothing_twice_a_day(db: None, settings: Any) -> None:
    settings.CHECK_INTERVAL_DAYS = 7
    for number in range(14):
        reference(f"ref{number}")
    with time_machine.travel(NOW, tick=False):
        assert sweep().reference_count == 14  # never checked: all due
    taken_per_day = []
    for day in range(1, 8):
        with time_machine.travel(NOW + timedelta(days=day), tick=False):
            taken_per_day.append(sweep().reference_count)
            assert sweep().reference_count == 0  # a second sweep the same day takes nothing
    # Two a day (14 / 7) instead of all 14 on day 7; none waits longer than the interval.
    assert taken_per_day == [2, 2, 2, 2, 2, 2, 2]
    oldest = Reference.objects.order_by("checked_at").values_list("checked_at", flat=True).first()
    assert oldest is not None and oldest >= NOW + timedelta(days=1)


def test_a_second_sweep_started_meanwhile_claims_nothing(db: None) -> None:
    for number in range(5):
        reference(f"ref{number}")
    first = watch.plan_sweep(timezone.now())
    second = watch.plan_sweep(timezone.now())
    assert (first.reference_count, second.reference_count) == (5, 0)
    assert [len(b.reference_ids) for b in first.batches] == [2, 2, 1]  # the checker's batch size


# --- Readers -------------------------------------------------------------------------------------------


def test_reader_notice_above_the_text_and_beside_the_source_in_both_audiences_until_resolved(
    cast: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reference("good"), reference("bad", RETRACTED_DOI)
    article = approved(cast, text=citing("good", "bad"))
    notice = "A source cited here was retracted on 12 March 2026; this article is being re-reviewed."
    for audience in ("patient", "clinician"):  # read once: the pages are now in the public page cache
        assert notice not in client.get(f"/articles/{article.slug}/{audience}/").content.decode()
    retract()
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    for audience in ("patient", "clinician"):
        page = client.get(f"/articles/{article.slug}/{audience}/").content.decode()
        assert notice in page
        # Beside reference 2 (the order of first citation), not beside reference 1.
        assert '<li id="ref-2"><p class="source-notice" role="note">This source was retracted' in page
        assert '<li id="ref-1"><p class="source-notice"' not in page
    with django_capture_on_commit_callbacks(execute=True):
        watch.resolve(CitationAlert.objects.get(), by=cast.reviewer, note="The statement rests on the other source.")
    assert notice not in client.get(f"/articles/{article.slug}/patient/").content.decode()


def test_reader_notice_goes_when_re_approved_without_that_source(cast: Any, client: Any) -> None:
    from tests.editorial import edit

    reference("good"), reference("bad", RETRACTED_DOI)
    article = approved(cast, text=citing("good", "bad"))
    retract()
    sweep()
    assert "was retracted" in client.get(f"/articles/{article.slug}/patient/").content.decode()
    edit(article, cast.writer, patient_body=PATIENT.body + "\nThe study agrees [@good].\n")
    current = refreshed(article)
    variant = current.variants.get(audience="clinician")
    variant.body = CLINICIAN.body + "\nSee the trial [@good].\n"
    variant.save()
    current.reference_links.filter(reference__key="bad").delete()
    workflow.submit(current, by=cast.writer)
    workflow.start_review(refreshed(current), by=cast.reviewer)
    seen = refreshed(current)
    workflow.approve(
        seen,
        by=cast.reviewer,
        conflict_of_interest="None",
        change_note="Replaced a retracted source.",
        seen_version=seen.content_version,
    )
    assert "was retracted" not in client.get(f"/articles/{article.slug}/patient/").content.decode()


# --- Writers and reviewers: a retracted source cannot go through unnoticed -------------------------------


def test_known_retracted_source_blocks_submission_until_cited_as_retracted(cast: Any, client: Any) -> None:
    bad = reference("bad", RETRACTED_DOI)
    article = new_article(cast, text=citing("bad"))
    retract()
    sweep()
    with pytest.raises(workflow.NotFit) as refusal:
        workflow.submit(article, by=cast.writer)
    assert refusal.value.reasons == [
        "Reference bad has been retracted: replace it, or mark that the text cites it as retracted."
    ]
    client.force_login(cast.other_writer)  # not one of its writers
    assert client.post(f"/desk/articles/{article.slug}/sources/{bad.pk}/cite-as-retracted/").status_code == 404
    client.force_login(cast.writer)
    editor_page = client.get(f"/desk/articles/{article.slug}/edit/").content.decode()
    assert "standing-retracted" in editor_page and "The text cites it as retracted" in editor_page
    client.post(f"/desk/articles/{article.slug}/sources/{bad.pk}/cite-as-retracted/")
    workflow.submit(refreshed(article), by=cast.writer)
    client.force_login(cast.reviewer)
    review_page = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "Cited as retracted" in review_page and "standing-retracted" in review_page


# --- The Advisory Board --------------------------------------------------------------------------------


def test_board_page_counts_filters_and_handles_alerts_with_permissions_checked(cast: Any, client: Any) -> None:
    reference("bad", RETRACTED_DOI), reference("fixed", "10.1000/fixed")
    approved(cast, text=citing("bad", "fixed"))
    retract()
    watch_checkers.FINDINGS["10.1000/fixed"] = (Standing.CORRECTED, "Corrected (erratum 10.1000/e1).", None)
    sweep()
    retracted = CitationAlert.objects.get(standing="retracted")
    assert client.get("/desk/alerts/").status_code == 302  # anonymous: to the login page
    client.force_login(cast.writer)
    assert client.get("/desk/alerts/").status_code == 403
    assert client.post(f"/desk/alerts/{retracted.pk}/acknowledge/").status_code == 403
    assert CitationAlert.objects.get(pk=retracted.pk).state == "open"

    client.force_login(cast.reviewer2)
    page = client.get("/desk/alerts/").content.decode()
    assert page.index("standing-retracted") < page.index("standing-corrected")  # worst first
    assert "Retracted</span> 1" in page and "Corrected</span> 1" in page
    only_corrected = client.get("/desk/alerts/?standing=corrected").content.decode()
    assert "Corrected (erratum" in only_corrected and "Retracted on 12 March" not in only_corrected
    assert "No alerts match" in client.get("/desk/alerts/?topic=Dermatology").content.decode()

    client.post(f"/desk/alerts/{retracted.pk}/acknowledge/")
    assert f"by {cast.reviewer2.profile.signature}" in client.get("/desk/alerts/").content.decode()
    client.post(f"/desk/alerts/{retracted.pk}/resolve/", {"note": "  "})
    assert CitationAlert.objects.get(pk=retracted.pk).state == "acknowledged"  # a note is required
    client.post(f"/desk/alerts/{retracted.pk}/resolve/", {"note": "Replaced the citation."})
    resolved = CitationAlert.objects.get(pk=retracted.pk)
    assert (resolved.state, resolved.resolved_by, resolved.resolution_note) == (
        "resolved",
        cast.reviewer2,
        "Replaced the citation.",
    )
    with pytest.raises(workflow.WrongState):  # a second tab resolving again
        watch.resolve(resolved, by=cast.reviewer, note="Also fixed.")


def test_board_page_follows_a_running_sweep_and_still_opens_with_redis_down(
    cast: Any, client: Any, settings: Any
) -> None:
    reference("one"), reference("two"), reference("three")  # two batches of the scripted checker
    plan = watch.plan_sweep(timezone.now())
    client.force_login(cast.writer)
    assert client.get("/desk/alerts/sweep-progress/").status_code == 403
    client.force_login(cast.reviewer)
    page = client.get("/desk/alerts/").content.decode()
    assert "Sweep running" in page and 'data-progress-url="/desk/alerts/sweep-progress/"' in page
    assert "js/sweep-progress" in page

    def progress() -> Any:
        return client.get("/desk/alerts/sweep-progress/").json()

    first, second = plan.batches
    watch.run_batch(first), watch.batch_finished(first)
    expected = {"known": True, "run": plan.run, "batches": 2, "done": 1, "references": 3, "percent": 50}
    assert progress() == expected | {"finished": False}
    watch.run_batch(second), watch.batch_finished(second)
    assert progress() == expected | {"done": 2, "percent": 100, "finished": True}
    assert "Last sweep" in client.get("/desk/alerts/").content.decode()

    # Progress lives in Redis; without it the page opens and says nothing about a sweep.
    down = {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}
    settings.CACHES = {**settings.CACHES, "default": down}
    page = client.get("/desk/alerts/")
    assert page.status_code == 200 and "sweep" not in page.content.decode().lower().split("<main", 1)[-1]
    assert progress() == {"known": False}


def test_queue_lists_articles_with_unresolved_alerts(cast: Any, client: Any) -> None:
    reference("bad", RETRACTED_DOI)
    article = approved(cast, text=citing("bad"))
    retract()
    sweep()
    client.force_login(cast.reviewer2)
    queue = client.get("/desk/queue/").content.decode()
    assert f'<tr class="alerted"><td><a href="/desk/articles/{article.slug}/">' in queue


# --- The library ---------------------------------------------------------------------------------------


def test_library_filters_by_standing_and_shows_check_history(cast: Any, client: Any) -> None:
    bad, good = reference("bad", RETRACTED_DOI), reference("good")
    sweep()
    retract()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        sweep()
    client.force_login(cast.writer)
    listed = client.get("/library/?standing=retracted").content.decode()
    assert f"/library/{bad.pk}/" in listed and f"/library/{good.pk}/" not in listed
    clean = client.get("/library/?standing=clean").content.decode()
    assert f"/library/{good.pk}/" in clean and f"/library/{bad.pk}/" not in clean  # only the latest counts
    history = client.get(f"/library/{bad.pk}/").content.decode()
    assert history.count("<tr><td><time") == 2 and "Retracted on 12 March 2026" in history and "No notice." in history


def test_check_citations_sync_prints_a_table_of_verdicts(cast: Any) -> None:
    from io import StringIO

    reference("bad", RETRACTED_DOI), reference("good")
    retract()
    out = StringIO()
    call_command("check_citations", "--all", "--sync", stdout=out)
    text = out.getvalue()
    assert "Checking 2 reference(s) in 1 batch(es)." in text
    assert "Verdicts" in text and "retracted" in text and "clean" in text


def test_sources_a_queue_outage_left_unchecked_are_claimed_and_queued_once(cast: Any) -> None:
    from articles import jobs
    from tests.editorial import submitted

    reference("bad", RETRACTED_DOI)
    submitted(cast, text=citing("bad"))  # its check was never queued (tests turn that off, like an outage)
    later = timezone.now() + timedelta(minutes=10)
    first = jobs.requeue_owed_work(later)["citation-checks"]
    again = jobs.requeue_owed_work(later)["citation-checks"]
    assert (first, again) == (1, 0)  # claimed by the first run: never queued twice
    # The batch really is on the broker; taken off again so a later test's worker never runs it against
    # a database this test's rollback has emptied.
    assert celery_app.control.purge() == 1
