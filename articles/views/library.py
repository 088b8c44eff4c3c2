"""The shared reference library, for writers, the Advisory Board and editors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .. import editing, jobs, references, roles, watch, workflow
from ..models import Article, Reference
from ..models.checks import STANDING_CHOICES
from ..reference_forms import IdentifierPasteForm, ReferenceForm
from ..references import add_references_by_identifier, may_edit_library
from ..search import search_references

PAGE_SIZE = 25
STANDINGS = {value for value, _ in STANDING_CHOICES}
View = Callable[..., HttpResponse]


def library_keeper_required(view: View) -> View:
    """Signed-in writers, board members and staff; anyone else signed in gets 403, anonymous the login."""

    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not may_edit_library(request.user):
            raise PermissionDenied("The reference library is for writers, the Advisory Board and editors.")
        return view(request, *args, **kwargs)

    return guarded


@library_keeper_required
def reference_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    standing = request.GET.get("standing", "")
    shown = _citing_filter(request.user, prefix="articles__")
    found = Reference.objects.annotate(citing_articles=Count("articles", filter=shown, distinct=True)).order_by("key")
    if query:
        found = search_references(found, query)
    if standing in STANDINGS:
        found = found.filter(pk__in=watch.references_with_standing(standing).values("pk"))
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = {k: v for k, v in (("q", query), ("standing", standing)) if v}
    query_string = urlencode(filters) + "&" if filters else ""
    standings = watch.standings(r.pk for r in page.object_list)
    rows = [(reference, standings.get(reference.pk, [])) for reference in page.object_list]
    context = {"page": page, "rows": rows, "query": query, "query_string": query_string, "standing": standing}
    return render(request, "articles/library/list.html", {**context, "standings": STANDING_CHOICES})


@library_keeper_required
def reference_detail(request: HttpRequest, pk: int) -> HttpResponse:
    reference = get_object_or_404(Reference, pk=pk)
    citing = (
        reference.articles.filter(_citing_filter(request.user))
        .distinct()
        .select_related("live_publication")
        .order_by("title")
    )
    own = set(Article.objects.authored_by(roles.signed_in(request)).filter(pk__in=citing).values_list("pk", flat=True))
    rows = [(article, article.pk in own) for article in citing]
    history = Paginator(reference.checks.all(), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"reference": reference, "citing": rows, "history": history, "query_string": ""}
    context["standing_checks"] = watch.standings([pk]).get(pk, [])
    return render(request, "articles/library/detail.html", context)


def _citing_filter(user: object, prefix: str = "") -> Q:
    """Which citing articles a person may see listed: the published ones, and their own drafts.
    Other writers' draft titles and states are not the library's to show."""
    return Q(**{f"{prefix}live_publication__isnull": False}) | Q(**{f"{prefix}authors": user})


@library_keeper_required
@require_http_methods(["GET", "POST"])
def reference_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, Reference())


@library_keeper_required
@require_http_methods(["GET", "POST"])
def reference_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Reference, pk=pk))


def _edit(request: HttpRequest, reference: Reference) -> HttpResponse:
    form = ReferenceForm(request.POST if request.method == "POST" else None, instance=reference)
    if request.method == "POST" and form.is_valid():
        try:
            saved = editing.save_library_reference(form, by=request.user)
        except editing.EditNotAllowed as refusal:
            form.add_error(None, str(refusal))  # the form comes back with what was typed
        else:
            messages.success(request, f"Reference “{saved.key}” saved.")
            return redirect("library:detail", pk=saved.pk)
    # Said before anything is typed, not only when the change is refused.
    locked = workflow.reference_edit_refusal(request.user, reference) if reference.pk else ""
    return render(request, "articles/library/form.html", {"form": form, "reference": reference, "locked": locked})


@library_keeper_required
@require_http_methods(["GET", "POST"])
def add_by_identifier(request: HttpRequest) -> HttpResponse:
    form = IdentifierPasteForm(request.POST if request.method == "POST" else None)
    result = None
    if request.method == "POST" and form.is_valid():
        # Shown on this page, not redirected: the per-line outcome is the answer the writer asked for.
        with jobs.owed_notes() as owed:
            result = add_references_by_identifier(form.cleaned_data["identifiers"], by=request.user)  # type: ignore[arg-type]
    context = {"form": form, "result": result, "owed": jobs.owed_message(owed) if result and owed else ""}
    return render(request, "articles/library/add.html", context)


@library_keeper_required
@require_POST
def look_up_again(request: HttpRequest, pk: int) -> HttpResponse:
    reference = get_object_or_404(Reference, pk=pk)
    with jobs.owed_notes() as owed:
        queued = references.look_up_again(reference, by=request.user)  # type: ignore[arg-type]
    if owed:
        messages.warning(request, jobs.owed_message(owed))
    elif queued:
        messages.success(request, "Looking it up again; this page shows the answer when it is in.")
    else:
        messages.info(request, "It is already being looked up, or its details are in.")
    return redirect("library:detail", pk=reference.pk)
