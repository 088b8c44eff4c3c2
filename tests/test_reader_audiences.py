"""Each audience version has its own URL; the bare URL follows the reader's remembered choice (a cookie,
patient by default) and `?audience=` sets it; a missing version falls back to the other with a note.
All of it works with plain links, without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest

from articles.models import Article, PublishedVariant

from . import editorial

pytestmark = pytest.mark.django_db


@pytest.fixture
def article(cast: Any) -> Article:
    return editorial.approved(cast)


def bare(article: Article) -> str:
    return f"/articles/{article.slug}/"


def audience_url(article: Article, audience: str) -> str:
    return f"/articles/{article.slug}/{audience}/"


def test_bare_url_sends_a_new_reader_to_the_patient_version(client: Any, article: Article) -> None:
    response = client.get(bare(article))
    assert response.status_code == 302
    assert response["Location"] == audience_url(article, "patient")
    assert "Cookie" in response["Vary"]  # the answer depends on the cookie: caches must not share it
    assert "audience" not in response.cookies  # visiting is not choosing


def test_bare_url_follows_the_remembered_choice(client: Any, article: Article) -> None:
    client.cookies["audience"] = "clinician"
    assert client.get(bare(article))["Location"] == audience_url(article, "clinician")


def test_audience_query_sets_the_cookie_and_later_visits_follow_it(client: Any, article: Article) -> None:
    response = client.get(bare(article), {"audience": "clinician"})
    assert response["Location"] == audience_url(article, "clinician")
    cookie = response.cookies["audience"]
    assert cookie.value == "clinician"
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) >= 30 * 24 * 3600
    # The test client keeps the cookie, as a browser would: the bare URL now remembers.
    assert client.get(bare(article))["Location"] == audience_url(article, "clinician")
    client.get(bare(article), {"audience": "patient"})
    assert client.get(bare(article))["Location"] == audience_url(article, "patient")


def test_an_unknown_audience_is_neither_remembered_nor_served(client: Any, article: Article) -> None:
    response = client.get(bare(article), {"audience": "robot"})
    assert response["Location"] == audience_url(article, "patient")
    assert "audience" not in response.cookies
    assert client.get(audience_url(article, "robot")).status_code == 404


@pytest.mark.parametrize(
    ("audience", "title", "other_label"),
    [
        ("patient", editorial.PATIENT.title, "Healthcare professional"),
        ("clinician", editorial.CLINICIAN.title, "Patient or caregiver"),
    ],
)
def test_each_audience_url_shows_its_own_version(
    client: Any, article: Article, audience: str, title: str, other_label: str
) -> None:
    response = client.get(audience_url(article, audience))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<h2 class="variant-title">{title}</h2>' in html
    assert f'<link rel="canonical" href="http://testserver{audience_url(article, audience)}">' in html
    # The switch is plain links to the bare URL with ?audience=, so it works without JavaScript.
    other = "clinician" if audience == "patient" else "patient"
    assert f'<a href="{bare(article)}?audience={other}" data-audience="{other}">{other_label}</a>' in html
    assert f'data-audience="{audience}" aria-current="page"' in html


def test_switching_without_javascript_is_following_the_links(client: Any, article: Article) -> None:
    page = client.get(audience_url(article, "patient"), follow=False).content.decode()
    assert f'href="{bare(article)}?audience=clinician"' in page
    response = client.get(bare(article), {"audience": "clinician"}, follow=True)
    assert response.redirect_chain == [(audience_url(article, "clinician"), 302)]
    assert editorial.CLINICIAN.title in response.content.decode()


def test_missing_version_falls_back_to_the_other_with_a_note(client: Any, article: Article) -> None:
    # A publication holding one version only (as an imported, single-audience article could be).
    PublishedVariant.objects.filter(publication=article.live_publication, audience="patient").delete()
    response = client.get(audience_url(article, "patient"))
    html = response.content.decode()
    assert response.status_code == 200
    assert editorial.CLINICIAN.title in html
    assert editorial.PATIENT.title not in html
    assert "There is no patient or caregiver version of this article yet" in html
    # The page is the clinician version, so that is the address search engines are given.
    assert f'href="http://testserver{audience_url(article, "clinician")}"' in html
    assert "There is no" not in client.get(audience_url(article, "clinician")).content.decode()


def test_the_bare_url_of_an_unpublished_article_leads_to_not_found(client: Any, cast: Any) -> None:
    draft = editorial.new_article(cast)
    response = client.get(bare(draft), follow=True)
    assert response.status_code == 404
