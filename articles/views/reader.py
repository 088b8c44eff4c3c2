"""Public pages: what anonymous readers see. They read publications (what a named reviewer approved),
never the working copy; with PUBLISH_PENDING on, never-approved submissions show with a caution banner."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import router
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from .. import corrections, watch
from ..compiled import compiled
from ..framed import render_framed
from ..models import Article, Audience, Publication, PublishedVariant, Reference, SitePage
from ..page_cache import LISTING, article_generation, public_page
from ..rendering import (
    ReferenceLookup,
    anchor_sections,
    render_article_text,
    render_summary_text,
    sanitise,
    tighten_citations,
)
from ..search import search_articles
from . import trust

ARTICLES_PER_PAGE = 20
AUDIENCE_COOKIE = "audience"
AUDIENCE_COOKIE_AGE = 365 * 24 * 3600
PENDING_STATUSES = (Article.Status.SUBMITTED, Article.Status.UNDER_REVIEW)
EDITORIAL_POLICY = "editorial-policy"
SCHEMA_AUDIENCE = {Audience.CLINICIAN: "Clinician", Audience.PATIENT: "Patient"}
# What json_script escapes, so a "</script>" inside a title cannot end the JSON-LD block.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _remembered_audience(request: HttpRequest) -> str:
    audience = request.COOKIES.get(AUDIENCE_COOKIE)
    return audience if audience in Audience.values else Audience.PATIENT


# --- Index and search -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    url: str
    topic: str
    kind: str
    title: str
    summary: str
    reviewed: datetime


def live_publication(article: Article) -> Publication:
    """The approved snapshot readers see; an article without one (never approved, or withdrawn from public
    view between the query and this call) is not found, never shown from its working copy."""
    if article.live_publication is None:
        raise Http404("Not published")
    return article.live_publication


def _card(article: Article, audience: str) -> Card:
    publication = live_publication(article)
    version = publication.variant(audience) or publication.variant(Audience.PATIENT)
    return Card(
        url=article.get_absolute_url(),
        topic=publication.topic,
        kind=publication.get_kind_display(),
        title=publication.title,
        summary=version.summary if version else "",
        reviewed=publication.approved_at,
    )


# Cards show the remembered audience's bottom line, so the index is stored once per audience; a search
# (any parameter besides "page") is rendered each time.
@public_page(lambda: [LISTING], query=("page",), variant=_remembered_audience)
def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    articles = (
        Article.objects.published()
        .prefetch_related("live_publication__variants")
        .order_by("live_publication__topic", "-live_publication__approved_at", "pk")
    )
    if query:
        articles = search_articles(articles, query)
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    audience = _remembered_audience(request)
    return render(
        request,
        "articles/index.html",
        {
            "page": page,
            "cards": [_card(article, audience) for article in page.object_list],
            "query": query,
            "query_string": urlencode({"q": query}) + "&" if query else "",
            "policy_url": reverse("articles:site_page", args=[EDITORIAL_POLICY]),
        },
    )


# --- The article page -----------------------------------------------------------------------------


def choose_audience(request: HttpRequest, slug: str) -> HttpResponse:
    """The bare article URL: remembers an explicit ?audience= choice, then sends the reader to the
    version their remembered choice names (patient by default). The audience switch links here, with
    and without JavaScript, so the choice is remembered the same way by both (the cookie stays httponly)."""
    chosen = request.GET.get("audience")
    audience = chosen if chosen in Audience.values else _remembered_audience(request)
    response = redirect("articles:audience", slug=slug, audience=audience)
    patch_vary_headers(response, ["Cookie"])  # where it sends you depends on the cookie
    if chosen in Audience.values:
        response.set_cookie(
            AUDIENCE_COOKIE,
            chosen,
            max_age=AUDIENCE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,
        )
    return response


# Stored per audience URL; nothing on it depends on a cookie (the audience is in the URL).
@public_page(lambda slug, audience: [article_generation(slug)])
def article_page(request: HttpRequest, slug: str, audience: str) -> HttpResponse:
    if audience not in Audience.values:
        raise Http404("No such audience")
    article = _reader_article(slug)
    if article.live_publication is not None:
        return _published_page(request, article, audience)
    if not (settings.PUBLISH_PENDING and article.status in PENDING_STATUSES):
        raise Http404("Not published")
    context = _pending_context(article, audience)
    context.update(_page_context(request, article, context["shown"], audience))
    context["json_ld"] = _json_ld(_structured_data(context, context["canonical"]), context["citations_json"])
    response = render(request, "articles/detail.html", context)
    # The working copy changes with every edit: never stored, by us or anyone downstream.
    patch_cache_control(response, no_store=True)
    return response


def _page_context(request: HttpRequest, article: Article, shown: Any, requested: str) -> dict[str, Any]:
    """What every article page shows besides its text: the addresses and the audience switch."""
    slug = article.slug
    return {
        "article": article,
        "audience": Audience(shown.audience),
        "requested": Audience(requested),
        "audiences": [(a, f"{reverse('articles:detail', kwargs={'slug': slug})}?audience={a.value}") for a in Audience],
        "canonical": request.build_absolute_uri(reverse("articles:audience", args=[slug, shown.audience])),
        "policy_url": reverse("articles:site_page", args=[EDITORIAL_POLICY]),
    }


def _published_page(request: HttpRequest, article: Article, audience: str) -> HttpResponse:
    """The approved text as a frame rendered once per process (it never changes after approval), with what
    other articles or the person reading change rendered on every request: related articles and the
    navigation (see articles/framed.py). This article's own changing parts (reader notices, update notes,
    review dates) are read on every request too, but change rarely (a retraction found, a correction, a
    re-review) and cost most to render (notices inside the long reference list, formatted dates), so they
    are in the frame and its key."""
    publication = live_publication(article)
    version = _published_version(publication.pk, publication.approved_at, audience)
    notices = watch.reader_notices(article)  # no query unless the article's row says one is due
    updates = corrections.update_lines(article)  # from the row just read

    def frozen() -> dict[str, Any]:
        beside = watch.published_reference_numbers(version.references, notices) if notices else {}
        values = {
            "publication": publication,
            "shown": version.shown,
            "summary_html": version.summary_html,
            "summary_text": version.shown.summary,
            "body_html": version.body_html,
            "sections": version.sections,
            "pending": False,
            "authors": trust.people_with_links(publication.authors),
            "reviewers": trust.people_with_links(publication.reviewers),
            "source_notices": notices,
            "references_html": _with_source_notices(version.references_html, beside),
            "updates": updates,
            **trust.review_dates(article, publication),
            **_page_context(request, article, version.shown, audience),
        }
        values["json_ld"] = _json_ld(_structured_data(values, values["canonical"]), version.citations_json)
        return values

    def live() -> dict[str, Any]:
        return {"related": trust.related_articles(article, publication)}

    # What the frame shows besides the publication: its address (an article can be renamed), the review
    # dates (a re-review moves article.approved_at), the reader notices and the update notes.
    key = (
        request.scheme,
        request.get_host(),
        article.slug,
        audience,
        publication.pk,
        publication.approved_at,
        article.approved_at,
        tuple(notices),
        tuple(updates),
    )
    return render_framed(request, "articles/detail.html", key=key, frozen=frozen, live=live)


# What the article page reads of the article row; any other field stays deferred, and reading it would
# cost a query. The live publication comes whole with it.
_PAGE_FIELDS = frozenset(
    {"id", "slug", "title", "kind", "topic", "status", "approved_at", "live_publication_id", "updates_log"}
)


@functools.cache
def _page_fields() -> tuple[list[str], list[str]]:
    """The article's _PAGE_FIELDS and all the publication's fields, in model order as Model.from_db wants."""
    article_fields = [f.attname for f in Article._meta.concrete_fields if f.attname in _PAGE_FIELDS]
    return article_fields, [f.attname for f in Publication._meta.concrete_fields]


@compiled(maxsize=1024)
def _article_query(alias: str, slug: str) -> QuerySet[Article, tuple[Any, ...]]:
    """The article page's one query for the article: its row, its live publication and whether a reader
    notice is due (see articles.compiled: compiled once per slug, run on every request)."""
    article_fields, publication_fields = _page_fields()
    articles = Article.objects.using(alias).filter(slug=slug).order_by()
    articles = articles.annotate(has_source_notice=watch.has_reader_notice())
    columns = [*article_fields, *(f"live_publication__{name}" for name in publication_fields), "has_source_notice"]
    return articles.values_list(*columns)


def _reader_article(slug: str) -> Article:
    alias = router.db_for_read(Article)
    rows = _article_query(alias, slug).rows()
    if not rows:
        raise Http404("No such article")
    article_fields, publication_fields = _page_fields()
    row = rows[0]
    article = Article.from_db(alias, article_fields, row[: len(article_fields)])
    article.has_source_notice = row[-1]  # type: ignore[attr-defined]
    if article.live_publication_id is not None:
        publication_values = row[len(article_fields) : -1]
        article.live_publication = Publication.from_db(alias, publication_fields, publication_values)
    return article


def _pick(versions: dict[str, Any], audience: str) -> Any:
    # A missing version falls back to the other audience's, with a note on the page.
    return versions.get(audience) or next(iter(versions.values()))


@dataclass(frozen=True)
class PublishedVersion:
    """One audience of a publication, ready for its page: the stored HTML passed through the allow-list
    once more (a row edited outside the app still cannot inject), its sections, its JSON-LD citations."""

    shown: PublishedVariant
    summary_html: SafeString
    body_html: SafeString
    sections: list[Any]
    references_html: SafeString
    references: list[dict[str, Any]]
    citations_json: str


# Publications never change after approval, so each process keeps the versions it served last instead of
# fetching and preparing a long article's ~200 KB again on every uncached request. The approval time is
# in the key with the id, so even a database reloaded under a running process cannot mix two up.
@functools.lru_cache(maxsize=32)
def _published_version(publication_id: int, approved_at: datetime, audience: str) -> PublishedVersion:
    # Only the version shown, without its search text: a long article's other version is as large again.
    variants = PublishedVariant.objects.filter(publication_id=publication_id).defer("body_text")
    shown = variants.filter(audience=audience).first() or variants.first()
    if shown is None:
        raise Http404("Empty publication")
    body_html, sections = anchor_sections(_stored_html(shown.body_html))
    references_html = _stored_html(shown.references_html)
    return PublishedVersion(
        shown=shown,
        summary_html=_stored_html(shown.summary_html),
        body_html=mark_safe(body_html),  # noqa: S308 - sanitised; only slug ids added
        sections=sections,
        references_html=references_html,
        references=shown.references,
        citations_json=_citations(shown.references),
    )


def _with_source_notices(references_html: SafeString, beside: dict[int, str]) -> SafeString:
    """The citation watch's notice inside the numbered entry of the source it is about."""
    html = str(references_html)
    for number, text in beside.items():
        opening = f'<li id="ref-{number}">'
        html = html.replace(opening, opening + format_html('<p class="source-notice" role="note">{}</p>', text), 1)
    return mark_safe(html)  # noqa: S308 - sanitised HTML plus escaped notice text


