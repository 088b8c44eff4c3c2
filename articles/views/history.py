"""History, revision preview, diff and revert. They show unpublished text, so they answer 404 to anyone
who may not open the article's working copy, exactly like the editor."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from reversion.models import Revision, Version

from .. import diffing, editing, versioning
from ..models import Article, Publication, Reference
from ..rendering import ReferenceLookup, render_article_text

REVISIONS_PER_PAGE = 25


def _article(request: HttpRequest, slug: str) -> Article:
    # No login redirect: anonymous visitors and outsiders get the same 404 as for a missing article.
    return get_object_or_404(Article.objects.visible_to_staff_of(request.user), slug=slug)


def _revision(article: Article, revision_id: Any) -> Revision:
    revision: Revision = _version(article, revision_id).revision
    return revision


def _version(article: Article, revision_id: Any) -> Version:
    try:
        version: Version = versioning.versions_of(article).get(revision_id=int(revision_id))
    except (ValueError, TypeError, Version.DoesNotExist) as exc:  # not a revision of this article
        raise Http404("No such revision") from exc
    return version


def history(request: HttpRequest, slug: str) -> HttpResponse:
    article = _article(request, slug)
    page = Paginator(versioning.versions_of(article), REVISIONS_PER_PAGE).get_page(request.GET.get("page"))
    versions = list(page.object_list)
    approvals = Publication.objects.filter(article=article, revision_id__in=[v.revision_id for v in versions])
    approved = {p.revision_id: p for p in approvals}
    states = _states(article)
    rows = [
        {
            "version": v,
            "number": version_number(v),
            "revision": v.revision,
            "state": _state_at(states, v.revision.date_created),
            "publication": approved.get(v.revision_id),
            "live": article.live_publication_id is not None
            and approved.get(v.revision_id) is not None
            and approved[v.revision_id].pk == article.live_publication_id,
        }
        for v in versions
    ]
    context = {"article": article, "page": page, "rows": rows, "can_edit": editing.can_edit(request.user, article)}
    return render(request, "articles/desk/history.html", context)


def version_number(version: Version) -> int | None:
    """The article's own version number at that revision ("Version 3"), as the article page counts them;
    read from the stored copy, so no query."""
    number = version.field_dict.get("content_version")
    return int(number) if number is not None else None


def _states(article: Article) -> tuple[list[Any], list[str]]:
    events = list(article.events.order_by("created_at").values_list("created_at", "to_status"))
    return [at for at, _ in events], [status for _, status in events]


def _state_at(states: tuple[list[Any], list[str]], when: Any) -> str:
    times, statuses = states
    index = bisect_right(times, when)
    return Article.Status(statuses[index - 1]).label if index else Article.Status.DRAFT.label


def revision_preview(request: HttpRequest, slug: str, revision_id: int) -> HttpResponse:
    article = _article(request, slug)
    revision = _revision(article, revision_id)
    snap = versioning.snapshot(revision, article)
    references = [Reference(**_reference_fields(f)) for f in snap.references.values()]
    lookup = ReferenceLookup.from_references(references)
    versions = [
        # Both versions on one page: anchors carry the audience so each citation finds its own reference.
        {
            "audience": audience,
            "text": text,
            "rendered": render_article_text(text.body, lookup, text.summary, id_prefix=f"{audience}-"),
        }
        for audience, text in snap.text.variants.items()
    ]
    context = {"article": article, "revision": revision, "snapshot": snap, "versions": versions}
    return render(request, "articles/desk/revision.html", context)


def _reference_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if name in versioning.REFERENCE_FIELDS}


def default_diff_range(article: Article) -> tuple[Revision | None, Revision | None]:
    """What a reviewer wants by default: from the live publication to the latest text."""
    latest = versioning.latest_revision(article)
    live = article.live_publication.revision if article.live_publication else None
    return live, latest


def diff_between(article: Article, old: Revision, new: Revision) -> diffing.ArticleDiff:
    before, after = versioning.snapshot(old, article), versioning.snapshot(new, article)
    return diffing.diff_texts(before.text, after.text, before.references, after.references)


def diff(request: HttpRequest, slug: str) -> HttpResponse:
    article = Article.objects.select_related("live_publication__revision").get(pk=_article(request, slug).pk)
    default_old, default_new = default_diff_range(article)
    old = _revision(article, request.GET["from"]) if request.GET.get("from") else default_old
    new = _revision(article, request.GET["to"]) if request.GET.get("to") else default_new
    if old is None and new is not None:
        old = versioning.versions_of(article).last().revision  # no publication yet: since the first draft
    if old is None or new is None:
        raise Http404("Nothing to compare yet")
    before, after = versioning.snapshot(old, article), versioning.snapshot(new, article)
    context = {
        "article": article,
        "old": old,
        "new": new,
        "old_number": before.content_version,
        "new_number": after.content_version,
        "diff": diffing.diff_texts(before.text, after.text, before.references, after.references),
    }
    return render(request, "articles/desk/diff.html", context)


@require_http_methods(["GET", "POST"])
def revert(request: HttpRequest, slug: str, revision_id: int) -> HttpResponse:
    """GET asks for confirmation (what will happen, in words); POST reverts."""
    article = _article(request, slug)
    if not editing.can_edit(request.user, article):
        raise PermissionDenied
    version = _version(article, revision_id)
    number = version_number(version)
    if request.method == "GET":
        context = {"article": article, "revision": version.revision, "number": number}
        return render(request, "articles/desk/revert_confirm.html", context)
    changed = editing.revert_article(article, by=request.user, revision_id=revision_id)
    messages.success(
        request, f"Reverted to the text of version {number}." if changed else "That version is the current text."
    )
    return redirect("desk:history", slug=slug)
