"""Clients for the outside services that describe and re-check references: Crossref and PubMed.

They know settings (base URLs, keys, timeouts) and the shared cache (the NCBI rate limit), nothing
of Celery or of our models; the library services and the stale-citation checks build on them.
"""

from __future__ import annotations

from .crossref import CrossrefClient, CrossrefWork, WorkUpdate
from .http import NotFound, ServiceError, ServiceRefused, ServiceUnreachable
from .pubmed import CommentCorrection, PublicationType, PubMedClient, PubMedRecord, PubMedSummary, SummaryError

__all__ = [
    "CommentCorrection",
    "CrossrefClient",
    "CrossrefWork",
    "NotFound",
    "PubMedClient",
    "PubMedRecord",
    "PubMedSummary",
    "PublicationType",
    "ServiceError",
    "ServiceRefused",
    "ServiceUnreachable",
    "SummaryError",
    "WorkUpdate",
]
