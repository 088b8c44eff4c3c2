"""Read-only endpoints over live publications. Each answer is built from the frozen Publication readers
see (never the working copy), costs a fixed number of queries, and carries ETag / Last-Modified so
partners revalidate with a 304."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Prefetch, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseBase
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from .. import corrections, watch, workflow
from ..models import Article, Audience, Publication, PublishedVariant, Reference
from ..views.reader import live_publication
from . import serializers as shapes
from .standing import standings_for

API_VERSION = "1"
CACHE_SECONDS = 60
STALE_SECONDS = 300


def live_articles() -> QuerySet[Article]:
    """Approved articles with when a reader last saw something change on them: `public_changed_at`, which
    every reader-visible change sets through page_cache.public_pages_changed (a publication, a re-review,
    a reader notice opened or closed…); the approval time for articles published before it existed."""
    return Article.objects.published().annotate(
        modified_at=Coalesce(F("public_changed_at"), F("live_publication__approved_at")),
        # Lets watch.reader_notices skip its query for the usual article, which has none.
        has_source_notice=watch.has_reader_notice(),
    )


def _timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def conditional(request: Request, *parts: object, modified: datetime | None) -> HttpResponseBase | None:
    """A 304 when the caller's ETag or date still matches; None when a full answer is needed."""
    etag = _etag(*parts, modified)
    request._api_validators = (etag, modified)  # type: ignore[attr-defined]
    return get_conditional_response(request, etag=etag, last_modified=_timestamp(modified))


