"""The Crossref and PubMed clients read the services' real answers, and tell apart "not found",
"the service refused" and "unreachable" (which must never pass for either)."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

import pytest
from django.test import override_settings

from articles.citations import (
    CrossrefClient,
    NotFound,
    PubMedClient,
    ServiceRefused,
    ServiceUnreachable,
    SummaryError,
    WorkUpdate,
)
from articles.citations.crossref import error_messages, parse_work
from articles.citations.pubmed import RETRACTED_PUBLICATION, parse_efetch, parse_esummary
from articles.citations.ratelimit import RateLimiter
from tests.fakeweb import FakeWeb, closed_port, fakeweb_fixture, sample, sample_json  # noqa: F401

FAST: dict[str, Any] = {"retries": 2, "backoff": 0.01}


# --- Crossref: parsing the recorded works ---------------------------------------------------------


def test_journal_article_metadata_with_a_year_month_issue_date() -> None:
    work = parse_work(sample_json("crossref-work-journal-article.json")["message"])
    assert work.doi == "10.1016/j.neurobiolaging.2010.03.024"
    assert work.type == "journal-article"
    assert work.title.startswith("Human umbilical cord blood-derived mesenchymal stem cells")
    assert work.authors[:4] == ("Lee HJ", "Lee JK", "Lee H", "Carter JE")
    assert work.container_title == "Neurobiology of Aging"
    assert (work.year, work.volume, work.pages) == (2012, "33", "588-602")


def test_a_has_review_relation_is_not_an_update_signal() -> None:
    work = parse_work(sample_json("crossref-work-journal-article.json")["message"])
    assert work.updated_by == () and work.update_to == ()


def test_correction_notice_listed_in_updated_by() -> None:
    work = parse_work(sample_json("crossref-work-updated-by-correction.json")["message"])
    assert work.updated_by == (
        WorkUpdate(
            type="correction",
            doi="10.1371/annotation/c76da2c1-ccb8-4797-94c1-359d3ceceeda",
            label="Correction",
            source="publisher",
            updated=date(2012, 5, 8),
        ),
    )
    assert work.update_to == ()


def test_self_referencing_new_version_is_ignored_both_ways() -> None:
    work = parse_work(sample_json("crossref-work-self-new-version-update.json")["message"])
    assert work.doi == "10.1371/journal.ppat.1008184"
    assert work.updated_by == () and work.update_to == ()
    assert work.authors[2] == "Mühlen S"


def test_erratum_notice_in_a_work_list_points_at_the_work_it_corrects_without_a_source() -> None:
    item = sample_json("crossref-worklist-filter-with-update-to-erratum.json")["message"]["items"][14]
    work = parse_work(item)
    assert work.doi == "10.1016/j.combustflame.2021.02.017"
    assert work.title.startswith("Corrigendum to")
    assert work.update_to == (
        WorkUpdate(
            type="erratum",
            doi="10.1016/j.combustflame.2019.01.006",
            label="Erratum",
            source=None,
            updated=date(2021, 7, 1),
        ),
    )
    assert work.updated_by == ()


def test_every_item_of_the_older_2017_work_list_parses() -> None:
    items = sample_json("crossref-worklist-works-filter.json")["message"]["items"]
    works = [parse_work(item) for item in items]
    assert len(works) == 20
    assert works[0].doi == "10.1016/j.trac.2016.01.027"
    assert works[0].year == 2016
    assert all(w.doi.startswith("10.") for w in works)


def test_error_envelope_message_is_a_list() -> None:
    text = error_messages(sample_json("crossref-error-400-filter-not-available.json"))
    assert text.startswith("Filter 'has-full-text' specified but there is no such filter")


# --- Crossref: through the loopback server ---------------------------------------------------------


def test_client_fetches_a_recorded_work(fakeweb: FakeWeb) -> None:
    with CrossrefClient(**FAST) as crossref:
        work = crossref.work("10.1371/journal.pone.0033693")
    assert work.title.startswith("Methylphenidate Exposure Induces Dopamine Neuron Loss")
    assert [u.type for u in work.updated_by] == ["correction"]


def test_polite_pool_address_is_sent_when_configured(fakeweb: FakeWeb) -> None:
    with override_settings(CROSSREF_MAILTO="editors@example.org"), CrossrefClient(**FAST) as crossref:
        crossref.work("10.1371/journal.pone.0033693")
    assert fakeweb.seen("/works/10.1371/journal.pone.0033693")[0].params["mailto"] == "editors@example.org"


def test_plain_text_404_is_not_found(fakeweb: FakeWeb) -> None:
    assert sample("crossref-error-404-resource-not-found.txt") == b"Resource not found."
    with CrossrefClient(**FAST) as crossref, pytest.raises(NotFound, match=r"10\.1371/notarealdoi"):
        crossref.work("10.1371/notarealdoi")


def test_json_400_error_envelope_is_a_refusal_carrying_the_message(fakeweb: FakeWeb) -> None:
    body = sample("crossref-error-400-filter-not-available.json")
    fakeweb.fail_next("/crossref/works/10.1371/journal.pone.0033693", 400, body=body, content_type="application/json")
    with CrossrefClient(**FAST) as crossref, pytest.raises(ServiceRefused) as refused:
        crossref.work("10.1371/journal.pone.0033693")
    assert refused.value.status == 400
    assert "Filter 'has-full-text' specified" in str(refused.value)
    assert not isinstance(refused.value, NotFound)


def test_a_500_is_retried_then_the_work_is_returned(fakeweb: FakeWeb) -> None:
    fakeweb.fail_next("/crossref/works/10.1371/journal.pone.0033693", 500)
    with CrossrefClient(**FAST) as crossref:
        work = crossref.work("10.1371/journal.pone.0033693")
    assert work.doi == "10.1371/journal.pone.0033693"
    assert len(fakeweb.seen("/works/10.1371/journal.pone.0033693")) == 2


def test_429_is_retried_too(fakeweb: FakeWeb) -> None:
    fakeweb.fail_next("/crossref/works/10.1371/journal.pone.0033693", 429, 429)
    with CrossrefClient(**FAST) as crossref:
        assert crossref.work("10.1371/journal.pone.0033693").volume == "7"
    assert len(fakeweb.seen("/works/10.1371/journal.pone.0033693")) == 3


def test_a_service_failing_through_every_retry_is_unreachable_not_missing(fakeweb: FakeWeb) -> None:
    fakeweb.fail_next("/crossref/works/10.1371/journal.pone.0033693", 503, 503, 503)
    with CrossrefClient(**FAST) as crossref, pytest.raises(ServiceUnreachable, match="HTTP 503") as failed:
        crossref.work("10.1371/journal.pone.0033693")
    assert not isinstance(failed.value, NotFound | ServiceRefused)
    assert len(fakeweb.seen("/works/10.1371/journal.pone.0033693")) == 3


def test_a_closed_port_is_unreachable_not_missing() -> None:
    nowhere = override_settings(CROSSREF_API_URL=f"http://127.0.0.1:{closed_port()}")
    with nowhere, CrossrefClient(**FAST) as crossref, pytest.raises(ServiceUnreachable, match="ConnectError") as failed:
        crossref.work("10.1371/journal.pone.0033693")
    assert not isinstance(failed.value, NotFound | ServiceRefused)


# --- PubMed: esummary ------------------------------------------------------------------------------


def test_recorded_esummary_record() -> None:
    found = parse_esummary(sample_json("pubmed-esummary-single.json"), ["27933103"])
    summary = found["27933103"]
    assert not isinstance(summary, SummaryError)
    assert summary.title == "Programmatic conversion of crystal structures into 3D printable files using Jmol"
    assert summary.authors[0] == "Scalfani VF" and len(summary.authors) == 8
    assert (summary.source, summary.journal) == ("J Cheminform", "Journal of cheminformatics")
    assert (summary.year, summary.volume, summary.pages) == (2016, "8", "66")
    assert (summary.doi, summary.pmcid) == ("10.1186/s13321-016-0181-z", "PMC5122160")
    assert summary.publication_types == ("Journal Article",)


def test_per_id_error_inside_a_successful_batch_is_reported_for_that_id(fakeweb: FakeWeb) -> None:
    journal = "The New England journal of medicine"
    fakeweb.add_summary(
        "29782217",
        title="Dupilumab efficacy.",
        authors=["Castro M"],
        journal=journal,
        source="N Engl J Med",
        pubdate="2018 Jun 28",
        pages="2486-2496",
    )
    with PubMedClient(**FAST) as pubmed:
        found = pubmed.summaries(["27933103", "1", "29782217"])
    assert found["1"] == SummaryError("1", "PubMed: cannot get document summary.")
    assert not isinstance(found["27933103"], SummaryError)
    castro = found["29782217"]
    assert not isinstance(castro, SummaryError)
    assert (castro.title, castro.year, castro.doi) == ("Dupilumab efficacy", 2018, None)  # pmcrefcount "" is fine
    assert len(fakeweb.seen("esummary.fcgi")) == 1


def test_ids_are_sent_200_per_request(fakeweb: FakeWeb) -> None:
    pmids = [str(10_000_000 + n) for n in range(450)]
    started = time.monotonic()
    with PubMedClient(**FAST) as pubmed:
        found = pubmed.summaries(pmids)
    assert time.monotonic() - started >= 0.6  # three requests at no more than 3 a second (no API key)
    assert len(found) == 450 and all(isinstance(v, SummaryError) for v in found.values())
    assert [len(r.ids) for r in fakeweb.seen("esummary.fcgi")] == [200, 200, 50]
    assert all(r.params["db"] == "pubmed" and r.params["retmode"] == "json" for r in fakeweb.seen("esummary.fcgi"))


def test_api_key_is_sent_when_configured(fakeweb: FakeWeb) -> None:
    with override_settings(NCBI_API_KEY="k-123"), PubMedClient(**FAST) as pubmed:
        pubmed.summaries(["27933103"])
    assert fakeweb.seen("esummary.fcgi")[0].params["api_key"] == "k-123"


def test_a_top_level_error_answer_fails_the_request(fakeweb: FakeWeb) -> None:
    # The recorded answer to an esummary without ids is XML, not JSON: the whole request is refused.
    fakeweb.fail_next(
        "/eutils/esummary.fcgi", 200, body=sample("eutils-esummary-error-no-id.xml"), content_type="text/xml"
    )
    with PubMedClient(**FAST) as pubmed, pytest.raises(ServiceRefused):
        pubmed.summaries(["27933103"])
    with pytest.raises(ServiceRefused, match="Empty id list"):
        parse_esummary({"header": {"type": "esummary"}, "error": "Empty id list - nothing todo"}, ["1"])


def test_pubmed_500_then_200_and_closed_port(fakeweb: FakeWeb) -> None:
    fakeweb.fail_next("/eutils/esummary.fcgi", 502)
    with PubMedClient(**FAST) as pubmed:
        assert not isinstance(pubmed.summaries(["27933103"])["27933103"], SummaryError)
    assert len(fakeweb.seen("esummary.fcgi")) == 2
    nowhere = override_settings(EUTILS_API_URL=f"http://127.0.0.1:{closed_port()}")
    with nowhere, PubMedClient(**FAST) as pubmed, pytest.raises(ServiceUnreachable):
        pubmed.summaries(["27933103"])


# --- PubMed: efetch notices ------------------------------------------------------------------------


def test_retracted_article_with_retraction_erratum_and_concern_among_comments() -> None:
    (record,) = parse_efetch(sample("pubmed-efetch-retracted-wakefield.xml"))
    assert record.pmid == "9500320"
    assert record.doi == "10.1016/s0140-6736(97)11096-0"
    assert record.has_publication_type("retracted publication")
    assert [(n.ref_type, n.pmid) for n in record.notices] == [
        ("ErratumIn", "15016483"),
        ("RetractionIn", "20137807"),
        ("ExpressionOfConcernIn", "21971344"),
    ]  # the 26 CommentIn entries are discussion, not notices
    assert record.notices_of_type("RetractionIn")[0].ref_source.startswith("Lancet. 2010 Feb 6")


def test_legacy_retracted_record_without_ui_among_cites() -> None:
    (record,) = parse_efetch(sample("pubmed-efetch-retracted-legacy-2011.xml"))
    assert record.pmid == "993"
    retracted = [pt for pt in record.publication_types if pt.name == RETRACTED_PUBLICATION]
    assert retracted and retracted[0].ui == ""
    assert [(n.ref_type, n.pmid) for n in record.notices] == [("RetractionIn", "195582")]


def test_retraction_notice_type_compared_case_insensitively() -> None:
    (record,) = parse_efetch(sample("pubmed-efetch-retraction-notice-legacy-2016.xml"))
    assert record.has_publication_type("Retraction of Publication")
    assert not record.has_publication_type(RETRACTED_PUBLICATION)
    assert [(n.ref_type, n.pmid) for n in record.notices] == [("RetractionOf", "26435620")]


def test_corrected_article_is_not_retracted() -> None:
    (record,) = parse_efetch(sample("pubmed-efetch-erratum-in.xml"))
    assert record.pmid == "35649368"
    assert not record.has_publication_type(RETRACTED_PUBLICATION)
    assert record.notices_of_type("RetractionIn") == ()
    assert [(n.ref_type, n.pmid) for n in record.notices] == [("ErratumIn", "35767954")]


def test_published_erratum_notice() -> None:
    (record,) = parse_efetch(sample("pubmed-efetch-published-erratum-notice.xml"))
    assert record.has_publication_type("published erratum")
    assert [(n.ref_type, n.pmid) for n in record.notices] == [("ErratumFor", "33279609")]
    assert record.title.startswith("Corrigendum to")


def test_efetch_through_the_client_in_one_request(fakeweb: FakeWeb) -> None:
    with PubMedClient(**FAST) as pubmed:
        records = pubmed.records(["9500320", "35649368", "424242"])
    assert set(records) == {"9500320", "35649368"}
    assert records["9500320"].has_publication_type(RETRACTED_PUBLICATION)
    assert [r.ids for r in fakeweb.seen("efetch.fcgi")] == [["9500320", "35649368", "424242"]]


# --- NCBI rate limit -------------------------------------------------------------------------------


def test_rate_limit_is_shared_by_limiters_in_different_processes() -> None:
    # Two limiters with the same name stand for two worker processes: they share the Redis slots.
    name = f"test-{uuid.uuid4().hex}"
    first, second = RateLimiter(name, per_second=10), RateLimiter(name, per_second=10)
    started = time.monotonic()
    for n in range(11):
        (first if n % 2 else second).wait()
    assert time.monotonic() - started >= 0.95
