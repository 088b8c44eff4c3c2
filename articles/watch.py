"""The citation watch: which references are due, running the checkers in batches, storing what they
found, and opening or closing the alerts that follow.

Plain Python, no Celery: `articles.tasks` fans the batches out over workers and the `check_citations`
command can run them in its own process. Side effects of an alert (who is told, the review queue, the
reader notice) go through `articles.workflow`.

Idempotent by construction, because a broker may deliver a task twice and two sweeps may overlap:
- a sweep *claims* the references it will check (a conditional UPDATE on a token and a lease), so a
  second sweep started meanwhile takes none of them;
- each stored check carries its run token, unique per reference, checker and verdict, so a batch run
  again (after a worker died) adds no row;
- an alert is unique per article, reference and finding.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from . import jobs, page_cache, roles, workflow
from .citations.verdicts import ALERTING, READER_NOTICE, Checker, ReferenceToCheck, Standing, Verdict
from .models import (
    Article,
    ArticleReference,
    CitationAlert,
    Publication,
    Reference,
    ReferenceCheck,
    RetractedCitation,
)
from .models.checks import severity_rank

# A sweep never checks the same reference twice within this window, whatever the quota says: re-running
# a sweep the same day adds nothing.
SAME_WINDOW = timedelta(days=1)
PROGRESS_TIMEOUT = 2 * 24 * 3600
CURRENT_SWEEP_KEY = "citation-sweep:current"
# The checkers that need an identifier; any other (age) looks at every reference.
NEEDS = {"crossref": "doi", "pubmed": "pmid", "links": "url"}
ACTIVE_STATES = (CitationAlert.State.OPEN, CitationAlert.State.ACKNOWLEDGED)


# --- The checkers ---------------------------------------------------------------------------------------


def checkers() -> list[Checker]:
    return [import_string(path)() for path in settings.CITATION_CHECKERS]


def checker_named(name: str) -> Checker:
    for checker in checkers():
        if checker.name == name:
            return checker
    raise LookupError(f"No citation checker named {name!r} in CITATION_CHECKERS")


def applies(checker: Checker, reference: ReferenceToCheck) -> bool:
    needed = NEEDS.get(checker.name)
    return bool(getattr(reference, needed)) if needed else True


# --- Which references are due ---------------------------------------------------------------------------


def _claim_is_free(now: datetime) -> Q:
    return Q(check_claimed_until__isnull=True) | Q(check_claimed_until__lt=now)


def due_references(now: datetime) -> QuerySet[Reference]:
    """The references today's sweep should check, oldest check first (never-checked ones before all).

    Every reference whose last check is older than CHECK_INTERVAL_DAYS is due. To spread the work over the
    days instead of re-checking everything on the morning a week after it was all first checked, a sweep
    takes at least 1/CHECK_INTERVAL_DAYS of the library, topping up with the oldest not-yet-due entries
    (but never one checked within the same day).
    """
    interval = timedelta(days=settings.CHECK_INTERVAL_DAYS)
    free = Reference.objects.filter(_claim_is_free(now))
    overdue = free.filter(Q(checked_at__isnull=True) | Q(checked_at__lte=now - interval)).count()
    daily_share = math.ceil(Reference.objects.count() / max(settings.CHECK_INTERVAL_DAYS, 1))
    # What the last day's sweeps already checked counts against today's share: a re-run takes nothing more.
    checked_lately = Reference.objects.filter(checked_at__gt=now - SAME_WINDOW).count()
    candidates = free.filter(Q(checked_at__isnull=True) | Q(checked_at__lte=now - SAME_WINDOW))
    return candidates.order_by(F("checked_at").asc(nulls_first=True), "pk")[
        : max(overdue, daily_share - checked_lately)
    ]


def claim(reference_ids: Iterable[int], run: str, now: datetime) -> list[int]:
    """Marks the references as this run's until the lease ends; returns those it got (not another sweep's)."""
    lease = timedelta(seconds=settings.CELERY_VISIBILITY_TIMEOUT + settings.CELERY_TASK_TIME_LIMIT)
    ids = list(reference_ids)
    # The WHERE is re-evaluated under the row lock, so of two sweeps claiming at once each row goes to one.
    Reference.objects.filter(_claim_is_free(now), pk__in=ids).update(check_claim=run, check_claimed_until=now + lease)
    return list(Reference.objects.filter(check_claim=run).order_by("pk").values_list("pk", flat=True))


# --- Planning a sweep -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    checker: str
    reference_ids: list[int]
    run: str
    number: int  # within the run, for the progress count
    claimed: bool  # a sweep's batch checks only references still claimed by its run

    def as_message(self) -> dict[str, Any]:
        """What travels to a worker: plain JSON."""
        return asdict(self)


@dataclass(frozen=True)
class SweepPlan:
    run: str
    reference_count: int
    batches: list[Batch]


def new_run() -> str:
    return uuid.uuid4().hex


def plan_sweep(
    now: datetime | None = None, *, reference_ids: Iterable[int] | None = None, progress: bool = True
) -> SweepPlan:
    """Claims the due references (or the given ones) and cuts them into one batch list per checker;
    `progress` makes it the sweep the Board page follows."""
    now = now or timezone.now()
    run = new_run()
    wanted = due_references(now).values_list("pk", flat=True) if reference_ids is None else reference_ids
    claimed = claim(list(wanted), run, now)
    plan = SweepPlan(run, len(claimed), _batches(claimed, run, claimed=True))
    start_progress(plan, now, sweep=progress)
    return plan


def plan_check_now(reference_ids: Iterable[int]) -> SweepPlan:
    """ "Check now": every checker on these references, whenever they were last checked (no claim)."""
    ids = sorted(set(reference_ids))
    run = new_run()
    plan = SweepPlan(run, len(ids), _batches(ids, run, claimed=False))
    start_progress(plan, timezone.now(), sweep=False)
    return plan


def _batches(reference_ids: list[int], run: str, *, claimed: bool) -> list[Batch]:
    snapshots = snapshots_of(reference_ids, with_history=False)
    batches: list[Batch] = []
    for checker in checkers():
        ids = [s.id for s in snapshots if applies(checker, s)]
        for start in range(0, len(ids), checker.batch_size):
            batches.append(Batch(checker.name, ids[start : start + checker.batch_size], run, len(batches), claimed))
    return batches


def snapshots_of(reference_ids: Sequence[int], *, with_history: bool = True) -> list[ReferenceToCheck]:
    fields = ("pk", "kind", "year", "doi", "pmid", "url")
    rows = Reference.objects.filter(pk__in=reference_ids).order_by("pk").values_list(*fields)
    failures = _link_failures(reference_ids) if with_history else {}
    return [
        ReferenceToCheck(
            id=pk, kind=kind, year=year, doi=doi, pmid=pmid, url=url, link_failures=tuple(failures.get((pk, url), ()))
        )
        for pk, kind, year, doi, pmid, url in rows
    ]


def _link_failures(reference_ids: Sequence[int]) -> dict[tuple[int, str], list[datetime]]:
    """Failed link checks since the link last worked, newest first, per reference and the URL checked."""
    history = (
        ReferenceCheck.objects.filter(reference_id__in=reference_ids, checker="links")
        .order_by("reference_id", "-checked_at")
        .values_list("reference_id", "standing", "checked_at", "evidence")
    )
    failures: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    settled: set[int] = set()
    current_url = dict(Reference.objects.filter(pk__in=reference_ids).values_list("pk", "url"))
    for reference_id, standing, checked_at, evidence in history:
        url = (evidence or {}).get("url", current_url.get(reference_id, ""))
        if reference_id in settled or url != current_url.get(reference_id):
            continue
        if standing in (Standing.LINK_FAILING, Standing.DEAD):
            failures[(reference_id, url)].append(checked_at)
        elif standing in (Standing.CLEAN, Standing.MOVED):
            settled.add(reference_id)  # it worked then: older failures no longer count
    return failures


# --- Running a batch and storing what it found ------------------------------------------------------------


def run_batch(batch: Batch, now: datetime | None = None) -> list[ReferenceCheck]:
    """Runs one checker on one batch and stores its verdicts; a batch already stored is not run again."""
    references = Reference.objects.filter(pk__in=batch.reference_ids)
    if batch.claimed:
        references = references.filter(check_claim=batch.run)  # a later sweep took the rest over
    done = ReferenceCheck.objects.filter(run=batch.run, checker=batch.checker, reference_id__in=batch.reference_ids)
    todo = sorted(set(references.values_list("pk", flat=True)) - set(done.values_list("reference_id", flat=True)))
    if not todo:
        return []
    verdicts = checker_named(batch.checker).check(snapshots_of(todo))
    return record_verdicts(verdicts, run=batch.run, checked_ids=todo, now=now)


def record_verdicts(
    verdicts: Sequence[Verdict], *, run: str, checked_ids: Sequence[int], now: datetime | None = None
) -> list[ReferenceCheck]:
    """Stores the checks, marks the references checked, opens alerts for bad findings (one transaction)."""
    now = now or timezone.now()
    checked = set(checked_ids)
    rows = [
        ReferenceCheck(
            reference_id=v.reference_id,
            checker=v.checker,
            standing=str(v.standing),
            summary=v.summary,
            evidence=v.evidence,
            notice_date=v.notice_date,
            checked_at=now,
            run=run,
        )
        for v in verdicts
        if v.reference_id in checked
    ]
    with transaction.atomic():
        ReferenceCheck.objects.bulk_create(rows, ignore_conflicts=True)
        Reference.objects.filter(pk__in=checked_ids).update(checked_at=now)
        stored = list(ReferenceCheck.objects.filter(run=run, reference_id__in=checked_ids, checked_at=now))
        open_alerts([c for c in stored if c.standing in ALERTING], now)
    return stored


def open_alerts(checks: Sequence[ReferenceCheck], now: datetime) -> list[CitationAlert]:
    """One alert per citing article and finding; an existing one (even resolved) is left as it is."""
    if not checks:
        return []
    reference_ids = {c.reference_id for c in checks}
    citing: dict[int, list[int]] = defaultdict(list)
    for article_id, reference_id in ArticleReference.objects.filter(reference_id__in=reference_ids).values_list(
        "article_id", "reference_id"
    ):
        citing[reference_id].append(article_id)
    cited_as_retracted = set(
        RetractedCitation.objects.filter(reference_id__in=reference_ids).values_list("article_id", "reference_id")
    )
    opened: list[CitationAlert] = []
    for check in sorted(checks, key=lambda c: severity_rank(c.standing)):
        for article_id in citing[check.reference_id]:
            if check.standing == Standing.RETRACTED and (article_id, check.reference_id) in cited_as_retracted:
                continue  # the text already tells readers the source is retracted
            alert, created = CitationAlert.objects.get_or_create(
                article_id=article_id,
                reference_id=check.reference_id,
                standing=check.standing,
                defaults={
                    "found_by": check,
                    "summary": check.summary,
                    "notice_date": check.notice_date,
                    "opened_at": now,
                },
            )
            if created:
                opened.append(alert)
    by_article: dict[int, list[CitationAlert]] = defaultdict(list)
    for alert in opened:
        by_article[alert.article_id].append(alert)
    for article in Article.objects.filter(pk__in=by_article).prefetch_related("authors"):
        workflow.citation_alerts_opened(article, by_article[article.pk])
    return opened


# --- Progress of a sweep (in the shared cache: every worker adds to it) ---------------------------------


def start_progress(plan: SweepPlan, now: datetime, *, sweep: bool = True) -> None:
    cache.set(f"citation-sweep:{plan.run}:batches", len(plan.batches), timeout=PROGRESS_TIMEOUT)
    if sweep:
        current = {"run": plan.run, "started_at": now.isoformat(), "batches": len(plan.batches)}
        cache.set(CURRENT_SWEEP_KEY, {**current, "references": plan.reference_count}, timeout=PROGRESS_TIMEOUT)


def _batch_count(run: str) -> int:
    return int(cache.get(f"citation-sweep:{run}:batches") or 0)


def _done_mark(run: str, number: int) -> str:
    return f"citation-sweep:{run}:batch:{number}"


def batches_done(run: str, batches: int | None = None) -> int:
    """How many of the run's `batches` are done: the marks present (one Redis round trip for all of them)."""
    count = _batch_count(run) if batches is None else batches
    return len(cache.get_many([_done_mark(run, number) for number in range(count)]))


