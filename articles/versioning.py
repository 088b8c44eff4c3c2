"""Revisions of articles with django-reversion: a revision is the whole article (its fields, both
audience versions and its reference links with the references as they stood).

Status and the approval bookkeeping are deliberately left out of revisions: they change only through
articles.workflow, and restoring old text must never restore an old status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import reversion
from reversion.models import Revision, Version

from . import models
from .models import Article, ArticleReference, ArticleVariant, Reference
from .texts import ArticleText, VariantText

REFERENCE_FIELDS = models.REVISION_REFERENCE_FIELDS


@contextmanager
def article_revision(article: Article, *, by: Any, comment: str) -> Iterator[None]:
    """Everything written inside becomes one revision, recorded after the writes so the followed
    variants and reference links are captured as they ended up."""
    with reversion.create_revision(manage_manually=True):
        yield
        if getattr(by, "is_authenticated", False):
            reversion.set_user(by)
        reversion.set_comment(comment)
        reversion.add_to_revision(Article.objects.get(pk=article.pk))


def versions_of(article: Article) -> Any:
    """The article's own versions, newest first, each with its revision and the revision's author."""
    return Version.objects.get_for_object(article).select_related("revision__user__profile")


def latest_revision(article: Article) -> Revision | None:
    version = Version.objects.get_for_object(article).select_related("revision").first()
    return version.revision if version else None


@dataclass(frozen=True)
class Snapshot:
    """An article as one revision recorded it, in the editor's terms."""

    revision_id: int | None
    text: ArticleText
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference_ids: frozenset[int] = frozenset()
    content_version: int = 0


def snapshot(revision: Revision, article: Article) -> Snapshot:
    fields_by_model: dict[type, list[tuple[int, dict[str, Any]]]] = {}
    for version in revision.version_set.select_related("content_type"):
        model = version.content_type.model_class()
        fields_by_model.setdefault(model, []).append((int(version.object_id), version.field_dict))
    article_fields = next(f for pk, f in fields_by_model.get(Article, []) if pk == article.pk)
    variants = {
        f["audience"]: VariantText(f["title"], f["summary"], f["body"])
        for _pk, f in fields_by_model.get(ArticleVariant, [])
        if f["article_id"] == article.pk
    }
    linked = {
        f["reference_id"] for _pk, f in fields_by_model.get(ArticleReference, []) if f["article_id"] == article.pk
    }
    references = {f["key"]: f for pk, f in fields_by_model.get(Reference, []) if pk in linked}
    text = ArticleText(article_fields["title"], article_fields["kind"], article_fields["topic"], variants)
    return Snapshot(revision.pk, text, references, frozenset(linked), article_fields["content_version"])
