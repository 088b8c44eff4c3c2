"""The editorial workflow: the only code that changes an article's status.

    draft ──submit──▶ submitted ──start_review──▶ under_review ──approve──▶ approved
      ▲                   │                             │                      │
      └── request_changes ◀─────────────────────────────┘                      │
      └── withdraw ◀──────┘                                                    │
      └── reopen_after_edit ◀──────────────────────────────────────────────────┘

Each transition checks who may do it, checks the article is fit to move, writes the new status with a
conditional UPDATE under a row lock (two clicks at once give one transition), appends a WorkflowEvent in
the same transaction, and queues notifications to be sent after commit. Views, the admin, commands and
tasks call these functions; none of them sets `status`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from . import citing, corrections, notifications, page_cache, publishing, readability, roles, versioning
from .models import Article, Audience, ReviewAssignment, ReviewComment, ReviewRound, WorkflowEvent

Status = Article.Status
Action = WorkflowEvent.Action


class WorkflowError(Exception):
    """A refused step, with a message fit to show the person who tried it."""


class TransitionNotAllowed(WorkflowError):
    """The person may not do this, or the article is not in a state where it can be done."""


class WrongState(WorkflowError):
    """The article is not (or no longer) in a state where this step applies, e.g. someone else just
    decided on it."""


class NotFit(WorkflowError):
    """The article is not ready to move; `reasons` lists every problem, not just the first."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("The article is not ready: " + " ".join(reasons))
        self.reasons = reasons


# --- Who ----------------------------------------------------------------------------------------------


def is_author(user: Any, article: Article) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and article.authors.filter(pk=user.pk).exists()


def _require_author(user: Any, article: Article, doing: str) -> None:
    if not (roles.is_writer(user) and is_author(user, article)):
        raise TransitionNotAllowed(f"Only the article's writers can {doing} it.")


def _require_independent_reviewer(user: Any, article: Article, doing: str) -> None:
    if not roles.is_board_member(user):
        raise TransitionNotAllowed(f"Only Advisory Board members can {doing} an article.")
    if is_author(user, article):
        # Independence of review: nobody reviews or approves what they wrote or co-wrote.
        raise TransitionNotAllowed(f"You wrote or co-wrote this article, so you cannot {doing} it.")


def _require_editor(user: Any) -> None:
    if not roles.is_editor(user):
        raise TransitionNotAllowed("Only editors can assign reviewers.")


# --- Fitness ------------------------------------------------------------------------------------------

FitnessCheck = Callable[[Article], list[str]]


def _has_both_versions(article: Article) -> list[str]:
    reasons = [] if article.title.strip() else ["The article has no title."]
    variants = {v.audience: v for v in article.variants.all()}
    for audience in Audience:
        variant = variants.get(audience.value)
        if variant is None:
            reasons.append(f"The {audience.label.lower()} version is missing.")
            continue
        for field, label in (("title", "title"), ("summary", "bottom line"), ("body", "text")):
            if not getattr(variant, field).strip():
                reasons.append(f"The {audience.label.lower()} version has no {label}.")
    return reasons


def _citations_resolve(article: Article) -> list[str]:
    return citing.check_citations(article).errors


def _no_unacknowledged_retracted_source(article: Article) -> list[str]:
    # A retracted source may be cited only to say it was retracted, and the writer must say so.
    from .watch import known_retracted  # the watch calls back into this module for alert side effects

    return [
        f"Reference {ref.key} has been retracted: replace it, or mark that the text cites it as retracted."
        for ref in known_retracted(article)
    ]


# Every check registered here runs on submit and on approval, and all reasons are reported together.
FITNESS_CHECKS: list[FitnessCheck] = [
    _has_both_versions,
    _citations_resolve,
    readability.readability_problems,
    _no_unacknowledged_retracted_source,
]


def fitness_problems(article: Article) -> list[str]:
    return [reason for check in FITNESS_CHECKS for reason in check(article)]


def _require_fit(article: Article) -> None:
    reasons = fitness_problems(article)
    if reasons:
        raise NotFit(reasons)


# --- Writing a transition -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    action: str
    from_status: str
    to_status: str


def _lock(article: Article) -> Article:
    """Re-read the article under a row lock; every transition on one article runs one at a time."""
    return Article.objects.select_for_update().get(pk=article.pk)


def _move(
    article: Article, step: Step, *, by: Any, note: str = "", review_round: ReviewRound | None = None, **fields: Any
) -> WorkflowEvent:
    now = timezone.now()
    # The conditional write is the guard: if someone else moved the article first, nothing matches.
    moved = Article.objects.filter(pk=article.pk, status=step.from_status).update(
        status=step.to_status, updated_at=now, **fields
    )
    if moved != 1:
        raise WrongState("Someone else changed this article's status a moment ago; reload the page.")
    article.status = step.to_status
    for name, value in fields.items():
        setattr(article, name, value)
    return _record(article, step, by=by, note=note, review_round=review_round)


