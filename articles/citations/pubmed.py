"""NCBI E-utilities for PubMed: esummary (JSON, batched) for metadata, efetch (XML) for the notices.

NCBI allows 3 requests a second per site without an API key and 10 with one; the limit is kept across
every process sharing the cache (Redis), since workers on several machines call the same service.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from . import http
from .ratelimit import RateLimiter

BATCH_SIZE = 200  # NCBI's advice for one esummary/efetch GET; longer id lists risk "414 URI too large"
RETRACTED_PUBLICATION = "Retracted Publication"
# CommentsCorrections types that say a record was retracted, corrected, questioned or replaced (or is the
# notice that does so). Everything else (CommentIn, Cites, …) is discussion, not a signal.
NOTICE_REF_TYPES = frozenset(
    {
        "RetractionIn", "RetractionOf", "RetractedandRepublishedIn", "RetractedandRepublishedFrom",
        "ErratumIn", "ErratumFor", "CorrectedandRepublishedIn", "CorrectedandRepublishedFrom",
        "ExpressionOfConcernIn", "ExpressionOfConcernFor", "UpdateIn", "UpdateOf",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CommentCorrection:
    """A link from one PubMed record to a notice about it, or from the notice to the record."""

    ref_type: str  # efetch spelling: "RetractionIn", "ErratumFor", …
    pmid: str | None
    ref_source: str  # "Lancet. 2010 Feb 6;375(9713):445"


@dataclass(frozen=True)
class PublicationType:
    name: str
    ui: str  # MeSH id such as D016441; missing or empty on older and publisher-supplied records


@dataclass(frozen=True)
class PubMedSummary:
    """One esummary record: what a reference list prints."""

    pmid: str
    title: str
    authors: tuple[str, ...]  # "Scalfani VF"
    source: str  # NLM abbreviation, "J Cheminform"
    journal: str  # full name, "Journal of cheminformatics"
    year: int | None
    volume: str
    pages: str
    doi: str | None
    pmcid: str | None
    publication_types: tuple[str, ...]
    notices: tuple[CommentCorrection, ...]


@dataclass(frozen=True)
class SummaryError:
    """An id the batch answered for with an error ("cannot get document summary") instead of a record."""

    pmid: str
    message: str


@dataclass(frozen=True)
class PubMedRecord:
    """One efetch PubmedArticle, reduced to the retraction/correction signals."""

    pmid: str
    title: str
    doi: str | None
    publication_types: tuple[PublicationType, ...]
    notices: tuple[CommentCorrection, ...]

    def has_publication_type(self, name: str) -> bool:
        # Case varies between records ("RETRACTION OF PUBLICATION" with UI="").
        return any(pt.name.casefold() == name.casefold() for pt in self.publication_types)

    def notices_of_type(self, *ref_types: str) -> tuple[CommentCorrection, ...]:
        return tuple(n for n in self.notices if n.ref_type in ref_types)


def ncbi_rate_limiter() -> RateLimiter:
    return RateLimiter("ncbi-eutils", 10 if settings.NCBI_API_KEY else 3)


class PubMedClient:
    """Reads E-utilities at EUTILS_API_URL; use as a context manager to reuse one connection."""

    def __init__(self, *, retries: int = http.RETRIES, backoff: float = http.BACKOFF_SECONDS) -> None:
        # Every attempt counts against NCBI's limit, retries included.
        limiter = ncbi_rate_limiter()
        self._http = http.make_client(
            settings.EUTILS_API_URL, accept="application/json, text/xml", before_each=limiter.wait
        )
        self._retries = retries
        self._backoff = backoff

    def __enter__(self) -> PubMedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def summaries(self, pmids: Iterable[str]) -> dict[str, PubMedSummary | SummaryError]:
        """esummary for every id, BATCH_SIZE ids per request; an id's own error does not fail the batch."""
        found: dict[str, PubMedSummary | SummaryError] = {}
        for batch in _batches(pmids):
            response = self._get("esummary.fcgi", batch, retmode="json")
            found |= parse_esummary(http.json_body(response), batch)
        return found

    def records(self, pmids: Iterable[str]) -> dict[str, PubMedRecord]:
        """efetch for every id; ids PubMed does not know are simply absent from the result."""
        found: dict[str, PubMedRecord] = {}
        for batch in _batches(pmids):
            response = self._get("efetch.fcgi", batch, retmode="xml")
            found |= {record.pmid: record for record in parse_efetch(response.content)}
        return found

    def _get(self, path: str, batch: list[str], *, retmode: str) -> httpx.Response:
        params = {"db": "pubmed", "retmode": retmode, "id": ",".join(batch), "tool": "contentreview"}
        if settings.NCBI_API_KEY:
            params["api_key"] = settings.NCBI_API_KEY
        response = http.get(self._http, path, params, retries=self._retries, backoff=self._backoff)
        if response.status_code != 200:
            detail = http.json_body(response).get("error") or response.text.strip()[:200]
            raise http.ServiceRefused(
                f"PubMed answered HTTP {response.status_code}: {detail}", status=response.status_code
            )
        return response