def batch_finished(batch: Batch) -> bool:
    """Marks the batch done. Once every batch of the run is, announces the run's new alerts and marks the
    run finished; True when it did. A redelivered last batch announces again, so an announcement the
    database refused the first time is not lost (two workers announcing at once never both send: see
    announce_alerts).

    Done is a mark per batch, set in one step and the same when set again, not a count: a worker killed
    between marking a batch and counting it left the sweep one short for ever (its redelivered batch, seeing
    the mark, did not count it), so it never finished and its alerts were never announced."""
    cache.set(_done_mark(batch.run, batch.number), 1, timeout=PROGRESS_TIMEOUT)
    batches = _batch_count(batch.run)
    if batches_done(batch.run, batches) < batches:
        return False
    announce_alerts()
    cache.set(f"citation-sweep:{batch.run}:announced", 1, timeout=PROGRESS_TIMEOUT)
    return True


def run_finished(run: str) -> bool:
    """Every batch checked and the alerts they opened announced."""
    return bool(cache.get(f"citation-sweep:{run}:announced"))


def announce_alerts(now: datetime | None = None) -> int:
    """Tells the writers and reviewers of record about every alert not yet announced, one message per
    article. Claimed with a conditional UPDATE, so two workers finishing at once never both send."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = list(CitationAlert.objects.filter(announced_at__isnull=True).values_list("pk", flat=True))
        CitationAlert.objects.filter(pk__in=pending, announced_at__isnull=True).update(announced_at=now)
        claimed = CitationAlert.objects.filter(pk__in=pending, announced_at=now).select_related("reference")
        by_article: dict[int, list[CitationAlert]] = defaultdict(list)
        for alert in sorted(claimed, key=lambda a: (a.severity, a.pk)):
            by_article[alert.article_id].append(alert)
        for article in Article.objects.filter(pk__in=by_article).prefetch_related("authors"):
            workflow.announce_citation_alerts(article, by_article[article.pk])
    return len(by_article)


@dataclass(frozen=True)
class SweepProgress:
    run: str
    started_at: datetime
    batches: int
    done: int
    references: int
    announced: bool

    @property
    def finished(self) -> bool:
        return self.done >= self.batches and (self.announced or not self.batches)

    @property
    def percent(self) -> int:
        return 100 if not self.batches else min(100, round(100 * self.done / self.batches))


def sweep_progress(run: str | None = None) -> SweepProgress | None:
    """The latest sweep's progress (or that of `run`, if it is the latest); None when unknown."""
    try:
        current = cache.get(CURRENT_SWEEP_KEY)
        if not current or (run and current["run"] != run):
            return None
        done = batches_done(current["run"], current["batches"])
        announced = run_finished(current["run"])
    except RedisError:
        return None  # progress lives in Redis: with Redis down the Board page still opens, without it
    started_at = datetime.fromisoformat(current["started_at"])
    return SweepProgress(current["run"], started_at, current["batches"], done, current["references"], announced)


