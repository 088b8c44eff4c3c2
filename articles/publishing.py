"""Freezing an approved article into a Publication. Rendering happens here, once, at approval time:
reader pages serve the stored HTML and never render or read the working copy."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags

from .models import Article, Publication, PublishedVariant, Reference
from .page_cache import public_pages_changed
from .rendering import ReferenceLookup, render_article_text, render_summary_text


def _person(user: Any, *, with_bio: bool = False) -> dict[str, Any]:
    profile = user.profile
    # The profile id lets the byline link to the person's page; name and credentials stay as they were then.
    entry: dict[str, Any] = {"name": profile.display_name, "credentials": profile.credentials, "profile": profile.pk}
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
    writers = list(article.authors.select_related("profile"))
    publication = Publication.objects.create(
        article=article,
        content_version=article.content_version,
        revision=revision,
        title=article.title,
        kind=article.kind,
        topic=article.topic,
        reviewers=[_person(user) for user in approvers],
        authors=[_person(user, with_bio=True) for user in writers],
        approved_at=timezone.now(),
    )
    publication.written_by.set(writers)
    publication.reviewed_by.set(approvers)
    previous = article.live_publication
    topics = {publication.topic, *([previous.topic] if previous is not None else [])}
    transaction.on_commit(lambda: _neighbours_changed(article.pk, topics))
    cited: set[int] = set()
    for variant in article.variants.all():
        rendered = render_article_text(variant.body, lookup, variant.summary)
        cited.update(ref.pk for ref in rendered.cited)
        PublishedVariant.objects.create(
            publication=publication,
            audience=variant.audience,
            title=variant.title,
            summary=render_summary_text(variant.summary),
            summary_html=rendered.summary_html,
            body_html=rendered.body_html,
            body_text=strip_tags(rendered.body_html),
            references_html=rendered.references_html,
            references=[_reference_snapshot(ref) for ref in rendered.cited],
        )
    publication.cited_references.set(cited)
    return publication


def _neighbours_changed(article_id: int, topics: set[str]) -> None:
    """Other articles on the topic list this one under "More about …": their stored pages must show it."""
    neighbours = Article.objects.published().filter(live_publication__topic__in=topics).exclude(pk=article_id)
    for neighbour_id in neighbours.values_list("pk", flat=True):
        public_pages_changed(neighbour_id)