def _record(
    article: Article, step: Step, *, by: Any, note: str = "", review_round: ReviewRound | None = None
) -> WorkflowEvent:
    return WorkflowEvent.objects.create(
        article=article,
        actor=by if getattr(by, "is_authenticated", False) else None,
        action=step.action,
        from_status=step.from_status,
        to_status=step.to_status,
        note=note,
        review_round=review_round,
        content_version=article.content_version,
        revision=versioning.latest_revision(article),
    )


def _require_status(article: Article, *allowed: str, doing: str) -> None:
    if article.status not in allowed:
        raise WrongState(f"You cannot {doing} an article that is {article.get_status_display().lower()}.")


def current_round(article: Article) -> ReviewRound | None:
    return article.review_rounds.order_by("-number").first()


def _open_round(article: Article) -> ReviewRound:
    review_round = current_round(article)
    if review_round is None or review_round.outcome != ReviewRound.Outcome.OPEN:
        raise WrongState("This article has no open review round.")
    return review_round


def _close_round(review_round: ReviewRound, outcome: str) -> None:
    review_round.outcome = outcome
    review_round.closed_at = timezone.now()
    review_round.save(update_fields=["outcome", "closed_at"])


def review_due(since: Any = None) -> Any:
    """When a review is due: REVIEW_SLA_DAYS after it was assigned (now) or, unassigned, after submission."""
    return (since or timezone.now()) + timedelta(days=settings.REVIEW_SLA_DAYS)


# --- The transitions ----------------------------------------------------------------------------------


def submit(article: Article, *, by: Any, note: str = "") -> WorkflowEvent:
    """A writer sends their article to the Advisory Board; this opens a new review round."""
    with transaction.atomic():
        article = _lock(article)
        _require_author(by, article, "submit")
        _require_status(article, Status.DRAFT, doing="submit")
        _require_fit(article)
        previous = current_round(article)
        number = (article.review_rounds.aggregate(n=Max("number"))["n"] or 0) + 1
        review_round = ReviewRound.objects.create(article=article, number=number)
        event = _move(
            article, Step(Action.SUBMIT, Status.DRAFT, Status.SUBMITTED), by=by, note=note, review_round=review_round
        )
        if previous and previous.outcome == ReviewRound.Outcome.CHANGES_REQUESTED:
            notifications.after_commit(notifications.resubmitted, event, previous)
        else:
            notifications.after_commit(notifications.submitted, event)
        _check_citations_after_commit(article)
    return event


def withdraw(article: Article, *, by: Any, note: str = "") -> WorkflowEvent:
    """The writer takes a submitted article back before review starts."""
    with transaction.atomic():
        article = _lock(article)
        _require_author(by, article, "withdraw")
        _require_status(article, Status.SUBMITTED, doing="withdraw")
        review_round = _open_round(article)
        _close_round(review_round, ReviewRound.Outcome.WITHDRAWN)
        return _move(
            article, Step(Action.WITHDRAW, Status.SUBMITTED, Status.DRAFT), by=by, note=note, review_round=review_round
        )


def assign_reviewers(article: Article, *, by: Any, reviewers: list[Any], due_at: Any = None) -> list[ReviewAssignment]:
    """An editor names reviewers for the open round, each with a due date (REVIEW_SLA_DAYS by default)."""
    with transaction.atomic():
        article = _lock(article)
        _require_editor(by)
        _require_status(article, Status.SUBMITTED, Status.UNDER_REVIEW, doing="assign reviewers to")
        review_round = _open_round(article)
        assignments = []
        for reviewer in reviewers:
            _require_independent_reviewer(reviewer, article, "review")
            assignment, created = ReviewAssignment.objects.get_or_create(
                review_round=review_round,
                reviewer=reviewer,
                defaults={"assigned_by": by, "due_at": due_at or review_due()},
            )
            if created:
                event = _record(
                    article,
                    Step(Action.ASSIGN, article.status, article.status),
                    by=by,
                    note=f"Assigned to {reviewer.profile.signature}",
                    review_round=review_round,
                )
                notifications.after_commit(notifications.assigned, event, assignment)
            assignments.append(assignment)
    return assignments


def _assignment_for(review_round: ReviewRound, reviewer: Any) -> ReviewAssignment:
    assignment, _ = ReviewAssignment.objects.get_or_create(
        review_round=review_round, reviewer=reviewer, defaults={"due_at": review_due()}
    )
    return assignment


