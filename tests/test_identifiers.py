"""DOIs, PMIDs and PMCIDs are stored in one canonical form, whatever form the writer pasted."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from articles.identifiers import normalise_doi, normalise_pmcid, normalise_pmid
from articles.references import parse_identifier


@pytest.mark.parametrize(
    "raw",
    [
        "10.1056/NEJMoa1304048",
        "10.1056/nejmoa1304048",
        "  10.1056/NEJMoa1304048 ",
        "https://doi.org/10.1056/NEJMoa1304048",
        "http://dx.doi.org/10.1056/NEJMoa1304048",
        "https://dx.doi.org/10.1056/NEJMoa1304048",
        "doi:10.1056/NEJMoa1304048",
        "DOI: 10.1056/NEJMoa1304048",
    ],
)
def test_doi_forms_normalise_to_one_lower_case_doi(raw: str) -> None:
    assert normalise_doi(raw) == "10.1056/nejmoa1304048"


def test_doi_with_parentheses_and_semicolons_is_kept_whole() -> None:
    assert normalise_doi("10.1016/S0140-6736(97)11096-0") == "10.1016/s0140-6736(97)11096-0"
    assert normalise_doi("10.1002/(SICI)1097-0258(19980815/30)17:15/16<1661::AID-SIM968>3.0.CO;2-2") == (
        "10.1002/(sici)1097-0258(19980815/30)17:15/16<1661::aid-sim968>3.0.co;2-2"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "10.1056",
        "10.12/short-prefix",
        "11.1056/NEJMoa1304048",
        "nejmoa1304048",
        "https://example.org/10.1056/x",
        "10.1056/NEJM oa1304048",
        "23688323",
    ],
)
def test_not_a_doi_is_refused_with_a_message_naming_it(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalise_doi(raw)
    assert "is not a DOI" in caught.value.messages[0]
    assert raw.strip() in caught.value.messages[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("23688323", "23688323"), (" 993 ", "993"), ("PMID: 29782217", "29782217"), ("pmid:29782217", "29782217")],
)
def test_pmid_forms(raw: str, expected: str) -> None:
    assert normalise_pmid(raw) == expected


@pytest.mark.parametrize("raw", ["", "0", "0123", "123456789", "12a45", "PMC5122160", "-5"])
def test_not_a_pmid_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="is not a PMID"):
        normalise_pmid(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PMC5122160", "PMC5122160"),
        ("pmc5122160", "PMC5122160"),
        ("5122160", "PMC5122160"),
        (" PMC1165577 ", "PMC1165577"),
    ],
)
def test_pmcid_forms(raw: str, expected: str) -> None:
    assert normalise_pmcid(raw) == expected


@pytest.mark.parametrize("raw", ["", "PMC", "PMCX123", "PMID123", "PMC 5122160"])
def test_not_a_pmcid_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="is not a PMCID"):
        normalise_pmcid(raw)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("https://doi.org/10.1056/NEJMoa1804092", ("doi", "10.1056/nejmoa1804092")),
        ("doi:10.1056/NEJMoa1804092", ("doi", "10.1056/nejmoa1804092")),
        ("PMID: 29782217", ("pmid", "29782217")),
        ("PMID 29782217", ("pmid", "29782217")),
        ("29782217", ("pmid", "29782217")),
    ],
)
def test_a_pasted_line_is_read_as_doi_or_pmid(line: str, expected: tuple[str, str]) -> None:
    assert parse_identifier(line) == expected


@pytest.mark.parametrize("line", ["PMID: 12x", "castro2018", "https://pubmed.ncbi.nlm.nih.gov/x/"])
def test_a_pasted_line_that_is_neither_is_refused(line: str) -> None:
    with pytest.raises(ValidationError):
        parse_identifier(line)