def _stored_html(html: str) -> SafeString:
    return mark_safe(tighten_citations(sanitise(html)))  # noqa: S308 - sanitised by the allow-list


def _pending_context(article: Article, audience: str) -> dict[str, Any]:
    versions = {v.audience: v for v in article.variants.all()}
    if not versions:
        raise Http404("Nothing written yet")
    shown = _pick(versions, audience)
    lookup = ReferenceLookup.from_references(article.references.all())
    rendered = render_article_text(shown.body, lookup, shown.summary)
    body_html, sections = anchor_sections(rendered.body_html)
    return {
        "publication": None,
        "shown": shown,
        "summary_html": rendered.summary_html,
        "summary_text": render_summary_text(shown.summary),
        "body_html": mark_safe(body_html),  # noqa: S308 - sanitised by the renderer; only slug ids added
        "sections": sections,
        "references_html": rendered.references_html,
        "citations_json": _citations([_reference_fields(ref) for ref in rendered.cited]),
        "pending": True,
    }


def _reference_fields(ref: Reference) -> dict[str, Any]:
    """A library reference in the shape publications store (see publishing), for the JSON-LD."""
    fields = ("key", "title", "source", "year", "doi", "pmid", "url")
    return {"authors": ref.author_list, "kind": ref.get_kind_display(), **{f: getattr(ref, f) for f in fields}}


