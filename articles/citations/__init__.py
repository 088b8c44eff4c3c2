"""Clients for the outside services that describe and re-check references (Crossref and PubMed), and the
citation checkers: one per signal (crossref, pubmed, links, age), each turning a batch of ReferenceToCheck
into Verdicts (the contract is in verdicts.py).

They know settings (base URLs, keys, timeouts) and the shared cache (the rate limits), nothing of Celery
or of our models; the library services and the citation watch build on them.
"""

from __future__ import annotations

from .age import AgeChecker
from .crossref import CrossrefChecker, CrossrefClient, CrossrefWork, WorkUpdate
from .http import NotFound, ServiceError, ServiceRefused, ServiceUnreachable
from .links import LinkChecker
from .pubmed import (
    CommentCorrection,
    PublicationType,
    PubMedChecker,
    PubMedClient,
    PubMedRecord,
    PubMedSummary,
    SummaryError,
)
from .verdicts import Checker


def all_checkers() -> list[Checker]:
    """One of each checker, the offline one first."""
    return [AgeChecker(), PubMedChecker(), CrossrefChecker(), LinkChecker()]


__all__ = [
    "AgeChecker",
    "CommentCorrection",
    "CrossrefChecker",
    "CrossrefClient",
    "CrossrefWork",
    "LinkChecker",
    "NotFound",
    "PubMedChecker",
    "PubMedClient",
    "PubMedRecord",
    "PubMedSummary",
    "PublicationType",
    "ServiceError",
    "ServiceRefused",
    "ServiceUnreachable",
    "SummaryError",
    "WorkUpdate",
    "all_checkers",
]