# --- Standing: what pages show next to a reference ------------------------------------------------------


def standings(reference_ids: Iterable[int]) -> dict[int, list[ReferenceCheck]]:
    """Each reference's latest verdict per checker, worst first (one query)."""
    latest = ReferenceCheck.objects.latest_per_checker().filter(reference_id__in=list(reference_ids))
    found: dict[int, list[ReferenceCheck]] = defaultdict(list)
    for check in latest:
        found[check.reference_id].append(check)
    for checks in found.values():
        checks.sort(key=lambda c: severity_rank(c.standing))
    return found


def references_with_standing(standing: str) -> QuerySet[Reference]:
    latest = ReferenceCheck.objects.latest_per_checker().filter(standing=standing)
    return Reference.objects.filter(pk__in=latest.values("reference_id"))


def known_retracted(article: Article) -> list[Reference]:
    """Sources the article cites whose latest check says retracted and that the text does not cite as such."""
    acknowledged = RetractedCitation.objects.filter(article=article).values("reference_id")
    retracted = ReferenceCheck.objects.latest_per_checker().filter(standing=Standing.RETRACTED)
    return list(
        article.references.filter(pk__in=retracted.values("reference_id")).exclude(pk__in=acknowledged).order_by("key")
    )


def cite_as_retracted(article: Article, reference: Reference, *, by: Any) -> RetractedCitation:
    """A writer of the article states that the text cites this source as retracted (the reviewer sees it)."""
    if not (workflow.is_author(by, article) or roles.is_editor(by)):
        raise workflow.TransitionNotAllowed("Only the article's writers can say how it cites a source.")
    if not article.references.filter(pk=reference.pk).exists():
        raise workflow.WorkflowError(f"{reference.key} is not cited by this article.")
    acknowledgement, _ = RetractedCitation.objects.get_or_create(
        article=article, reference=reference, defaults={"acknowledged_by": by}
    )
    return acknowledgement


