"""The shared reference library: adding references by identifier and filling their metadata.

Every path that creates a library entry from a DOI or PMID (the "add by identifier" page, the editor
meeting `[@doi:…]` / `[@pmid:…]`) goes through here, so the same paper is never entered twice and
every new entry gets its metadata fetched once the creating transaction has committed.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from . import jobs, roles, tasks
from .citations import CrossrefClient, NotFound, PubMedClient, ServiceRefused, ServiceUnreachable, SummaryError
from .citations.crossref import CrossrefWork
from .citations.pubmed import PubMedSummary
from .identifiers import normalise_doi, normalise_pmid
from .models import Reference
from .models.editorial import PROVISIONAL_KEY_PREFIX

logger = logging.getLogger(__name__)

IdentifierKind = Literal["doi", "pmid"]
KEY_MAX_LENGTH = Reference._meta.get_field("key").max_length or 64
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]+")
_SAVE_ATTEMPTS = 3
LOOKUP_BATCH = 50  # references per queued lookup job when owed work is re-queued
OWED_BATCH = 1000  # at most this many per sweep; the next beat takes the rest
# Looked up again only when someone asks: the answer was final, or the worker already gave up.
RETRYABLE_BY_HAND = (
    Reference.MetadataStatus.NOT_FOUND,
    Reference.MetadataStatus.UNREACHABLE,
    Reference.MetadataStatus.FAILED,
)
# Being looked up: what fill_metadata works on, and what the owed-work sweep watches.
AWAITING_LOOKUP = (Reference.MetadataStatus.PENDING, Reference.MetadataStatus.UNREACHABLE)


@dataclass(frozen=True)
class AddedLine:
    """What became of one pasted line: the reference it names (new or already in the library), or why not."""

    text: str
    reference: Reference | None = None
    created: bool = False
    error: str = ""


@dataclass(frozen=True)
class AddResult:
    lines: tuple[AddedLine, ...] = field(default_factory=tuple)

    @property
    def created(self) -> list[Reference]:
        return [line.reference for line in self.lines if line.created and line.reference]

    @property
    def reused(self) -> list[Reference]:
        return [line.reference for line in self.lines if not line.created and line.reference]

    @property
    def errors(self) -> list[AddedLine]:
        return [line for line in self.lines if line.error]


@dataclass(frozen=True)
class Metadata:
    """What an outside service says about a paper, in the library's own terms."""

    title: str
    authors: tuple[str, ...]
    source: str
    year: int | None
    volume: str
    pages: str
    doi: str | None = None
    pmid: str | None = None
    pmcid: str | None = None


def lookup_sentence(reference: Reference) -> str:
    """Where the automatic lookup stands, in a plain sentence; empty once the details are in."""
    status, service = reference.metadata_status, "PubMed" if reference.pmid else "Crossref"
    if status == Reference.MetadataStatus.PENDING:
        queued = f" (queued {_when(reference.lookup_queued_at)})" if reference.lookup_queued_at else ""
        return f"The details are being looked up on {service}{queued}."
    if status == Reference.MetadataStatus.UNREACHABLE:
        retry = _when(reference.lookup_retry_at) if reference.lookup_retry_at else "in a few minutes"
        return f"{service} could not be reached; the lookup will be tried again at {retry}."
    if status == Reference.MetadataStatus.NOT_FOUND:
        missing = reference.metadata_error.rstrip(".") or f"{service} has no record of {reference.label}"
        return f"Not found: {missing}. Check the identifier, or type the details yourself."
    if status == Reference.MetadataStatus.FAILED:
        why = reference.metadata_error.rstrip(".") or "no reason was given"
        return f"The details could not be looked up ({why}). Type them yourself, or look it up again."
    return ""


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "H:i, j M Y")


def may_edit_library(user: User | AnonymousUser) -> bool:
    """Writers, the Advisory Board and staff keep the library; readers and other accounts do not."""
    return roles.is_writer(user) or roles.is_board_member(user) or roles.is_editor(user)


