"""Signed-in pages: the writer's articles, the Advisory Board's queue, and the article desk page where
everyone involved sees the versions, the review thread, the timeline and their next step.

Views only translate HTTP to calls of articles.workflow / articles.editing and back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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
    ConfirmForm,
    NoteForm,
    RequestChangesForm,
    StartReviewForm,
    UnassignForm,
    article_text,
    variant_forms,
)
from ..models import Article, ArticleVariant, Audience, ReviewAssignment, ReviewRound, WorkflowEvent
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
    turns = _latest_turns([a.pk for a in articles])
    rows = [
        {"article": a, "next_action": _next_action_for_writer(a), "turn": _turn_notice(a, turns.get(a.pk))}
        for a in articles
    ]
    return render(request, "articles/desk/my_articles.html", {"rows": rows})


def _with_reader_counts(articles: list[Article]) -> list[Article]:
    """Each article with `reader_counts` (questions, problem reports, new): one query for the whole list."""
    counts = feedback.counts_for([a.pk for a in articles])
    for article in articles:
        # A page-only attribute for the templates, not a model field.
        setattr(article, "reader_counts", counts.get(article.pk, feedback.FeedbackCounts()))  # noqa: B010
    return articles


# What sent an article back to (or towards) its writers, or back to its reviewers: shown at the top.
TURNING_ACTIONS = [
    WorkflowEvent.Action.SUBMIT,
    WorkflowEvent.Action.WITHDRAW,
    WorkflowEvent.Action.START_REVIEW,
    WorkflowEvent.Action.REQUEST_CHANGES,
    WorkflowEvent.Action.APPROVE,
    WorkflowEvent.Action.REOPEN,
]


def _latest_turns(article_ids: list[int]) -> dict[int, WorkflowEvent]:
    """The last turning event of each article, in one query."""
    events = (
        WorkflowEvent.objects.filter(article_id__in=article_ids, action__in=TURNING_ACTIONS)
        .select_related("actor__profile", "review_round")
        .order_by("created_at", "pk")
    )
    return {event.article_id: event for event in events}


def _turn_notice(article: Article, event: WorkflowEvent | None) -> dict[str, Any] | None:
    """For the writers: the article came back ("Changes requested by Dr. …") or was withdrawn."""
    if event is None or article.status != Article.Status.DRAFT:
        return None
    headlines: dict[str, str] = {
        WorkflowEvent.Action.REQUEST_CHANGES: "Changes requested by",
        WorkflowEvent.Action.WITHDRAW: "Withdrawn by",
    }
    headline = headlines.get(event.action)
    if headline is None:
        return None
    who = event.actor.profile.signature if event.actor else "the system"
    return {"event": event, "headline": f"{headline} {who}", "kind": event.action}


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


# Each step's form: (context key, form class); a refused step is shown again with what was typed.
DECISION_FORMS: dict[str, tuple[str, type]] = {
    "start_review": ("start_form", StartReviewForm),
    "approve": ("approve_form", ApproveForm),
    "request_changes": ("changes_form", RequestChangesForm),
    "confirm_still_accurate": ("confirm_form", ConfirmForm),
}


def _decision_forms(
    article: Article, actions: list[str], latest: Any, *, typed: dict[str, Any] | None = None, **bound: Any
) -> dict[str, Any]:
    """The decision forms, each carrying the version (and revision) this page shows. `typed` refills them
    after the text changed under the reviewer: what they typed stays, the version becomes the new one."""
    seen = {"seen_version": article.content_version, "seen_revision": latest.pk if latest else None}
    override = "override" in actions
    forms = {}
    for key, form_class in DECISION_FORMS.values():
        kwargs = {"override": override} if form_class is not ConfirmForm else {}
        forms[key] = bound.get(key) or form_class(initial={**(typed or {}), **seen}, **kwargs)
    return forms


def _article_context(
    request: HttpRequest, article: Article, *, typed: Any = None, changed: Any = None, **forms: Any
) -> dict[str, Any]:
    user = request.user
    rounds = list(article.review_rounds.all())
    comments = list(article.review_comments.select_related("author__profile", "review_round"))
    events = list(article.events.select_related("actor__profile", "review_round"))
    lookup = ReferenceLookup.from_references(article.references.all())
    actions = workflow.available_actions(article, user)
    latest = versioning.latest_revision(article)
    turn = _turn_notice(article, next((e for e in reversed(events) if e.action in TURNING_ACTIONS), None))
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
        "actions": actions,
        "rounds": [{"round": r, "comments": [c for c in comments if c.review_round_id == r.pk]} for r in rounds],
        "loose_comments": [c for c in comments if c.review_round_id is None],
        "events": events,
        "turn": turn if (turn and workflow.is_author(user, article)) or (turn and roles.is_editor(user)) else None,
        "resubmission": _resubmission_notice(article, rounds, events),
        "latest_revision": latest,
        "changed": changed,
        "rereview_due_at": workflow.rereview_due_at(article),
        "assigned": _open_assignments(rounds),
        "change_note_form": forms.get("change_note_form") or ChangeNoteForm(initial={"change_note": proposed_note}),
        # How the text differs from what readers see, so a reviewer knows before approving whether a
        # public change note is required (articles/corrections.py defines "substantive").
        "pending_change": pending_change,
        "reader_counts": feedback.counts_for([article.pk]).get(article.pk, feedback.FeedbackCounts()),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "assign_form": forms.get("assign_form") or _assign_form(article, actions),
        **_decision_forms(article, actions, latest, typed={"change_note": proposed_note, **(typed or {})}, **forms),
        "refusal": forms.get("refusal"),
        "can_edit": editing.can_edit(user, article),
        "edit_locked": editing.may_write(user, article) and workflow.edit_refusal(user, article),
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


def _assign_form(article: Article, actions: list[str]) -> AssignForm | None:
    if "assign" not in actions:
        return None  # spares the board members query for everyone else
    return AssignForm(exclude_ids=workflow.text_writers(article))


def _open_assignments(rounds: list[ReviewRound]) -> list[ReviewAssignment]:
    current = rounds[-1] if rounds else None
    if current is None or current.outcome != ReviewRound.Outcome.OPEN:
        return []
    return list(current.assignments.all())


def _resubmission_notice(article: Article, rounds: list[ReviewRound], events: list[WorkflowEvent]) -> Any:
    """For reviewers: this is a resubmission; who asked for what, and the link to what changed since."""
    if article.status not in (Article.Status.SUBMITTED, Article.Status.UNDER_REVIEW) or len(rounds) < 2:
        return None
    previous = rounds[-2]
    if previous.outcome != ReviewRound.Outcome.CHANGES_REQUESTED:
        return None
    asked = next((e for e in reversed(events) if e.action == WorkflowEvent.Action.REQUEST_CHANGES), None)
    submitted = next((e for e in reversed(events) if e.action == WorkflowEvent.Action.SUBMIT), None)
    if asked is None or submitted is None:
        return None
    return {"asked": asked, "submitted": submitted, "previous": previous}


def _changes_since_live(article: Article) -> dict[str, Any] | None:
    """What a reviewer needs first: how the text under review differs from what readers see now."""
    live, latest = history.default_diff_range(article)
    if live is None or latest is None or live.pk == latest.pk:
        return None
    return {"old": live, "new": latest, "diff": history.diff_between(article, live, latest)}


def _preview(article: Article, audience: Audience, lookup: ReferenceLookup) -> dict[str, Any]:
    variant = article.variant(audience.value)
    # Both versions share the page: each gets its own anchors, so citation 1 leads to its own reference 1.
    prefix = f"{audience.value}-"
    rendered = render_article_text(variant.body, lookup, variant.summary, id_prefix=prefix) if variant else None
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


def _with_decision(action: str, call: Callable[[HttpRequest, Article, Any], Any]) -> Handler:
    key, form_class = DECISION_FORMS[action]

    def handler(request: HttpRequest, article: Article) -> Any:
        # The override field is read whenever it is posted; the workflow decides whether it is needed.
        form = form_class(request.POST, **({} if form_class is ConfirmForm else {"override": True}))
        if not form.is_valid():
            overriding = "override" in workflow.available_actions(article, request.user)
            return {key: form_class(request.POST, **({} if form_class is ConfirmForm else {"override": overriding}))}
        call(request, article, form)
        return None

    return handler


def _assign(request: HttpRequest, article: Article) -> Any:
    form = AssignForm(request.POST, exclude_ids=workflow.text_writers(article))
    if not form.is_valid():
        return {"assign_form": form}
    workflow.assign_reviewers(
        article, by=request.user, reviewers=list(form.cleaned_data["reviewers"]), due_at=form.due_at()
    )
    return None


def _unassign(request: HttpRequest, article: Article, form: UnassignForm) -> None:
    workflow.unassign_reviewer(article, by=request.user, reviewer=form.cleaned_data["reviewer"])


def _propose_change_note(request: HttpRequest, article: Article, form: ChangeNoteForm) -> None:
    # Proposing the public note is not editing the text, so writers may do it while the text is locked.
    if not editing.may_write(request.user, article):
        raise workflow.TransitionNotAllowed("Only the article's writers can propose its public change note.")
    try:
        corrections.propose_note(article, by=request.user, note=form.cleaned_data["change_note"])
    except corrections.ChangeNoteProblem as problem:
        raise workflow.WorkflowError(str(problem)) from problem


ACTIONS: dict[str, tuple[Handler, str]] = {
    "submit": (
        _with_form(NoteForm, "note_form", lambda r, a, f: workflow.submit(a, by=r.user, note=f.cleaned_data["note"])),
        "Submitted to the Medical Advisory Board.",
    ),
    "withdraw": (
        _with_form(NoteForm, "note_form", lambda r, a, f: workflow.withdraw(a, by=r.user, note=f.cleaned_data["note"])),
        "Withdrawn; the article is a draft again.",
    ),
    "start_review": (
        _with_decision(
            "start_review", lambda r, a, f: workflow.start_review(a, by=r.user, override_reason=f.override_text())
        ),
        "Review started; the article is assigned to you.",
    ),
    "approve": (
        _with_decision(
            "approve",
            lambda r, a, f: workflow.approve(
                a,
                by=r.user,
                conflict_of_interest=f.declaration(),
                note=f.cleaned_data["note"],
                override_reason=f.override_text(),
                change_note=f.cleaned_data["change_note"],
                **f.seen(),
            ),
        ),
        "Your approval is recorded.",
    ),
    "request_changes": (
        _with_decision(
            "request_changes",
            lambda r, a, f: workflow.request_changes(
                a, by=r.user, note=f.cleaned_data["note"], override_reason=f.override_text(), **f.seen()
            ),
        ),
        "Changes requested; the writers have been told.",
    ),
    "confirm_still_accurate": (
        _with_decision(
            "confirm_still_accurate",
            lambda r, a, f: workflow.confirm_still_accurate(
                a, by=r.user, conflict_of_interest=f.declaration(), note=f.cleaned_data["note"], **f.seen()
            ),
        ),
        "Re-review recorded: the article is confirmed as still accurate.",
    ),
    "assign": (_assign, "Reviewers assigned."),
    "unassign": (_with_form(UnassignForm, "unassign_form", _unassign), "Reviewer removed."),
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
    except workflow.TextChanged as refusal:
        return _text_changed(request, slug, refusal)
    except workflow.NotFit as refusal:
        _tell_not_fit(request, article, refusal.reasons)
        return redirect("desk:article", slug=slug)
    except workflow.WrongState as refusal:
        return _rerender(request, slug, status=409, refusal=[str(refusal)])
    except workflow.WorkflowError as refusal:
        return _rerender(request, slug, status=400, refusal=[str(refusal)], posted=(action, request.POST))
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


def _text_changed(request: HttpRequest, slug: str, refusal: workflow.TextChanged) -> HttpResponse:
    """Nothing was recorded: show the reviewer what changed since the version they read, with their
    typing kept and the forms now carrying the new version, so they decide again on what they now see."""
    article = _visible_article(request, slug)
    latest = versioning.latest_revision(article)
    seen = _revision_of_version(article, refusal.seen_version, refusal.seen_revision)
    changed = {
        "seen_version": refusal.seen_version,
        "old": seen,
        "new": latest,
        "diff": history.diff_between(article, seen, latest) if seen and latest else None,
    }
    kept = ("conflict", "conflict_detail", "note", "override_reason", "change_note")
    typed = {name: request.POST[name] for name in kept if name in request.POST}
    context = _article_context(request, article, typed=typed, changed=changed, refusal=[str(refusal)])
    return render(request, "articles/desk/article.html", context, status=409)


def _revision_of_version(article: Article, content_version: int, revision_id: Any) -> Any:
    versions = versioning.versions_of(article)
    if revision_id:
        found = versions.filter(revision_id=revision_id).first()
        if found is not None:
            return found.revision
    # No (or a foreign) revision posted: the newest revision that recorded that content version.
    return next((v.revision for v in versions if v.field_dict.get("content_version") == content_version), None)


def _rerender(
    request: HttpRequest, slug: str, *, status: int, posted: tuple[str, Any] | None = None, **forms: Any
) -> HttpResponse:
    """Show the page again with what went wrong, keeping what the person typed."""
    article = _visible_article(request, slug)
    if posted is not None:
        action, data = posted
        if action in DECISION_FORMS:
            key, form_class = DECISION_FORMS[action]
            overriding = "override" in workflow.available_actions(article, request.user)
            kwargs = {} if form_class is ConfirmForm else {"override": overriding}
            forms.setdefault(key, form_class(data, **kwargs))
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
    # The editor previews both versions side by side: anchors carry the audience so they stay apart.
    rendered = render_article_text(variant.body, lookup, variant.summary, id_prefix=f"{variant.audience}-")
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
    if not editing.may_write(request.user, article):
        raise PermissionDenied
    refusal = workflow.edit_refusal(request.user, article)
    if refusal and request.method != "POST":
        messages.error(request, refusal)
        return redirect("desk:article", slug=article.slug)
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
    except editing.EditNotAllowed as locked:
        # E.g. a reviewer started while this editor was open: keep the typing, say why it was not saved.
        messages.error(request, str(locked))
        return _editor(request, article, article_form, forms_by_audience, status=409)
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