# --- The Advisory Board's side of an alert --------------------------------------------------------------


def _require_board(user: Any) -> None:
    if not (roles.is_board_member(user) or roles.is_editor(user)):
        raise workflow.TransitionNotAllowed("Only the Advisory Board and editors handle citation alerts.")


def acknowledge(alert: CitationAlert, *, by: Any) -> None:
    """Someone on the Board has seen the alert and is on it."""
    _require_board(by)
    now = timezone.now()
    taken = CitationAlert.objects.filter(pk=alert.pk, state=CitationAlert.State.OPEN).update(
        state=CitationAlert.State.ACKNOWLEDGED, acknowledged_by=by, acknowledged_at=now
    )
    if taken != 1:
        raise workflow.WrongState("This alert was already acknowledged or resolved; reload the page.")


def resolve(alert: CitationAlert, *, by: Any, note: str) -> None:
    """Closes the alert with what was done about it; the reader notice, if any, goes with it."""
    _require_board(by)
    if not note.strip():
        raise workflow.WorkflowError("Say how it was resolved (e.g. “replaced the citation”): the note is required.")
    with transaction.atomic():
        closed = CitationAlert.objects.filter(pk=alert.pk, state__in=ACTIVE_STATES).update(
            state=CitationAlert.State.RESOLVED, resolved_by=by, resolved_at=timezone.now(), resolution_note=note.strip()
        )
        if closed != 1:
            raise workflow.WrongState("This alert was already resolved; reload the page.")
        if alert.standing in READER_NOTICE:
            article_id = alert.article_id
            transaction.on_commit(lambda: page_cache.public_pages_changed(article_id))