def add_references_by_identifier(text: str, *, by: User) -> AddResult:
    """One DOI or PMID per line; existing references are reused, new ones created pending and looked up."""
    if not may_edit_library(by):
        raise PermissionDenied("Only writers, the Advisory Board and editors add references.")
    with transaction.atomic():
        result = AddResult(tuple(_add_line(line.strip()) for line in text.splitlines() if line.strip()))
        _fetch_after_commit([reference.pk for reference in result.created])
    return result


def _add_line(text: str) -> AddedLine:
    try:
        kind, value = parse_identifier(text)
    except ValidationError as exc:
        return AddedLine(text, error=" ".join(exc.messages))
    reference, created = _get_or_create_pending(kind, value)
    return AddedLine(text, reference, created)


def parse_identifier(text: str) -> tuple[IdentifierKind, str]:
    """("pmid", "23688323") for "PMID: 23688323" or "23688323"; ("doi", …) for a DOI, doi: or doi.org URL."""
    if text.lower().startswith("pmid") or text.strip().isdigit():
        return "pmid", normalise_pmid(re.sub(r"(?i)^pmid\s*:?\s*", "", text.strip()))
    return "doi", normalise_doi(text)


def reference_for_identifier(kind: IdentifierKind, value: str) -> Reference:
    """The library entry for this DOI or PMID, created pending (and looked up after commit) if there is none."""
    value = normalise_doi(value) if kind == "doi" else normalise_pmid(value)
    reference, created = _get_or_create_pending(kind, value)
    if created:
        _fetch_after_commit([reference.pk])
    return reference


def _get_or_create_pending(kind: IdentifierKind, value: str) -> tuple[Reference, bool]:
    key = provisional_key(kind, value)
    for _attempt in range(_SAVE_ATTEMPTS):
        existing = Reference.objects.filter(**{kind: value}).first()
        if existing:
            return existing, False
        try:
            # A savepoint: the unique constraint, not a prior read, decides who creates it when two
            # requests add the same DOI at once; the loser re-reads the winner's row.
            with transaction.atomic():
                reference = Reference.objects.create(
                    key=key,
                    metadata_status=Reference.MetadataStatus.PENDING,
                    lookup_queued_at=timezone.now(),
                    **{kind: value},
                )
            return reference, True
        except IntegrityError:
            # Either the identifier was taken (found by the re-read) or, rarely, the provisional key.
            key = f"{key[: KEY_MAX_LENGTH - 7]}-{secrets.token_hex(3)}"
    raise IntegrityError(f"could not create a reference for {kind} {value}")


def provisional_key(kind: IdentifierKind, value: str) -> str:
    """A valid, recognisable placeholder key: "pending-doi-10.1056-nejmoa1304048"."""
    key = _KEY_UNSAFE.sub("-", f"{PROVISIONAL_KEY_PREFIX}{kind}-{value}")[:KEY_MAX_LENGTH]
    return key.rstrip(".:-")


def _fetch_after_commit(reference_ids: list[int]) -> None:
    # After commit: a worker must find the rows, and a rolled-back paste must not be looked up. If the
    # queue is down the rows stay pending and requeue_stale_lookups queues them once it is back.
    if reference_ids:
        what = "the lookup" if len(reference_ids) == 1 else f"the lookup of {len(reference_ids)} references"
        jobs.enqueue_after_commit(tasks.fetch_reference_metadata, reference_ids, owed=what)


def look_up_again(reference: Reference, *, by: User) -> bool:
    """Queues one more lookup for a reference that was not found, unreachable or failed.

    False when it is already waiting for one (a second click, a second tab): it is queued once.
    """
    if not may_edit_library(by):
        raise PermissionDenied("Only writers, the Advisory Board and editors keep the library.")
    now = timezone.now()
    with transaction.atomic():
        # Conditional write: of two clicks at once, one moves it to pending; the other finds it there.
        claimed = (
            Reference.objects.filter(pk=reference.pk, metadata_status__in=RETRYABLE_BY_HAND)
            .exclude(doi__isnull=True, pmid__isnull=True)
            .update(
                metadata_status=Reference.MetadataStatus.PENDING,
                metadata_error="",
                lookup_queued_at=now,
                lookup_retry_at=None,
                updated_at=now,
            )
        )
        if claimed:
            _fetch_after_commit([reference.pk])
    return bool(claimed)


