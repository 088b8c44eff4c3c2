from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.safestring import SafeString

from .. import readability
from ..models import ArticleVariant, Audience, Reference
from ..models.editorial import PROVISIONAL_KEY_PREFIX
from ..references import RETRYABLE_BY_HAND, lookup_sentence
from ..rendering import render_markdown
from ..search import highlight

register = template.Library()


@register.filter
def safe_markdown(text: str) -> SafeString:
    """Markdown through the site's one renderer and sanitiser."""
    return render_markdown(text or "")


@register.filter(name="highlight")
def highlight_filter(text: str, query: str) -> SafeString:
    """The text escaped, with the searched words marked (see articles/search.py)."""
    return highlight(str(text or ""), query or "")


@register.filter
def reference_label(reference: Any) -> str:
    """A reference (or a revision's snapshot of one) as people read it: never a placeholder key."""
    fields: dict[str, Any] = reference if isinstance(reference, dict) else vars(reference)
    key = str(fields.get("key") or "")
    if not key.startswith(PROVISIONAL_KEY_PREFIX):
        return key
    doi, pmid = fields.get("doi"), fields.get("pmid")
    return f"DOI {doi}" if doi else f"PMID {pmid}" if pmid else str(fields.get("title") or "untitled reference")


@register.inclusion_tag("articles/library/_lookup.html")
def lookup_state(reference: Reference, *, full: bool = False) -> dict[str, Any]:
    """The reference's lookup state as a sentence; `full` adds the "Look up again" button."""
    return {
        "reference": reference,
        "sentence": lookup_sentence(reference),
        "full": full,
        "may_retry": full and reference.metadata_status in RETRYABLE_BY_HAND and bool(reference.doi or reference.pmid),
    }


@register.inclusion_tag("articles/desk/_readability.html")
def readability_panel(variant: ArticleVariant | None) -> dict[str, Any]:
    """Reading-level figures of one audience version, for writers and reviewers. Computed on each page
    view: a few milliseconds of textstat per version, and no database query."""
    if variant is None:
        return {"figures": None}
    figures = readability.measure_variant(variant)
    measure = readability.patient_measure()
    is_patient = variant.audience == Audience.PATIENT
    grade = figures.adjusted_grade(measure)
    return {
        "figures": figures,
        "is_patient": is_patient,
        "measure_name": readability.MEASURES[figures.measure_used(measure)],
        "limit_grade": grade,
        "limit": settings.PATIENT_MAX_GRADE,
        "over_limit": is_patient and grade > settings.PATIENT_MAX_GRADE,
    }
