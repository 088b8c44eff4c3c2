"""Creating and saving articles. Every save pins the content version it was loaded from, so two people
editing at once never silently overwrite each other; the consequences for the workflow (approved →
draft, approvals reset during review) are decided in `articles.workflow.record_edit`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.text import slugify

from . import roles, workflow
from .models import Article, ArticleReference, ArticleVariant, Audience, Reference
from .rendering import find_citations


class EditNotAllowed(workflow.TransitionNotAllowed):
    pass


class EditConflict(Exception):
    """Someone saved a newer version since this editor was loaded."""

    def __init__(self, article: Article) -> None:
        super().__init__("Someone else saved this article since you opened it.")
        self.article = article


@dataclass(frozen=True)
class VariantText:
    title: str
    summary: str
    body: str


@dataclass(frozen=True)
class ArticleText:
    title: str
    kind: str
    topic: str
    variants: dict[str, VariantText] = field(default_factory=dict)


def can_edit(user: Any, article: Article) -> bool:
    return roles.is_editor(user) or (roles.is_writer(user) and workflow.is_author(user, article))


def _unique_slug(title: str) -> str:
    base = slugify(title)[:100] or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_article(*, by: Any, text: ArticleText) -> Article:
    if not roles.is_writer(by):
        raise EditNotAllowed("Only writers can start articles.")
    for _attempt in range(3):
        try:
            with transaction.atomic():
                article = Article.objects.create(
                    slug=_unique_slug(text.title), title=text.title, kind=text.kind, topic=text.topic
                )
                article.authors.add(by)
                _write_variants(article, text.variants)
                attach_cited_references(article)
                return article
        except IntegrityError:
            continue  # another writer took the same slug a moment ago: pick the next free one
    raise EditNotAllowed("Could not find a free address for this title; change the title slightly.")


def _write_variants(article: Article, variants: dict[str, VariantText]) -> None:
    for audience, variant in variants.items():
        if not (variant.title.strip() or variant.summary.strip() or variant.body.strip()):
            ArticleVariant.objects.filter(article=article, audience=audience).delete()
            continue
        ArticleVariant.objects.update_or_create(
            article=article,
            audience=audience,
            defaults={"title": variant.title, "summary": variant.summary, "body": variant.body},
        )


def attach_cited_references(article: Article) -> list[Reference]:
    """Writers cite from the whole library: a cited library entry is attached to the article on save,
    so the reference list and the checks see it. Unknown keys stay unknown (and block submission)."""
    uses = [use for variant in article.variants.all() for use in find_citations(variant.body)]
    keys = {use.key for use in uses}
    plain = {k for k in keys if not k.startswith(("doi:", "pmid:"))}
    dois = {k[4:] for k in keys if k.startswith("doi:")}
    pmids = {k[5:] for k in keys if k.startswith("pmid:")}
    cited = Reference.objects.filter(Q(key__in=plain) | Q(doi__in=dois) | Q(pmid__in=pmids))
    missing = list(cited.exclude(article_links__article=article))
    ArticleReference.objects.bulk_create(
        [ArticleReference(article=article, reference=ref) for ref in missing], ignore_conflicts=True
    )
    return missing


def current_text(article: Article) -> ArticleText:
    variants = {v.audience: VariantText(v.title, v.summary, v.body) for v in article.variants.all()}
    return ArticleText(article.title, article.kind, article.topic, variants)


def _normalised(text: ArticleText) -> ArticleText:
    # Browsers send CRLF line endings; compare and store text the same way whatever the client.
    def clean(value: str) -> str:
        return value.replace("\r\n", "\n").strip()

    variants = {
        a: VariantText(clean(v.title), clean(v.summary), clean(v.body))
        for a, v in text.variants.items()
        if clean(v.title) or clean(v.summary) or clean(v.body)
    }
    return ArticleText(clean(text.title), text.kind, clean(text.topic), variants)


def save_article(article: Article, *, by: Any, base_version: int, text: ArticleText) -> bool:
    """Save the editor's text on top of `base_version`. Returns False when nothing changed."""
    text = _normalised(text)
    with transaction.atomic():
        locked = Article.objects.select_for_update().get(pk=article.pk)
        if not can_edit(by, locked):
            raise EditNotAllowed("Only the article's writers and editors can edit it.")
        if locked.content_version != base_version:
            raise EditConflict(locked)
        if _normalised(current_text(locked)) == text:
            return False
        Article.objects.filter(pk=locked.pk).update(
            title=text.title, kind=text.kind, topic=text.topic, content_version=F("content_version") + 1
        )
        _write_variants(locked, {a: text.variants.get(a, VariantText("", "", "")) for a in Audience.values})
        attach_cited_references(locked)
        locked.refresh_from_db()
        workflow.record_edit(locked, by=by)
    article.refresh_from_db()
    return True