# --- schema.org structured data -------------------------------------------------------------------


def _person(entry: dict[str, Any], base_url: str = "") -> dict[str, Any]:
    person: dict[str, Any] = {"@type": "Person", "name": entry["name"]}
    if entry.get("credentials"):
        person["description"] = entry["credentials"]
        person["hasCredential"] = {"@type": "EducationalOccupationalCredential", "name": entry["credentials"]}
    if entry.get("url") and base_url:
        person["url"] = base_url + entry["url"]
    return person


def _reference_url(ref: dict[str, Any]) -> str:
    if ref.get("doi"):
        return f"https://doi.org/{ref['doi']}"
    if ref.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{ref['pmid']}/"
    return ref.get("url") or ""


def _creative_work(ref: dict[str, Any]) -> dict[str, Any]:
    work: dict[str, Any] = {"@type": "CreativeWork", "name": ref.get("title") or ref.get("key", "")}
    if ref.get("authors"):
        work["author"] = [{"@type": "Person", "name": name} for name in ref["authors"]]
    if ref.get("source"):
        work["publisher"] = {"@type": "Organization", "name": ref["source"]}
    if ref.get("year"):
        work["datePublished"] = str(ref["year"])
    if url := _reference_url(ref):
        work["url"] = url
    return work


def _review_fields(context: dict[str, Any], base_url: str) -> dict[str, Any]:
    publication = context["publication"]
    reviewers = [_person(r, base_url) for r in context["reviewers"]]
    return {
        # The last approval or re-review: a re-review that changed nothing still re-checked every statement.
        "lastReviewed": context["last_reviewed"].date().isoformat(),
        "dateModified": publication.approved_at.isoformat(),
        "reviewedBy": reviewers[0] if len(reviewers) == 1 else reviewers,
        "author": [_person(a, base_url) for a in context["authors"]],
    }


