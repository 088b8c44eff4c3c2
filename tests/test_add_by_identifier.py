"""Pasting DOIs and PMIDs: new references appear at once, pending, and a real worker fills them in
from Crossref and PubMed (the loopback server), PubMed ids in one batched request."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import reverse

from articles.citations import ServiceUnreachable
from articles.models import Reference
from articles.references import add_references_by_identifier, fill_metadata, reference_for_identifier
from articles.tasks import fetch_reference_metadata
from tests.fakeweb import FakeWeb, closed_port, fakeweb_fixture  # noqa: F401

CASTRO_DOI = "10.1056/nejmoa1804092"
PASTE = """https://doi.org/10.1056/NEJMoa1804092
doi:10.1371/journal.pone.0033693

PMID: 27933103
23688323
not an identifier
10.1056/NEJMoa1804092
"""


def publish_castro_and_wenzel(web: FakeWeb) -> None:
    web.add_work(
        CASTRO_DOI,
        title="Dupilumab Efficacy and Safety in Moderate-to-Severe Uncontrolled Asthma",
        authors=[("Mario", "Castro"), ("Jonathan", "Corren"), ("Ian D.", "Pavord")],
        container="New England Journal of Medicine",
        year=2018,
        volume="378",
        page="2486-2496",
    )
    web.add_summary(
        "23688323",
        title="Dupilumab in persistent asthma with elevated eosinophil levels.",
        authors=["Wenzel S", "Ford L"],
        journal="The New England journal of medicine",
        source="N Engl J Med",
        pubdate="2013 Jun 27",
        volume="368",
        pages="2455-66",
        doi="10.1056/NEJMoa1304048",
    )


def wait_until_looked_up(timeout: float = 30) -> None:
    """Polls the database (the worker writes it from its own thread) until nothing is pending."""
    deadline = time.monotonic() + timeout
    while still_pending():
        assert time.monotonic() < deadline, list(Reference.objects.values("key", "metadata_status"))
        time.sleep(0.2)


def still_pending() -> bool:
    return Reference.objects.filter(metadata_status="pending").exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_pasted_identifiers_are_pending_then_filled_by_the_worker(
    celery_worker: Any, fakeweb: FakeWeb, cast: Any
) -> None:
    publish_castro_and_wenzel(fakeweb)
    result = add_references_by_identifier(PASTE, by=cast.writer)

    assert [line.text for line in result.lines] == [
        "https://doi.org/10.1056/NEJMoa1804092",
        "doi:10.1371/journal.pone.0033693",
        "PMID: 27933103",
        "23688323",
        "not an identifier",
        "10.1056/NEJMoa1804092",
    ]
    assert len(result.created) == 4 and all(r.metadata_status == "pending" for r in result.created)
    assert all(r.key.startswith("pending-") for r in result.created)
    assert [line.text for line in result.errors] == ["not an identifier"]
    assert "is not a DOI" in result.errors[0].error
    assert result.reused[0].pk == result.created[0].pk  # pasted twice, created once

    wait_until_looked_up()
    by_key = {r.key: r for r in Reference.objects.all()}
    assert sorted(by_key) == ["castro2018", "sadasivan2012", "scalfani2016", "wenzel2013"]
    castro = by_key["castro2018"]
    assert castro.title == "Dupilumab Efficacy and Safety in Moderate-to-Severe Uncontrolled Asthma"
    assert castro.author_list == ["Castro M", "Corren J", "Pavord ID"]
    assert (castro.source, castro.year, castro.volume, castro.pages) == (
        "New England Journal of Medicine",
        2018,
        "378",
        "2486-2496",
    )
    assert castro.metadata_status == "complete" and castro.metadata_fetched_at is not None
    scalfani = by_key["scalfani2016"]
    assert (scalfani.doi, scalfani.pmcid, scalfani.source) == (
        "10.1186/s13321-016-0181-z",
        "PMC5122160",
        "Journal of cheminformatics",
    )
    wenzel = by_key["wenzel2013"]
    assert (wenzel.title, wenzel.doi) == (
        "Dupilumab in persistent asthma with elevated eosinophil levels",
        "10.1056/nejmoa1304048",
    )
    # Both PubMed ids went in one esummary request; each DOI-only reference was one Crossref request.
    assert [sorted(r.ids) for r in fakeweb.seen("esummary.fcgi")] == [["23688323", "27933103"]]
    assert len(fakeweb.seen(f"/works/{CASTRO_DOI}")) == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_unknown_identifiers_are_marked_failed_with_the_reason(celery_worker: Any, fakeweb: FakeWeb, cast: Any) -> None:
    add_references_by_identifier("10.1000/no-such-paper\nPMID: 1", by=cast.writer)
    wait_until_looked_up()
    doi = Reference.objects.get(doi="10.1000/no-such-paper")
    pmid = Reference.objects.get(pmid="1")
    assert (doi.metadata_status, doi.metadata_error) == (
        "not_found",
        "Crossref has no record of DOI 10.1000/no-such-paper.",
    )
    assert (pmid.metadata_status, pmid.metadata_error) == ("not_found", "PubMed has no record of PMID 1.")
    assert doi.key == "pending-doi-10.1000-no-such-paper"  # stays provisional until someone names it
    assert doi.label == "DOI 10.1000/no-such-paper" and not doi.lookup_finished


def test_the_add_page_shows_what_became_of_each_line(cast: Any) -> None:
    existing = Reference.objects.create(key="castro2018", title="Dupilumab efficacy", doi=CASTRO_DOI)
    client = Client()
    client.force_login(cast.reviewer)
    response = client.post(reverse("library:add_by_identifier"), {"identifiers": "10.1056/NEJMoa1804092\n10.1/x\n993"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 added, 1 already in the library, 1 not understood." in html
    assert f'Already in the library: <a href="{reverse("library:detail", args=[existing.pk])}">castro2018</a>' in html
    assert "“10.1/x” is not a DOI" in html
    added = Reference.objects.get(pmid="993")
    assert f'Added as <a href="{reverse("library:detail", args=[added.pk])}">PMID 993</a>' in html
    assert "The details are being looked up on PubMed (queued " in html
    assert "pending-" not in html  # the placeholder key is never shown


def test_existing_references_are_reused_by_doi_or_pmid(cast: Any) -> None:
    castro = Reference.objects.create(key="castro2018", doi=CASTRO_DOI, pmid="29782217")
    result = add_references_by_identifier("DOI: 10.1056/NEJMOA1804092\nPMID: 29782217", by=cast.writer)
    assert result.created == [] and result.reused == [castro, castro]
    assert reference_for_identifier("pmid", "29782217") == castro
    assert Reference.objects.count() == 1


def test_only_library_keepers_may_add(cast: Any) -> None:
    with pytest.raises(PermissionDenied):
        add_references_by_identifier("10.1056/NEJMoa1804092", by=cast.outsider)
    assert not Reference.objects.exists()


# --- fill_metadata, the plain function the task calls ----------------------------------------------


def test_what_a_person_typed_is_never_overwritten(db: None, fakeweb: FakeWeb) -> None:
    publish_castro_and_wenzel(fakeweb)
    typed = Reference.objects.create(
        key="dupi-asthma",
        title="Dupilumab in uncontrolled asthma (LIBERTY QUEST)",
        doi=CASTRO_DOI,
        metadata_status="pending",
    )
    fill_metadata([typed.pk])
    typed.refresh_from_db()
    assert typed.key == "dupi-asthma"  # a real key, chosen by a person
    assert typed.title == "Dupilumab in uncontrolled asthma (LIBERTY QUEST)"
    assert typed.author_list == ["Castro M", "Corren J", "Pavord ID"]
    assert (typed.year, typed.metadata_status) == (2018, "complete")


def test_a_second_paper_by_the_same_first_author_and_year_gets_a_suffix(db: None, fakeweb: FakeWeb) -> None:
    publish_castro_and_wenzel(fakeweb)
    Reference.objects.create(key="castro2018", title="Another Castro paper of 2018")
    pending = reference_for_identifier("doi", CASTRO_DOI)
    fill_metadata([pending.pk])
    pending.refresh_from_db()
    assert pending.key == "castro2018a"


def test_an_identifier_another_reference_holds_is_not_copied(db: None, fakeweb: FakeWeb) -> None:
    publish_castro_and_wenzel(fakeweb)
    by_doi = Reference.objects.create(key="wenzel-typed", doi="10.1056/nejmoa1304048")
    by_pmid = reference_for_identifier("pmid", "23688323")
    fill_metadata([by_pmid.pk])
    by_pmid.refresh_from_db()
    assert by_pmid.metadata_status == "complete" and by_pmid.doi is None
    assert Reference.objects.get(doi="10.1056/nejmoa1304048") == by_doi


def test_unreachable_service_leaves_it_pending_and_the_last_retry_records_it(db: None) -> None:
    pending = reference_for_identifier("doi", CASTRO_DOI)
    with override_settings(CROSSREF_API_URL=f"http://127.0.0.1:{closed_port()}"):
        with pytest.raises(ServiceUnreachable):
            fill_metadata([pending.pk])
        pending.refresh_from_db()
        assert pending.metadata_status == "pending"  # unreachable is not "not found"
        # The task's last permitted attempt gives up and says why, instead of retrying for ever.
        fetch_reference_metadata.apply(args=([pending.pk],), retries=fetch_reference_metadata.max_retries)
    pending.refresh_from_db()
    assert pending.metadata_status == "failed"
    assert pending.metadata_error.startswith("The service could not be reached in 4 attempts")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_citing_a_new_doi_in_the_editor_adds_it_to_the_library_and_fills_it(
    cast: Any, celery_worker: Any, fakeweb: FakeWeb
) -> None:
    """[@doi:…] for a paper not in the library: saved as pending, attached, then filled by the worker."""
    from articles import editing

    publish_castro_and_wenzel(fakeweb)
    from articles.texts import ArticleText, VariantText

    body = "Fewer attacks on the biologic [@doi:10.1056/NEJMoa1804092].\n"
    text = ArticleText("Biologic question", "qa", "Asthma", {"clinician": VariantText("Heading", "Summary", body)})
    article = editing.create_article(by=cast.writer, text=text)
    reference = Reference.objects.get(doi="10.1056/nejmoa1804092")
    assert reference.metadata_status == Reference.MetadataStatus.PENDING
    assert list(article.references.all()) == [reference]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and reference.metadata_status == Reference.MetadataStatus.PENDING:
        time.sleep(0.2)
        reference.refresh_from_db()
    assert reference.metadata_status == Reference.MetadataStatus.COMPLETE
    assert reference.title