def _etag(*parts: object) -> str:
    digest = hashlib.blake2b(repr((API_VERSION, *parts)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def _with_validators(request: Request, response: Response) -> Response:
    etag, modified = getattr(request, "_api_validators", (None, None))
    if etag:
        response["ETag"] = etag
    if modified:
        response["Last-Modified"] = http_date(modified.timestamp())
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS, stale_while_revalidate=STALE_SECONDS)
    return response


class PublicView(GenericAPIView[Any]):
    """Shared behaviour: validators and cache headers on every successful answer."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code == 200:
            _with_validators(request, response)
        return response


def _web_url(request: Request, slug: str, audience: str) -> str:
    return request.build_absolute_uri(reverse("articles:audience", args=[slug, audience]))


def _api_url(request: Request, name: str, *args: object) -> str:
    return request.build_absolute_uri(reverse(f"api:{name}", args=args))


def _summary(request: Request, article: Any) -> dict[str, Any]:
    publication = article.live_publication
    audiences = sorted(v.audience for v in publication.variants.all())
    return {
        "slug": article.slug,
        "kind": publication.kind,
        "topic": publication.topic,
        "title": publication.title,
        "audiences": audiences,
        "approved_at": publication.approved_at,
        "modified_at": article.modified_at,
        "canonical_url": request.build_absolute_uri(article.get_absolute_url()),
        "api_url": _api_url(request, "article", article.slug),
    }


def _review(article: Article, publication: Publication) -> dict[str, Any]:
    last_reviewed, due = workflow.public_review_dates(article, publication)
    return {
        "reviewers": publication.reviewers,
        "approved_at": publication.approved_at,
        "last_reviewed_at": last_reviewed,
        "next_review_due": due.date(),
    }


def _references(snapshot: list[dict[str, Any]], standing: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "number": number,
            "id": entry.get("id"),
            "kind": entry.get("kind", ""),
            "title": entry.get("title", ""),
            "authors": entry.get("authors", []),
            "source": entry.get("source", ""),
            "year": entry.get("year"),
            "doi": entry.get("doi"),
            "pmid": entry.get("pmid"),
            "url": entry.get("url", ""),
            "standing": standing.get(entry.get("id") or 0, []),
        }
        for number, entry in enumerate(snapshot, start=1)
    ]


def _version(request: Request, article: Article, variant: PublishedVariant, standing: dict[int, Any]) -> dict[str, Any]:
    return {
        "audience": variant.audience,
        "title": variant.title,
        "bottom_line": variant.summary,
        "bottom_line_html": variant.summary_html,
        "body_html": variant.body_html,
        "body_text": variant.body_text,
        "references": _references(variant.references, standing),
        "canonical_url": _web_url(request, article.slug, variant.audience),
        "api_url": _api_url(request, "article_audience", article.slug, variant.audience),
    }


def _record(request: Request, article: Any, variants: list[PublishedVariant]) -> dict[str, Any]:
    publication = article.live_publication
    cited = {entry["id"] for variant in variants for entry in variant.references if entry.get("id")}
    standing = standings_for(cited)
    return {
        **_summary(request, article),
        "authors": [{"name": a["name"], "credentials": a.get("credentials", "")} for a in publication.authors],
        "review": _review(article, publication),
        "updates": corrections.public_log(article),
        "reader_notices": [
            {"text": n.text, "standing": n.standing, "reference_id": n.reference_id}
            for n in watch.reader_notices(article)
        ],
        "versions": [_version(request, article, variant, standing) for variant in variants],
    }


def _live_article(slug: str) -> Any:
    article = (
        live_articles()
        .filter(slug=slug)
        .prefetch_related(
            Prefetch("live_publication__variants", queryset=PublishedVariant.objects.order_by("audience"))
        )
        .first()
    )
    if article is None:
        raise Http404("No approved article with this slug.")
    return article


# --- Articles ----------------------------------------------------------------------------------------


class ArticleFilters(drf.Serializer[Any]):
    topic = drf.CharField(required=False, help_text="Exact topic name, any case, e.g. Asthma.")
    kind = drf.ChoiceField(choices=Article.Kind.choices, required=False)
    audience = drf.ChoiceField(choices=Audience.choices, required=False, help_text="Only articles with this version.")
    modified_since = drf.DateTimeField(
        required=False, help_text="ISO 8601; only articles a reader saw change at or after this moment."
    )


class NewestChangeFirst(CursorPagination):
    ordering = ("-modified_at", "-pk")

    def get_page_size(self, request: Request) -> int:
        return int(settings.API_PAGE_SIZE)


class ArticleList(PublicView):
    """Approved articles, the most recently changed first; poll with `modified_since` for changes."""

    serializer_class = shapes.ArticleSummarySerializer
    pagination_class = NewestChangeFirst

    def get_queryset(self) -> QuerySet[Article]:
        filters = ArticleFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        articles = live_articles().prefetch_related(
            Prefetch("live_publication__variants", queryset=PublishedVariant.objects.only("publication_id", "audience"))
        )
        chosen = filters.validated_data
        if "topic" in chosen:
            articles = articles.filter(live_publication__topic__iexact=chosen["topic"])
        if "kind" in chosen:
            articles = articles.filter(live_publication__kind=chosen["kind"])
        if "audience" in chosen:
            has_version = PublishedVariant.objects.filter(
                publication=OuterRef("live_publication"), audience=chosen["audience"]
            )
            articles = articles.filter(Exists(has_version))
        if "modified_since" in chosen:
            articles = articles.filter(modified_at__gte=chosen["modified_since"])  # type: ignore[misc]  # annotated by live_articles()
        return articles

    @extend_schema(
        operation_id="articles_list", parameters=[ArticleFilters], responses=shapes.ArticleSummarySerializer(many=True)
    )
    def get(self, request: Request) -> Any:
        articles = self.get_queryset()
        newest = articles.aggregate(newest=Max("modified_at"), count=Count("pk"))
        if not_modified := conditional(request, request.get_full_path(), newest["count"], modified=newest["newest"]):
            return not_modified
        page = self.paginate_queryset(articles) or []
        return self.get_paginated_response([_summary(request, article) for article in page])


class ArticleDetail(PublicView):
    """One approved article: both audience versions with their references, the review record, the
    update log and any reader notice."""

    serializer_class = shapes.ArticleSerializer

    @extend_schema(operation_id="article_retrieve")
    def get(self, request: Request, slug: str) -> Any:
        article = _live_article(slug)
        if not_modified := conditional(request, slug, article.live_publication_id, modified=article.modified_at):
            return not_modified
        variants = list(article.live_publication.variants.all())
        return Response(shapes.ArticleSerializer(_record(request, article, variants)).data)


class ArticleAudienceDetail(PublicView):
    """One audience version of an approved article, as a reader choosing that audience sees it."""

    serializer_class = shapes.ArticleVersionSerializer

    @extend_schema(
        operation_id="article_audience_retrieve",
        parameters=[OpenApiParameter("audience", enum=Audience.values, location=OpenApiParameter.PATH)],
    )
    def get(self, request: Request, slug: str, audience: str) -> Any:
        article = _live_article(slug)
        variants = [v for v in article.live_publication.variants.all() if v.audience == audience]
        if not variants:
            raise Http404("This article has no version for that audience.")
        validators = (slug, audience, article.live_publication_id)
        if not_modified := conditional(request, *validators, modified=article.modified_at):
            return not_modified
        record = _record(request, article, variants)
        record["version"] = record.pop("versions")[0]
        return Response(shapes.ArticleVersionSerializer(record).data)


# --- Topics and references ---------------------------------------------------------------------------


class TopicList(PublicView):
    """Topics that have approved articles, with how many."""

    serializer_class = shapes.TopicSerializer
    pagination_class = None

    @extend_schema(operation_id="topics_list", responses=shapes.TopicSerializer(many=True))
    def get(self, request: Request) -> Any:
        rows = list(
            live_articles()
            .values(name=F("live_publication__topic"))
            .annotate(articles=Count("pk"), newest=Max("modified_at"))
            .order_by("name")
        )
        newest = max((row["newest"] for row in rows), default=None)
        if not_modified := conditional(request, [(r["name"], r["articles"]) for r in rows], modified=newest):
            return not_modified
        list_url = _api_url(request, "articles")
        topics = [
            {"name": row["name"], "articles": row["articles"], "api_url": f"{list_url}?topic={row['name']}"}
            for row in rows
        ]
        return Response(shapes.TopicSerializer(topics, many=True).data)


class ReferenceDetail(PublicView):
    """A library entry, only if an approved article's live version cites it."""

    serializer_class = shapes.LibraryReferenceSerializer

    @extend_schema(operation_id="reference_retrieve")
    def get(self, request: Request, pk: int) -> Any:
        citing = list(live_articles().filter(live_publication__cited_references=pk).order_by("live_publication__title"))
        if not citing:
            raise Http404("No approved article cites this reference.")
        reference = Reference.objects.get(pk=pk)
        newest = max(article.modified_at for article in citing)  # type: ignore[attr-defined]  # annotated by live_articles()
        if not_modified := conditional(request, pk, reference.updated_at, [a.pk for a in citing], modified=newest):
            return not_modified
        entry = {
            **{field: getattr(reference, field) for field in ("id", "kind", "title", "source", "year", "doi", "pmid")},
            "url": reference.url,
            "authors": reference.author_list,
            "standing": standings_for({reference.pk}).get(reference.pk, []),
            "cited_by": [
                {
                    "slug": a.slug,
                    "title": live_publication(a).title,
                    "api_url": _api_url(request, "article", a.slug),
                }
                for a in citing
            ],
        }
        return Response(shapes.LibraryReferenceSerializer(entry).data)