def alerts_for_board() -> QuerySet[CitationAlert]:
    return CitationAlert.objects.select_related(
        "article", "reference", "acknowledged_by__profile", "resolved_by__profile"
    )


# --- What readers see -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderNotice:
    reference_id: int
    reference_key: str
    standing: str
    text: str  # above the article
    beside: str  # next to the reference in the list


NOTICE_WORDING = {
    Standing.RETRACTED: "was retracted",
    Standing.UNDER_QUESTION: "was questioned by its publisher (an expression of concern)",
    Standing.SUPERSEDED: "was replaced by a newer version",
}


def _when(day: date | None) -> str:
    return f" on {day.day} {day:%B %Y}" if day else ""


def reader_notices(article: Article) -> list[ReaderNotice]:
    """Notices for readers of a published article while a retracted, questioned or superseded source it
    cites has an unresolved alert; gone once resolved or once re-approved without that source."""
    publication = article.live_publication
    if publication is None or not getattr(article, "has_source_notice", True):
        return []  # the reader page's own query already said there is none (the usual case: no query)
    alerts = _notice_alerts(article, publication.pk).select_related("reference")
    notices = []
    for alert in sorted(alerts, key=lambda a: (a.severity, a.pk)):
        what = NOTICE_WORDING[Standing(alert.standing)] + _when(alert.notice_date)
        notices.append(
            ReaderNotice(
                reference_id=alert.reference_id,
                reference_key=alert.reference.key,
                standing=alert.standing,
                text=f"A source cited here {what}; this article is being re-reviewed.",
                beside=f"This source {what}; this article is being re-reviewed.",
            )
        )
    return notices


