"""The Crossref and PubMed checkers against a loopback server speaking the services' real formats: every
signal gets its own verdict, notices cited by mistake are named as such, and a fault is never read as
"clean" or "retracted"."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from django.test import override_settings

from articles.citations.crossref import CrossrefChecker
from articles.citations.pubmed import PubMedChecker
from articles.citations.verdicts import ReferenceToCheck, Standing, Verdict
from tests.fakeweb import FakeWeb, crossref_update, fakeweb_fixture  # noqa: F401

FAST: dict[str, Any] = {"retries": 2, "backoff": 0.01}
WAKEFIELD_DOI = "10.1016/S0140-6736(97)11096-0"  # parentheses and upper case, as people type it


def doi_ref(doi: str, id: int = 1) -> ReferenceToCheck:
    return ReferenceToCheck(id=id, kind="research", year=2012, doi=doi, pmid=None, url="")


def pmid_ref(pmid: str, id: int = 1) -> ReferenceToCheck:
    return ReferenceToCheck(id=id, kind="research", year=2012, doi=None, pmid=pmid, url="")


def crossref(*dois: str) -> list[Verdict]:
    return CrossrefChecker(**FAST).check([doi_ref(doi, n) for n, doi in enumerate(dois, start=1)])


def pubmed(*pmids: str) -> list[Verdict]:
    return PubMedChecker(**FAST).check([pmid_ref(pmid, n) for n, pmid in enumerate(pmids, start=1)])


def add_wakefield(fakeweb: FakeWeb) -> None:
    # Its live record as documented: two Retraction Watch entries, a 2004 correction and the 2010 retraction.
    fakeweb.add_work(
        WAKEFIELD_DOI.lower(),
        title="Ileal-lymphoid-nodular hyperplasia, non-specific colitis, and pervasive developmental disorder",
        year=1998,
        updated_by=[
            crossref_update("10.1016/s0140-6736(04)15715-2", "correction", source="retraction-watch",
                            date=(2004, 3, 6), record_id=17269),
            crossref_update("10.1016/s0140-6736(10)60175-4", "retraction", source="retraction-watch",
                            date=(2010, 2, 6), record_id=4036),
        ],
    )  # fmt: skip


# --- Crossref ------------------------------------------------------------------------------------


def test_retraction_watch_retraction_is_the_headline_with_its_record_and_date(fakeweb: FakeWeb) -> None:
    add_wakefield(fakeweb)
    (verdict,) = crossref(WAKEFIELD_DOI)
    assert (verdict.checker, verdict.standing) == ("crossref", Standing.RETRACTED)
    assert verdict.notice_date == date(2010, 2, 6)
    assert verdict.summary.startswith(
        "Retracted on 6 February 2010 (notice 10.1016/s0140-6736(10)60175-4, per Retraction Watch record 4036)."
    )
    assert "Also: correction (10.1016/s0140-6736(04)15715-2)." in verdict.summary
    evidence = verdict.evidence
    assert (evidence["source"], evidence["record_id"], evidence["notice_date"]) == ("retraction-watch", "4036",
                                                                                    "2010-02-06")  # fmt: skip
    assert [n["type"] for n in evidence["notices"]] == ["retraction", "correction"]
    assert evidence["disagreements"] == ["Only Retraction Watch records this; the publisher has deposited no notice."]


def test_a_retraction_seen_only_through_the_reverse_updates_query(fakeweb: FakeWeb) -> None:
    fakeweb.add_work("10.5555/quietly.retracted", title="A paper whose record was never updated")
    fakeweb.add_notice("10.5555/retraction.2009", updates="10.5555/quietly.retracted", source=None, date=(2009, 5, 4))
    (verdict,) = crossref("10.5555/quietly.retracted")
    assert verdict.standing == Standing.RETRACTED
    assert verdict.evidence["notice_doi"] == "10.5555/retraction.2009"
    assert verdict.evidence["notices"][0]["found_via"] == "updates-query"
    assert verdict.notice_date == date(2009, 5, 4)


def test_correction_concern_new_version_and_note_each_get_their_own_standing(fakeweb: FakeWeb) -> None:
    fakeweb.add_work("10.5555/concern", updated_by=[crossref_update("10.5555/eoc", "expression_of_concern")])
    fakeweb.add_work("10.5555/v1", updated_by=[crossref_update("10.5555/v2", "new_version")])
    fakeweb.add_work("10.5555/edition", updated_by=[crossref_update("10.5555/ed2", "new_edition")])
    fakeweb.add_work("10.5555/addendum", updated_by=[crossref_update("10.5555/add", "addendum")])
    fakeweb.add_work("10.5555/partly", updated_by=[crossref_update("10.5555/pr", "partial_retraction")])
    verdicts = crossref("10.1371/journal.pone.0033693", "10.5555/concern", "10.5555/v1", "10.5555/edition",
                        "10.5555/addendum", "10.5555/partly")  # fmt: skip
    assert [v.standing for v in verdicts] == [Standing.CORRECTED, Standing.UNDER_QUESTION, Standing.SUPERSEDED,
                                              Standing.SUPERSEDED, Standing.NOTE, Standing.RETRACTED]  # fmt: skip
    corrected = verdicts[0]
    assert corrected.evidence["notice_doi"] == "10.1371/annotation/c76da2c1-ccb8-4797-94c1-359d3ceceeda"
    assert corrected.evidence["source"] == "publisher"
    assert corrected.summary.startswith("Corrected on 8 May 2012 (notice 10.1371/annotation/")


def test_clean_papers_including_a_self_referencing_new_version_are_clean(fakeweb: FakeWeb) -> None:
    verdicts = crossref("10.1016/j.neurobiolaging.2010.03.024", "10.1371/journal.ppat.1008184")
    assert [v.standing for v in verdicts] == [Standing.CLEAN, Standing.CLEAN]


def test_a_notice_cited_by_mistake_is_named_as_the_notice_of_the_paper(fakeweb: FakeWeb) -> None:
    fakeweb.add_notice("10.5555/retraction.notice", updates="10.5555/the.paper", date=(2021, 9, 1))
    recorded_erratum, retraction = crossref("10.1016/j.combustflame.2021.02.017", "10.5555/retraction.notice")
    assert recorded_erratum.standing == Standing.IS_NOTICE
    assert recorded_erratum.summary.startswith(
        "This DOI is the erratum notice of 10.1016/j.combustflame.2019.01.006 (1 July 2021), not a paper"
    )
    assert retraction.standing == Standing.IS_NOTICE
    assert "retraction notice of 10.5555/the.paper" in retraction.summary


def test_an_in_place_retraction_is_the_paper_retracted_not_a_notice(fakeweb: FakeWeb) -> None:
    itself = [crossref_update("10.5555/in-place", "retraction", date=(2023, 4, 5))]
    fakeweb.add_work("10.5555/in-place", updated_by=itself, update_to=itself)
    (verdict,) = crossref("10.5555/in-place")
    assert verdict.standing == Standing.RETRACTED
    assert verdict.evidence["notices"][0]["found_via"] == "updated-by and updates-query"


def test_a_paper_reinstated_after_its_retraction_is_no_longer_retracted(fakeweb: FakeWeb) -> None:
    fakeweb.add_work("10.5555/reinstated", updated_by=[
        crossref_update("10.5555/ret", "retraction", source="retraction-watch", date=(2019, 1, 2), record_id=1),
        crossref_update("10.5555/back", "reinstatement", source="retraction-watch", date=(2020, 6, 7), record_id=2),
    ])  # fmt: skip
    (verdict,) = crossref("10.5555/reinstated")
    assert verdict.standing == Standing.NOTE
    assert verdict.summary.startswith("Reinstated after a retraction on 7 June 2020")
    assert [entry["notice_doi"] for entry in verdict.evidence["set_aside"]] == ["10.5555/ret"]


def test_disagreeing_sources_are_both_shown(fakeweb: FakeWeb) -> None:
    fakeweb.add_work(
        "10.5555/disputed",
        updated_by=[
            crossref_update("10.5555/notice", "correction", source="publisher", date=(2022, 1, 3)),
            crossref_update("10.5555/notice", "retraction", source="retraction-watch", date=(2022, 1, 3), record_id=9),
        ],
    )
    (verdict,) = crossref("10.5555/disputed")
    assert verdict.standing == Standing.RETRACTED
    assert verdict.evidence["sources"] == ["publisher", "retraction-watch"]
    assert verdict.evidence["disagreements"] == [
        "Sources disagree about notice 10.5555/notice: the publisher calls it correction; "
        "Retraction Watch calls it retraction.",
        "Sources disagree: the publisher records correction (10.5555/notice); "
        "Retraction Watch records retraction (10.5555/notice).",
    ]
    assert "Sources disagree" in verdict.summary


def test_dois_go_several_to_a_request_both_ways_with_the_polite_address(fakeweb: FakeWeb) -> None:
    dois = [f"10.5555/many.{n}" for n in range(60)]
    fakeweb.add_clean_works(dois)
    fakeweb.add_notice("10.5555/late.retraction", updates="10.5555/many.59")
    with override_settings(CROSSREF_DOIS_PER_REQUEST=25, CROSSREF_MAILTO="editors@example.org"):
        verdicts = crossref(*dois)
    lists = fakeweb.seen("/crossref/works")
    assert [r.params["filter"].split(":")[0] for r in lists] == ["doi", "updates"] * 3
    assert all(r.params["mailto"] == "editors@example.org" for r in lists)
    assert [v.standing for v in verdicts].count(Standing.CLEAN) == 59
    assert verdicts[-1].standing == Standing.RETRACTED


def test_a_doi_with_a_comma_is_looked_up_alone_and_never_breaks_a_filter(fakeweb: FakeWeb) -> None:
    fakeweb.add_work("10.1001/jama.251.7.878,883", year=1984)
    fakeweb.add_work("10.1001/jama.258.22.3217,3219", updated_by=[crossref_update("10.1001/ret", "retraction")])
    fakeweb.add_work("10.5555/neighbour")
    unknown, retracted, neighbour = crossref("10.1001/jama.251.7.878,883", "10.1001/jama.258.22.3217,3219",
                                             "10.5555/neighbour")  # fmt: skip
    assert unknown.standing == Standing.UNKNOWN
    assert "check by hand" in unknown.summary
    assert retracted.standing == Standing.RETRACTED
    assert neighbour.standing == Standing.CLEAN
    assert all("," not in r.params["filter"].replace(",doi:", "").replace(",updates:", "")
               for r in fakeweb.seen("/crossref/works"))  # fmt: skip
    assert len(fakeweb.seen("/crossref/works/10.1001/jama.251.7.878,883")) == 1


def test_a_filter_refused_with_400_is_an_error_never_clean(fakeweb: FakeWeb) -> None:
    body = b'{"status":"failed","message-type":"validation-failure","message":[{"type":"x","message":"bad filter"}]}'
    fakeweb.fail_next("/crossref/works", 400, body=body, content_type="application/json", only_if="updates:")
    (verdict,) = crossref("10.1016/j.neurobiolaging.2010.03.024")
    assert verdict.standing == Standing.ERROR
    assert "bad filter" in verdict.summary
    assert verdict.evidence["http_status"] == 400


def test_crossref_down_through_every_retry_is_unreachable(fakeweb: FakeWeb) -> None:
    add_wakefield(fakeweb)
    fakeweb.fail_next("/crossref/works", 503, 503, 503)
    verdicts = crossref(WAKEFIELD_DOI, "10.1016/j.neurobiolaging.2010.03.024")
    assert [v.standing for v in verdicts] == [Standing.UNREACHABLE, Standing.UNREACHABLE]
    assert "HTTP 503" in verdicts[0].summary
    assert len(fakeweb.seen("/crossref/works")) == 3


def test_when_only_the_reverse_query_fails_a_known_retraction_stands_but_nothing_is_called_clean(
    fakeweb: FakeWeb,
) -> None:
    add_wakefield(fakeweb)
    fakeweb.fail_next("/crossref/works", 503, 503, 503, only_if="updates:")
    retracted, unknown = crossref(WAKEFIELD_DOI, "10.1016/j.neurobiolaging.2010.03.024")
    assert retracted.standing == Standing.RETRACTED
    assert "failed" in retracted.evidence["incomplete"]
    assert unknown.standing == Standing.UNREACHABLE


def test_a_429_with_retry_after_is_waited_out(fakeweb: FakeWeb) -> None:
    fakeweb.fail_next("/crossref/works", 429, headers={"Retry-After": "0"})
    (verdict,) = crossref("10.1016/j.neurobiolaging.2010.03.024")
    assert verdict.standing == Standing.CLEAN
    assert len(fakeweb.seen("/crossref/works")) == 3


def test_an_unknown_doi_is_an_error_not_clean(fakeweb: FakeWeb) -> None:
    (verdict,) = crossref("10.5555/never-registered")
    assert verdict.standing == Standing.ERROR
    assert "no record" in verdict.summary


def test_references_sharing_a_doi_each_get_the_verdict(fakeweb: FakeWeb) -> None:
    add_wakefield(fakeweb)
    website = ReferenceToCheck(9, "website", None, None, None, "https://x.org")
    verdicts = CrossrefChecker(**FAST).check([doi_ref(WAKEFIELD_DOI, 7), doi_ref(WAKEFIELD_DOI.lower(), 8), website])
    assert [(v.reference_id, v.standing) for v in verdicts] == [(7, Standing.RETRACTED), (8, Standing.RETRACTED)]
    assert len(fakeweb.seen("/crossref/works")) == 2


# --- PubMed --------------------------------------------------------------------------------------


def test_one_request_for_200_pmids_finds_the_one_retracted_among_199_clean(fakeweb: FakeWeb) -> None:
    clean = [str(30_000_000 + n) for n in range(199)]
    fakeweb.add_clean_articles(clean)
    with override_settings(NCBI_API_KEY="k-123", NCBI_EMAIL="editors@example.org"):
        verdicts = pubmed(*clean[:100], "9500320", *clean[100:])
    (request,) = fakeweb.seen("/eutils/efetch.fcgi")
    assert len(request.ids) == 200
    assert (request.params["tool"], request.params["email"], request.params["api_key"]) == (
        "contentreview", "editors@example.org", "k-123")  # fmt: skip
    retracted = [v for v in verdicts if v.standing != Standing.CLEAN]
    assert len(verdicts) == 200 and [v.reference_id for v in retracted] == [101]
    (wakefield,) = retracted
    assert wakefield.standing == Standing.RETRACTED
    assert wakefield.notice_date == date(2010, 2, 6)
    assert wakefield.evidence["notice_pmid"] == "20137807"
    assert wakefield.summary == (
        "Retracted on 6 February 2010 (notice PMID 20137807: Lancet. 2010 Feb 6;375(9713):445). "
        "Also: erratum (PMID 15016483), expression of concern (PMID 21971344)."
    )


def test_erratum_concern_and_update_links(fakeweb: FakeWeb) -> None:
    fakeweb.add_article("501", notices=[("ExpressionOfConcernIn", "502", "J Ex. 2023 Mar 2;1:1")])
    fakeweb.add_article("503", notices=[("UpdateIn", "504", "Cochrane Database Syst Rev. 2024 Jan 9;1:CD1")])
    fakeweb.add_article("505", notices=[("CommentIn", "506", "J Ex. 2020;1:2")])
    verdicts = pubmed("35649368", "501", "503", "505")
    assert [v.standing for v in verdicts] == [Standing.CORRECTED, Standing.UNDER_QUESTION, Standing.SUPERSEDED,
                                              Standing.CLEAN]  # fmt: skip
    assert verdicts[0].evidence["notice_pmid"] == "35767954"
    assert verdicts[2].notice_date == date(2024, 1, 9)


def test_a_notice_pmid_cited_by_mistake(fakeweb: FakeWeb) -> None:
    retraction_notice, erratum_notice = pubmed("27508352", "38833988")
    assert retraction_notice.standing == erratum_notice.standing == Standing.IS_NOTICE
    assert retraction_notice.summary.startswith("This PMID is the retraction notice of PMID 26435620, not a paper")
    assert erratum_notice.evidence["notice_of_pmids"] == ["33279609"]


def test_retracted_and_replaced_is_superseded_not_stuck_at_retracted(fakeweb: FakeWeb) -> None:
    fakeweb.add_article("601", publication_types=["Journal Article", "Retracted Publication"],
                        notices=[("RetractionIn", "602", "J Ex. 2021 May 5;3:4"),
                                 ("RetractedandRepublishedIn", "603", "J Ex. 2021 May 5;3:5")])  # fmt: skip
    (verdict,) = pubmed("601")
    assert verdict.standing == Standing.SUPERSEDED
    assert verdict.evidence["notice_pmid"] == "603"
    assert verdict.summary.startswith("Retracted and replaced by a republished version on 5 May 2021")


def test_a_reinstated_paper_is_judged_on_what_remains(fakeweb: FakeWeb) -> None:
    # The retraction notice was itself retracted, and PubMed no longer types the paper as retracted.
    fakeweb.add_article("701", notices=[("RetractionIn", "702", "J Ex. 2019 Jan 2;1:1"),
                                        ("ErratumIn", "704", "J Ex. 2020 Feb 3;1:2")])  # fmt: skip
    retracted_notice = ["Retraction of Publication", "Retracted Publication"]
    notices = [("RetractionOf", "701", "J Ex. 2018;1:1"), ("RetractionIn", "703", "J Ex. 2019")]
    fakeweb.add_article("702", publication_types=retracted_notice, notices=notices)
    fakeweb.add_article("711", notices=[("RetractionIn", "712", "J Ex. 2019 Jan 2;1:1")])
    fakeweb.add_article("712", publication_types=["Retraction of Publication"])
    reinstated, still_retracted = pubmed("701", "711")
    assert reinstated.standing == Standing.CORRECTED
    assert reinstated.evidence["set_aside"] == [{"type": "RetractionIn", "pmid": "702", "why": "reinstated"}]
    assert still_retracted.standing == Standing.RETRACTED
    assert [r.ids for r in fakeweb.seen("/eutils/efetch.fcgi")] == [["701", "711"], ["702", "712"]]


def test_unknown_and_malformed_pmids_are_errors_without_failing_the_batch(fakeweb: FakeWeb) -> None:
    malformed, unknown, known = pubmed("PMC123", "99999999", "35649368")
    assert (malformed.standing, unknown.standing, known.standing) == (Standing.ERROR, Standing.ERROR,
                                                                      Standing.CORRECTED)  # fmt: skip
    assert fakeweb.seen("/eutils/efetch.fcgi")[0].ids == ["99999999", "35649368"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_pubmed_down_through_every_retry_is_unreachable(fakeweb: FakeWeb, status: int) -> None:
    fakeweb.fail_next("/eutils/efetch.fcgi", status, status, status, headers={"Retry-After": "0"})
    (verdict,) = pubmed("9500320")
    assert verdict.standing == Standing.UNREACHABLE
    assert len(fakeweb.seen("/eutils/efetch.fcgi")) == 3


def test_pubmed_refusing_the_request_is_an_error(fakeweb: FakeWeb) -> None:
    fakeweb.fail_next("/eutils/efetch.fcgi", 414, body=b"<html>Submitted URI too large!</html>")
    (verdict,) = pubmed("9500320")
    assert verdict.standing == Standing.ERROR
    assert "414" in verdict.summary


def test_two_workers_sharing_the_redis_limiter_stay_under_three_requests_a_second(fakeweb: FakeWeb) -> None:
    fakeweb.add_clean_articles(str(n) for n in range(800, 808))

    def worker(first: int) -> None:
        checker = PubMedChecker(**FAST)  # each with its own connection, as two worker processes would be
        for n in range(first, 808, 2):
            checker.check([pmid_ref(str(n))])

    threads = [threading.Thread(target=worker, args=(first,)) for first in (800, 801)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fakeweb.seen("/eutils/efetch.fcgi")) == 8
    assert 2 <= fakeweb.most_requests_in_one_second("/eutils/") <= 3


def test_crossref_list_requests_stay_within_the_configured_rate_across_workers(fakeweb: FakeWeb) -> None:
    def worker() -> None:
        for _ in range(2):
            crossref("10.1016/j.neurobiolaging.2010.03.024")  # two list requests each: doi: and updates:

    with override_settings(CROSSREF_LIST_RATE_PER_SECOND=5):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(fakeweb.seen("/crossref/works")) == 8
    assert 2 <= fakeweb.most_requests_in_one_second("/crossref/works") <= 5
