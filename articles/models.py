"""The editorial data: people, articles with one version per audience, and the shared reference library.

Status is written only by `articles.workflow`; nothing here holds a business rule.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from .identifiers import validate_citation_key


class Profile(models.Model):
    """What readers see of a person: the name and credentials printed on an approved article."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=120)
    credentials = models.CharField(
        max_length=200, blank=True, help_text="Shown after the name, e.g. “MD, pulmonologist”."
    )
    bio = models.TextField(blank=True, help_text="A short biography shown on bylines.")

    def __str__(self) -> str:
        return self.signature

    @property
    def signature(self) -> str:
        return f"{self.display_name}, {self.credentials}" if self.credentials else self.display_name


class Audience(models.TextChoices):
    CLINICIAN = "clinician", "Healthcare professional"
    PATIENT = "patient", "Patient or caregiver"


class ArticleQuerySet(models.QuerySet["Article"]):
    def approved(self) -> ArticleQuerySet:
        return self.filter(status=Article.Status.APPROVED)

    def authored_by(self, user: object) -> ArticleQuerySet:
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
    references = models.ManyToManyField("Reference", through="ArticleReference", related_name="articles")
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
        COMPLETE = "complete", "Complete"
        PENDING = "pending", "Metadata pending"
        FAILED = "failed", "Metadata lookup failed"

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
    metadata_status = models.CharField(max_length=10, choices=MetadataStatus.choices, default=MetadataStatus.COMPLETE)
    metadata_error = models.TextField(blank=True, help_text="Why the last metadata lookup failed, for the writer.")
    metadata_fetched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"[{self.key}] {self.title[:80]}"

    @property
    def author_list(self) -> list[str]:
        return [line.strip() for line in self.authors.splitlines() if line.strip()]


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
