"""The citation watch's pages: the Advisory Board's alerts, "Check now", and a writer's statement that a
source is cited as retracted. Views only translate HTTP to calls of articles.watch and back."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .. import jobs, roles, tasks, watch, workflow
from ..models import Article, CitationAlert, Reference, severity_rank
from ..models.checks import STANDING_CHOICES
from ..references import may_edit_library

ALERTS_PER_PAGE = 50


def _require_board(request: HttpRequest) -> None:
    if not (roles.is_board_member(request.user) or roles.is_editor(request.user)):
        raise PermissionDenied("The citation alerts are for the Advisory Board and editors.")


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    """Open alerts, worst first then oldest, with filters by verdict, topic and state, and counts."""
    _require_board(request)
    state = request.GET.get("state", "active")
    standing = request.GET.get("standing", "")
    topic = request.GET.get("topic", "")
    shown = watch.alerts_for_board()
    if state == "active":
        shown = shown.filter(state__in=watch.ACTIVE_STATES)
    elif state in CitationAlert.State.values:
        shown = shown.filter(state=state)
    counts_base = shown
    if standing:
        shown = shown.filter(standing=standing)
    if topic:
        shown = shown.filter(article__topic=topic)
    rows = sorted(shown, key=lambda a: (a.severity, a.opened_at))
    counts = sorted(counts_base.values_list("standing").annotate(n=Count("pk")), key=lambda c: severity_rank(c[0]))
    now = timezone.now()
    context = {
        "page": Paginator(rows, ALERTS_PER_PAGE).get_page(request.GET.get("page")),
        "counts": [(s, dict(STANDING_CHOICES).get(s, s), n) for s, n in counts],
        "standings": STANDING_CHOICES,
        "topics": Article.objects.filter(citation_alerts__isnull=False).values_list("topic", flat=True).distinct(),
        "state": state,
        "standing": standing,
        "topic": topic,
        "progress": watch.sweep_progress(),
        "now": now,
        "week_ago": now - timedelta(days=7),
        "query_string": urlencode({"state": state, "standing": standing, "topic": topic}) + "&",
    }
    return render(request, "articles/watch/alerts.html", context)


@require_GET
@login_required
def sweep_progress(request: HttpRequest) -> JsonResponse:
    """The running sweep's progress, for the Board page to follow without reloading."""
    _require_board(request)
    progress = watch.sweep_progress()
    if progress is None:
        return JsonResponse({"known": False})
    fields = ("run", "batches", "done", "references", "percent", "finished")
    return JsonResponse({"known": True, **{name: getattr(progress, name) for name in fields}})


@require_POST
@login_required
def alert_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    alert = get_object_or_404(CitationAlert, pk=pk)
    try:
        if action == "acknowledge":
            watch.acknowledge(alert, by=request.user)
            messages.success(request, "Alert acknowledged.")
        elif action == "resolve":
            watch.resolve(alert, by=request.user, note=request.POST.get("note", ""))
            messages.success(request, "Alert resolved.")
        else:
            raise PermissionDenied
    except workflow.TransitionNotAllowed as refusal:
        raise PermissionDenied(str(refusal)) from refusal
    except workflow.WorkflowError as refusal:
        messages.error(request, str(refusal))
    return redirect(request.POST.get("next") or "desk:alerts")


@require_POST
@login_required
def check_reference(request: HttpRequest, pk: int) -> HttpResponse:
    if not may_edit_library(request.user):
        raise PermissionDenied
    reference = get_object_or_404(Reference, pk=pk)
    if jobs.enqueue(tasks.check_reference_now, reference.pk, owed="the check"):
        messages.success(request, "Checking this reference now; reload in a moment to see the result.")
    else:
        messages.warning(request, "The job queue is not answering; the daily sweep will check this reference.")
    return redirect("library:detail", pk=reference.pk)


@require_POST
@login_required
def check_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.visible_to_staff_of(request.user), slug=slug)
    if jobs.enqueue(tasks.check_article_citations, article.pk, owed="the check"):
        messages.success(request, "Checking this article's sources now; reload in a moment to see the result.")
    else:
        messages.warning(request, "The job queue is not answering; the daily sweep will check these sources.")
    return redirect("desk:article", slug=article.slug)


@require_POST
@login_required
def cite_as_retracted(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.visible_to_staff_of(request.user), slug=slug)
    reference = get_object_or_404(Reference, pk=pk)
    try:
        watch.cite_as_retracted(article, reference, by=request.user)
    except workflow.TransitionNotAllowed as refusal:
        raise PermissionDenied(str(refusal)) from refusal
    except workflow.WorkflowError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Recorded: the text cites {reference.key} as retracted.")
    return redirect("desk:article", slug=article.slug)
