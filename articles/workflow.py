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

Review integrity ("a named board member approved exactly the text you see"):
- every decision (approve, request changes, confirm still accurate) names the content version the person
  was shown (`seen_version`, and the revision, `seen_revision`); if the text changed since, it is refused
  with `TextChanged`, and an approval counts only for the version its reviewer saw;
- once a reviewer has started, the writers cannot change the text (`edit_refusal`); editors still can,
  which makes earlier approvals stale and makes the editor one of the text's writers;
- nobody decides on text they wrote, co-wrote or edited since the last publication (`text_writers`);
- once the editor has assigned reviewers, only they decide (or an editor on the Board, with a reason);
- unfinished references (lookup pending or failed, no title, source or plausible year) block submission
  and approval, so readers never see them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.formats import date_format

from . import citing, corrections, notifications, page_cache, publishing, readability, references, roles, versioning
from .models import (
    Article,
    Audience,
    Publication,
    Reference,
    ReviewAssignment,
    ReviewComment,
    ReviewRound,
    WorkflowEvent,
)

Status = Article.Status
Action = WorkflowEvent.Action


class WorkflowError(Exception):
    """A refused step, with a message fit to show the person who tried it."""


class TransitionNotAllowed(WorkflowError):
    """The person may not do this, or the article is not in a state where it can be done."""


class WrongState(WorkflowError):
    """The article is not (or no longer) in a state where this step applies, e.g. someone else just
    decided on it."""


class TextChanged(WorkflowError):
    """The text changed after the person loaded the page they decided on: they must read it again."""

    def __init__(self, *, seen_version: int, current_version: int, seen_revision: int | None) -> None:
        super().__init__(
            f"The text changed after you loaded the page: you read version {seen_version}, it is now version "
            f"{current_version}. Nothing was recorded. Read what changed, then decide again."
        )
        self.seen_version = seen_version
        self.current_version = current_version
        self.seen_revision = seen_revision


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


def _last_publication_before_this_text(article: Article) -> Publication | None:
    return (
        article.publications.filter(content_version__lt=article.content_version)
        .select_related("revision")
        .order_by("-approved_at")
        .first()
    )


def text_writers(article: Article) -> set[int]:
    """Ids of everyone who wrote the text now up for decision: the article's authors and whoever saved a
    revision since the publication before it (an editor's copy-edit makes them a writer of this text)."""
    writer_ids = set(article.authors.values_list("pk", flat=True))
    versions = versioning.versions_of(article)
    baseline = _last_publication_before_this_text(article)
    if baseline is not None and baseline.revision is not None:
        versions = versions.filter(revision__date_created__gt=baseline.revision.date_created)
    writer_ids.update(versions.exclude(revision__user=None).values_list("revision__user_id", flat=True))
    return writer_ids


def _independence_refusal(user: Any, article: Article, doing: str) -> str:
    if not roles.is_board_member(user):
        return f"Only Advisory Board members can {doing} an article."
    if is_author(user, article):
        return f"You wrote or co-wrote this article, so you cannot {doing} it."
    if user.pk in text_writers(article):
        # Independence of review covers the text under decision, not only the byline.
        return f"You edited the text under review, so you cannot {doing} it; another board member must."
    return ""


def _require_independent_reviewer(user: Any, article: Article, doing: str) -> None:
    refusal = _independence_refusal(user, article, doing)
    if refusal:
        raise TransitionNotAllowed(refusal)


def _require_editor(user: Any) -> None:
    if not roles.is_editor(user):
        raise TransitionNotAllowed("Only editors can assign reviewers.")


def _editor_assigned(review_round: ReviewRound) -> Any:
    return review_round.assignments.filter(assigned_by__isnull=False)


def _assignment_refusal(user: Any, review_round: ReviewRound | None) -> str:
    """'' when the person may take part; else why not. Editors may override (with a reason)."""
    if review_round is None:
        return ""
    assigned = list(_editor_assigned(review_round).select_related("reviewer__profile"))
    if not assigned or any(a.reviewer_id == user.pk for a in assigned):
        return ""
    names = ", ".join(a.reviewer.profile.signature for a in assigned)
    return f"The editor assigned this review to {names}."


