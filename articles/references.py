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
from datetime import date
from typing import Any, Literal

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import roles, tasks
from .citations import CrossrefClient, NotFound, PubMedClient, ServiceRefused, ServiceUnreachable, SummaryError
from .citations.crossref import CrossrefWork
from .citations.pubmed import PubMedSummary
from .identifiers import normalise_doi, normalise_pmid
from .models import Reference

logger = logging.getLogger(__name__)

IdentifierKind = Literal["doi", "pmid"]
# Keys given at creation, before the metadata says who wrote it and when; replaced by e.g. "castro2018".
PROVISIONAL_KEY_PREFIX = "pending-"
KEY_MAX_LENGTH = Reference._meta.get_field("key").max_length or 64
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]+")
_SAVE_ATTEMPTS = 3


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
                    key=key, metadata_status=Reference.MetadataStatus.PENDING, **{kind: value}
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
    # After commit: a worker must find the rows, and a rolled-back paste must not be looked up.
    if reference_ids:
        transaction.on_commit(lambda: tasks.fetch_reference_metadata.delay(reference_ids))


def fill_metadata(reference_ids: Iterable[int]) -> None:
    """Looks up references still waiting for metadata: PubMed (batched) by PMID, else Crossref by DOI.

    Fills empty fields only (a person's typing wins), gives a provisional key a real one, and marks each
    reference complete or failed. Raises ServiceUnreachable, after saving the rest, if a service could
    not be reached for some of them: those stay pending for the task to retry.
    """
    waiting = list(
        Reference.objects.filter(pk__in=list(reference_ids)).exclude(metadata_status=Reference.MetadataStatus.COMPLETE)
    )
    by_pmid = [r for r in waiting if r.pmid]
    by_doi = [r for r in waiting if not r.pmid and r.doi]
    unreachable = _fill_from_pubmed(by_pmid) + _fill_from_crossref(by_doi)
    for reference in waiting:
        if not reference.pmid and not reference.doi:
            _record(reference.pk, "Nothing to look up: add a DOI or a PMID.")
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
        found = {r.pmid: SummaryError(r.pmid, str(exc)) for r in references if r.pmid}
    for reference in references:
        outcome = found[reference.pmid or ""]
        _record(reference.pk, outcome.message if isinstance(outcome, SummaryError) else _from_pubmed(outcome))
    return []


def _fill_from_crossref(references: list[Reference]) -> list[str]:
    if not references:
        return []
    with CrossrefClient() as crossref:
        for reference in references:
            try:
                _record(reference.pk, _from_crossref(crossref.work(reference.doi or "")))
            except (NotFound, ServiceRefused) as exc:
                _record(reference.pk, str(exc))
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


def _record(reference_id: int, outcome: Metadata | str) -> None:
    """Saves one lookup's outcome: metadata into empty fields, or the error text for the writer."""
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


def _apply(reference: Reference, outcome: Metadata | str) -> list[str]:
    reference.metadata_fetched_at = timezone.now()
    if isinstance(outcome, str):
        reference.metadata_status, reference.metadata_error = Reference.MetadataStatus.FAILED, outcome
        return ["metadata_status", "metadata_error", "metadata_fetched_at"]
    changed = _fill_empty(reference, outcome) + _fill_identifiers(reference, outcome)
    if reference.key.startswith(PROVISIONAL_KEY_PREFIX):
        first_author = reference.author_list[0] if reference.author_list else ""
        reference.key = unique_key(key_base(first_author, reference.year), exclude_pk=reference.pk)
        changed.append("key")
    reference.metadata_status, reference.metadata_error = Reference.MetadataStatus.COMPLETE, ""
    return [*changed, "metadata_status", "metadata_error", "metadata_fetched_at"]


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


def mark_metadata_failed(reference_ids: Iterable[int], error: str) -> None:
    """Gives up on references still pending (the service stayed unreachable), saying why."""
    Reference.objects.filter(pk__in=list(reference_ids), metadata_status=Reference.MetadataStatus.PENDING).update(
        metadata_status=Reference.MetadataStatus.FAILED,
        metadata_error=error,
        metadata_fetched_at=timezone.now(),
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

    A lookup still running blocks (its details, and its key, are placeholders). A failed lookup blocks
    until a person has completed the reference by hand, which the title/source/year checks judge.
    """
    today = today or timezone.localdate()
    name = f"Reference {reference.key}"
    if reference.metadata_status == Reference.MetadataStatus.PENDING:
        return [
            f"{name} is still waiting for its details from Crossref/PubMed: wait for the lookup to finish "
            "(the library shows its state), or fill in its title, source and year by hand."
        ]
    reasons = []
    failed = reference.metadata_status == Reference.MetadataStatus.FAILED
    if failed and not (reference.title.strip() and reference.source.strip() and reference.year):
        why = f" ({reference.metadata_error.strip()})" if reference.metadata_error.strip() else ""
        reasons.append(f"{name}: the lookup of its details failed{why}; complete it by hand in the library.")
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
