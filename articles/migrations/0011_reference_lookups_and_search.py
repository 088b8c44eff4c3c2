"""Reference lookups get honest states (not found, unreachable) and their timing; on PostgreSQL, the
pg_trgm extension and the GIN indexes behind articles/search.py (SQLite searches without them)."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models
from django.db.models.functions import Coalesce

CONFIG = "english"


def _indexes(apps):
    # The same expressions as articles/search.py builds, so the planner can use these indexes.
    variant = apps.get_model("articles", "PublishedVariant")
    reference = apps.get_model("articles", "Reference")
    publication = apps.get_model("articles", "Publication")
    return [
        (variant, GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="published_variant_title_trgm")),
        (publication, GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="publication_title_trgm")),
        (
            reference,
            GinIndex(
                SearchVector("title", weight="A", config=CONFIG)
                + SearchVector("authors", weight="B", config=CONFIG)
                + SearchVector("source", weight="C", config=CONFIG),
                name="reference_search",
            ),
        ),
        (reference, GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="reference_title_trgm")),
    ]


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _indexes(apps):
        schema_editor.add_index(model, index)


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _indexes(apps):
        schema_editor.remove_index(model, index)


def name_final_answers(apps, schema_editor):
    """Lookups recorded as failed because the identifier does not exist become "not found"."""
    Reference = apps.get_model("articles", "Reference")
    Reference.objects.filter(metadata_status="failed").filter(
        models.Q(metadata_error__contains="has no record") | models.Q(metadata_error__contains="cannot get document")
    ).update(metadata_status="not_found")
    Reference.objects.filter(metadata_status="pending", lookup_queued_at__isnull=True).update(
        lookup_queued_at=Coalesce("updated_at", "created_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0010_page_cache"),
    ]

    operations = [
        migrations.AddField(
            model_name="reference",
            name="lookup_queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reference",
            name="lookup_retry_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="reference",
            name="metadata_status",
            field=models.CharField(
                choices=[
                    ("complete", "Found"),
                    ("pending", "Being looked up"),
                    ("not_found", "Not found"),
                    ("unreachable", "Service unreachable"),
                    ("failed", "Lookup failed"),
                ],
                default="complete",
                max_length=12,
            ),
        ),
        migrations.RunPython(name_final_answers, migrations.RunPython.noop),
        TrigramExtension(),  # skipped by Django on databases other than PostgreSQL
        migrations.RunPython(create_search_indexes, drop_search_indexes),
    ]
