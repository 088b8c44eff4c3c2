"""Builds articles for tests through the real editing and workflow functions (never by setting status)."""

from __future__ import annotations

from typing import Any, TypedDict

from articles import editing, workflow
from articles.editing import ArticleText, VariantText
from articles.models import Article

PATIENT = VariantText(
    "Can I keep my inhaler routine?",
    "Yes. Keep using your inhaler every day. Talk with your nurse first if you want to change it.",
    "## Why it helps\n\nYour daily inhaler calms your airways. Skipping it can bring back a cough.\n",
)
CLINICIAN = VariantText(
    "Maintaining inhaled corticosteroid therapy",
    "Continue maintenance inhaled corticosteroids; step down only after three months of stable control.",
    "## Rationale\n\nStepping down too early is associated with loss of control and exacerbations.\n",
)


def article_text(title: str = "Should I keep using my preventer inhaler?", **variants: VariantText) -> ArticleText:
    return ArticleText(title, Article.Kind.QA, "Asthma", variants or {"patient": PATIENT, "clinician": CLINICIAN})


def new_article(cast: Any, *, co_authors: tuple[Any, ...] = (), text: ArticleText | None = None) -> Article:
    article = editing.create_article(by=cast.writer, text=text or article_text())
    article.authors.add(*co_authors)
    return article


def submitted(cast: Any, **kwargs: Any) -> Article:
    article = new_article(cast, **kwargs)
    workflow.submit(article, by=cast.writer)
    return refreshed(article)


def under_review(cast: Any, **kwargs: Any) -> Article:
    article = submitted(cast, **kwargs)
    workflow.start_review(article, by=cast.reviewer)
    return refreshed(article)


def approved(cast: Any, **kwargs: Any) -> Article:
    article = under_review(cast, **kwargs)
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None declared", **seen(article))
    return refreshed(article)


def refreshed(article: Article) -> Article:
    return Article.objects.get(pk=article.pk)


class Seen(TypedDict):
    seen_version: int


def seen(article: Article) -> Seen:
    """What a decision carries when the person has just loaded the current text."""
    return {"seen_version": refreshed(article).content_version}


def edit(article: Article, by: Any, **changes: str) -> bool:
    """Save a change of the patient body (or of other fields) through the editor's service."""
    current = editing.current_text(article)
    patient = current.variants["patient"]
    variants = {
        **current.variants,
        "patient": VariantText(
            changes.get("patient_title", patient.title), patient.summary, changes.get("patient_body", patient.body)
        ),
    }
    text = ArticleText(current.title, current.kind, current.topic, variants)
    return editing.save_article(refreshed(article), by=by, base_version=refreshed(article).content_version, text=text)
