"""The public site: the article page in the Q&A seed's structure for each audience, its structured data,
pending and draft content, the index with search and pages, the editorial policy, the sitemap and the
security headers."""

from __future__ import annotations

import io
import json
import re
from typing import Any
from xml.etree import ElementTree

import pytest
from django.core.management import call_command
from django.utils import timezone

from articles import workflow
from articles.editing import VariantText
from articles.models import Article, Reference, SitePage
from articles.rendering import anchor_sections
from articles.views import reader

from . import editorial

pytestmark = pytest.mark.django_db

QA_SLUG = "continue-dupilumab-despite-persistent-cough"
NEWS_SLUG = "why-asthma-returns-after-biologics"


@pytest.fixture
def demo() -> dict[str, Article]:
    call_command("load_demo", stdout=io.StringIO())
    return {a.slug: a for a in Article.objects.select_related("live_publication")}


def page_html(client: Any, slug: str, audience: str) -> str:
    response = client.get(f"/articles/{slug}/{audience}/")
    assert response.status_code == 200
    return response.content.decode()


def json_ld(html: str) -> dict[str, Any]:
    [block] = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(block)


def text_of(html: str) -> str:
    words = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    return re.sub(r" ([,.;])", r"\1", words)  # "<strong>Name</strong>, MD" reads "Name, MD"


# --- The article page ---------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["patient", "clinician"])
def test_approved_page_has_every_element_of_the_seed(client: Any, demo: dict[str, Article], audience: str) -> None:
    article = demo[QA_SLUG]
    publication = article.live_publication
    version = publication.variant(audience)
    html = page_html(client, QA_SLUG, audience)
    text = text_of(html)
    day = f"{publication.approved_at:%B} {publication.approved_at.day}, {publication.approved_at.year}"

    assert f'<h1 id="article-title">{publication.title}</h1>' in html
    assert "Reviewed by the Medical Advisory Board." in text
    assert re.search(r"Submitted.*Under Review.*aria-current=\"step\">Approved", html, re.S)
    assert f"Last updated {day}" in text
    assert f"Medically reviewed by Dr. Priya Raman, MD, pulmonologist on {day}" in text
    assert "Which best describes you?" in text
    assert "Healthcare professional" in text and "Patient or caregiver" in text
    assert re.search(r'<section class="bottom-line".*?Bottom line.*?</section>', html, re.S)
    assert version.summary in text_of(html.replace("&#x27;", "'"))
    # The frozen, pre-rendered body, its sections given ids for the "On this page" list.
    assert anchor_sections(version.body_html)[0] in html
    assert '<h2 id="references-h">References</h2>' in html
    assert '<li id="ref-1">' in html and 'href="#ref-1"' in html  # numbered citation links to the list
    assert 'href="/about/editorial-policy/"' in html
    assert f'<meta name="description" content="{version.summary[:60]}' in html.replace("&#x27;", "'")
    if audience == "clinician":
        assert "Professional medical disclaimer" in text and "clinical judgement" in text
    else:
        assert "not a substitute for your doctor's advice" in text.replace("&#x27;", "'")
        assert "Professional medical disclaimer" not in text


@pytest.mark.parametrize("audience", ["patient", "clinician"])
def test_structured_data_is_a_reviewed_medical_web_page(client: Any, demo: dict[str, Article], audience: str) -> None:
    publication = demo[QA_SLUG].live_publication
    version = publication.variant(audience)
    data = json_ld(page_html(client, QA_SLUG, audience))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "MedicalWebPage"
    assert data["name"] == version.title
    assert data["description"] == version.summary
    assert data["url"] == f"http://testserver/articles/{QA_SLUG}/{audience}/"
    assert data["lastReviewed"] == publication.approved_at.date().isoformat()
    reviewer = data["reviewedBy"]
    assert reviewer["@type"] == "Person" and reviewer["name"] == "Dr. Priya Raman"
    assert reviewer["hasCredential"] == {"@type": "EducationalOccupationalCredential", "name": "MD, pulmonologist"}
    assert data["audience"] == {
        "@type": "MedicalAudience",
        "audienceType": "Clinician" if audience == "clinician" else "Patient",
    }
    assert [c["name"] for c in data["citation"]] == [r["title"] for r in version.references]
    assert len(data["citation"]) >= 5
    first = data["citation"][0]
    assert first["@type"] == "CreativeWork"
    assert first["url"].startswith("https://")


