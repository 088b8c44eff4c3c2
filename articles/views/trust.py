"""Public pages of reader trust: the follow-up question and problem-report forms, the site-wide updates
log, the people behind the articles (profiles and the Medical Advisory Board), and the article page's
extras (related articles, review dates, bylines).

The article page itself may be served from a shared cache, so it carries no form and no CSRF token: its
"Ask" and "Report" links open these form pages, which are never cached and render a fresh token for
whoever opens them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import router
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from .. import corrections, feedback, workflow
from ..compiled import compiled
from ..feedback_forms import ProblemReportForm, ReaderMessageForm
from ..models import Article, Audience, Profile, Publication, ReaderFeedback
from ..page_cache import LISTING, public_page
from ..roles import ADVISORY_BOARD

UPDATES_PER_PAGE = 30
RELATED_ARTICLES = 4


# --- The article page's extras --------------------------------------------------------------------


def review_dates(article: Article, publication: Publication) -> dict[str, Any]:
    """Last reviewed (the approval or a later re-review) and when the re-review cadence next asks for one."""
    last, due = workflow.public_review_dates(article, publication)
    return {"last_reviewed": last, "next_review": due}


def related_articles(article: Article, publication: Publication) -> list[dict[str, Any]]:
    """Other published articles on the same topic, most recently reviewed first (one query, compiled once
    per article: every uncached article page asks it)."""
    query = _related_query(router.db_for_read(Article), publication.topic, article.pk)
    return _listing_rows(query.rows())


@compiled(maxsize=1024)
def _related_query(alias: str, topic: str, article_id: int) -> QuerySet[Article, tuple[Any, ...]]:
    articles = (
        Article.objects.using(alias)
        .published()
        .filter(live_publication__topic__iexact=topic)
        .exclude(pk=article_id)
        .order_by("-live_publication__approved_at", "pk")
    )
    return articles.values_list(*_LISTING_FIELDS)[:RELATED_ARTICLES]


_LISTING_FIELDS = ("slug", "live_publication__title", "live_publication__kind", "live_publication__topic",
                   "live_publication__approved_at")  # fmt: skip


def _listings(articles: QuerySet[Article], *, limit: int | None = None) -> list[dict[str, Any]]:
    """Published articles as lists show them (the profile pages): only the five values shown, not whole rows."""
    return _listing_rows(articles.values_list(*_LISTING_FIELDS)[:limit])


def _listing_rows(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    kinds = dict(Article.Kind.choices)
    return [
        {
            "url": reverse("articles:detail", kwargs={"slug": slug}),
            "title": title,
            "kind": kinds.get(kind, kind),
            "topic": topic,
            "approved_at": approved_at,
        }
        for slug, title, kind, topic, approved_at in rows
    ]


def people_with_links(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bylines as frozen in the publication, each with its profile page when the publication knows it."""
    return [
        {**entry, "url": reverse("articles:person", kwargs={"pk": entry["profile"]}) if entry.get("profile") else ""}
        for entry in entries
    ]


# --- Reader questions and problem reports ---------------------------------------------------------


def _reader_address(request: HttpRequest) -> str:
    # Behind our TLS proxy every request comes from the proxy; the address it appends last is the reader's.
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and forwarded:
        return forwarded.split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


def _published(slug: str) -> Article:
    return get_object_or_404(Article.objects.published(), slug=slug)


@never_cache
def ask(request: HttpRequest, slug: str) -> HttpResponse:
    return _message_page(request, _published(slug), ReaderFeedback.Kind.QUESTION, ReaderMessageForm)


@never_cache
def report(request: HttpRequest, slug: str) -> HttpResponse:
    return _message_page(request, _published(slug), ReaderFeedback.Kind.PROBLEM, ProblemReportForm)


def _message_page(request: HttpRequest, article: Article, kind: str, form_class: type) -> HttpResponse:
    audience = request.GET.get("audience") if request.GET.get("audience") in Audience.values else ""
    initial = {"audience": audience, "category": request.GET.get("category", "")}
    form = form_class(request.POST or None, initial=initial)
    refusal, status = "", 200
    if request.method == "POST":
        if form.is_bot():
            refusal, status = "Your message could not be sent.", 400
        elif form.is_valid():
            try:
                feedback.receive(article, kind=kind, address=_reader_address(request), **_fields(form))
            except feedback.FeedbackError as problem:
                refusal, status = str(problem), 429 if isinstance(problem, feedback.RateLimited) else 400
            else:
                return redirect("articles:feedback_sent", slug=article.slug)
        else:
            status = 400
    context = {
        "article": article,
        "publication": article.live_publication,
        "form": form,
        "kind": kind,
        "refusal": refusal,
        "back_url": _back_url(article, str(form.data.get("audience") or audience)),
    }
    return render(request, "articles/feedback_form.html", context, status=status)


def _fields(form: ReaderMessageForm) -> dict[str, str]:
    data = form.cleaned_data
    return {
        "text": data["text"],
        "email": data.get("email", ""),
        "category": data.get("category", ""),
        "audience": data.get("audience") or "",
    }


def _back_url(article: Article, audience: str) -> str:
    if audience in Audience.values:
        return reverse("articles:audience", args=[article.slug, audience])
    return article.get_absolute_url()


@never_cache
def feedback_sent(request: HttpRequest, slug: str) -> HttpResponse:
    article = _published(slug)
    return render(request, "articles/feedback_sent.html", {"article": article, "publication": article.live_publication})


# --- The site-wide log of updates -----------------------------------------------------------------


@public_page(lambda: [LISTING], query=("page",))
def updates(request: HttpRequest) -> HttpResponse:
    page = Paginator(corrections.recent_updates(), UPDATES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "review_interval_days": settings.REVIEW_INTERVAL_DAYS}
    return render(request, "articles/updates.html", context)


# --- People ---------------------------------------------------------------------------------------


def _is_board(user: User) -> bool:
    return any(group.name == ADVISORY_BOARD for group in user.groups.all())


# Lists published articles (LISTING); profile edits in the admin renew every page (people_changed).
@public_page(lambda pk: [LISTING])
def person(request: HttpRequest, pk: int) -> HttpResponse:
    """A writer's or reviewer's public profile with their published work; nobody else has one."""
    profile = get_object_or_404(Profile.objects.select_related("user").prefetch_related("user__groups"), pk=pk)
    user = profile.user
    published = Article.objects.published().order_by("-live_publication__approved_at")
    written = _listings(published.filter(live_publication__written_by=user))
    reviewed = _listings(published.filter(live_publication__reviewed_by=user))
    board = _is_board(user)
    if not (user.is_active and (board or written or reviewed)):
        raise Http404("No public profile")
    context = {"profile": profile, "board": board, "written": written, "reviewed": reviewed}
    return render(request, "articles/person.html", context)


@public_page()
def advisory_board(request: HttpRequest) -> HttpResponse:
    members = (
        Profile.objects.filter(user__groups__name=ADVISORY_BOARD, user__is_active=True)
        .select_related("user")
        .order_by("display_name")
    )
    context = {
        "members": members,
        "policy_url": reverse("articles:site_page", args=["editorial-policy"]),
        "review_interval_days": settings.REVIEW_INTERVAL_DAYS,
    }
    return render(request, "articles/advisory_board.html", context)
