from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.safestring import SafeString

from .. import readability
from ..models import ArticleVariant, Audience
from ..rendering import render_markdown

register = template.Library()


@register.filter
def safe_markdown(text: str) -> SafeString:
    """Markdown through the site's one renderer and sanitiser."""
    return render_markdown(text or "")


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
