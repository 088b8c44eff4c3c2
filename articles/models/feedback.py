"""Reader trust: what readers send us (follow-up questions, problem reports) and what we tell them back
(the public log of updates and re-reviews). The rules live in `articles.feedback` and `articles.corrections`."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .editorial import Article, Audience, Publication


class ReaderFeedback(models.Model):
    """A follow-up question or a problem report sent from an article page, moderated by its writers.

    new → accepted (linked to the article that takes it up) / answered (reply emailed once) / declined
    (with a reason) / spam. Nothing a reader typed is ever rendered as a link.
    """

    class Kind(models.TextChoices):
        QUESTION = "question", "Follow-up question"
        PROBLEM = "problem", "Problem report"

    class Category(models.TextChoices):
        FACTUAL_ERROR = "factual_error", "Factual error"
        OUTDATED = "outdated", "Out of date"
        BROKEN_LINK = "broken_link", "Broken link"
        UNCLEAR = "unclear", "Unclear"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACCEPTED = "accepted", "Accepted"
        ANSWERED = "answered", "Answered"
        DECLINED = "declined", "Declined"
        SPAM = "spam", "Spam"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reader_feedback")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    category = models.CharField(max_length=16, choices=Category.choices, blank=True)
    audience = models.CharField(max_length=12, choices=Audience.choices, blank=True)
    text = models.TextField()
    # Only for a reply; erased FEEDBACK_EMAIL_RETENTION_DAYS after receipt (or at once when marked spam).
    email = models.EmailField(blank=True)
    email_erased_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    # Who must act on it: the article's writers, and for problem reports also its reviewers of record.
    handlers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="feedback_to_handle", blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    # Accepted: the article that takes the question up (this one for an edit, another for a new idea).
    linked_article = models.ForeignKey(
        Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback_taken_up"
    )
    reply = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True, help_text="When the reply email was sent.")
    # The reply email while it is owed (a mail server down when it was answered): beat's owed-work sweep
    # sends it at reply_due_at (empty once sent, or with no address to send to). A sender first claims it
    # until reply_sending_until, so of two senders at once one sends; a claim left by a sender that died
    # lapses then.
    reply_due_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When the owed reply email is tried next."
    )
    reply_sending_until = models.DateTimeField(null=True, blank=True, help_text="A try to send is under way.")
    reply_attempts = models.PositiveIntegerField(default=0, help_text="How often sending the reply was tried.")
    reply_error = models.CharField(max_length=300, blank=True, help_text="Why the last try to send failed.")

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["article", "status"], name="feedback_article_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.article.slug} ({self.get_status_display()})"


class ArticleUpdate(models.Model):
    """One line of an article's public "Updates" log: a correction note at a re-approval, or a re-review
    that found nothing to change. Append-only; written by `articles.corrections`."""

    class Kind(models.TextChoices):
        UPDATED = "updated", "Updated"
        CHECKED = "checked", "Checked, no changes needed"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="public_updates")
    publication = models.ForeignKey(Publication, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    note = models.CharField(max_length=200, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.article.slug}: {self.get_kind_display()} {self.created_at:%Y-%m-%d}"


class ProposedChangeNote(models.Model):
    """The writer's proposed public change note for the next approval; the approving reviewer sees it
    pre-filled and may reword it. One per article, replaced by each new proposal."""

    article = models.OneToOneField(Article, on_delete=models.CASCADE, related_name="proposed_change_note")
    note = models.CharField(max_length=200)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    proposed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.note
