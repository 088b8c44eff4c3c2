"""The app's data, one module per sub-domain (as DESIGN.md asks once models pass ~600 lines).

`editorial` holds people, articles and their audience versions, the reference library, review rounds,
workflow events and publications; `feedback` what readers send us and the public log of
updates. New sub-domains get a module of their own, re-exported here so
`from articles.models import X` keeps working everywhere.
"""

from .checks import SEVERITY, CitationAlert, ReferenceCheck, RetractedCitation, severity_rank
from .editorial import (
    REVISION_REFERENCE_FIELDS,
    Article,
    ArticleQuerySet,
    ArticleReference,
    ArticleVariant,
    Audience,
    Profile,
    Publication,
    PublishedVariant,
    Reference,
    ReviewAssignment,
    ReviewComment,
    ReviewRound,
    SitePage,
    WorkflowEvent,
)
from .feedback import ArticleUpdate, ProposedChangeNote, ReaderFeedback

__all__ = [
    "REVISION_REFERENCE_FIELDS",
    "SEVERITY",
    "Article",
    "ArticleQuerySet",
    "ArticleReference",
    "ArticleUpdate",
    "ArticleVariant",
    "Audience",
    "CitationAlert",
    "Profile",
    "ProposedChangeNote",
    "Publication",
    "PublishedVariant",
    "ReaderFeedback",
    "Reference",
    "ReferenceCheck",
    "RetractedCitation",
    "ReviewAssignment",
    "ReviewComment",
    "ReviewRound",
    "SitePage",
    "WorkflowEvent",
    "severity_rank",
]