def start_review(article: Article, *, by: Any) -> WorkflowEvent:
    """A board member takes a submitted article; it is now under review and assigned to them."""
    with transaction.atomic():
        article = _lock(article)
        _require_independent_reviewer(by, article, "review")
        _require_status(article, Status.SUBMITTED, doing="start reviewing")
        review_round = _open_round(article)
        _assignment_for(review_round, by)
        event = _move(
            article, Step(Action.START_REVIEW, Status.SUBMITTED, Status.UNDER_REVIEW), by=by, review_round=review_round
        )
        notifications.after_commit(notifications.review_started, event)
    return event


def _conflict_declaration(conflict_of_interest: str) -> str:
    # Board members declare before every decision; the declaration is part of the approval record.
    declaration = conflict_of_interest.strip()
    if not declaration:
        raise WorkflowError("Declare your conflicts of interest before deciding (“none”, or describe the conflict).")
    return declaration


def _declare_conflict(assignment: ReviewAssignment, conflict_of_interest: str) -> None:
    assignment.conflict_of_interest = _conflict_declaration(conflict_of_interest)
    assignment.coi_declared_at = timezone.now()


def approve(
    article: Article, *, by: Any, conflict_of_interest: str, note: str = "", change_note: str = ""
) -> WorkflowEvent:
    """Records this reviewer's approval of the current text; the article is approved once
    APPROVALS_REQUIRED different board members have approved the same content version. Re-approving a
    live article with a substantive change needs `change_note`, the one line readers see (corrections.py)."""
    with transaction.atomic():
        article = _lock(article)
        _require_independent_reviewer(by, article, "approve")
        _require_status(article, Status.UNDER_REVIEW, doing="approve")
        _require_fit(article)
        review_round = _open_round(article)
        assignment = _assignment_for(review_round, by)
        _declare_conflict(assignment, conflict_of_interest)
        assignment.recommendation = ReviewAssignment.Recommendation.APPROVE
        assignment.approved_content_version = article.content_version
        assignment.decided_at = timezone.now()
        assignment.save()
        if note.strip():
            ReviewComment.objects.create(article=article, review_round=review_round, author=by, body=note)
        approvals_of_current_text = review_round.assignments.filter(
            recommendation=ReviewAssignment.Recommendation.APPROVE,
            approved_content_version=article.content_version,
        )
        if approvals_of_current_text.count() < settings.APPROVALS_REQUIRED:
            return _record(
                article,
                Step(Action.APPROVAL_RECORDED, Status.UNDER_REVIEW, Status.UNDER_REVIEW),
                by=by,
                note=note,
                review_round=review_round,
            )
        _close_round(review_round, ReviewRound.Outcome.APPROVED)
        approvers = [a.reviewer for a in approvals_of_current_text.select_related("reviewer__profile")]
        previous = article.live_publication
        publication = publishing.publish(article, approvers=approvers, revision=versioning.latest_revision(article))
        try:
            corrections.record_approval(article, previous=previous, publication=publication, note=change_note, by=by)
        except corrections.ChangeNoteProblem as problem:
            raise WorkflowError(str(problem)) from problem
        event = _move(
            article,
            Step(Action.APPROVE, Status.UNDER_REVIEW, Status.APPROVED),
            by=by,
            note=note,
            review_round=review_round,
            approved_at=publication.approved_at,
            rereview_notified_at=None,
            live_publication=publication,
        )
        page_cache.public_pages_changed(article.pk)
        notifications.after_commit(notifications.decided, event)
    return event


def request_changes(article: Article, *, by: Any, note: str) -> WorkflowEvent:
    """A reviewer sends the article back to its writers with what must change (a note is required)."""
    if not note.strip():
        raise WorkflowError("Say what needs to change: the note is required.")
    with transaction.atomic():
        article = _lock(article)
        _require_independent_reviewer(by, article, "request changes to")
        _require_status(article, Status.UNDER_REVIEW, doing="request changes to")
        review_round = _open_round(article)
        assignment = _assignment_for(review_round, by)
        assignment.recommendation = ReviewAssignment.Recommendation.CHANGES
        assignment.decided_at = timezone.now()
        assignment.save()
        ReviewComment.objects.create(article=article, review_round=review_round, author=by, body=note)
        _close_round(review_round, ReviewRound.Outcome.CHANGES_REQUESTED)
        event = _move(
            article,
            Step(Action.REQUEST_CHANGES, Status.UNDER_REVIEW, Status.DRAFT),
            by=by,
            note=note,
            review_round=review_round,
        )
        notifications.after_commit(notifications.decided, event)
    return event