def _require_assigned(user: Any, review_round: ReviewRound, doing: str, override_reason: str) -> str:
    """Returns the override note to record, if the editor overrode the assignment."""
    refusal = _assignment_refusal(user, review_round)
    if not refusal:
        return ""
    if not roles.is_editor(user):
        raise TransitionNotAllowed(f"{refusal} Only they can {doing} it.")
    if not override_reason.strip():
        raise WorkflowError(f"{refusal} To {doing} it yourself, give the reason for overriding the assignment.")
    return f"Editor's override of the assignment: {override_reason.strip()}"


def _require_seen_current(article: Article, seen_version: int, seen_revision: int | None) -> None:
    # The heart of review integrity: a decision binds the text the person was shown, never a newer one.
    if seen_version != article.content_version:
        raise TextChanged(
            seen_version=seen_version, current_version=article.content_version, seen_revision=seen_revision
        )


def edit_refusal(user: Any, article: Article) -> str:
    """Why this person may not change the text right now ('' if they may); editing checks it on every save.

    Writers may edit drafts, submissions nobody has started on, and approved articles (a new draft; the
    approved text stays live). Once a reviewer has started, the text is locked for its writers: what the
    reviewer reads is what they decide on. Editors may still correct it; their edit makes earlier
    approvals stale, makes them one of the text's writers, and reviewers see the change before deciding.
    """
    if article.status == Status.UNDER_REVIEW and not roles.is_editor(user):
        return (
            "The text is locked while the Advisory Board reviews it. If something must change, say so in the "
            "review comments: the reviewer can send it back to you with changes requested."
        )
    return ""


def reference_edit_refusal(user: Any, reference: Reference) -> str:
    """Why this person may not change a library entry now ('' if they may). A cited reference's details are
    part of what readers see, so while an article citing it is under review they are locked like its text
    (editors excepted, as for the text: see reference_edited)."""
    if roles.is_editor(user):
        return ""
    in_review = Article.objects.filter(references=reference, status=Status.UNDER_REVIEW).order_by("pk")
    titles = [f"“{title}”" for title in in_review.values_list("title", flat=True)[:3]]
    if not titles:
        return ""
    return (
        f"{reference.key} is cited by {', '.join(titles)}, which the Advisory Board is reviewing: its details "
        "are locked until the decision, like the article's text. If something must change, say so in the "
        "review comments."
    )


def reference_edited(reference: Reference, *, by: Any) -> list[Article]:
    """Inside the transaction that saved a changed library entry: every article in review that cites it gets
    a new content version and revision (holding the entry as changed), so a decision loaded before the
    change is refused and the reviewer is shown what changed."""
    in_review = Article.objects.select_for_update().filter(
        references=reference, status__in=(Status.SUBMITTED, Status.UNDER_REVIEW)
    )
    changed = []
    for article in in_review.order_by("pk"):
        comment = f"Reference {reference.key} edited in the library"
        with versioning.article_revision(article, by=by, comment=comment):
            Article.objects.filter(pk=article.pk).update(content_version=F("content_version") + 1)
            article.refresh_from_db()
            record_edit(article, by=by)
        changed.append(article)
    return changed


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
    """Every citation resolves, and every cited reference is finished enough to show readers."""
    report = citing.check_citations(article)
    today = timezone.localdate()
    return report.errors + [
        reason for reference in report.cited for reason in references.unfinished_reasons(reference, today=today)
    ]


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
    """An editor names reviewers for the open round, each with a due date (REVIEW_SLA_DAYS by default).

    Naming someone already on the round makes the assignment the editor's, and a given due date replaces
    the old one; every change is recorded as an event.
    """
    if due_at is not None and due_at <= timezone.now():
        raise WorkflowError("The due date must be in the future.")
    with transaction.atomic():
        article = _lock(article)
        _require_editor(by)
        _require_status(article, Status.SUBMITTED, Status.UNDER_REVIEW, doing="assign reviewers to")
        review_round = _open_round(article)
        assignments = []
        for reviewer in reviewers:
            _require_independent_reviewer(reviewer, article, "review")
            assignments.append(_assign_one(article, review_round, reviewer, by=by, due_at=due_at))
    return assignments