@functools.cache
def has_reader_notice() -> Exists:
    """For an article query: whether any reader notice is due (so the page asks for details only then).

    Built once: Django copies an expression as it resolves it into a query, and building this one anew
    cost every uncached article page more than running it. The live publication's sources are read from
    the citation table alone (not joined through the library), which halves PostgreSQL's planning time."""
    return Exists(_notice_alerts(OuterRef("pk"), OuterRef(OuterRef("live_publication"))))


def _notice_alerts(article: Any, publication_id: Any) -> QuerySet[CitationAlert]:
    """The alerts that put a notice before readers: unresolved, of a standing readers are told about, on a
    source the live publication cites (re-approved without it, the notice goes). For an article and a
    publication id, or for references to an outer query's."""
    cited = Publication.cited_references.through.objects.filter(publication_id=publication_id)
    return CitationAlert.objects.filter(
        article=article,
        state__in=ACTIVE_STATES,
        standing__in=[str(s) for s in READER_NOTICE],
        reference_id__in=cited.values("reference_id"),
    )


def published_reference_numbers(references: list[dict[str, Any]], notices: list[ReaderNotice]) -> dict[int, str]:
    """Which numbered reference (1-based, as the reader sees it) each notice belongs beside."""
    by_id = {n.reference_id: n.beside for n in notices}
    by_key = {n.reference_key: n.beside for n in notices}  # snapshots made before they carried the id
    numbers = {}
    for number, ref in enumerate(references, start=1):
        beside = by_id.get(ref.get("id") or 0) or by_key.get(ref.get("key") or "")
        if beside:
            numbers[number] = beside
    return numbers


# --- The sources of one article, for the writer's editor and the review page ------------------------------


@dataclass(frozen=True)
class SourceStanding:
    reference: Reference
    checks: list[ReferenceCheck]  # latest per checker, worst first; empty until first checked
    cited_as_retracted: RetractedCitation | None

    @property
    def worst(self) -> ReferenceCheck | None:
        return self.checks[0] if self.checks else None

    @property
    def retracted(self) -> bool:
        return any(c.standing == Standing.RETRACTED for c in self.checks)

    @property
    def needs_acknowledgement(self) -> bool:
        return self.retracted and self.cited_as_retracted is None


def sources_of(article: Article) -> list[SourceStanding]:
    """Every reference the article cites, with its standing (three queries whatever the number)."""
    references = list(article.references.order_by("key"))
    found = standings(r.pk for r in references)
    acknowledged = {
        a.reference_id: a
        for a in RetractedCitation.objects.filter(article=article).select_related("acknowledged_by__profile")
    }
    return [SourceStanding(r, found.get(r.pk, []), acknowledged.get(r.pk)) for r in references]


# --- Owed work: checks a queue outage kept from being queued ------------------------------------------

OWED_AFTER = timedelta(minutes=5)


@jobs.owed_work("citation-checks")
def queue_owed_checks(now: datetime) -> int:
    """Sources of articles in review never checked (their submission's check could not be queued): claimed
    and queued again. The claim makes a second run of this sweep, or the daily sweep, take none twice."""
    from .tasks import check_citation_batch

    in_review = (Article.Status.SUBMITTED, Article.Status.UNDER_REVIEW)
    owed = Reference.objects.filter(
        _claim_is_free(now),
        checked_at__isnull=True,
        article_links__article__status__in=in_review,
        article_links__added_at__lt=now - OWED_AFTER,
    ).values_list("pk", flat=True)
    plan = plan_sweep(now, reference_ids=list(owed.distinct()), progress=False)
    for batch in plan.batches:
        check_citation_batch.apply_async(args=(batch.as_message(),))
    return plan.reference_count
