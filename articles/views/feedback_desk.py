"""The writers' backlog of reader questions and problem reports, and one page per message with its
decisions. Views only translate HTTP to calls of articles.feedback and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .. import feedback, roles
from ..feedback_forms import AcceptForm, AnswerForm, DeclineForm
from ..models import Article, ReaderFeedback

ITEMS_PER_PAGE = 30
STATUS_FILTERS = ["new", *[s for s in ReaderFeedback.Status.values if s != "new"], "all"]


def _require_staff_role(user: Any) -> None:
    if not (roles.is_writer(user) or roles.is_board_member(user) or roles.is_editor(user)):
        raise PermissionDenied


@login_required
def backlog(request: HttpRequest) -> HttpResponse:
    _require_staff_role(request.user)
    status = request.GET.get("status", "new")
    status = status if status in STATUS_FILTERS else "new"
    items = feedback.visible_to(request.user)
    slug = request.GET.get("article", "")
    if slug:
        items = items.filter(article__slug=slug)
    shown = items if status == "all" else items.filter(status=status)
    page = Paginator(shown, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    article_ids = list(items.order_by().values_list("article_id", flat=True).distinct())
    counts = feedback.counts_for(article_ids)
    articles = Article.objects.filter(pk__in=counts).order_by("title")
    context = {
        "page": page,
        "status": status,
        "statuses": STATUS_FILTERS,
        "article_slug": slug,
        "query_string": f"status={status}&" + (f"article={slug}&" if slug else ""),
        "per_article": [{"article": a, "counts": counts[a.pk]} for a in articles],
    }
    return render(request, "articles/desk/feedback_backlog.html", context)


def _item(request: HttpRequest, pk: int) -> ReaderFeedback:
    _require_staff_role(request.user)
    item = get_object_or_404(ReaderFeedback.objects.select_related("article", "decided_by__profile"), pk=pk)
    if not feedback.can_handle(request.user, item):
        raise PermissionDenied
    return item


def _page(request: HttpRequest, item: ReaderFeedback, *, status: int = 200, **forms: Any) -> HttpResponse:
    context = {
        "item": item,
        "accept_form": forms.get("accept_form") or AcceptForm(),
        "answer_form": forms.get("answer_form") or AnswerForm(),
        "decline_form": forms.get("decline_form") or DeclineForm(),
        "refusal": forms.get("refusal", ""),
        "unsent_reply": forms.get("unsent_reply", ""),
        "reply_status": feedback.reply_status(item) if item.reply else "",
    }
    return render(request, "articles/desk/feedback_item.html", context, status=status)


@login_required
def item_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _item(request, pk))


Decision = Callable[[HttpRequest, ReaderFeedback, Any], Any]

DECISIONS: dict[str, tuple[type | None, str, Decision, str]] = {
    "accept": (
        AcceptForm,
        "accept_form",
        lambda r, i, f: feedback.accept(i, by=r.user, linked_article=f.cleaned_data["linked_article"]),
        "Accepted.",
    ),
    "answer": (
        AnswerForm,
        "answer_form",
        lambda r, i, f: feedback.answer(i, by=r.user, reply=f.cleaned_data["reply"]),
        "Answered.",
    ),
    "decline": (
        DeclineForm,
        "decline_form",
        lambda r, i, f: feedback.decline(i, by=r.user, reason=f.cleaned_data["reason"]),
        "Declined.",
    ),
    "spam": (None, "", lambda r, i, f: feedback.mark_spam(i, by=r.user), "Marked as spam; the address is erased."),
}


@require_POST
@login_required
def decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in DECISIONS:
        raise PermissionDenied
    item = _item(request, pk)
    form_class, key, call, success = DECISIONS[action]
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        return _page(request, item, status=400, **{key: form})
    try:
        decided = call(request, item, form)
    except feedback.AlreadyHandled as refusal:
        # The other tab's decision stands; a reply typed here is shown back so it is not lost.
        unsent = form.cleaned_data.get("reply", "") if form is not None else ""
        item.refresh_from_db()
        return _page(request, item, status=409, refusal=str(refusal), unsent_reply=unsent)
    except feedback.FeedbackError as refusal:
        return _page(request, item, status=400, refusal=str(refusal), **({key: form} if form else {}))
    if action == "answer":
        _tell_whether_emailed(request, decided)
    else:
        messages.success(request, success)
    return redirect("desk:feedback_item", pk=item.pk)


def _tell_whether_emailed(request: HttpRequest, item: ReaderFeedback) -> None:
    """Says plainly whether the reply has gone: a mail server that is down must not pass for "sent"."""
    if item.email and item.replied_at is None:
        messages.warning(request, f"Answered and saved. {feedback.reply_status(item)}")
    else:
        messages.success(request, f"Answered. {feedback.reply_status(item)}")