def _assign_one(
    article: Article, review_round: ReviewRound, reviewer: Any, *, by: Any, due_at: Any
) -> ReviewAssignment:
    step = Step(Action.ASSIGN, article.status, article.status)
    assignment = review_round.assignments.filter(reviewer=reviewer).first()
    if assignment is None:
        assignment = ReviewAssignment.objects.create(
            review_round=review_round, reviewer=reviewer, assigned_by=by, due_at=due_at or review_due()
        )
        event = _record(
            article, step, by=by, note=f"Assigned to {reviewer.profile.signature}", review_round=review_round
        )
        notifications.after_commit(notifications.assigned, event, assignment)
        return assignment
    if assignment.assigned_by_id is None:
        # They took the review themselves; now the editor has named them, which binds the round to them.
        assignment.assigned_by = by
        assignment.save(update_fields=["assigned_by"])
        _record(article, step, by=by, note=f"Assigned to {reviewer.profile.signature}", review_round=review_round)
    if due_at is not None and due_at != assignment.due_at:
        old = assignment.due_at
        assignment.due_at, assignment.reminded_at = due_at, None
        assignment.save(update_fields=["due_at", "reminded_at"])
        event = _record(
            article,
            Step(Action.DUE_DATE_CHANGED, article.status, article.status),
            by=by,
            note=f"{reviewer.profile.signature}: due {_day(old)} → {_day(due_at)}",
            review_round=review_round,
        )
        notifications.after_commit(notifications.assigned, event, assignment)
    return assignment


def _day(moment: Any) -> str:
    return date_format(timezone.localtime(moment), "j M Y")


def unassign_reviewer(article: Article, *, by: Any, reviewer: Any, note: str = "") -> WorkflowEvent:
    """An editor takes a reviewer off the open round; a reviewer who has already decided stays on record."""
    with transaction.atomic():
        article = _lock(article)
        _require_editor(by)
        _require_status(article, Status.SUBMITTED, Status.UNDER_REVIEW, doing="change the reviewers of")
        review_round = _open_round(article)
        assignment = review_round.assignments.filter(reviewer=reviewer).first()
        if assignment is None:
            raise WrongState(f"{reviewer.profile.signature} is not a reviewer of this round.")
        if assignment.recommendation != ReviewAssignment.Recommendation.PENDING:
            raise WrongState(f"{reviewer.profile.signature} has already decided; that decision stays on record.")
        assignment.delete()
        event = _record(
            article,
            Step(Action.UNASSIGN, article.status, article.status),
            by=by,
            note=f"{reviewer.profile.signature} removed. {note.strip()}".strip(),
            review_round=review_round,
        )
        notifications.after_commit(notifications.unassigned, event, reviewer)
        return event


def _assignment_for(review_round: ReviewRound, reviewer: Any) -> ReviewAssignment:
    assignment, _ = ReviewAssignment.objects.get_or_create(
        review_round=review_round, reviewer=reviewer, defaults={"due_at": review_due()}
    )
    return assignment


