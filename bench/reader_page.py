"""Reader-facing pages of the demo content: the published article (both audiences) and the index."""

from __future__ import annotations

from harness import measure, scratch_database


def main() -> None:
    from django.core.management import call_command
    from django.test import Client

    from articles.models import Article
    from articles.rendering import ReferenceLookup, render_article_text

    call_command("load_demo", verbosity=0)
    client = Client()
    article = Article.objects.get(kind=Article.Kind.QA)
    for audience in ("patient", "clinician"):
        url = f"/articles/{article.slug}/{audience}/"
        measure(f"reader page, Q&A, {audience}", lambda url=url: client.get(url), repeat=100)
    measure("index page", lambda: client.get("/"), repeat=100)
    variant = article.variant("clinician")
    lookup = ReferenceLookup.from_references(article.references.all())
    measure(
        "render clinician body once (done at approval, not per read)",
        lambda: render_article_text(variant.body, lookup),
        repeat=100,
    )


if __name__ == "__main__":
    with scratch_database():
        main()
