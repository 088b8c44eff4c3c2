"""The citation watch's records: what each check of a reference found, and the alerts it raised.

A reference's standing is the latest verdict of each checker (`ReferenceCheck.objects.latest_per_checker()`).
A bad verdict opens one `CitationAlert` per citing article and finding; the Advisory Board acknowledges and
resolves it. The rules (what is due, what opens or closes an alert) live in `articles.watch`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..citations.verdicts import Standing

STANDING_CHOICES = [(s.value, s.value.replace("_", " ").capitalize()) for s in Standing]

# Worst first: the order of the Board page and of a reference's overall standing. "Could not check" ranks
# above clean on purpose: not knowing is never shown as good news.
SEVERITY = [
    Standing.RETRACTED,
    Standing.IS_NOTICE,
    Standing.UNDER_QUESTION,
    Standing.SUPERSEDED,
    Standing.DEAD,
    Standing.CORRECTED,
    Standing.LINK_FAILING,
    Standing.MOVED,
    Standing.NOTE,
    Standing.AGING,
    Standing.ERROR,
    Standing.UNREACHABLE,
    Standing.UNKNOWN,
    Standing.CLEAN,
]
SEVERITY_RANK = {standing.value: rank for rank, standing in enumerate(SEVERITY)}


def severity_rank(standing: str) -> int:
    return SEVERITY_RANK.get(standing, len(SEVERITY))


class ReferenceCheckQuerySet(models.QuerySet["ReferenceCheck"]):
    def latest_per_checker(self) -> ReferenceCheckQuerySet:
        """Each reference's newest check per checker: its current standing."""
        # A checker may give several verdicts in one run (corrected and questioned): they share checked_at.
        newer = ReferenceCheck.objects.filter(
            reference=OuterRef("reference"), checker=OuterRef("checker"), checked_at__gt=OuterRef("checked_at")
        )
        return self.filter(~Exists(newer))


class ReferenceCheck(models.Model):
    """One checker's verdict on one reference at one time. Append-only: the history is the record."""

    reference = models.ForeignKey("articles.Reference", on_delete=models.CASCADE, related_name="checks")
    checker = models.CharField(max_length=20)  # the checker's name: "crossref", "pubmed", "links", "age"
    standing = models.CharField(max_length=20, choices=STANDING_CHOICES)
    summary = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)
    notice_date = models.DateField(null=True, blank=True, help_text="When the notice (retraction, …) was issued.")
    checked_at = models.DateTimeField(default=timezone.now)
    # The sweep batch or "check now" request that made this row: a task run twice (a worker died after
    # storing, the broker redelivered) finds its rows already there and adds none.
    run = models.CharField(max_length=40)

    objects = ReferenceCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference", "checker", "run", "standing"], name="one_verdict_per_checker_per_run"
            )
        ]
        indexes = [models.Index(fields=["reference", "checker", "checked_at"], name="check_latest_idx")]

    def __str__(self) -> str:
        return f"{self.reference_id} {self.checker}: {self.standing}"


class CitationAlert(models.Model):
    """A bad finding about a source, for one article citing it. Open → acknowledged → resolved."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    article = models.ForeignKey("articles.Article", on_delete=models.CASCADE, related_name="citation_alerts")
    reference = models.ForeignKey("articles.Reference", on_delete=models.CASCADE, related_name="alerts")
    # The finding: one alert per article, source and kind of bad news, whichever checker saw it first and
    # however often the sweep sees it again; a resolved finding stays resolved.
    standing = models.CharField(max_length=20, choices=STANDING_CHOICES)
    found_by = models.ForeignKey(ReferenceCheck, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    summary = models.TextField()
    notice_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN, db_index=True)
    opened_at = models.DateTimeField(default=timezone.now)
    # Writers and reviewers are told once a check run is over, in one message per article.
    announced_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["opened_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["article", "reference", "standing"], name="one_alert_per_finding"),
            models.CheckConstraint(
                condition=~Q(state="resolved") | ~Q(resolution_note=""), name="resolved_alert_has_a_note"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} / {self.reference_id}: {self.standing} ({self.state})"

    @property
    def severity(self) -> int:
        return severity_rank(self.standing)

    @property
    def is_active(self) -> bool:
        return self.state != self.State.RESOLVED


class RetractedCitation(models.Model):
    """A writer's statement that this article cites the source *as* retracted (e.g. to discuss the
    retraction): without it, a source known to be retracted blocks submission and approval."""

    article = models.ForeignKey("articles.Article", on_delete=models.CASCADE, related_name="retracted_citations")
    reference = models.ForeignKey("articles.Reference", on_delete=models.CASCADE, related_name="+")
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "reference"], name="one_retraction_acknowledgement")]

    def __str__(self) -> str:
        return f"{self.article_id} cites {self.reference_id} as retracted"
