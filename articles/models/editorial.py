"""The editorial data: people, articles with one version per audience, and the shared reference library.

Status is written only by `articles.workflow`; nothing here holds a business rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import reversion
from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.urls import reverse

from ..identifiers import validate_citation_key

# Keys given at creation, before the metadata says who wrote it and when; replaced by e.g. "castro2018".
PROVISIONAL_KEY_PREFIX = "pending-"


class Profile(models.Model):
    """What readers see of a person: the name and credentials printed on an approved article."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=120)
    credentials = models.CharField(
        max_length=200, blank=True, help_text="Shown after the name, e.g. “MD, pulmonologist”."
    )
    bio = models.TextField(blank=True, help_text="A short biography shown on bylines.")
    specialty = models.CharField(max_length=120, blank=True, help_text="e.g. “Respiratory medicine”.")
    # Readers judge advice by who gave it (JAMA benchmarks): interests are printed on the public profile.
    disclosures = models.TextField(
        blank=True,
        help_text="Financial and other interests on file, shown on the public profile; empty means none declared.",
    )

    def __str__(self) -> str:
        return self.signature

    def get_absolute_url(self) -> str:
        return reverse("articles:person", kwargs={"pk": self.pk})

    @property
    def signature(self) -> str:
        return f"{self.display_name}, {self.credentials}" if self.credentials else self.display_name


class Audience(models.TextChoices):
    CLINICIAN = "clinician", "Healthcare professional"
    PATIENT = "patient", "Patient or caregiver"


class ArticleQuerySet(models.QuerySet["Article"]):
    def approved(self) -> ArticleQuerySet:
        return self.filter(status=Article.Status.APPROVED)

    def published(self) -> ArticleQuerySet:
        """Articles readers can see: those with a live publication, whatever their working copy is doing."""
        return self.filter(live_publication__isnull=False).select_related("live_publication")

    def visible_to_staff_of(self, user: object) -> ArticleQuerySet:
        """Working copies a person may open: authors their own; the Advisory Board and staff all."""
        from ..roles import is_board_member, is_editor

        if is_board_member(user) or is_editor(user):
            return self.all()
        if isinstance(user, User) and user.is_authenticated:
            return self.filter(authors=user)
        return self.none()

    def due_for_rereview(self, now: datetime) -> ArticleQuerySet:
        cutoff = now - timedelta(days=settings.REVIEW_INTERVAL_DAYS)
        return self.filter(status=Article.Status.APPROVED, approved_at__lte=cutoff)

    def authored_by(self, user: User) -> ArticleQuerySet:
        return self.filter(authors=user)

    def with_variants(self) -> ArticleQuerySet:
        return self.prefetch_related("variants", "authors__profile")