def test_structured_data_cannot_break_out_of_its_script_block(client: Any, cast: Any) -> None:
    title = "Is </script><script>alert(1)</script> safe & sound?"
    patient = VariantText(title, editorial.PATIENT.summary, editorial.PATIENT.body)
    article = editorial.approved(cast, text=editorial.article_text(patient=patient, clinician=editorial.CLINICIAN))
    html = page_html(client, article.slug, "patient")
    assert "<script>alert(1)" not in html
    assert json_ld(html)["name"] == title


def test_news_explainer_shows_the_byline_with_the_authors_bio(client: Any, demo: dict[str, Article]) -> None:
    for audience in ("patient", "clinician"):
        text = text_of(page_html(client, NEWS_SLUG, audience))
        assert "Dana Okafor, MBBS, medical writer" in text
        assert "Dana trained in medicine before turning to health writing." in text
    assert "Dana trained in medicine" not in page_html(client, QA_SLUG, "patient")


def test_the_page_costs_three_queries(client: Any, demo: dict[str, Article], django_assert_num_queries: Any) -> None:
    # The article with its live publication (and its updates log), the publication's two versions, and the
    # related articles on the same topic (bylines and review dates come from the publication itself).
    with django_assert_num_queries(3):
        assert client.get(f"/articles/{QA_SLUG}/patient/").status_code == 200


# --- Pending and draft content ------------------------------------------------------------------


def test_drafts_and_pending_articles_are_not_public_by_default(client: Any, cast: Any) -> None:
    draft = editorial.new_article(cast)
    pending = editorial.submitted(cast, text=editorial.article_text("A pending question?"))
    for article in (draft, pending):
        assert client.get(f"/articles/{article.slug}/patient/").status_code == 404


def test_pending_articles_show_with_the_caution_banner_when_allowed(client: Any, cast: Any, settings: Any) -> None:
    settings.PUBLISH_PENDING = True
    pending = editorial.under_review(cast)
    html = page_html(client, pending.slug, "patient")
    text = text_of(html)
    assert "Pending review by the Medical Advisory Board." in text
    assert '<meta name="robots" content="noindex">' in html
    assert 'aria-current="step">Under Review' in html
    assert "Medically reviewed by" not in text
    data = json_ld(html)
    assert data["@type"] == "MedicalWebPage" and "lastReviewed" not in data and "reviewedBy" not in data
    # A draft is never public, whatever the setting.
    assert client.get(f"/articles/{editorial.new_article(cast).slug}/patient/").status_code == 404


def test_readers_keep_seeing_the_approved_text_while_an_edit_is_a_draft(client: Any, cast: Any) -> None:
    article = editorial.approved(cast)
    assert editorial.edit(article, cast.writer, patient_body="Unreviewed zanzibar wording.\n")
    assert editorial.refreshed(article).status == Article.Status.DRAFT
    html = page_html(client, article.slug, "patient")
    assert "zanzibar" not in html
    assert "Your daily inhaler calms your airways" in html
    assert "No approved article matches your search." in client.get("/", {"q": "zanzibar"}).content.decode()


# --- Index, search and pages --------------------------------------------------------------------


def approved_on(cast: Any, title: str, topic: str, *, body: str = "") -> Article:
    patient = VariantText(editorial.PATIENT.title, editorial.PATIENT.summary, body or editorial.PATIENT.body)
    text = editorial.article_text(title, patient=patient, clinician=editorial.CLINICIAN)
    text = type(text)(text.title, text.kind, topic, text.variants)
    return editorial.approved(cast, text=text)


def test_index_groups_by_topic_newest_review_first(client: Any, cast: Any) -> None:
    approved_on(cast, "Older asthma question?", "Asthma")
    approved_on(cast, "Eczema question?", "Dermatology")
    approved_on(cast, "Newer asthma question?", "Asthma")
    editorial.new_article(cast, text=editorial.article_text("A draft question?"))
    text = text_of(client.get("/").content.decode())
    assert text.index("Asthma") < text.index("Newer asthma question?") < text.index("Older asthma question?")
    assert text.index("Older asthma question?") < text.index("Dermatology") < text.index("Eczema question?")
    assert "A draft question?" not in text
    assert "Reviewed " in text


