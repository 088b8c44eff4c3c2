"""Search as readers and writers type it: words in any order, stems, best match first, typos forgiven on
PostgreSQL, the matched words highlighted; the same rules for the reference library. Runs on both
databases (the PostgreSQL-only behaviour is skipped on SQLite)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import Article, Reference
from articles.search import highlight, words
from articles.texts import VariantText
from tests import editorial

on_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="typo tolerance is trigram similarity, PostgreSQL only"
)
LIBRARY = reverse("library:list")


def approved_on(cast: Any, title: str, *, summary: str = "", body: str = "", topic: str = "Asthma") -> Article:
    patient = VariantText(
        "What to know",
        summary or "Talk with your care team about what suits you.",
        body or "Each plan is different.\n",
    )
    text = editorial.article_text(title, patient=patient, clinician=editorial.CLINICIAN)
    return editorial.approved(cast, text=type(text)(text.title, text.kind, topic, text.variants))


def titles_found(client: Client, query: str) -> list[str]:
    html = client.get("/", {"q": query}).content.decode()
    results = html.split('class="article-list search-results"', 1)[-1]
    return [re.sub(r"<[^>]+>", "", title) for title in re.findall(r'<a href="/articles/[^"]+">(.*?)</a>', results)]


def test_words_match_in_any_order_and_by_stem(client: Client, cast: Any) -> None:
    approved_on(cast, "Is a biologic right for my asthma?")
    approved_on(cast, "Can eczema spread?", topic="Dermatology")
    for query in ("asthma biologic", "biologic asthma", "Biologics for asthma", "asthma"):
        assert titles_found(client, query) == ["Is a biologic right for my asthma?"], query
    assert titles_found(client, "biologic eczema") == []  # every word must match


def test_best_match_first_title_before_bottom_line_before_text(client: Client, cast: Any) -> None:
    approved_on(cast, "Does exercise help?", body="A nebuliser can help some people.\n")
    approved_on(cast, "Will a spacer help?", summary="A nebuliser is rarely needed at home.")
    approved_on(cast, "Which nebuliser should I buy?")
    assert titles_found(client, "nebuliser") == [
        "Which nebuliser should I buy?",
        "Will a spacer help?",
        "Does exercise help?",
    ]


def test_matched_words_are_highlighted_and_escaped(client: Client, cast: Any) -> None:
    approved_on(cast, "Is a biologic <em>right</em> for my asthma?")
    html = client.get("/", {"q": "biologics asthma"}).content.decode()
    assert "Is a <mark>biologic</mark> &lt;em&gt;right&lt;/em&gt; for my <mark>asthma</mark>?" in html
    assert str(highlight("Biologic therapy & asthma", "biologics")) == "<mark>Biologic</mark> therapy &amp; asthma"
    assert words("Biologics, inhalers and wheezing") == ["biologic", "inhaler", "and", "wheez"]


@on_postgresql
def test_a_typo_still_finds_the_article(client: Client, cast: Any) -> None:
    approved_on(cast, "Is dupilumab safe for children?")
    approved_on(cast, "Can eczema spread?", topic="Dermatology")
    assert titles_found(client, "dupilumb") == ["Is dupilumab safe for children?"]


def test_search_answers_in_a_fixed_number_of_queries(client: Client, cast: Any) -> None:
    def count_for_search() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/", {"q": "asthma plan"}).status_code == 200
        return len(queries)

    approved_on(cast, "First asthma question?")
    few = count_for_search()
    for n in range(6):
        approved_on(cast, f"Asthma question {n}?")
    assert count_for_search() == few


# --- The reference library ------------------------------------------------------------------------


def library_keys(client: Client, query: str) -> list[str]:
    html = client.get(LIBRARY, {"q": query}).content.decode()
    return re.findall(r"<td><code>([^<]+)</code></td>", html)


@pytest.fixture
def library(cast: Any) -> Client:
    Reference.objects.create(
        key="castro2018",
        title="Dupilumab efficacy and safety in moderate-to-severe uncontrolled asthma",
        authors="Castro M\nCorren J",
        source="The New England Journal of Medicine",
        year=2018,
        doi="10.1056/nejmoa1804092",
        pmid="29782217",
    )
    Reference.objects.create(
        key="gina2024",
        title="Global strategy for asthma management and prevention",
        authors="Global Initiative for Asthma",
        source="GINA",
        year=2024,
    )
    Reference.objects.create(
        key="simpson2016", title="Two phase 3 trials of dupilumab versus placebo in atopic dermatitis", year=2016
    )
    client = Client()
    client.force_login(cast.writer)
    return client


def test_library_words_in_any_order_across_title_authors_and_source(library: Client) -> None:
    assert library_keys(library, "dupilumab asthma") == ["castro2018"]
    assert library_keys(library, "asthma dupilumab") == ["castro2018"]
    assert library_keys(library, "castro england") == ["castro2018"]  # an author and the journal
    assert library_keys(library, "trials dupilumab") == ["simpson2016"]  # stem: "trials" → "trial"
    assert sorted(library_keys(library, "dupilumab")) == ["castro2018", "simpson2016"]


def test_library_finds_identifiers_and_ranks_title_matches_first(library: Client) -> None:
    assert library_keys(library, "https://doi.org/10.1056/NEJMoa1804092") == ["castro2018"]
    assert library_keys(library, "PMID: 29782217") == ["castro2018"]
    assert library_keys(library, "29782217") == ["castro2018"]
    # "asthma" is in both titles, and also the author of gina2024: the fuller match first.
    assert library_keys(library, "asthma") == ["gina2024", "castro2018"]
    html = library.get(LIBRARY, {"q": "dupilumab asthma"}).content.decode()
    assert "<mark>Dupilumab</mark> efficacy" in html and "uncontrolled <mark>asthma</mark>" in html


@on_postgresql
def test_library_forgives_a_typo(library: Client) -> None:
    assert library_keys(library, "dupilumb asthma") == ["castro2018"]


def test_library_search_answers_in_a_fixed_number_of_queries(library: Client) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert library.get(LIBRARY, {"q": "asthma"}).status_code == 200
        return len(queries)

    few = count()
    Reference.objects.bulk_create(Reference(key=f"ref{n}", title=f"Asthma paper {n}") for n in range(30))
    assert count() == few