@jobs.owed_work("reference-lookups")
def requeue_stale_lookups(now: datetime) -> int:
    """Queues lookups the job queue never ran: pending for a while, or past their retry time.

    Covers a queue that was down when the reference was saved and a queue that lost its messages.
    """
    cutoff = now - timedelta(seconds=settings.LOOKUP_OWED_AFTER_SECONDS)
    stale = Q(metadata_status=Reference.MetadataStatus.PENDING, lookup_queued_at__lt=cutoff)
    stale |= Q(metadata_status=Reference.MetadataStatus.PENDING, lookup_queued_at__isnull=True)
    stale |= Q(metadata_status=Reference.MetadataStatus.UNREACHABLE, lookup_retry_at__lt=cutoff)
    owed = list(Reference.objects.filter(stale).order_by("pk").values_list("pk", flat=True)[:OWED_BATCH])
    queued = 0
    for start in range(0, len(owed), LOOKUP_BATCH):
        batch = owed[start : start + LOOKUP_BATCH]
        # Stamped first so a slow queue is not sent the same batch on the next beat as well; the
        # stamp is undone if the queue refuses it, so the next beat tries again.
        Reference.objects.filter(pk__in=batch).update(lookup_queued_at=now)
        if not jobs.enqueue(tasks.fetch_reference_metadata, batch, owed=f"the lookup of {len(batch)} references"):
            Reference.objects.filter(pk__in=batch).update(lookup_queued_at=cutoff - timedelta(seconds=1))
            break
        queued += len(batch)
    return queued


def fill_metadata(reference_ids: Iterable[int]) -> None:
    """Looks up references still waiting for metadata: PubMed (batched) by PMID, else Crossref by DOI.

    Fills empty fields only (a person's typing wins), gives a provisional key a real one, and marks each
    reference complete or failed. Raises ServiceUnreachable, after saving the rest, if a service could
    not be reached for some of them: those stay pending for the task to retry.
    """
    waiting = list(Reference.objects.filter(pk__in=list(reference_ids), metadata_status__in=AWAITING_LOOKUP))
    by_pmid = [r for r in waiting if r.pmid]
    by_doi = [r for r in waiting if not r.pmid and r.doi]
    unreachable = _fill_from_pubmed(by_pmid) + _fill_from_crossref(by_doi)
    for reference in waiting:
        if not reference.pmid and not reference.doi:
            _record(reference.pk, Failure.failed("Nothing to look up: add a DOI or a PMID."))
    if unreachable:
        raise ServiceUnreachable("; ".join(unreachable))


def _fill_from_pubmed(references: list[Reference]) -> list[str]:
    if not references:
        return []
    try:
        with PubMedClient() as pubmed:
            found = pubmed.summaries(r.pmid for r in references if r.pmid)
    except ServiceUnreachable as exc:
        return [f"PubMed: {exc}"]
    except ServiceRefused as exc:
        for reference in references:
            _record(reference.pk, Failure.failed(f"PubMed refused the request: {exc}"))
        return []
    for reference in references:
        outcome = found[reference.pmid or ""]
        if isinstance(outcome, SummaryError):
            # esummary answers "cannot get document summary" for an id it does not have.
            _record(reference.pk, Failure.not_found(f"PubMed has no record of PMID {reference.pmid}."))
        else:
            _record(reference.pk, _from_pubmed(outcome))
    return []


def _fill_from_crossref(references: list[Reference]) -> list[str]:
    if not references:
        return []
    with CrossrefClient() as crossref:
        for reference in references:
            try:
                _record(reference.pk, _from_crossref(crossref.work(reference.doi or "")))
            except NotFound as exc:
                _record(reference.pk, Failure.not_found(str(exc)))
            except ServiceRefused as exc:
                _record(reference.pk, Failure.failed(f"Crossref refused the request: {exc}"))
            except ServiceUnreachable as exc:
                # Crossref is down: the rest would each sit through the same retries; the task retries later.
                return [f"Crossref: {exc}"]
    return []