def _structured_data(context: dict[str, Any], canonical: str) -> dict[str, Any]:
    """schema.org MedicalWebPage: who reviewed it and when, for whom it is written (what it cites is added
    by _json_ld). Pending text gets no review fields: nobody has reviewed it yet."""
    shown, publication = context["shown"], context["publication"]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalWebPage",
        "name": shown.title,
        "description": context["summary_text"],
        "url": canonical,
        "inLanguage": "en",
        "audience": {"@type": "MedicalAudience", "audienceType": SCHEMA_AUDIENCE[Audience(shown.audience)]},
    }
    if publication is not None:
        site = urlsplit(canonical)._replace(path="", query="", fragment="").geturl()
        data.update(_review_fields(context, site))
    return data


def _citations(references: list[dict[str, Any]]) -> str:
    """The JSON-LD "citation" list for references in the shape publications store, escaped for <script>."""
    return _escaped_json([_creative_work(ref) for ref in references])


def _escaped_json(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES)


def _json_ld(data: dict[str, Any], citations_json: str) -> SafeString:
    """The page's JSON-LD: `data` with the (precomputed, already escaped) citation list as its last member."""
    text = _escaped_json(data)
    text = f'{text[:-1]}, "citation": {citations_json}}}'  # data is never empty: it ends with "}"
    return mark_safe(text)  # noqa: S308 - "<", ">" and "&" are escaped by _escaped_json, as json_script does


# --- Staff-written pages and the sitemap ----------------------------------------------------------


@public_page()
def site_page(request: HttpRequest, slug: str) -> HttpResponse:
    page = get_object_or_404(SitePage, slug=slug)
    canonical = request.build_absolute_uri(page.get_absolute_url())
    return render(request, "articles/site_page.html", {"page": page, "canonical": canonical})


@dataclass(frozen=True)
class SitemapEntry:
    slug: str
    audience: str
    approved_at: datetime


class ArticleSitemap(Sitemap[SitemapEntry]):
    """Every audience version of every published article, dated by its approval."""

    changefreq = "monthly"

    def items(self) -> list[SitemapEntry]:
        articles = Article.objects.published().prefetch_related("live_publication__variants").order_by("slug")
        return [
            SitemapEntry(article.slug, version.audience, publication.approved_at)
            for article in articles
            for publication in [live_publication(article)]
            for version in sorted(publication.variants.all(), key=lambda v: v.audience)
        ]

    def location(self, item: SitemapEntry) -> str:
        return reverse("articles:audience", args=[item.slug, item.audience])

    def lastmod(self, item: SitemapEntry) -> datetime:
        return item.approved_at