def start_review(article: Article, *, by: Any, override_reason: str = "") -> WorkflowEvent:
    """A board member takes a submitted article; it is now under review and assigned to them.
    Once the editor has assigned reviewers, only they can (or an editor, giving `override_reason`)."""
    with transaction.atomic():
        article = _lock(article)
        _require_independent_reviewer(by, article, "review")
        _require_status(article, Status.SUBMITTED, doing="start reviewing")
        review_round = _open_round(article)
        override = _require_assigned(by, review_round, "start this review", override_reason)
        _assignment_for(review_round, by)
        event = _move(
            article,
            Step(Action.START_REVIEW, Status.SUBMITTED, Status.UNDER_REVIEW),
            by=by,
            note=override,
            review_round=review_round,
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


def _joined(*parts: str) -> str:
    return "\n".join(part.strip() for part in parts if part.strip())


def _prepare_decision(
    article: Article, *, by: Any, doing: str, seen_version: int, seen_revision: int | None, override_reason: str
) -> tuple[ReviewRound, ReviewAssignment, str]:
    """The checks every decision on a review makes, in the order a person can act on them."""
    _require_independent_reviewer(by, article, doing)
    _require_status(article, Status.UNDER_REVIEW, doing=doing)
    review_round = _open_round(article)
    override = _require_assigned(by, review_round, doing, override_reason)
    _require_seen_current(article, seen_version, seen_revision)
    assignment = _assignment_for(review_round, by)
    assignment.decided_at = timezone.now()
    assignment.decided_revision = versioning.latest_revision(article)
    return review_round, assignment, override


def approve(
    article: Article,
    *,
    by: Any,
    conflict_of_interest: str,
    seen_version: int,
    seen_revision: int | None = None,
    note: str = "",
    override_reason: str = "",
    change_note: str = "",
) -> WorkflowEvent:
    """Records this reviewer's approval of the version they read (`seen_version`, refused if the text has
    changed since); the article is approved once APPROVALS_REQUIRED different board members have approved
    that same content version. Publication happens here and nowhere else. Re-approving a live article with
    a substantive change needs `change_note`, the one line readers see (corrections.py)."""
    with transaction.atomic():
        article = _lock(article)
        review_round, assignment, override = _prepare_decision(
            article,
            by=by,
            doing="approve",
            seen_version=seen_version,
            seen_revision=seen_revision,
            override_reason=override_reason,
        )
        _require_fit(article)
        _declare_conflict(assignment, conflict_of_interest)
        assignment.recommendation = ReviewAssignment.Recommendation.APPROVE
        assignment.approved_content_version = seen_version
        assignment.save()
        if note.strip():
            ReviewComment.objects.create(article=article, review_round=review_round, author=by, body=note)
        note = _joined(note, override)
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


def request_changes(
    article: Article,
    *,
    by: Any,
    note: str,
    seen_version: int,
    seen_revision: int | None = None,
    override_reason: str = "",
) -> WorkflowEvent:
    """A reviewer sends the version they read back to its writers with what must change (a note is required)."""
    if not note.strip():
        raise WorkflowError("Say what needs to change: the note is required.")
    with transaction.atomic():
        article = _lock(article)
        review_round, assignment, override = _prepare_decision(
            article,
            by=by,
            doing="request changes to",
            seen_version=seen_version,
            seen_revision=seen_revision,
            override_reason=override_reason,
        )
        assignment.recommendation = ReviewAssignment.Recommendation.CHANGES
        assignment.save()
        ReviewComment.objects.create(article=article, review_round=review_round, author=by, body=note)
        _close_round(review_round, ReviewRound.Outcome.CHANGES_REQUESTED)
        event = _move(
            article,
            Step(Action.REQUEST_CHANGES, Status.UNDER_REVIEW, Status.DRAFT),
            by=by,
            note=_joined(note, override),
            review_round=review_round,
        )
        notifications.after_commit(notifications.decided, event)
    return event


def rereview_due_at(article: Article) -> Any:
    """When the approved text is next due for a re-review by the Board (None if it is not approved)."""
    if article.status != Status.APPROVED or article.approved_at is None:
        return None
    return article.approved_at + timedelta(days=settings.REVIEW_INTERVAL_DAYS)


def public_review_dates(article: Article, publication: Any) -> tuple[Any, Any]:
    """What readers are told of the live text: when it was last reviewed (its approval or a later re-review)
    and when the re-review cadence next asks for one."""
    last = max(filter(None, [article.approved_at, publication.approved_at]))
    return last, last + timedelta(days=settings.REVIEW_INTERVAL_DAYS)


def is_rereview_due(article: Article) -> bool:
    due = rereview_due_at(article)
    return due is not None and due <= timezone.now()


def confirm_still_accurate(
    article: Article,
    *,
    by: Any,
    conflict_of_interest: str,
    seen_version: int,
    seen_revision: int | None = None,
    note: str = "",
) -> WorkflowEvent:
    """Periodic re-review of an approved article that needs no change: the approval date moves on.

    Only when a re-review is due (editors may bring it forward), of the version the reviewer read, and
    recorded as a re-review round of its own with the reviewer's conflict declaration.
    """
    with transaction.atomic():
        article = _lock(article)
        _require_independent_reviewer(by, article, "re-review")
        _require_status(article, Status.APPROVED, doing="re-review")
        if not (is_rereview_due(article) or roles.is_editor(by)):
            raise WrongState(f"This article is not due for re-review until {_day(rereview_due_at(article))}.")
        _require_seen_current(article, seen_version, seen_revision)
        declaration = _conflict_declaration(conflict_of_interest)
        now = timezone.now()
        number = (article.review_rounds.aggregate(n=Max("number"))["n"] or 0) + 1
        review_round = ReviewRound.objects.create(
            article=article, number=number, outcome=ReviewRound.Outcome.CONFIRMED, closed_at=now
        )
        ReviewAssignment.objects.create(
            review_round=review_round,
            reviewer=by,
            due_at=now,
            recommendation=ReviewAssignment.Recommendation.APPROVE,
            conflict_of_interest=declaration,
            coi_declared_at=now,
            approved_content_version=seen_version,
            decided_revision=versioning.latest_revision(article),
            decided_at=now,
        )
        Article.objects.filter(pk=article.pk).update(approved_at=now, rereview_notified_at=None)
        article.approved_at = now
        corrections.record_check(article, by=by)
        page_cache.public_pages_changed(article.pk)  # the re-review date is public (sitemap, feeds)
        return _record(
            article,
            Step(Action.REREVIEW_CONFIRMED, Status.APPROVED, Status.APPROVED),
            by=by,
            note=_joined(note, f"Conflict of interest: {declaration}"),
            review_round=review_round,
        )


def record_edit(article: Article, *, by: Any) -> WorkflowEvent | None:
    """Called (inside the editor's transaction, with the row locked) after the text changed.

    An approved article goes back to draft while its publication stays live; an edit during review
    leaves earlier approvals pinned to the old content version, so they no longer count. Checks the
    review lock itself too, so no path that writes text (editor, revert, admin) can slip past it.
    """
    refusal = edit_refusal(by, article)
    if refusal:
        raise TransitionNotAllowed(refusal)
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
        note = "Reviewers decide on the new text; whoever edited it can no longer decide on it."
        if had_approvals:
            note = f"Earlier approvals no longer count; the new text needs re-approval. {note}"
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
    """The steps that make sense for this person now. "override" means an editor acting outside the
    editor's assignment (a reason is asked); "approved_waiting" means they approved this version already."""
    status = Status(article.status)
    actions: list[str] = []
    if roles.is_writer(user) and is_author(user, article):
        actions += {Status.DRAFT: ["submit"], Status.SUBMITTED: ["withdraw"]}.get(status, [])
    if roles.is_editor(user) and status in (Status.SUBMITTED, Status.UNDER_REVIEW):
        actions.append("assign")
    rereview_open = is_rereview_due(article) or roles.is_editor(user)
    if status == Status.APPROVED and rereview_open and _may_decide(article, user, None):
        actions.append("confirm_still_accurate")
    if status in (Status.SUBMITTED, Status.UNDER_REVIEW):
        review_round = current_round(article)
        if _may_decide(article, user, review_round):
            actions += _review_actions(article, user, review_round)
    return actions


def _may_decide(article: Article, user: Any, review_round: ReviewRound | None) -> bool:
    if not roles.is_board_member(user) or _independence_refusal(user, article, "review"):
        return False
    return not _assignment_refusal(user, review_round) or roles.is_editor(user)


def _review_actions(article: Article, user: Any, review_round: ReviewRound | None) -> list[str]:
    actions = ["override"] if _assignment_refusal(user, review_round) else []
    if article.status == Status.SUBMITTED:
        return [*actions, "start_review"]
    already = (
        review_round is not None
        and review_round.assignments.filter(
            reviewer=user,
            recommendation=ReviewAssignment.Recommendation.APPROVE,
            approved_content_version=article.content_version,
        ).exists()
    )
    return [*actions, "approved_waiting" if already else "approve", "request_changes"]
