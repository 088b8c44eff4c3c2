"""Public pages: what anonymous readers see. Only approved content."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from ..models import Article, Audience
from ..rendering import render_markdown

ARTICLES_PER_PAGE = 20


def index(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.approved().with_variants().order_by("topic", "-updated_at")
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "articles/index.html", {"page": page})


def detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.approved().with_variants(), slug=slug)
    audience = request.GET.get("audience", Audience.PATIENT)
    if audience not in Audience.values:
        audience = Audience.PATIENT
    other = Audience.CLINICIAN if audience == Audience.PATIENT else Audience.PATIENT
    variant = article.variant(audience) or article.variant(other)
    return render(
        request,
        "articles/detail.html",
        {
            "article": article,
            "variant": variant,
            "body_html": render_markdown(variant.body) if variant else "",
            "audiences": Audience.choices,
        },
    )
