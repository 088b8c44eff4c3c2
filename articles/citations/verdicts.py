"""What a citation checker says about one reference: the contract between the checkers and the watch.

Each checker module (crossref.py, pubmed.py, links.py, age.py) exposes one class with a `name`, a
`batch_size` and `check(batch) -> list[Verdict]`. A checker is plain Python: it knows nothing of
Celery, views or the database; it receives `ReferenceToCheck` snapshots and returns one or more
verdicts per reference it could judge. `articles.watch` turns verdicts into stored checks and alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol


class Standing(StrEnum):
    """One verdict. The first group is bad news for the articles citing the reference."""

    RETRACTED = "retracted"  # retraction, partial retraction, withdrawal, removal
    CORRECTED = "corrected"  # correction, corrigendum, erratum
    UNDER_QUESTION = "under_question"  # expression of concern
    SUPERSEDED = "superseded"  # new version / new edition / "Update in"
    DEAD = "dead"  # a link failed LINK_DEAD_AFTER times, at least a day apart
    IS_NOTICE = "is_notice"  # the cited DOI/PMID is itself a retraction/correction notice, not a paper
    # Worth showing, not alarming.
    NOTE = "note"  # addendum, clarification
    MOVED = "moved"  # a link settled at another URL
    AGING = "aging"  # older than the configured age for its kind
    LINK_FAILING = "link_failing"  # a link failed, but not yet often enough to call it dead
    # No finding.
    CLEAN = "clean"
    # The check could not be made: never to be read as clean, retracted or dead.
    UNREACHABLE = "unreachable"  # timeouts, 5xx, 429 after retries, connection refused
    ERROR = "error"  # a 4xx on a lookup that should have worked, an unparseable answer
    UNKNOWN = "unknown"  # e.g. a link answering 401/403/429: cannot tell


ALERTING = frozenset({Standing.RETRACTED, Standing.CORRECTED, Standing.UNDER_QUESTION, Standing.SUPERSEDED,
                      Standing.DEAD, Standing.IS_NOTICE})  # fmt: skip
# Readers see a notice above the text while an alert of one of these is open on an approved article.
READER_NOTICE = frozenset({Standing.RETRACTED, Standing.UNDER_QUESTION, Standing.SUPERSEDED})


@dataclass(frozen=True)
class ReferenceToCheck:
    """The parts of a library entry a checker needs, plus what earlier checks found (for links)."""

    id: int
    kind: str  # Reference.Kind value: "guideline", "research", "review", …
    year: int | None
    doi: str | None
    pmid: str | None
    url: str
    # Earlier failed link checks of this same URL, newest first (the links checker counts distinct days).
    link_failures: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class Verdict:
    reference_id: int
    checker: str  # the checker's `name`: "crossref", "pubmed", "links", "age"
    standing: Standing
    summary: str  # one plain sentence for people, e.g. "Retracted on 12 March 2026 (notice 10.1016/…)."
    # JSON-serialisable evidence: notice DOI/PMID, source ("publisher"/"retraction-watch"), record id,
    # notice date (ISO), HTTP status, final URL, disagreements between sources…
    evidence: dict[str, Any] = field(default_factory=dict)
    notice_date: date | None = None  # when the retraction/correction/… was issued, if known


class Checker(Protocol):
    name: str
    batch_size: int

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]: ...


def in_batch_order(verdicts: list[Verdict], batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
    """Verdicts sorted like the references they judge (checkers group the work differently)."""
    position = {reference.id: n for n, reference in reversed(list(enumerate(batch)))}
    return sorted(verdicts, key=lambda verdict: position.get(verdict.reference_id, len(position)))
