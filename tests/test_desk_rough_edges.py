"""The desk's rough edges, filed smooth: the editor's reading level, history in version numbers, revert
that asks first, comments with formatting, the queue's people and columns."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from articles import readability, workflow
from articles.models import Article
from tests import editorial


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Reading level in the editor ------------------------------------------------------------------


def test_an_empty_editor_shows_no_grade(cast: Any) -> None:
    html = signed_in(cast.writer).post("/desk/preview/", {"body": "", "audience": "patient"}).content.decode()
    assert "Reading level: shown once there is text." in html
    assert "grade -" not in html and "-15.7" not in html


def test_the_headline_measure_is_the_same_from_the_first_sentence(cast: Any, settings: Any) -> None:
    settings.PATIENT_GRADE_MEASURE = "smog"
    client = signed_in(cast.writer)
    for body in ("Yes.", "Keep using your inhaler. It calms your airways.", "One. Two words. Three small words here."):
        html = client.post("/desk/preview/", {"body": body, "audience": "patient"}).content.decode()
        assert "(SMOG, adjusted)" in html and "Flesch-Kincaid, adjusted" not in html, body
    short = readability.measure_text("Dupilumab reduces exacerbations considerably.")
    assert short.sentences == 1 and short.smog > 3  # measured, not textstat's 0.0 below three sentences
    assert readability.measure_text("Yes.").flesch_kincaid == 0.0  # never a negative grade


# --- History and revert ---------------------------------------------------------------------------


def test_history_counts_versions_as_the_article_page_does(cast: Any) -> None:
    article = editorial.new_article(cast)
    for n in range(2):
        editorial.edit(article, cast.writer, patient_body=f"Wording number {n}.\n")
    html = signed_in(cast.writer).get(f"/desk/articles/{article.slug}/history/").content.decode()
    assert [n for n in (1, 2, 3) if f">Version {n}</a>" in html] == [1, 2, 3]
    assert "version 3" in signed_in(cast.writer).get(f"/desk/articles/{article.slug}/").content.decode()


def test_revert_asks_for_confirmation_before_changing_anything(cast: Any) -> None:
    article = editorial.new_article(cast)
    editorial.edit(article, cast.writer, patient_body="Second wording.\n")
    client = signed_in(cast.writer)
    history = client.get(f"/desk/articles/{article.slug}/history/").content.decode()
    first = editorial.refreshed(article).content_version - 1
    from reversion.models import Version

    oldest = Version.objects.get_for_object(article).last()
    assert f'href="/desk/articles/{article.slug}/revisions/{oldest.revision_id}/revert/">Revert to this…</a>' in history
    confirm = client.get(f"/desk/articles/{article.slug}/revisions/{oldest.revision_id}/revert/")
    html = confirm.content.decode()
    assert confirm.status_code == 200 and f"Revert to version {first}?" in html
    assert "saved as version 3" in html and "The current text, version 2, stays in the history." in html
    assert editorial.refreshed(article).content_version == 2  # asking changed nothing
    done = client.post(f"/desk/articles/{article.slug}/revisions/{oldest.revision_id}/revert/", follow=True)
    assert "Reverted to the text of version 1." in done.content.decode()
    assert editorial.refreshed(article).content_version == 3


# --- Comments --------------------------------------------------------------------------------------


def test_comments_take_formatting_through_the_one_sanitiser(cast: Any) -> None:
    article = editorial.submitted(cast)
    body = "Please check:\n\n- the **dose** in line 4\n- the [source](https://example.org)\n\n<script>alert(1)</script>"
    workflow.add_comment(article, by=cast.reviewer, body=body)
    html = signed_in(cast.writer).get(f"/desk/articles/{article.slug}/").content.decode()
    assert "<li>the <strong>dose</strong> in line 4</li>" in html
    assert '<a href="https://example.org"' in html
    assert "<script>alert(1)</script>" not in html


# --- The review queue ------------------------------------------------------------------------------


def test_queue_names_writers_and_reviewers_in_aligned_columns(cast: Any) -> None:
    waiting = editorial.submitted(cast, co_authors=(cast.co_writer,))
    reviewing = editorial.under_review(cast)
    html = signed_in(cast.reviewer).get("/desk/queue/").content.decode()
    assert html.count('<colgroup><col class="col-article">') == 3  # the three tables share one layout
    assert html.count('<th scope="col">Writers</th><th scope="col">Reviewers</th>') == 3
    writers = f"{cast.co_writer.profile.display_name}, {cast.writer.profile.display_name}"  # by name
    assert f'<td data-label="Writers">{writers}</td>' in html
    assert f'<td data-label="Reviewers">{cast.reviewer.profile.display_name}</td>' in html
    assert waiting.title in html and reviewing.title in html


def test_queue_answers_in_a_fixed_number_of_queries(cast: Any) -> None:
    client = signed_in(cast.reviewer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/desk/queue/").status_code == 200
        return len(queries)

    editorial.submitted(cast)
    editorial.under_review(cast, text=editorial.article_text("Second question?"))
    few = count()
    for n in range(4):
        editorial.submitted(cast, text=editorial.article_text(f"Question {n}?"), co_authors=(cast.co_writer,))
        editorial.under_review(cast, text=editorial.article_text(f"Reviewed question {n}?"))
    assert count() == few
    assert Article.objects.count() == 10


def test_the_diff_page_names_versions_not_revision_ids(cast: Any) -> None:
    article = editorial.new_article(cast)
    editorial.edit(article, cast.writer, patient_body="Second wording.\n")
    html = signed_in(cast.writer).get(f"/desk/articles/{article.slug}/diff/").content.decode()
    assert "<h1>Changes from version 1 to version 2</h1>" in html
