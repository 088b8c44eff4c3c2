"""Signed-in pages: the writer's articles, the Advisory Board's queue, and the article desk page where
everyone involved sees the versions, the review thread, the timeline and their next step.

Views only translate HTTP to calls of articles.workflow / articles.editing and back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max, Min, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from .. import citing, corrections, editing, feedback, jobs, roles, versioning, watch, workflow
from ..feedback_forms import ChangeNoteForm
from ..forms import (
    ApproveForm,
    ArticleForm,
    AssignForm,
    CommentForm,
    NoteForm,
    RequestChangesForm,
    article_text,
    variant_forms,
)
from ..models import Article, ArticleVariant, Audience, ReviewAssignment, ReviewRound
from ..rendering import BODY_MAX_CHARS, ReferenceLookup, render_article_text, validate_body
from . import history

TRACKER = [
    (Article.Status.SUBMITTED, "Submitted"),
    (Article.Status.UNDER_REVIEW, "Under Review"),
    (Article.Status.APPROVED, "Approved"),
]


def _desk_queryset() -> Any:
    return Article.objects.with_variants().prefetch_related(
        Prefetch("review_rounds", queryset=ReviewRound.objects.prefetch_related("assignments__reviewer__profile"))
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if roles.is_board_member(request.user):
        return redirect("desk:queue")
    if roles.is_writer(request.user):
        return redirect("desk:mine")
    if roles.is_editor(request.user):
        return redirect("desk:queue")
    return redirect("articles:index")


@login_required
def my_articles(request: HttpRequest) -> HttpResponse:
    if not roles.is_writer(request.user):
        raise PermissionDenied
    articles = (
        _desk_queryset()
        .authored_by(request.user)
        .annotate(round_number=Max("review_rounds__number"), last_comment_at=Max("review_comments__created_at"))
        .order_by("-updated_at")
    )
    articles = _with_reader_counts(list(articles))
    rows = [{"article": a, "next_action": _next_action_for_writer(a)} for a in articles]
    return render(request, "articles/desk/my_articles.html", {"rows": rows})


def _with_reader_counts(articles: list[Article]) -> list[Article]:
    """Each article with `reader_counts` (questions, problem reports, new): one query for the whole list."""
    counts = feedback.counts_for([a.pk for a in articles])
    for article in articles:
        # A page-only attribute for the templates, not a model field.
        setattr(article, "reader_counts", counts.get(article.pk, feedback.FeedbackCounts()))  # noqa: B010
    return articles


def _next_action_for_writer(article: Article) -> str:
    return {
        Article.Status.DRAFT: "Finish and submit",
        Article.Status.SUBMITTED: "Waiting for a reviewer",
        Article.Status.UNDER_REVIEW: "Being reviewed",
        Article.Status.APPROVED: "Live; edit to start a new version",
    }[Article.Status(article.status)]


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = roles.signed_in(request)
    if not (roles.is_board_member(user) or roles.is_editor(user)):
        raise PermissionDenied
    now = timezone.now()
    open_assignments = ReviewAssignment.objects.filter(review_round__outcome=ReviewRound.Outcome.OPEN)
    # Each row names its writers and the reviewers assigned now: prefetched, a fixed number of queries.
    writers = Prefetch("authors", queryset=User.objects.select_related("profile"))
    people = (
        Prefetch("review_rounds__assignments", queryset=open_assignments.select_related("reviewer__profile")),
        writers,
    )
    waiting = (
        Article.objects.filter(status=Article.Status.SUBMITTED)
        .annotate(submitted_at=Max("review_rounds__opened_at"))
        .prefetch_related(*people)
        .order_by("submitted_at")
    )
    mine = (
        Article.objects.filter(
            status=Article.Status.UNDER_REVIEW,
            review_rounds__assignments__reviewer=user,
            review_rounds__outcome=ReviewRound.Outcome.OPEN,
        )
        .annotate(submitted_at=Max("review_rounds__opened_at"))
        .prefetch_related(*people)
        .order_by("submitted_at")
        .distinct()
    )
    my_due = {
        a.review_round.article_id: a for a in open_assignments.filter(reviewer=user).select_related("review_round")
    }
    context = {
        "waiting": [_queue_row(a, now, my_due) for a in waiting],
        "mine": [_queue_row(a, now, my_due) for a in mine],
        # What readers asked and reported feeds the re-review.
        "rereview": [
            {
                "article": a,
                "writers": sorted(w.profile.display_name for w in a.authors.all()),
                "reader_counts": getattr(a, "reader_counts", None),
                "overdue": True,
            }
            for a in _with_reader_counts(
                list(Article.objects.due_for_rereview(now).prefetch_related(writers).order_by("approved_at"))
            )
        ],
        # Listed until the Board resolves every alert (articles.watch opens them).
        "alerted": Article.objects.filter(citation_alerts__state__in=watch.ACTIVE_STATES)
        .annotate(alert_count=Count("citation_alerts"), first_alert=Min("citation_alerts__opened_at"))
        .order_by("first_alert"),
        "now": now,
    }
    return render(request, "articles/desk/queue.html", context)


def _queue_row(article: Article, now: datetime, my_assignments: dict[int, ReviewAssignment]) -> dict[str, Any]:
    mine = my_assignments.get(article.pk)
    # Unassigned work is due from its submission, so it can be overdue before anyone takes it.
    # `submitted_at` is annotated by the queue's querysets (the latest round's opening), not a model field.
    due_at = mine.due_at if mine else workflow.review_due(getattr(article, "submitted_at", None))
    return {
        "article": article,
        "writers": sorted(writer.profile.display_name for writer in article.authors.all()),
        "reviewers": [
            a.reviewer.profile.display_name for r in article.review_rounds.all() for a in r.assignments.all()
        ],
        "due_at": due_at,
        "overdue": bool(due_at and due_at < now),
        "assigned_to_me": mine is not None,
    }


# --- The article desk page -----------------------------------------------------------------------------


def _visible_article(request: HttpRequest, slug: str) -> Article:
    # Unpublished text: only its writers, the Advisory Board and editors; anyone else gets a 404.
    article: Article = get_object_or_404(_desk_queryset().visible_to_staff_of(request.user), slug=slug)
    return article


def _article_context(request: HttpRequest, article: Article, **forms: Any) -> dict[str, Any]:
    user = request.user
    rounds = list(article.review_rounds.all())
    comments = list(article.review_comments.select_related("author__profile", "review_round"))
    lookup = ReferenceLookup.from_references(article.references.all())
    republishing = article.live_publication_id is not None and article.status != Article.Status.APPROVED
    change = corrections.pending_change(article) if republishing else None
    pending_change = change.name.lower() if change is not None else ""
    proposed_note = corrections.proposed_note(article) if republishing else ""
    return {
        "article": article,
        "republishing": republishing,
        "tracker": TRACKER,
        "versions": [_preview(article, audience, lookup) for audience in Audience],
        "citation_warnings": citing.check_citations(article).warnings,
        "since_live": _changes_since_live(article),
        # Shown to writers of drafts only; skipping it elsewhere spares a second citation check.
        "problems": workflow.fitness_problems(article) if article.status == Article.Status.DRAFT else [],
        "actions": workflow.available_actions(article, user),
        "rounds": [{"round": r, "comments": [c for c in comments if c.review_round_id == r.pk]} for r in rounds],
        "loose_comments": [c for c in comments if c.review_round_id is None],
        "events": article.events.select_related("actor__profile", "review_round"),
        "approve_form": forms.get("approve_form") or ApproveForm(initial={"change_note": proposed_note}),
        "change_note_form": forms.get("change_note_form") or ChangeNoteForm(initial={"change_note": proposed_note}),
        # How the text differs from what readers see, so a reviewer knows before approving whether a
        # public change note is required (articles/corrections.py defines "substantive").
        "pending_change": pending_change,
        "reader_counts": feedback.counts_for([article.pk]).get(article.pk, feedback.FeedbackCounts()),
        "changes_form": forms.get("changes_form") or RequestChangesForm(),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "assign_form": forms.get("assign_form") or AssignForm(),
        "refusal": forms.get("refusal"),
        "can_edit": editing.can_edit(user, article),
        **_watch_context(user, article),
    }


def _watch_context(user: Any, article: Article) -> dict[str, Any]:
    """The citation watch's part of the desk page and the editor: each source's standing, open alerts."""
    return {
        "sources": watch.sources_of(article),
        "can_cite_as_retracted": workflow.is_author(user, article) or roles.is_editor(user),
        "can_check": True,
        "alerts": article.citation_alerts.filter(state__in=watch.ACTIVE_STATES).select_related("reference"),
    }


def _changes_since_live(article: Article) -> dict[str, Any] | None:
    """What a reviewer needs first: how the text under review differs from what readers see now."""
    live, latest = history.default_diff_range(article)
    if live is None or latest is None or live.pk == latest.pk:
        return None
    return {"old": live, "new": latest, "diff": history.diff_between(article, live, latest)}


def _preview(article: Article, audience: Audience, lookup: ReferenceLookup) -> dict[str, Any]:
    variant = article.variant(audience.value)
    rendered = render_article_text(variant.body, lookup, variant.summary) if variant else None
    return {"audience": audience, "variant": variant, "rendered": rendered}


@login_required
def article_page(request: HttpRequest, slug: str) -> HttpResponse:
    article = _visible_article(request, slug)
    return render(request, "articles/desk/article.html", _article_context(request, article))


# --- Actions: one POST endpoint per workflow step ------------------------------------------------------

Handler = Callable[[HttpRequest, Article], Any]


def _with_form(form_class: type, key: str, call: Callable[[HttpRequest, Article, Any], Any]) -> Handler:
    def handler(request: HttpRequest, article: Article) -> Any:
        form = form_class(request.POST)
        if not form.is_valid():
            return {key: form}
        call(request, article, form)
        return None

    return handler


def _assign(request: HttpRequest, article: Article, form: AssignForm) -> None:
    due_on = form.cleaned_data["due_on"]
    due_at = timezone.make_aware(datetime.combine(due_on, time(23, 59))) if due_on else None
    workflow.assign_reviewers(article, by=request.user, reviewers=list(form.cleaned_data["reviewers"]), due_at=due_at)


def _propose_change_note(request: HttpRequest, article: Article, form: ChangeNoteForm) -> None:
    if not editing.can_edit(request.user, article):
        raise workflow.TransitionNotAllowed("Only the article's writers can propose its public change note.")
    try:
        corrections.propose_note(article, by=request.user, note=form.cleaned_data["change_note"])
    except corrections.ChangeNoteProblem as problem:
        raise workflow.WorkflowError(str(problem)) from problem


def _start_review(request: HttpRequest, article: Article) -> None:
    workflow.start_review(article, by=request.user)


ACTIONS: dict[str, tuple[Handler, str]] = {
    "submit": (
        _with_form(NoteForm, "note_form", lambda r, a, f: workflow.submit(a, by=r.user, note=f.cleaned_data["note"])),
        "Submitted to the Medical Advisory Board.",
    ),
    "withdraw": (
        _with_form(NoteForm, "note_form", lambda r, a, f: workflow.withdraw(a, by=r.user, note=f.cleaned_data["note"])),
        "Withdrawn; the article is a draft again.",
    ),
    "start_review": (_start_review, "Review started; the article is assigned to you."),
    "approve": (
        _with_form(
            ApproveForm,
            "approve_form",
            lambda r, a, f: workflow.approve(
                a,
                by=r.user,
                conflict_of_interest=f.declaration(),
                note=f.cleaned_data["note"],
                change_note=f.cleaned_data["change_note"],
            ),
        ),
        "Your approval is recorded.",
    ),
    "request_changes": (
        _with_form(
            RequestChangesForm,
            "changes_form",
            lambda r, a, f: workflow.request_changes(a, by=r.user, note=f.cleaned_data["note"]),
        ),
        "Changes requested; the writers have been told.",
    ),
    "confirm_still_accurate": (
        _with_form(
            ApproveForm,
            "approve_form",
            lambda r, a, f: workflow.confirm_still_accurate(
                a, by=r.user, conflict_of_interest=f.declaration(), note=f.cleaned_data["note"]
            ),
        ),
        "Re-review recorded.",
    ),
    "assign": (_with_form(AssignForm, "assign_form", _assign), "Reviewers assigned."),
    "propose_change_note": (
        _with_form(ChangeNoteForm, "change_note_form", _propose_change_note),
        "Your public change note is saved for the reviewer.",
    ),
    "comment": (
        _with_form(
            CommentForm, "comment_form", lambda r, a, f: workflow.add_comment(a, by=r.user, body=f.cleaned_data["body"])
        ),
        "Comment added.",
    ),
}


@require_POST
def act(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    if not request.user.is_authenticated or action not in ACTIONS:
        raise PermissionDenied
    handler, success = ACTIONS[action]
    article = get_object_or_404(_desk_queryset(), slug=slug)
    try:
        invalid_forms = handler(request, article)
    except workflow.TransitionNotAllowed as refusal:
        return render(request, "articles/desk/refused.html", {"article": article, "reason": str(refusal)}, status=403)
    except workflow.NotFit as refusal:
        _tell_not_fit(request, article, refusal.reasons)
        return redirect("desk:article", slug=slug)
    except workflow.WrongState as refusal:
        return _rerender(request, slug, status=409, refusal=[str(refusal)])
    except workflow.WorkflowError as refusal:
        return _rerender(request, slug, status=400, refusal=[str(refusal)], posted=request.POST)
    if invalid_forms:
        return _rerender(request, slug, status=400, **invalid_forms)
    messages.success(request, success)
    return redirect("desk:article", slug=slug)


def _tell_not_fit(request: HttpRequest, article: Article, reasons: list[str]) -> None:
    """Back on the article page, each reason once: a draft's page lists them itself (“Before this can be
    submitted”, the same fitness check), so the message points there instead of repeating them."""
    if article.status == Article.Status.DRAFT:
        count = len(reasons)
        what = "one thing" if count == 1 else f"{count} things"
        messages.error(request, f"Not submitted: {what} to fix first, listed under “Before this can be submitted”.")
        return
    for reason in reasons:
        messages.error(request, reason)


def _rerender(request: HttpRequest, slug: str, *, status: int, posted: Any = None, **forms: Any) -> HttpResponse:
    """Show the page again with what went wrong, keeping what the person typed."""
    article = _visible_article(request, slug)
    if posted is not None:
        forms.setdefault("approve_form", ApproveForm(posted))
        forms.setdefault("changes_form", RequestChangesForm(initial={"note": posted.get("note", "")}))
    return render(request, "articles/desk/article.html", _article_context(request, article, **forms), status=status)


# --- Editor --------------------------------------------------------------------------------------------


@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """Live preview for the editor: the text as readers would see it, through the one renderer and
    sanitiser, with citations resolved against the whole library (as saving would attach them)."""
    if not (roles.is_writer(request.user) or roles.is_editor(request.user)):
        raise PermissionDenied
    typed = {name: request.POST.get(name, "") for name in ("title", "summary", "body")}
    try:
        # The same bound as saving: the preview must never cost more than the worst text one may save.
        validate_body(typed["body"])
        validate_body(typed["summary"])
    except ValidationError as refusal:
        return render(request, "articles/desk/_preview_refused.html", {"messages_": refusal.messages}, status=422)
    typed["title"], typed["summary"] = typed["title"][:300], typed["summary"][:BODY_MAX_CHARS]
    audience = request.POST.get("audience", Audience.PATIENT)
    variant = ArticleVariant(audience=audience if audience in Audience.values else Audience.PATIENT, **typed)
    lookup = ReferenceLookup.from_references(editing.library_entries_cited_in(variant.summary, variant.body))
    rendered = render_article_text(variant.body, lookup, variant.summary)
    return render(request, "articles/desk/_preview.html", {"rendered": rendered, "variant": variant})


@login_required
def new_article(request: HttpRequest) -> HttpResponse:
    if not roles.is_writer(request.user):
        raise PermissionDenied
    article_form = ArticleForm(request.POST or None)
    forms_by_audience = variant_forms(request.POST or None)
    if request.method == "POST" and article_form.is_valid() and all(f.is_valid() for f in forms_by_audience.values()):
        with jobs.owed_notes() as owed:
            article = editing.create_article(by=request.user, text=article_text(article_form, forms_by_audience))
        if owed:
            messages.warning(request, jobs.owed_message(owed))
        return redirect("desk:article", slug=article.slug)
    return render(
        request, "articles/desk/editor.html", {"article_form": article_form, "panels": _panels(forms_by_audience)}
    )


@login_required
def edit_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = _visible_article(request, slug)
    if not editing.can_edit(request.user, article):
        raise PermissionDenied
    if request.method != "POST":
        current = editing.current_text(article)
        latest = versioning.latest_revision(article)
        article_form = ArticleForm(
            initial={
                **vars(current),
                "base_version": article.content_version,
                "base_revision": latest.pk if latest else None,
            }
        )
        return _editor(request, article, article_form, variant_forms(initial=current.variants))
    article_form, forms_by_audience = ArticleForm(request.POST), variant_forms(request.POST)
    if not (article_form.is_valid() and all(f.is_valid() for f in forms_by_audience.values())):
        return _editor(request, article, article_form, forms_by_audience, status=400)
    text = article_text(article_form, forms_by_audience)
    try:
        with jobs.owed_notes() as owed:
            changed = editing.save_article(
                article,
                by=request.user,
                base_version=article_form.cleaned_data["base_version"] or 0,
                text=text,
                comment=article_form.cleaned_data["comment"],
            )
    except editing.EditConflict as conflict:
        return _conflict(request, conflict.article, article_form, forms_by_audience)
    if owed:
        messages.warning(request, jobs.owed_message(owed))  # saved, but its follow-up work is owed
    else:
        messages.success(request, "Saved." if changed else "Nothing changed.")
    return redirect("desk:article", slug=article.slug)


def _conflict(
    request: HttpRequest, article: Article, article_form: ArticleForm, forms_by_audience: Any
) -> HttpResponse:
    """Nothing is overwritten: show what the other person changed since this editor was loaded, and
    keep the text just typed in the form so it can be merged by hand."""
    latest = versioning.latest_revision(article)
    base_id = article_form.cleaned_data.get("base_revision")
    base = versioning.versions_of(article).filter(revision_id=base_id).first() if base_id else None
    their_change = history.diff_between(article, base.revision, latest) if base and latest else None
    context = {
        "article": article,
        "diff": their_change,
        "latest": latest,
        "article_form": article_form,
        "panels": _panels(forms_by_audience),
    }
    return render(request, "articles/desk/conflict.html", context, status=409)


def _editor(
    request: HttpRequest, article: Article, article_form: ArticleForm, forms_by_audience: Any, status: int = 200
) -> HttpResponse:
    context = {"article": article, "article_form": article_form, "panels": _panels(forms_by_audience)}
    return render(
        request, "articles/desk/editor.html", {**context, **_watch_context(request.user, article)}, status=status
    )


def _panels(forms_by_audience: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"audience": Audience(a), "form": form} for a, form in forms_by_audience.items()]
