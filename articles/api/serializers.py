"""The API's shapes. Views hand these plain dicts built from publications (see views.py); the
serializers only name and document the fields, so the OpenAPI schema says exactly what is sent."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class PersonSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    credentials = serializers.CharField(allow_blank=True)


class StandingSerializer(serializers.Serializer[Any]):
    checker = serializers.CharField(help_text="Which check: crossref, pubmed, links or age.")
    standing = serializers.CharField(help_text="retracted, corrected, under_question, superseded, dead, clean, …")
    summary = serializers.CharField()
    checked_at = serializers.DateTimeField()


class ReferenceSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField(help_text="The number the text cites it by (order of first citation).")
    id = serializers.IntegerField(allow_null=True, help_text="Library entry id, for /references/{id}/.")
    kind = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    authors = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a field named like Field.source, as the API promises
    year = serializers.IntegerField(allow_null=True)
    doi = serializers.CharField(allow_null=True)
    pmid = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_blank=True)
    standing = StandingSerializer(many=True, help_text="The citation watch's latest verdict per check, if any.")


class ReviewRecordSerializer(serializers.Serializer[Any]):
    reviewers = PersonSerializer(many=True, help_text="The Advisory Board members who approved this text.")
    approved_at = serializers.DateTimeField(help_text="When this text was approved.")
    last_reviewed_at = serializers.DateTimeField(
        help_text="Last approval or re-review confirming it is still accurate."
    )
    next_review_due = serializers.DateField()


class UpdateSerializer(serializers.Serializer[Any]):
    date = serializers.DateTimeField()
    note = serializers.CharField()


class ReaderNoticeSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(
        help_text="What readers see above the article, e.g. that a cited source was retracted."
    )
    standing = serializers.CharField(help_text="retracted, under_question or superseded")
    reference_id = serializers.IntegerField(help_text="The library entry the notice is about.")


class AudienceVersionSerializer(serializers.Serializer[Any]):
    audience = serializers.CharField()
    title = serializers.CharField()
    bottom_line = serializers.CharField(help_text="The Bottom line as plain text, without citation markers.")
    bottom_line_html = serializers.CharField(
        help_text="The Bottom line as sanitised inline HTML (no <p>), its citation numbers shared with body_html."
    )
    body_html = serializers.CharField(help_text="Sanitised HTML, exactly as the reader page shows it.")
    body_text = serializers.CharField()
    references = ReferenceSerializer(many=True)
    canonical_url = serializers.URLField()
    api_url = serializers.URLField()


class ArticleSummarySerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    kind = serializers.CharField()
    topic = serializers.CharField()
    title = serializers.CharField()
    audiences = serializers.ListField(child=serializers.CharField())
    approved_at = serializers.DateTimeField()
    modified_at = serializers.DateTimeField(help_text="Last change a reader could see; what modified_since filters on.")
    canonical_url = serializers.URLField()
    api_url = serializers.URLField()


# What both detail answers carry besides the text: who wrote and reviewed it, its log and notices.
# (A comment, not a docstring: drf-spectacular would copy a docstring into both schema components.)
class _ArticleRecordSerializer(ArticleSummarySerializer):
    authors = PersonSerializer(many=True)
    review = ReviewRecordSerializer()
    updates = UpdateSerializer(many=True)
    reader_notices = ReaderNoticeSerializer(
        many=True, help_text="Open while a cited source is retracted, questioned or superseded and under re-review."
    )


class ArticleSerializer(_ArticleRecordSerializer):
    versions = AudienceVersionSerializer(many=True)


class TopicSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    articles = serializers.IntegerField(help_text="Approved articles on this topic.")
    api_url = serializers.URLField()


class CitingArticleSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    title = serializers.CharField()
    api_url = serializers.URLField()


class LibraryReferenceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    authors = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField(allow_blank=True)  # type: ignore[assignment]  # a field named like Field.source, as the API promises
    year = serializers.IntegerField(allow_null=True)
    doi = serializers.CharField(allow_null=True)
    pmid = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_blank=True)
    standing = StandingSerializer(many=True)
    cited_by = CitingArticleSerializer(many=True, help_text="Approved articles whose live version cites it.")


class ArticleVersionSerializer(_ArticleRecordSerializer):
    version = AudienceVersionSerializer()