def confirm_still_accurate(article: Article, *, by: Any, conflict_of_interest: str, note: str = "") -> WorkflowEvent:
    """Periodic re-review of an approved article that needs no change: the approval date moves on."""
    with transaction.atomic():
        article = _lock(article)
        _require_independent_reviewer(by, article, "re-review")
        _require_status(article, Status.APPROVED, doing="re-review")
        declaration = f"Conflict of interest: {_conflict_declaration(conflict_of_interest)}"
        now = timezone.now()
        Article.objects.filter(pk=article.pk).update(approved_at=now, rereview_notified_at=None)
        article.approved_at = now
        corrections.record_check(article, by=by)
        page_cache.public_pages_changed(article.pk)  # the re-review date is public (sitemap, feeds)
        return _record(
            article,
            Step(Action.REREVIEW_CONFIRMED, Status.APPROVED, Status.APPROVED),
            by=by,
            note=f"{note.strip()}\n{declaration}".strip(),
        )


def record_edit(article: Article, *, by: Any) -> WorkflowEvent | None:
    """Called (inside the editor's transaction, with the row locked) after the text changed.

    An approved article goes back to draft while its publication stays live; an edit during review
    leaves earlier approvals pinned to the old content version, so they no longer count.
    """
    if article.status == Status.APPROVED:
        return _move(
            article,
            Step(Action.REOPEN, Status.APPROVED, Status.DRAFT),
            by=by,
            note="A new working draft; the approved version stays live until the next approval.",
        )
    if article.status in (Status.SUBMITTED, Status.UNDER_REVIEW):
        had_approvals = ReviewAssignment.objects.filter(
            review_round__article=article,
            review_round__outcome=ReviewRound.Outcome.OPEN,
            recommendation=ReviewAssignment.Recommendation.APPROVE,
        ).exists()
        note = "Earlier approvals no longer count; the new text needs re-approval." if had_approvals else ""
        return _record(
            article,
            Step(Action.EDIT_DURING_REVIEW, article.status, article.status),
            by=by,
            note=note,
            review_round=current_round(article),
        )
    return None


def add_comment(article: Article, *, by: Any, body: str) -> ReviewComment:
    """Anyone involved (writers of the article, the Advisory Board, editors) can add to the thread."""
    if not body.strip():
        raise WorkflowError("The comment is empty.")
    if not (is_author(by, article) or roles.is_board_member(by) or roles.is_editor(by)):
        raise TransitionNotAllowed("Only the article's writers, the Advisory Board and editors can comment.")
    comment = ReviewComment.objects.create(
        article=article, review_round=current_round(article), author=by, body=body.strip()
    )
    notifications.after_commit(notifications.commented, comment)
    return comment


# --- The citation watch's findings ---------------------------------------------------------------------


def _check_citations_after_commit(article: Article) -> None:
    """Submitting checks the article's sources at once, so the reviewer sees their standing."""
    if settings.CITATION_CHECK_ON_SUBMIT:
        from . import jobs
        from .tasks import check_article_citations

        # If the queue is down, the watch's owed-work sweep checks the never-checked sources later.
        jobs.enqueue_after_commit(check_article_citations, article.pk, owed="the check of its sources")


def citation_alerts_opened(article: Article, alerts: list[Any]) -> None:
    """A source the article cites went bad (called by the watch inside its transaction). The article is
    listed in the review queue while an alert is unresolved; readers of an approved article get the notice
    on their very next request (the public page cache is told)."""
    from .citations.verdicts import READER_NOTICE

    if article.live_publication_id and any(alert.standing in READER_NOTICE for alert in alerts):
        article_id = article.pk
        transaction.on_commit(lambda: page_cache.public_pages_changed(article_id))


def announce_citation_alerts(article: Article, alerts: list[Any]) -> None:
    """Once a check run is over: the article's writers and reviewers of record hear of its new alerts in
    one message (the watch marks them announced, so nobody hears of a finding twice)."""
    notifications.after_commit(notifications.citation_alerts, article, alerts)


# --- What a person can do next (for pages; the functions above still decide) ----------------------------


def available_actions(article: Article, user: Any) -> list[str]:
    status = Status(article.status)
    actions: list[str] = []
    if roles.is_writer(user) and is_author(user, article):
        actions += {Status.DRAFT: ["edit", "submit"], Status.SUBMITTED: ["edit", "withdraw"]}.get(status, ["edit"])
    if roles.is_board_member(user) and not is_author(user, article):
        actions += {
            Status.SUBMITTED: ["start_review"],
            Status.UNDER_REVIEW: ["approve", "request_changes"],
            Status.APPROVED: ["confirm_still_accurate"],
        }.get(status, [])
    if roles.is_editor(user) and status in (Status.SUBMITTED, Status.UNDER_REVIEW):
        actions.append("assign")
    return actions