def _from_pubmed(summary: PubMedSummary) -> Metadata:
    return Metadata(
        title=summary.title,
        authors=summary.authors,
        source=summary.journal or summary.source,
        year=summary.year,
        volume=summary.volume,
        pages=summary.pages,
        doi=summary.doi,
        pmid=summary.pmid,
        pmcid=summary.pmcid,
    )


def _from_crossref(work: CrossrefWork) -> Metadata:
    return Metadata(
        title=work.title,
        authors=work.authors,
        source=work.container_title,
        year=work.year,
        volume=work.volume,
        pages=work.pages,
        doi=work.doi,
    )


@dataclass(frozen=True)
class Failure:
    """A final answer that gave no metadata: the identifier does not exist, or the request was refused."""

    status: str
    message: str

    @classmethod
    def not_found(cls, message: str) -> Failure:
        return cls(Reference.MetadataStatus.NOT_FOUND, message)

    @classmethod
    def failed(cls, message: str) -> Failure:
        return cls(Reference.MetadataStatus.FAILED, message)


def _record(reference_id: int, outcome: Metadata | Failure) -> None:
    """Saves one lookup's outcome: metadata into empty fields, or the error text for the writer.

    A database busy with another writer (SQLite says "locked") is waited out here, around the write alone:
    retried any higher, the whole lookup would run again and ask the service a second time."""
    tasks.while_locked(lambda: _save_outcome(reference_id, outcome))


def _save_outcome(reference_id: int, outcome: Metadata | Failure) -> None:
    for attempt in range(_SAVE_ATTEMPTS):
        try:
            with transaction.atomic():
                # Locked and re-read: a person may have edited it while the lookup ran.
                reference = Reference.objects.select_for_update().get(pk=reference_id)
                changed = _apply(reference, outcome)
                reference.save(update_fields=[*changed, "updated_at"])
            return
        except IntegrityError:
            # Another process took the same key or identifier meanwhile; the next attempt chooses again.
            if attempt == _SAVE_ATTEMPTS - 1:
                raise
        except Reference.DoesNotExist:
            return  # deleted while we looked it up


def _apply(reference: Reference, outcome: Metadata | Failure) -> list[str]:
    reference.metadata_fetched_at = timezone.now()
    if isinstance(outcome, Failure):
        reference.metadata_status, reference.metadata_error = outcome.status, outcome.message
        reference.lookup_retry_at = None
        return ["metadata_status", "metadata_error", "metadata_fetched_at", "lookup_retry_at"]
    if reference.metadata_status == Reference.MetadataStatus.COMPLETE:
        return []  # a person typed the details meanwhile (or a duplicate job got here first)
    changed = _fill_empty(reference, outcome) + _fill_identifiers(reference, outcome)
    if reference.key.startswith(PROVISIONAL_KEY_PREFIX):
        first_author = reference.author_list[0] if reference.author_list else ""
        reference.key = unique_key(key_base(first_author, reference.year), exclude_pk=reference.pk)
        changed.append("key")
    reference.metadata_status, reference.metadata_error = Reference.MetadataStatus.COMPLETE, ""
    reference.lookup_retry_at = None
    return [*changed, "metadata_status", "metadata_error", "metadata_fetched_at", "lookup_retry_at"]


def _fill_empty(reference: Reference, metadata: Metadata) -> list[str]:
    offered: dict[str, Any] = {
        "title": metadata.title,
        "authors": "\n".join(metadata.authors),
        "source": metadata.source,
        "year": metadata.year,
        "volume": metadata.volume,
        "pages": metadata.pages,
    }
    changed = [name for name, value in offered.items() if value and not getattr(reference, name)]
    for name in changed:
        setattr(reference, name, offered[name])
    return changed


def _fill_identifiers(reference: Reference, metadata: Metadata) -> list[str]:
    # An identifier another entry already holds is left out: that entry is the same paper, entered twice.
    changed = []
    for name in ("doi", "pmid", "pmcid"):
        value = getattr(metadata, name)
        if not value or getattr(reference, name):
            continue
        if Reference.objects.filter(**{name: value}).exclude(pk=reference.pk).exists():
            logger.info("reference %s: %s %s already belongs to another reference", reference.pk, name, value)
            continue
        setattr(reference, name, value)
        changed.append(name)
    return changed


