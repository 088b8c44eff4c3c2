"""The loopback stand-in itself speaks the services' formats (other tests and bench/ build on it)."""

from __future__ import annotations

import httpx

from articles.citations.crossref import parse_work
from articles.citations.pubmed import parse_efetch
from tests.fakeweb import FakeWeb, crossref_update, fakeweb_fixture  # noqa: F401


def test_crossref_filter_finds_works_by_doi_and_notices_by_what_they_update(fakeweb: FakeWeb) -> None:
    fakeweb.add_work("10.5555/paper", updated_by=[crossref_update("10.5555/fix", "correction")])
    fakeweb.add_notice("10.5555/retraction", updates="10.5555/old")
    params = {"filter": "doi:10.5555/paper,doi:10.5555/absent,updates:10.5555/x", "rows": "10"}
    assert httpx.get(fakeweb.url("/crossref/works"), params=params).json()["message"]["items"] == []
    by_doi = httpx.get(fakeweb.url("/crossref/works"), params={"filter": "doi:10.5555/paper,doi:10.5555/absent"})
    assert [parse_work(item).doi for item in by_doi.json()["message"]["items"]] == ["10.5555/paper"]
    both = "updates:10.5555/old,updates:10.1016/j.combustflame.2019.01.006"
    notices = httpx.get(fakeweb.url("/crossref/works"), params={"filter": both}).json()["message"]["items"]
    assert sorted(parse_work(item).doi for item in notices) == ["10.1016/j.combustflame.2021.02.017",
                                                                "10.5555/retraction"]  # fmt: skip


def test_a_comma_in_a_filter_value_breaks_the_filter_as_it_does_at_crossref(fakeweb: FakeWeb) -> None:
    answer = httpx.get(fakeweb.url("/crossref/works"), params={"filter": "updates:10.1001/jama.251.7.878,883"})
    assert answer.status_code == 400
    assert answer.json()["message-type"] == "validation-failure"


def test_bulk_records_and_pages(fakeweb: FakeWeb) -> None:
    fakeweb.add_clean_works(f"10.5555/bulk.{n}" for n in range(300))
    fakeweb.add_clean_articles(str(n) for n in range(1000, 1300))
    fakeweb.add_page("/slow", delay=0.01)
    fakeweb.redirect("/old", "/slow")
    assert httpx.get(fakeweb.url("/crossref/works/10.5555/bulk.7")).json()["message"]["title"]
    xml = httpx.get(fakeweb.url("/eutils/efetch.fcgi"), params={"id": "1000,1299,5"}).content
    assert [r.pmid for r in parse_efetch(xml)] == ["1000", "1299"]
    assert httpx.head(fakeweb.url("/old")).headers["Location"] == "/slow"
    assert httpx.get(fakeweb.url("/old"), follow_redirects=True).status_code == 200
    assert fakeweb.max_in_flight >= 1
