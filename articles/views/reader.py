"""Public pages: what anonymous readers see. They read publications (what a named reviewer approved),
never the working copy; with PUBLISH_PENDING on, never-approved submissions show with a caution banner."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from ..models import Article, Audience
from ..rendering import ReferenceLookup, render_article_text

ARTICLES_PER_PAGE = 20
AUDIENCE_COOKIE = "audience"
AUDIENCE_COOKIE_AGE = 365 * 24 * 3600
PENDING_STATUSES = (Article.Status.SUBMITTED, Article.Status.UNDER_REVIEW)


def index(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.published().order_by("topic", "-live_publication__approved_at")
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "articles/index.html", {"page": page})


def choose_audience(request: HttpRequest, slug: str) -> HttpResponse:
    """The bare article URL: remembers an explicit ?audience= choice, then sends the reader to the
    version their remembered choice names (patient by default)."""
    chosen = request.GET.get("audience")
    audience = chosen if chosen in Audience.values else request.COOKIES.get(AUDIENCE_COOKIE)
    if audience not in Audience.values:
        audience = Audience.PATIENT
    response = redirect("articles:audience", slug=slug, audience=audience)
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


def article_page(request: HttpRequest, slug: str, audience: str) -> HttpResponse:
    if audience not in Audience.values:
        raise Http404("No such audience")
    article = get_object_or_404(Article.objects.select_related("live_publication"), slug=slug)
    if article.live_publication is not None:
        context = _published_context(article, audience)
    elif settings.PUBLISH_PENDING and article.status in PENDING_STATUSES:
        context = _pending_context(article, audience)
    else:
        raise Http404("Not published")
    context.update(
        article=article,
        audience=Audience(context["shown"].audience),
        requested=Audience(audience),
        audiences=[(a, reverse("articles:detail", kwargs={"slug": slug}) + f"?audience={a.value}") for a in Audience],
        canonical=request.build_absolute_uri(reverse("articles:audience", args=[slug, context["shown"].audience])),
    )
    return render(request, "articles/detail.html", context)


def _pick(versions: dict[str, object], audience: str) -> object:
    # A missing version falls back to the other audience's, with a note on the page.
    return versions.get(audience) or next(iter(versions.values()))


def _published_context(article: Article, audience: str) -> dict[str, object]:
    publication = article.live_publication
    versions = {v.audience: v for v in publication.variants.all()}
    if not versions:
        raise Http404("Empty publication")
    shown = _pick(versions, audience)
    return {
        "publication": publication,
        "shown": shown,
        "body_html": shown.body_html,
        "references_html": shown.references_html,
        "pending": False,
    }


def _pending_context(article: Article, audience: str) -> dict[str, object]:
    versions = {v.audience: v for v in article.variants.all()}
    if not versions:
        raise Http404("Nothing written yet")
    shown = _pick(versions, audience)
    rendered = render_article_text(shown.body, ReferenceLookup.from_references(article.references.all()))
    return {
        "publication": None,
        "shown": shown,
        "body_html": rendered.body_html,
        "references_html": rendered.references_html,
        "pending": True,
    }
