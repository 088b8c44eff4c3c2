"""History page of an article with 10 and with 500 revisions: query count and time per request."""

from __future__ import annotations

from harness import measure, scratch_database


def main() -> None:
    from django.test import Client

    from tests.conftest import Cast
    from tests.editorial import edit, new_article

    cast = Cast()
    client = Client()
    client.force_login(cast.reviewer)
    article = new_article(cast)
    for revisions in (10, 500):
        while article.content_version < revisions:
            edit(article, cast.writer, patient_body=f"Wording {article.content_version}.\n")
            article.refresh_from_db()
        url = f"/desk/articles/{article.slug}/history/"
        measure(f"history, {revisions} revisions, first page", lambda url=url: client.get(url))
        measure(f"history, {revisions} revisions, last page", lambda url=url: client.get(url + "?page=last"))
    measure(
        "diff, first revision to latest (500 apart)",
        lambda: client.get(f"/desk/articles/{article.slug}/diff/?from={first_revision(article)}"),
    )


def first_revision(article: object) -> int:
    from articles import versioning

    return versioning.versions_of(article).last().revision_id


if __name__ == "__main__":
    with scratch_database():
        main()
