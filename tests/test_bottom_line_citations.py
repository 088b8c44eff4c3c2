"""The Bottom line cites like the body: one numbering (Bottom line first), one reference list, the same
allow-list, and the same rules for saving and submitting."""

from __future__ import annotations

import re
from typing import Any

import pytest

from articles import workflow
from articles.editing import ArticleText, VariantText
from articles.models import Article, Reference
from articles.rendering import ReferenceLookup, render_article_text, render_summary_text

from . import editorial

pytestmark = pytest.mark.django_db

SUMMARY = "Keep your daily inhaler [@okafor2021]; a spacer helps too [@raman2019; @okafor2021]."
BODY = "## Why\n\nYour airways calm down [@lindqvist2020]. Spacers deliver more of the dose [@raman2019].\n"


@pytest.fixture
def refs() -> list[Reference]:
    return [
        Reference.objects.create(key=key, title=f"A study called {key}", source="Thorax", year=2021)
        for key in ("lindqvist2020", "raman2019", "okafor2021")
    ]


def cited_in_summary(summary: str = SUMMARY, body: str = BODY) -> ArticleText:
    patient = VariantText(editorial.PATIENT.title, summary, body)
    return editorial.article_text(patient=patient, clinician=editorial.CLINICIAN)


def numbers(html: str) -> list[str]:
    return re.findall(r'<a href="#(?:[a-z]+-)?ref-(\d+)"', html)


def test_summary_citations_are_numbered_before_the_bodys_in_one_list(refs: list[Reference]) -> None:
    rendered = render_article_text(BODY, ReferenceLookup.from_references(refs), SUMMARY)
    assert numbers(rendered.summary_html) == ["1", "1", "2"]
    assert numbers(rendered.body_html) == ["3", "2"]
    assert [ref.key for ref in rendered.cited] == ["okafor2021", "raman2019", "lindqvist2020"]
    assert "<p>" not in rendered.summary_html and "[@" not in rendered.summary_html
    # Back-links count every marker of both parts: okafor2021 is cited twice, both in the Bottom line.
    assert 'href="#cite-1-2"' in rendered.references_html
    assert 'id="cite-2-1"' in rendered.summary_html and 'id="cite-2-2"' in rendered.body_html


def test_summary_is_inline_and_sanitised_by_the_allow_list() -> None:
    summary = "## Not a heading\n\n- nor a list <script>alert(1)</script> <img src=x onerror=alert(2)> **bold**"
    html = render_article_text("", ReferenceLookup.from_references([]), summary).summary_html
    assert "<script" not in html and "alert(1)" not in html and "<img" not in html and "onerror" not in html
    assert "<h2" not in html and "<li" not in html and "<ul" not in html
    assert "<strong>bold</strong>" in html
    assert "<script" not in render_summary_text(summary) and "alert(1)" not in render_summary_text(summary)


def test_plain_summary_drops_the_markers() -> None:
    assert render_summary_text(SUMMARY) == "Keep your daily inhaler; a spacer helps too."
    assert render_summary_text("Code keeps its text: `[@x]`.") == "Code keeps its text: [@x]."


def test_reader_page_desk_and_api_show_numbered_bottom_line(cast: Any, client: Any, refs: list[Reference]) -> None:
    article = editorial.approved(cast, text=cited_in_summary())
    variant = article.live_publication.variant("patient")
    assert variant.summary == "Keep your daily inhaler; a spacer helps too."
    assert set(article.live_publication.cited_references.values_list("key", flat=True)) == {r.key for r in refs}

    page = client.get(f"/articles/{article.slug}/patient/").content.decode()
    assert "[@" not in page
    bottom = re.search(r'<section class="bottom-line".*?</section>', page, re.S).group(0)
    assert numbers(bottom) == ["1", "1", "2"]
    body = re.search(r'<div class="article-body">.*?</div>', page, re.S).group(0)
    assert numbers(body) == ["3", "2"]
    assert '<meta name="description" content="Keep your daily inhaler; a spacer helps too.' in page

    client.force_login(cast.editor)
    desk = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "[@okafor2021]" not in desk
    asides = re.findall(r'<aside class="bottom-line">.*?</aside>', desk, re.S)
    assert [numbers(aside) for aside in asides if "daily inhaler" in aside] == [["1", "1", "2"]]

    api = client.get(f"/api/v1/articles/{article.slug}/").json()
    [version] = [v for v in api["versions"] if v["audience"] == "patient"]
    assert version["bottom_line"] == "Keep your daily inhaler; a spacer helps too."
    assert numbers(version["bottom_line_html"]) == ["1", "1", "2"]
    assert version["references"][0]["title"] == "A study called okafor2021"


def test_summary_citations_attach_library_entries_on_save(cast: Any, refs: list[Reference]) -> None:
    article = editorial.new_article(cast, text=cited_in_summary(body="No citations here.\n"))
    assert set(article.references.values_list("key", flat=True)) == {"okafor2021", "raman2019"}


def test_unknown_citation_in_summary_blocks_submission_with_its_place(cast: Any, client: Any) -> None:
    article = editorial.new_article(cast, text=cited_in_summary(summary="Keep it up [@nosuch2024].", body="Fine.\n"))
    with pytest.raises(workflow.NotFit) as refused:
        workflow.submit(article, by=cast.writer)
    reason = "Unknown citation [@nosuch2024] in the Bottom line of the patient or caregiver version."
    assert reason in refused.value.reasons
    assert editorial.refreshed(article).status == Article.Status.DRAFT


def test_editor_preview_numbers_the_bottom_line_first(cast: Any, client: Any, refs: list[Reference]) -> None:
    client.force_login(cast.writer)
    response = client.post("/desk/preview/", {"title": "T", "summary": SUMMARY, "body": BODY, "audience": "patient"})
    html = response.content.decode()
    assert response.status_code == 200
    assert numbers(re.search(r'<aside class="bottom-line">.*?</aside>', html, re.S).group(0)) == ["1", "1", "2"]
    unknown = client.post("/desk/preview/", {"title": "T", "summary": "X [@nosuch]", "body": "", "audience": "patient"})
    assert "[@nosuch] (Bottom line)" in unknown.content.decode()