def _batches(pmids: Iterable[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(pmids))
    for start in range(0, len(unique), BATCH_SIZE):
        yield unique[start : start + BATCH_SIZE]


def parse_esummary(body: dict[str, Any], asked: list[str]) -> dict[str, PubMedSummary | SummaryError]:
    """Records and per-id errors of an esummary JSON answer; ids it left out count as errors too."""
    result = body.get("result")
    if not isinstance(result, dict):
        # A top-level error ("Invalid uid", "Empty id list") fails the whole request.
        detail = body.get("error") or body.get("esummaryresult") or "no result in the answer"
        raise http.ServiceRefused(f"PubMed esummary: {detail}", status=200)
    return {pmid: _summary_or_error(pmid, result.get(pmid)) for pmid in asked}


def _summary_or_error(pmid: str, doc: Any) -> PubMedSummary | SummaryError:
    if not isinstance(doc, dict):
        return SummaryError(pmid, "PubMed returned no summary for this PMID.")
    if doc.get("error"):
        return SummaryError(pmid, f"PubMed: {doc['error']}.")
    return _summary(pmid, doc)


def _summary(pmid: str, doc: dict[str, Any]) -> PubMedSummary:
    ids = {str(a.get("idtype")): str(a.get("value", "")) for a in doc.get("articleids", [])}
    return PubMedSummary(
        pmid=pmid,
        title=_clean_title(str(doc.get("title", ""))),
        authors=tuple(a["name"] for a in doc.get("authors", []) if a.get("name")),
        source=str(doc.get("source", "")),
        journal=str(doc.get("fulljournalname", "")),
        year=_year(str(doc.get("pubdate", ""))),
        volume=str(doc.get("volume", "")),
        pages=str(doc.get("pages", "")),
        doi=ids.get("doi", "").lower() or None,
        pmcid=ids.get("pmc") or None,  # "pmcid" holds "pmc-id: PMC5122160;"; "pmc" the bare id
        publication_types=tuple(doc.get("pubtype", [])),
        notices=tuple(_summary_notices(doc.get("references", []))),
    )


def _summary_notices(references: list[Any]) -> Iterator[CommentCorrection]:
    # esummary spells the types as prose ("Retraction in"); efetch spelling is the one kept.
    for ref in references:
        ref_type = "".join(word[:1].upper() + word[1:] for word in str(ref.get("reftype", "")).split())
        if ref_type in NOTICE_REF_TYPES:
            pmid = str(ref.get("pmid") or "") or None
            yield CommentCorrection(ref_type, pmid, str(ref.get("refsource", "")))


def _clean_title(title: str) -> str:
    # PubMed ends titles with a full stop that a reference list adds itself.
    title = " ".join(title.split())
    return title[:-1] if title.endswith(".") else title


def _year(pubdate: str) -> int | None:
    # "2016", "2016 Nov 23", "2015 Winter", "2016 Nov-Dec"
    match = re.search(r"\b(\d{4})\b", pubdate)
    return int(match.group(1)) if match else None


def parse_efetch(xml: bytes) -> list[PubMedRecord]:
    """The PubmedArticle records of an efetch answer (PubmedArticleSet XML)."""
    # ElementTree never fetches the external DTD, and the expat bundled with Python >= 3.11 limits entity
    # expansion (no "billion laughs"), so the stdlib parser is safe on this trusted service's answers.
    try:
        root = ET.fromstring(xml)  # noqa: S314
    except ET.ParseError as exc:
        raise http.ServiceRefused(f"PubMed efetch answered something other than XML: {exc}", status=200) from exc
    return [_record(article) for article in root.iter("PubmedArticle")]


def _record(article: ET.Element) -> PubMedRecord:
    citation = article.find("MedlineCitation")
    if citation is None:
        raise http.ServiceRefused("PubMed efetch: a PubmedArticle without MedlineCitation", status=200)
    return PubMedRecord(
        pmid=_text(citation.find("PMID")),
        title=_clean_title(_text(citation.find("Article/ArticleTitle"))),
        doi=_efetch_doi(article),
        publication_types=tuple(
            PublicationType(_text(pt), pt.get("UI", ""))
            for pt in citation.iterfind("Article/PublicationTypeList/PublicationType")
        ),
        notices=tuple(
            CommentCorrection(cc.get("RefType", ""), _text(cc.find("PMID")) or None, _text(cc.find("RefSource")))
            for cc in citation.iterfind("CommentsCorrectionsList/CommentsCorrections")
            if cc.get("RefType") in NOTICE_REF_TYPES
        ),
    )


def _text(element: ET.Element | None) -> str:
    """All text inside an element (titles may hold <i>, <sup>…), whitespace collapsed."""
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _efetch_doi(article: ET.Element) -> str | None:
    # PubmedData/ArticleIdList is the record's own; ReferenceList holds ArticleIdLists of cited works.
    for article_id in article.iterfind("PubmedData/ArticleIdList/ArticleId"):
        if article_id.get("IdType") == "doi" and article_id.text:
            return article_id.text.strip().lower()
    return None
