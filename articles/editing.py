"""Creating and saving articles. Every save pins the content version it was loaded from, so two people
editing at once never silently overwrite each other; the consequences for the workflow (approved →
draft, approvals reset during review) are decided in `articles.workflow.record_edit`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reversion
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.text import slugify

from . import references, roles, versioning, workflow
from .models import Article, ArticleReference, ArticleVariant, Audience, Reference
from .rendering import find_all_citations

# Re-exported: callers build texts through this module.
from .texts import ArticleText as ArticleText
from .texts import VariantText as VariantText

if TYPE_CHECKING:
    from .reference_forms import ReferenceForm


class EditNotAllowed(workflow.TransitionNotAllowed):
    pass


class EditConflict(Exception):
    """Someone saved a newer version since this editor was loaded."""

    def __init__(self, article: Article) -> None:
        super().__init__("Someone else saved this article since you opened it.")
        self.article = article


def may_write(user: Any, article: Article) -> bool:
    """The article's writers and editors; whether the text is open for editing now is workflow's rule."""
    return roles.is_editor(user) or (roles.is_writer(user) and workflow.is_author(user, article))


def can_edit(user: Any, article: Article) -> bool:
    return may_write(user, article) and not workflow.edit_refusal(user, article)


def _unique_slug(title: str) -> str:
    base = slugify(title)[:100] or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_article(*, by: Any, text: ArticleText, comment: str = "Created") -> Article:
    if not roles.is_writer(by):
        raise EditNotAllowed("Only writers can start articles.")
    for _attempt in range(3):
        try:
            with transaction.atomic():
                article = Article.objects.create(
                    slug=_unique_slug(text.title), title=text.title, kind=text.kind, topic=text.topic
                )
                with versioning.article_revision(article, by=by, comment=comment):
                    article.authors.add(by)
                    _write_variants(article, _normalised(text).variants)
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


def _cited_keys(texts: list[tuple[str, str]]) -> set[str]:
    return {use.key for summary, body in texts for use in find_all_citations(summary, body)}


def library_entries_cited_in(summary: str, body: str) -> Any:
    """The library references that the citations of one version (Bottom line and body) name, by key,
    DOI or PMID."""
    return _library_entries_for(_cited_keys([(summary, body)]))


def _library_entries_for(keys: set[str]) -> Any:
    plain = {k for k in keys if not k.startswith(("doi:", "pmid:"))}
    dois = {k[4:] for k in keys if k.startswith("doi:")}
    pmids = {k[5:] for k in keys if k.startswith("pmid:")}
    return Reference.objects.filter(Q(key__in=plain) | Q(doi__in=dois) | Q(pmid__in=pmids))


def _add_identifier_citations_to_library(keys: set[str]) -> None:
    """[@doi:…] / [@pmid:…] for a paper not yet in the library creates it (metadata fetched after commit)."""
    known = _library_entries_for(keys)
    known_ids = {("doi", r.doi) for r in known} | {("pmid", r.pmid) for r in known}
    for use in keys:
        kind, _, value = use.partition(":")
        if kind == "doi" and (kind, value) not in known_ids:
            references.reference_for_identifier("doi", value)
        elif kind == "pmid" and (kind, value) not in known_ids:
            references.reference_for_identifier("pmid", value)


def attach_cited_references(article: Article) -> list[Reference]:
    """Writers cite from the whole library: a cited library entry is attached to the article on save,
    so the reference list and the checks see it. The Bottom line cites like the body.
    Unknown keys stay unknown (and block submission)."""
    keys = _cited_keys([(variant.summary, variant.body) for variant in article.variants.all()])
    _add_identifier_citations_to_library(keys)
    cited = _library_entries_for(keys)
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


def save_article(article: Article, *, by: Any, base_version: int, text: ArticleText, comment: str = "") -> bool:
    """Save the editor's text on top of `base_version`. Returns False (and records no revision) when
    nothing changed; raises EditConflict when someone saved a newer version meanwhile."""
    return _apply(article, by=by, base_version=base_version, text=_normalised(text), comment=comment or "Edited")


def revert_article(article: Article, *, by: Any, revision_id: int) -> bool:
    """Make the text what it was in an earlier revision. This is a new revision; nothing is deleted,
    and the usual consequences of an edit apply (an approved article goes back to draft)."""
    from reversion.models import Revision

    revision = Revision.objects.get(
        pk=revision_id, version__object_id=str(article.pk), version__content_type__model="article"
    )
    old = versioning.snapshot(revision, article)
    article.refresh_from_db()
    return _apply(
        article,
        by=by,
        base_version=article.content_version,
        text=_normalised(old.text),
        comment=f"Reverted to version {old.content_version}",
        reference_ids=old.reference_ids,
    )


def _apply(
    article: Article,
    *,
    by: Any,
    base_version: int,
    text: ArticleText,
    comment: str,
    reference_ids: frozenset[int] | None = None,
) -> bool:
    with transaction.atomic():
        locked = Article.objects.select_for_update().get(pk=article.pk)
        if not may_write(by, locked):
            raise EditNotAllowed("Only the article's writers and editors can edit it.")
        if refusal := workflow.edit_refusal(by, locked):
            raise EditNotAllowed(refusal)
        if locked.content_version != base_version:
            raise EditConflict(locked)
        same_links = reference_ids is None or reference_ids == _linked_ids(locked)
        if _normalised(current_text(locked)) == text and same_links:
            return False
        with versioning.article_revision(locked, by=by, comment=comment):
            Article.objects.filter(pk=locked.pk).update(
                title=text.title, kind=text.kind, topic=text.topic, content_version=F("content_version") + 1
            )
            _write_variants(locked, {a: text.variants.get(a, VariantText("", "", "")) for a in Audience.values})
            if reference_ids is not None:
                _set_links(locked, reference_ids)
            attach_cited_references(locked)
            locked.refresh_from_db()
            workflow.record_edit(locked, by=by)
    article.refresh_from_db()
    return True


def record_admin_edit(article: Article, *, by: Any) -> None:
    """The admin saved a change (inside the admin's own revision): count it as an edit like any other."""
    with transaction.atomic():
        locked = Article.objects.select_for_update().get(pk=article.pk)
        Article.objects.filter(pk=locked.pk).update(content_version=F("content_version") + 1)
        attach_cited_references(locked)
        locked.refresh_from_db()
        workflow.record_edit(locked, by=by)
        if reversion.is_active():
            # Re-add the article last so the revision holds it with every inline as saved.
            reversion.add_to_revision(locked)


def _linked_ids(article: Article) -> frozenset[int]:
    return frozenset(article.reference_links.values_list("reference_id", flat=True))


def _set_links(article: Article, reference_ids: frozenset[int]) -> None:
    # References deleted from the library since that revision cannot come back; the rest are re-linked.
    existing = set(Reference.objects.filter(pk__in=reference_ids).values_list("pk", flat=True))
    article.reference_links.exclude(reference_id__in=existing).delete()
    ArticleReference.objects.bulk_create(
        [ArticleReference(article=article, reference_id=pk) for pk in existing], ignore_conflicts=True
    )


def save_library_reference(form: ReferenceForm, *, by: Any) -> Reference:
    """Saves a person's new or changed library entry (the form already valid). A change to an entry cited by
    an article under review is refused (EditNotAllowed) unless by an editor; an allowed change gives every
    article in review citing it a new version, so no decision binds details the reviewer never saw."""
    existing = not form.instance._state.adding
    with transaction.atomic():
        if existing:
            locked = Reference.objects.select_for_update().get(pk=form.instance.pk)
            if refusal := workflow.reference_edit_refusal(by, locked):
                raise EditNotAllowed(refusal)
        reference = form.save_changes()
        if existing and form.changed_data:
            workflow.reference_edited(reference, by=by)
    return reference
