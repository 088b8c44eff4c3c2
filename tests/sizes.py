"""Articles of a given size for query-count tests and benchmarks: n cited references and m revisions.

The article itself is written and approved through the real editing and workflow functions; only the bulk
(library entries and old revisions) is inserted with bulk_create, so a 1,000-revision history costs a few
statements instead of a thousand saves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reversion.models import Revision, Version

from articles import workflow
from articles.editing import VariantText
from articles.models import Article, Reference

from . import editorial


def library(count: int, prefix: str = "src") -> list[Reference]:
    return Reference.objects.bulk_create(
        Reference(
            key=f"{prefix}{i}",
            kind=Reference.Kind.RESEARCH,
            title=f"A cohort study of inhaled therapy, part {i}",
            authors="Okafor D\nRaman P",
            source="Journal of Respiratory Care",
            year=2000 + i % 25,
            doi=f"10.5555/{prefix}.{i}",
        )
        for i in range(count)
    )


def body_citing(references: list[Reference]) -> str:
    sentences = [f"Daily use helps many people [@{ref.key}]." for ref in references]
    return "## What the studies show\n\n" + "\n\n".join(sentences) + "\n"


def add_old_revisions(article: Article, count: int) -> None:
    """`count` earlier revisions of the article, copied from its first one, dated a day apart."""
    if count <= 0:
        return
    first = Version.objects.get_for_object(article).select_related("revision").last()
    start = first.revision.date_created - timedelta(days=count)
    revisions = Revision.objects.bulk_create(
        Revision(date_created=start + timedelta(days=i), user=first.revision.user, comment=f"Wording {i}")
        for i in range(count)
    )
    Version.objects.bulk_create(
        Version(
            revision=revision,
            object_id=first.object_id,
            content_type_id=first.content_type_id,
            db=first.db,
            format=first.format,
            serialized_data=first.serialized_data,
            object_repr=first.object_repr,
        )
        for revision in revisions
    )


def approved_article(cast: Any, *, references: int, revisions: int, title: str | None = None) -> Article:
    """An approved article citing `references` library entries in both versions, with `revisions` revisions."""
    prefix = f"s{Reference.objects.count()}x"
    cited = library(references, prefix)
    body = body_citing(cited)
    text = editorial.article_text(
        title or f"Is a daily preventer worth it ({references} sources)?",
        patient=VariantText(editorial.PATIENT.title, editorial.PATIENT.summary, body),
        clinician=VariantText(editorial.CLINICIAN.title, editorial.CLINICIAN.summary, body),
    )
    article = editorial.new_article(cast, text=text)
    workflow.submit(article, by=cast.writer)
    workflow.start_review(article, by=cast.reviewer)
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None declared", **editorial.seen(article))
    add_old_revisions(article, revisions - 1)
    assert Version.objects.get_for_object(article).count() == max(revisions, 1)
    return editorial.refreshed(article)
