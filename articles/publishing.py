"""Freezing an approved article into a Publication. Rendering happens here, once, at approval time:
reader pages serve the stored HTML and never render or read the working copy."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.html import strip_tags

from .models import Article, Publication, PublishedVariant, Reference
from .rendering import ReferenceLookup, render_article_text


def _person(user: Any, *, with_bio: bool = False) -> dict[str, str]:
    profile = user.profile
    entry = {"name": profile.display_name, "credentials": profile.credentials}
    if with_bio:
        entry["bio"] = profile.bio
    return entry


def _reference_snapshot(reference: Reference) -> dict[str, Any]:
    return {
        "id": reference.pk,
        "key": reference.key,
        "kind": reference.get_kind_display(),
        "title": reference.title,
        "authors": reference.author_list,
        "source": reference.source,
        "year": reference.year,
        "doi": reference.doi,
        "pmid": reference.pmid,
        "url": reference.url,
    }


def publish(article: Article, *, approvers: list[Any], revision: Any = None) -> Publication:
    """Create the immutable snapshot; called by workflow.approve inside its transaction."""
    lookup = ReferenceLookup.from_references(article.references.all())
    publication = Publication.objects.create(
        article=article,
        content_version=article.content_version,
        revision=revision,
        title=article.title,
        kind=article.kind,
        topic=article.topic,
        reviewers=[_person(user) for user in approvers],
        authors=[_person(user, with_bio=True) for user in article.authors.select_related("profile")],
        approved_at=timezone.now(),
    )
    cited: set[int] = set()
    for variant in article.variants.all():
        rendered = render_article_text(variant.body, lookup)
        cited.update(ref.pk for ref in rendered.cited)
        PublishedVariant.objects.create(
            publication=publication,
            audience=variant.audience,
            title=variant.title,
            summary=variant.summary,
            body_html=rendered.body_html,
            body_text=strip_tags(rendered.body_html),
            references_html=rendered.references_html,
            references=[_reference_snapshot(ref) for ref in rendered.cited],
        )
    publication.cited_references.set(cited)
    return publication