def test_search_finds_title_and_text_of_published_articles_only(client: Any, cast: Any) -> None:
    approved_on(cast, "Can I exercise with asthma?", "Asthma", body="Warm up slowly before a run.\n")
    approved_on(cast, "Is eczema catching?", "Dermatology")
    patient = VariantText("Draft", "Warm up plan.", "Warm up with care.\n")
    editorial.new_article(cast, text=editorial.article_text("Draft warm up?", patient=patient))

    def found(query: str) -> str:
        return text_of(client.get("/", {"q": query}).content.decode())

    assert "Can I exercise with asthma?" in found("exercise")  # title
    result = found("warm up slowly")  # body text of the publication
    assert "Can I exercise with asthma?" in result and "Is eczema catching?" not in result
    assert "1 article found" in result
    assert "Draft warm up?" not in found("warm up")
    assert "No approved article matches your search." in found("no-such-word")


def test_index_is_paginated_and_pages_keep_the_search(client: Any, cast: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(reader, "ARTICLES_PER_PAGE", 2)
    for n in range(3):
        approved_on(cast, f"Inhaler question {n}?", "Asthma")
    first = client.get("/", {"q": "inhaler"}).content.decode()
    assert "Page 1 of 2" in first
    assert 'href="?q=inhaler&amp;page=2"' in first
    second = text_of(client.get("/", {"q": "inhaler", "page": 2}).content.decode())
    assert "Page 2 of 2" in second
    assert "Inhaler question 0?" in second  # the oldest, last


def test_editorial_policy_page_is_seeded_and_editable_by_staff(client: Any, cast: Any) -> None:
    page = SitePage.objects.get(slug="editorial-policy")
    text = text_of(client.get("/about/editorial-policy/").content.decode())
    assert "Editorial policy" in text and "conflict of interest" in text and "once a year" in text

    cast.editor.is_superuser = True  # the editor-in-chief manages the site's pages
    cast.editor.save()
    client.force_login(cast.editor)
    change = f"/admin/articles/sitepage/{page.pk}/change/"
    assert client.get(change).status_code == 200
    response = client.post(
        change, {"title": "Editorial policy", "slug": page.slug, "summary": "", "body": "## Revised\n\nNew wording."}
    )
    assert response.status_code == 302
    client.logout()
    html = client.get("/about/editorial-policy/").content.decode()
    assert "<h2>Revised</h2>" in html and "New wording." in html


# --- Sitemap and security headers --------------------------------------------------------------


def test_sitemap_lists_both_audiences_of_published_articles(client: Any, demo: dict[str, Article], cast: Any) -> None:
    draft = editorial.new_article(cast)
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own sitemap, not untrusted input
    entries = {u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns) for u in root}
    expected = {}
    for article in demo.values():
        day = timezone.localdate(article.live_publication.approved_at).isoformat()
        for audience in ("clinician", "patient"):
            expected[f"http://testserver/articles/{article.slug}/{audience}/"] = day
    assert entries == expected
    assert draft.slug not in response.content.decode()


def csp_directives(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_pages_carry_a_content_security_policy_without_inline_scripts(client: Any, demo: dict[str, Article]) -> None:
    for path in (f"/articles/{QA_SLUG}/patient/", "/", "/about/editorial-policy/"):
        response = client.get(path)
        directives = csp_directives(response)
        assert directives["script-src"] == ["'self'"], path
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert directives["object-src"] == ["'none'"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_the_admin_works_under_the_policy(client: Any, cast: Any) -> None:
    cast.editor.is_superuser = True
    cast.editor.save()
    client.force_login(cast.editor)
    response = client.get("/admin/articles/sitepage/add/")
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    html = response.content.decode()
    # Every script the admin page loads is a file from our origin; none is inline.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    assert all(re.search(r'src="/[^/]', attrs) and not body.strip() for attrs, body in scripts)


def test_a_submission_reaches_the_reader_only_after_approval(client: Any, cast: Any) -> None:
    article = editorial.under_review(cast)
    assert client.get(f"/articles/{article.slug}/patient/").status_code == 404
    workflow.approve(article, by=cast.reviewer, conflict_of_interest="None declared", **editorial.seen(article))
    assert client.get(f"/articles/{article.slug}/patient/").status_code == 200


def test_reference_kinds_and_titles_are_listed(client: Any, demo: dict[str, Article]) -> None:
    html = page_html(client, QA_SLUG, "clinician")
    guideline = Reference.objects.get(key="holguin2020")
    assert guideline.title in html
    assert '<span class="reference-kind">Guideline</span>' in html
    assert '<span class="reference-kind">Research</span>' in html


@pytest.mark.django_db
def test_search_matches_words_not_html(client, cast) -> None:
    from . import editorial

    editorial.approved(cast)
    title = b"Should I keep using my preventer inhaler?"
    assert title not in client.get("/?q=h2").content  # in the HTML (<h2>), not in the text
    assert title in client.get("/?q=airways").content
