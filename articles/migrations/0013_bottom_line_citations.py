"""The Bottom line as cited text: PublishedVariant.summary_html, and existing publications given one.

A publication frozen before this kept its summary as typed, numbered nothing in it, and its body's
numbers start at 1; renumbering now would change what reviewers approved. So its Bottom line becomes
escaped plain text without markers, in both fields.
"""

from typing import Any

from django.db import migrations, models
from django.utils.html import escape


def freeze_existing(apps: Any, schema_editor: Any) -> None:
    from articles.rendering import render_summary_text

    PublishedVariant = apps.get_model("articles", "PublishedVariant")
    changed = []
    for variant in PublishedVariant.objects.only("pk", "summary").iterator():
        plain = render_summary_text(variant.summary)
        variant.summary, variant.summary_html = plain, escape(plain)
        changed.append(variant)
    PublishedVariant.objects.bulk_update(changed, ["summary", "summary_html"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("articles", "0012_reader_trust")]

    operations = [
        migrations.AddField(
            model_name="publishedvariant", name="summary_html", field=models.TextField(blank=True)
        ),
        migrations.RunPython(freeze_existing, migrations.RunPython.noop),
    ]