class Article(models.Model):
    class Kind(models.TextChoices):
        QA = "qa", "Q&A answer"
        NEWS = "news", "News explainer"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        UNDER_REVIEW = "under_review", "Under review"
        APPROVED = "approved", "Approved"

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=300, help_text="The question (Q&A) or the headline (news).")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.QA)
    topic = models.CharField(max_length=80, db_index=True, help_text="e.g. Asthma, Dermatology")
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="authored_articles")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    # Bumped on every saved change of the text; approvals and the editor's conflict check pin it.
    content_version = models.PositiveIntegerField(default=1)
    approved_at = models.DateTimeField(null=True, blank=True, help_text="Last approval or re-review.")
    # What readers see: the last approved snapshot, untouched by later edits until the next approval.
    live_publication = models.ForeignKey(
        "Publication", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rereview_notified_at = models.DateTimeField(null=True, blank=True)
    # The "Updates" lines readers see, newest first ({kind, note, at}), kept by articles.corrections from its
    # ArticleUpdate rows so the article page reads them with the article itself (no query of its own).
    updates_log = models.JSONField(default=list, blank=True, editable=False)
    # Set by page_cache.public_pages_changed on every change a reader can see (publication, notice,
    # correction); the syndication feed's `modified_since` reads it.
    public_changed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    references: models.ManyToManyField[Reference, ArticleReference] = models.ManyToManyField(
        "Reference", through="ArticleReference", related_name="articles"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        permissions = [("review_article", "Can review articles and decide on them")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("articles:detail", kwargs={"slug": self.slug})

    def variant(self, audience: str) -> ArticleVariant | None:
        # Reads the prefetched variants when the queryset carries them (no query per call).
        return next((v for v in self.variants.all() if v.audience == audience), None)


class ArticleVariant(models.Model):
    """One audience's version of an article: what that reader is shown."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="variants")
    audience = models.CharField(max_length=12, choices=Audience.choices)
    title = models.CharField(max_length=300, help_text="The heading this audience sees.")
    summary = models.TextField(help_text="The “Bottom line”: the answer in a few sentences.")
    body = models.TextField(help_text="Markdown; cite with [@key], [@doi:…] or [@pmid:…].")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "audience"], name="one_variant_per_audience"),
        ]
        ordering = ["audience"]

    def __str__(self) -> str:
        return f"{self.article} ({self.get_audience_display()})"


class Reference(models.Model):
    """A shared library entry: one row per paper or guideline, cited by any number of articles."""

    class Kind(models.TextChoices):
        GUIDELINE = "guideline", "Guideline"
        RESEARCH = "research", "Research"
        REVIEW = "review", "Systematic review / meta-analysis"
        LABEL = "label", "Prescribing information"
        TEXTBOOK = "textbook", "Textbook"
        WEBSITE = "website", "Website"
        OTHER = "other", "Other"

    class MetadataStatus(models.TextChoices):
        """Where the automatic lookup of the details stands (articles/references.py moves it)."""

        COMPLETE = "complete", "Found"
        PENDING = "pending", "Being looked up"
        NOT_FOUND = "not_found", "Not found"
        UNREACHABLE = "unreachable", "Service unreachable"
        FAILED = "failed", "Lookup failed"

    key = models.CharField(
        max_length=64,
        unique=True,
        help_text="Short citation key used in the text as [@key], e.g. castro2018.",
        validators=[validate_citation_key],
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.RESEARCH)
    title = models.TextField(blank=True)
    authors = models.TextField(blank=True, help_text="One author per line, e.g. “Castro M”.")
    source = models.CharField(max_length=300, blank=True, help_text="Journal or publisher.")
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    volume = models.CharField(max_length=40, blank=True)
    pages = models.CharField(max_length=40, blank=True)
    # NULL, never "", when absent: the unique constraints must allow many references without one.
    doi = models.CharField("DOI", max_length=255, unique=True, null=True, blank=True)
    pmid = models.CharField("PMID", max_length=8, unique=True, null=True, blank=True)
    pmcid = models.CharField("PMCID", max_length=20, unique=True, null=True, blank=True)
    url = models.URLField("URL", max_length=500, blank=True)
    metadata_status = models.CharField(max_length=12, choices=MetadataStatus.choices, default=MetadataStatus.COMPLETE)
    metadata_error = models.TextField(blank=True, help_text="Why the last metadata lookup failed, for the writer.")
    metadata_fetched_at = models.DateTimeField(null=True, blank=True)
    # When the lookup was last handed to the job queue (or was owed to it, if the queue was down), and
    # when an unreachable service will be tried again: shown to the writer, read by the owed-work sweep.
    lookup_queued_at = models.DateTimeField(null=True, blank=True)
    lookup_retry_at = models.DateTimeField(null=True, blank=True)
    # The citation watch's bookkeeping (articles.watch): when a checker last stored a verdict, and which
    # sweep has claimed the entry until when, so two sweeps (or a redelivered one) never check it twice.
    checked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    check_claim = models.CharField(max_length=40, blank=True)
    check_claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"[{self.key}] {self.title[:80]}"

    @property
    def author_list(self) -> list[str]:
        return [line.strip() for line in self.authors.splitlines() if line.strip()]

    @property
    def has_provisional_key(self) -> bool:
        return self.key.startswith(PROVISIONAL_KEY_PREFIX)

    @property
    def label(self) -> str:
        """What people read for it: its key once it has a real one, else the identifier it was added by."""
        if not self.has_provisional_key:
            return self.key
        if self.doi:
            return f"DOI {self.doi}"
        return f"PMID {self.pmid}" if self.pmid else "untitled reference"

    @property
    def citation(self) -> str:
        """How to cite it in the text: [@castro2018], or by identifier while the key is provisional."""
        if not self.has_provisional_key:
            return f"[@{self.key}]"
        return f"[@doi:{self.doi}]" if self.doi else f"[@pmid:{self.pmid}]" if self.pmid else ""

    @property
    def lookup_finished(self) -> bool:
        """Not waiting for, nor stuck in, the automatic lookup: found, or given real details by a person."""
        return self.metadata_status == self.MetadataStatus.COMPLETE and not self.has_provisional_key


class ArticleReference(models.Model):
    """A reference attached to an article (cited, or attached and still to be cited)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reference_links")
    reference = models.ForeignKey(Reference, on_delete=models.PROTECT, related_name="article_links")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "reference"], name="reference_once_per_article"),
        ]

    def __str__(self) -> str:
        return f"{self.article.slug} → {self.reference.key}"


