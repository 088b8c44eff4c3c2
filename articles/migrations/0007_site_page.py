"""Staff-editable public pages, and the first of them: the editorial policy readers are pointed to from
every article. The text is a starting point; staff edit it in the admin."""

from django.db import migrations, models

POLICY_SLUG = "editorial-policy"
POLICY_TITLE = "Editorial policy"
POLICY_SUMMARY = "How our medical articles are written, reviewed by named doctors, kept up to date and corrected."
POLICY_BODY = """\
Every article on this site goes through the same steps before anyone can read it, and again whenever it
changes. This page explains those steps, so you can judge how far to trust what you read.

## Who writes the articles

Articles are written by medical writers with training in medicine or the life sciences. Each article
answers one question, or explains one piece of news, in two versions: one for healthcare professionals
and one in plain language for patients and the people who care for them. The patient version must read
at or below the reading level recommended for health information for the public (about the level of a
13- to 14-year-old reader), and our publishing system measures it before the article can go to review.

Writers support each statement with a citation to its source. We prefer clinical guidelines, systematic
reviews and large trials, and the official prescribing information for medicines. Every reference
is listed at the end of the article with a link to the original.

## Who reviews them

No article is published until a member of our Medical Advisory Board has reviewed it and approved the
exact text you see. Board members are practising doctors and other registered clinicians; their names
and qualifications appear on each article they approve.

Before deciding, each reviewer declares any conflict of interest, such as payments from the maker of a
medicine the article discusses. A reviewer never approves an article they wrote or helped to write.
Reviewers check the claims against the cited sources, and can send the article back with comments; it
is then revised and reviewed again.

## Keeping articles up to date

Each approved article is reviewed again at least once a year. The date of the last review is shown at the
top of the article. Our system also checks the cited sources every day and alerts the editors if a paper
is retracted or corrected, or a link stops working, so the article can be reviewed sooner.

## Corrections

If we find a mistake, we correct the article and it goes through review again before the corrected text
is published. Until then, the last approved version stays online, unless the mistake could cause harm, in
which case we take the article down. If you think something is wrong, please tell us; we read every
report.

## What these articles are not

Our articles explain health topics in general. They are not medical advice for your own situation and
do not replace a conversation with your doctor, nurse or pharmacist. Do not stop or change a treatment
without talking to your healthcare team.

## Independence

The site does not publish advertising inside articles, and no company that makes the medicines or devices
we write about can see or change an article before it is published.
"""


def add_policy(apps, schema_editor):
    SitePage = apps.get_model("articles", "SitePage")
    SitePage.objects.get_or_create(
        slug=POLICY_SLUG, defaults={"title": POLICY_TITLE, "summary": POLICY_SUMMARY, "body": POLICY_BODY}
    )


def remove_policy(apps, schema_editor):
    apps.get_model("articles", "SitePage").objects.filter(slug=POLICY_SLUG).delete()


class Migration(migrations.Migration):
    # After the versioning issue's 0006: two migrations numbered 0006 would leave two leaf nodes.
    dependencies = [("articles", "0006_event_revision")]

    operations = [
        migrations.CreateModel(
            name="SitePage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(max_length=80, unique=True)),
                ("title", models.CharField(max_length=200)),
                (
                    "summary",
                    models.CharField(blank=True, help_text="One sentence for search engines.", max_length=300),
                ),
                ("body", models.TextField(help_text="Markdown.")),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["title"]},
        ),
        migrations.RunPython(add_policy, remove_policy),
    ]