def key_base(first_author: str, year: int | None) -> str:
    """“Castro M”, 2018 → "castro2018"; “Mühlen S” → "muhlen…"; no author → "ref2018"."""
    words = first_author.split()
    # "Family Initials": drop the trailing initials; a group author ("WHO Guideline Group") keeps one word.
    is_person = len(words) > 1 and words[-1].isupper() and len(words[-1]) <= 4
    surname = " ".join(words[:-1]) if is_person else (words[0] if words else "")
    ascii_name = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode().lower()
    letters = re.sub(r"[^a-z0-9]", "", ascii_name) or "ref"
    return f"{letters[: KEY_MAX_LENGTH - 8]}{year or ''}"


def unique_key(base: str, *, exclude_pk: int | None = None) -> str:
    """base, or base + "a", "b", … as the library already uses it (castro2018, castro2018a, …)."""
    others = Reference.objects.filter(key__startswith=base)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    taken: set[str] = set(others.values_list("key", flat=True))
    for suffix in ["", *string.ascii_lowercase]:
        candidate = f"{base}{suffix}"
        if candidate not in taken:
            return candidate
    return f"{base}-{secrets.token_hex(3)}"


def mark_unreachable(reference_ids: Iterable[int], error: str, *, retry_at: datetime) -> None:
    """The service could not be reached for these; the task tries again at `retry_at`."""
    Reference.objects.filter(pk__in=list(reference_ids), metadata_status__in=AWAITING_LOOKUP).update(
        metadata_status=Reference.MetadataStatus.UNREACHABLE,
        metadata_error=error,
        lookup_retry_at=retry_at,
        updated_at=timezone.now(),
    )


def mark_metadata_failed(reference_ids: Iterable[int], error: str) -> None:
    """Gives up on references still waiting (the service stayed unreachable), saying why."""
    Reference.objects.filter(pk__in=list(reference_ids), metadata_status__in=AWAITING_LOOKUP).update(
        metadata_status=Reference.MetadataStatus.FAILED,
        metadata_error=error,
        metadata_fetched_at=timezone.now(),
        lookup_retry_at=None,
        updated_at=timezone.now(),
    )


def look_up_after_commit(reference_ids: list[int]) -> None:
    """Queues the metadata lookup of entries created elsewhere (the importer) once their transaction commits."""
    _fetch_after_commit(reference_ids)


# --- Fit to show readers ---------------------------------------------------------------------------------

EARLIEST_PLAUSIBLE_YEAR = 1800  # older "years" are typing slips, not sources a medical article relies on


def unfinished_reasons(reference: Reference, *, today: date | None = None) -> list[str]:
    """Why this reference cannot yet be shown to readers, each reason naming it and saying what to do;
    [] when it is fit. The one predicate the workflow's fitness check asks (extend it here for new states).

    A lookup still running blocks (its details, and its key, are placeholders). A lookup that ended
    without the details (not found, unreachable, failed) blocks until a person has completed the
    reference by hand, which the title/source/year checks judge.
    """
    today = today or timezone.localdate()
    name = f"Reference {reference.key}"
    status = reference.metadata_status
    if status == Reference.MetadataStatus.PENDING:
        return [f"{name} is still waiting for its details: {lookup_sentence(reference)} Wait for the lookup to finish."]
    reasons = []
    completed_by_hand = bool(reference.title.strip() and reference.source.strip() and reference.year)
    if status in RETRYABLE_BY_HAND and not completed_by_hand:
        reasons.append(f"{name}: the lookup of its details did not finish. {lookup_sentence(reference)}")
    if not reference.title.strip():
        reasons.append(f"{name} has no title: add it in the library.")
    if not reference.source.strip():
        reasons.append(f"{name} has no source (journal, publisher or website): add it in the library.")
    if reference.year is None:
        reasons.append(f"{name} has no year: add the year of publication in the library.")
    elif reference.year > today.year:
        reasons.append(f"{name} has the year {reference.year}, which is in the future: correct it in the library.")
    elif reference.year < EARLIEST_PLAUSIBLE_YEAR:
        reasons.append(f"{name} has the year {reference.year}, which is not plausible: correct it in the library.")
    return reasons