class ReviewRound(models.Model):
    """One submission and what the Advisory Board did with it. Round 2 starts on resubmission."""

    class Outcome(models.TextChoices):
        OPEN = "open", "Open"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        WITHDRAWN = "withdrawn", "Withdrawn"
        # A periodic re-review of approved text that needed no change: opened and closed in one step.
        CONFIRMED = "confirmed", "Re-review: still accurate"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="review_rounds")
    number = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["article", "number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="one_round_number_per_article")]

    def __str__(self) -> str:
        return f"{self.article.slug} round {self.number}"


class ReviewAssignment(models.Model):
    """A named reviewer on a round: due date, conflict-of-interest declaration and recommendation."""

    class Recommendation(models.TextChoices):
        PENDING = "pending", "Not decided yet"
        APPROVE = "approve", "Approved"
        CHANGES = "changes", "Asked for changes"

    review_round = models.ForeignKey(ReviewRound, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField()
    recommendation = models.CharField(max_length=10, choices=Recommendation.choices, default=Recommendation.PENDING)
    # The reviewer's declaration before deciding: "none" or the conflict in their own words.
    conflict_of_interest = models.TextField(blank=True)
    coi_declared_at = models.DateTimeField(null=True, blank=True)
    # The content version (and revision) the reviewer was shown when deciding; an approval counts only
    # for that version.
    approved_content_version = models.PositiveIntegerField(null=True, blank=True)
    decided_revision = models.ForeignKey(
        "reversion.Revision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["review_round", "reviewer"], name="one_assignment_per_reviewer_per_round")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} on {self.review_round}"


class ReviewComment(models.Model):
    """The review conversation, kept across rounds so round 2 sees what round 1 asked for."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="review_comments")
    review_round = models.ForeignKey(ReviewRound, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.article.slug}"


class WorkflowEvent(models.Model):
    """Append-only record of every step: who moved the article, from what, to what, why, and when."""

    class Action(models.TextChoices):
        SUBMIT = "submit", "Submitted"
        WITHDRAW = "withdraw", "Withdrawn"
        ASSIGN = "assign", "Reviewer assigned"
        START_REVIEW = "start_review", "Review started"
        APPROVAL_RECORDED = "approval_recorded", "Approval recorded"
        APPROVE = "approve", "Approved"
        REQUEST_CHANGES = "request_changes", "Changes requested"
        REOPEN = "reopen", "Edited after approval"
        EDIT_DURING_REVIEW = "edit_during_review", "Edited during review"
        REREVIEW_CONFIRMED = "rereview_confirmed", "Re-review: still accurate"
        UNASSIGN = "unassign", "Reviewer removed"
        DUE_DATE_CHANGED = "due_date_changed", "Review due date changed"

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=24, choices=Action.choices)
    from_status = models.CharField(max_length=20, choices=Article.Status.choices)
    to_status = models.CharField(max_length=20, choices=Article.Status.choices)
    note = models.TextField(blank=True)
    review_round = models.ForeignKey(ReviewRound, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    content_version = models.PositiveIntegerField()
    # The revision of the text the step acted on (what was submitted, approved, sent back).
    revision = models.ForeignKey(
        "reversion.Revision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.article.slug}: {self.get_action_display()}"


# Revisions (django-reversion) hold the whole article: its fields, both audience versions and its reference
# links with the references as they stood. Status and approval bookkeeping are left out on purpose:
# they change only through the workflow, and restoring old text must never restore an old status.
# Registered here, with the models, so it happens before the admin's VersionAdmin would register them.
REVISION_REFERENCE_FIELDS = [
    "key",
    "kind",
    "title",
    "authors",
    "source",
    "year",
    "volume",
    "pages",
    "doi",
    "pmid",
    "url",
]
reversion.register(Reference, fields=REVISION_REFERENCE_FIELDS)
reversion.register(ArticleVariant, fields=["article", "audience", "title", "summary", "body"])
reversion.register(ArticleReference, fields=["article", "reference"], follow=["reference"])
reversion.register(
    Article,
    fields=["slug", "title", "kind", "topic", "authors", "content_version"],
    follow=["variants", "reference_links"],
)


class Publication(models.Model):
    """An immutable snapshot of what was approved: both audiences' rendered, sanitised HTML, the
    reference list as it stood, and who approved it with their credentials. Never edited after creation."""

    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="publications")
    content_version = models.PositiveIntegerField()
    revision = models.ForeignKey(
        "reversion.Revision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=Article.Kind.choices)
    topic = models.CharField(max_length=80)
    reviewers = models.JSONField(help_text="[{name, credentials}] of the approving board members.")
    authors = models.JSONField(help_text="[{name, credentials, bio}] of the writers.")
    approved_at = models.DateTimeField()
    # The same people as rows, so profile pages can list "articles written / reviewed" with one query.
    written_by = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="written_publications", blank=True)
    reviewed_by = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="reviewed_publications", blank=True)
    # The library entries this publication cites, so "which published articles cite this source?" is one
    # indexed join (the citation watch, the syndication API), not a scan of every snapshot's JSON.
    cited_references: models.ManyToManyField[Reference, Any] = models.ManyToManyField(
        "Reference", blank=True, related_name="publications"
    )

    class Meta:
        ordering = ["-approved_at"]
        get_latest_by = "approved_at"

    def __str__(self) -> str:
        return f"{self.title} (approved {self.approved_at:%Y-%m-%d})"

    def variant(self, audience: str) -> PublishedVariant | None:
        return next((v for v in self.variants.all() if v.audience == audience), None)


class PublishedVariant(models.Model):
    publication = models.ForeignKey(Publication, on_delete=models.PROTECT, related_name="variants")
    audience = models.CharField(max_length=12, choices=Audience.choices)
    title = models.CharField(max_length=300)
    # The Bottom line twice: plain text without citation markers (search, cards, meta description, JSON-LD,
    # the API's bottom_line) and inline HTML whose citation numbers run on into the body's.
    summary = models.TextField()
    summary_html = models.TextField(blank=True)
    body_html = models.TextField()
    # The body as plain text, made at approval, so reader search matches words, not HTML tags or URLs.
    body_text = models.TextField(blank=True)
    references_html = models.TextField(blank=True)
    references = models.JSONField(default=list, help_text="The cited references as they stood, in number order.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["publication", "audience"], name="one_published_variant_per_audience")
        ]

    def __str__(self) -> str:
        return f"{self.publication} ({self.audience})"


class SitePage(models.Model):
    """A page of the public site written by staff in the admin, e.g. the editorial policy (Markdown)."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True, help_text="One sentence for search engines.")
    body = models.TextField(help_text="Markdown.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("articles:site_page", kwargs={"slug": self.slug})
