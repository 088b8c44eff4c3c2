"""NCBI E-utilities for PubMed: esummary (JSON, batched) for metadata, efetch (XML) for the notices.

NCBI allows 3 requests a second per site without an API key and 10 with one; the limit is kept across
every process sharing the cache (Redis), since workers on several machines call the same service.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from django.conf import settings

from . import http
from .ratelimit import RateLimiter
from .verdicts import ReferenceToCheck, Standing, Verdict, in_batch_order

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
        params = {"db": "pubmed", "retmode": retmode, "id": ",".join(batch), "tool": settings.NCBI_TOOL}
        if settings.NCBI_EMAIL:
            params["email"] = settings.NCBI_EMAIL
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


# --- The PubMed checker ---------------------------------------------------------------------------

# What a CommentsCorrections link on a cited paper makes of it. A retracted-and-republished paper was
# replaced by a corrected version: it is superseded (cite the replacement), not simply retracted.
PAPER_SIGNALS: dict[str, Standing] = {
    "RetractionIn": Standing.RETRACTED,
    "RetractedandRepublishedIn": Standing.SUPERSEDED,
    "ExpressionOfConcernIn": Standing.UNDER_QUESTION,
    "UpdateIn": Standing.SUPERSEDED,
    "ErratumIn": Standing.CORRECTED,
    "CorrectedandRepublishedIn": Standing.CORRECTED,
}
SIGNAL_NAMES = {
    "RetractionIn": "retraction", "RetractedandRepublishedIn": "retraction and replacement",
    "ExpressionOfConcernIn": "expression of concern", "UpdateIn": "update", "ErratumIn": "erratum",
    "CorrectedandRepublishedIn": "correction and republication",
}  # fmt: skip
# A cited record that is itself a notice: its publication type → (the link to the paper, what to call it).
NOTICE_PUBLICATION_TYPES = {
    "Retraction of Publication": ("RetractionOf", "retraction notice"),
    "Published Erratum": ("ErratumFor", "erratum"),
    "Expression of Concern": ("ExpressionOfConcernFor", "expression of concern"),
}
# Worst first: the headline of a verdict is the most severe signal; the others stay in the evidence.
SEVERITY = (Standing.RETRACTED, Standing.UNDER_QUESTION, Standing.SUPERSEDED, Standing.CORRECTED, Standing.CLEAN)
HEADLINES = {
    Standing.RETRACTED: "Retracted", Standing.UNDER_QUESTION: "Under an expression of concern",
    Standing.SUPERSEDED: "Superseded", Standing.CORRECTED: "Corrected",
}  # fmt: skip
MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}  # fmt: skip
_REF_SOURCE_DATE = re.compile(r"\b(\d{4})\s+(" + "|".join(MONTHS) + r")(?:\s+(\d{1,2}))?\b")


class PubMedChecker:
    """PMIDs → verdicts from efetch: one request per BATCH_SIZE ids, at NCBI's rate across all workers.

    A reinstated paper (its retraction notice was itself retracted, and PubMed dropped the "Retracted
    Publication" type) is judged on what remains; only that rare case costs one more request per batch.
    """

    name = "pubmed"
    batch_size = BATCH_SIZE

    def __init__(self, *, retries: int = http.RETRIES, backoff: float = http.BACKOFF_SECONDS) -> None:
        self._retries = retries
        self._backoff = backoff

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
        by_pmid: dict[str, list[ReferenceToCheck]] = {}
        verdicts: list[Verdict] = []
        for reference in batch:
            pmid = (reference.pmid or "").strip()
            if pmid.isdigit():
                by_pmid.setdefault(pmid, []).append(reference)
            elif pmid:  # a malformed id would make PubMed refuse the whole batch
                verdicts.append(self._verdict(reference, Standing.ERROR, f"{pmid!r} is not a PMID.", {"pmid": pmid}))
        with PubMedClient(retries=self._retries, backoff=self._backoff) as client:
            for chunk in _batches(by_pmid):
                verdicts += self._check_chunk(client, chunk, by_pmid)
        return in_batch_order(verdicts, batch)

    def _check_chunk(
        self, client: PubMedClient, pmids: list[str], by_pmid: dict[str, list[ReferenceToCheck]]
    ) -> list[Verdict]:
        try:
            records = client.records(pmids)
            reinstated = self._reinstated_notices(client, records.values())
        except http.ServiceUnreachable as exc:
            return self._for_all(pmids, by_pmid, Standing.UNREACHABLE, f"PubMed could not be reached: {exc}")
        except http.ServiceRefused as exc:
            return self._for_all(pmids, by_pmid, Standing.ERROR, f"PubMed refused the request: {exc}")
        verdicts = []
        for pmid in pmids:
            record = records.get(pmid)
            for reference in by_pmid[pmid]:
                if record is None:
                    summary = f"PubMed has no record of PMID {pmid}."
                    verdicts.append(self._verdict(reference, Standing.ERROR, summary, {"pmid": pmid}))
                else:
                    standing, summary, evidence, when = judge_record(record, reinstated)
                    verdicts.append(self._verdict(reference, standing, summary, evidence, when))
        return verdicts

    def _reinstated_notices(self, client: PubMedClient, records: Iterable[PubMedRecord]) -> frozenset[str]:
        """PMIDs of retraction notices that were themselves retracted, among the doubtful cases only."""
        doubtful = [
            notice.pmid
            for record in records
            if not record.has_publication_type(RETRACTED_PUBLICATION)
            for notice in record.notices_of_type("RetractionIn")
            if notice.pmid
        ]
        if not doubtful:
            return frozenset()
        notices = client.records(doubtful)
        return frozenset(
            pmid
            for pmid, notice in notices.items()
            if notice.has_publication_type(RETRACTED_PUBLICATION) or notice.notices_of_type("RetractionIn")
        )

    def _for_all(
        self, pmids: list[str], by_pmid: dict[str, list[ReferenceToCheck]], standing: Standing, summary: str
    ) -> list[Verdict]:
        return [self._verdict(r, standing, summary, {"pmid": p}) for p in pmids for r in by_pmid[p]]

    def _verdict(
        self,
        reference: ReferenceToCheck,
        standing: Standing,
        summary: str,
        evidence: dict[str, Any],
        when: date | None = None,
    ) -> Verdict:
        return Verdict(reference.id, self.name, standing, summary, evidence, when)


def judge_record(
    record: PubMedRecord, reinstated_notices: frozenset[str] = frozenset()
) -> tuple[Standing, str, dict[str, Any], date | None]:
    """What one efetch record says about the paper: (standing, summary, evidence, notice date)."""
    evidence: dict[str, Any] = {
        "pmid": record.pmid,
        "publication_types": [pt.name for pt in record.publication_types],
        "notices": [{"type": n.ref_type, "pmid": n.pmid, "source": n.ref_source} for n in record.notices],
    }
    for type_name, (link, what) in NOTICE_PUBLICATION_TYPES.items():
        if record.has_publication_type(type_name):
            return _is_notice(record, link, what, evidence)
    findings = _findings(record, reinstated_notices, evidence)
    if not findings:
        return Standing.CLEAN, "PubMed lists no retraction, correction, concern or update.", evidence, None
    standing, notice = min(findings, key=lambda finding: SEVERITY.index(finding[0]))
    when = _ref_source_date(notice.ref_source) if notice else None
    if notice is not None:
        evidence |= {"notice_type": notice.ref_type, "notice_pmid": notice.pmid, "notice_source": notice.ref_source}
    summary = _verdict_summary(standing, notice, when, [f for f in findings if f[1] is not notice])
    return standing, summary, evidence, when


def _findings(
    record: PubMedRecord, reinstated_notices: frozenset[str], evidence: dict[str, Any]
) -> list[tuple[Standing, CommentCorrection | None]]:
    replaced = bool(record.notices_of_type("RetractedandRepublishedIn"))
    findings: list[tuple[Standing, CommentCorrection | None]] = []
    for notice in record.notices:
        standing = PAPER_SIGNALS.get(notice.ref_type)
        if standing is None:
            continue
        if notice.ref_type == "RetractionIn" and (replaced or notice.pmid in reinstated_notices):
            # Replaced by a republished version, or the retraction was itself retracted: not what it is now.
            evidence.setdefault("set_aside", []).append({"type": notice.ref_type, "pmid": notice.pmid,
                                                         "why": "replaced" if replaced else "reinstated"})  # fmt: skip
            continue
        findings.append((standing, notice))
    marked = record.has_publication_type(RETRACTED_PUBLICATION) and not replaced
    if marked and not any(standing == Standing.RETRACTED for standing, _ in findings):
        findings.append((Standing.RETRACTED, None))  # the type without a linked notice
    return findings


def _is_notice(
    record: PubMedRecord, link: str, what: str, evidence: dict[str, Any]
) -> tuple[Standing, str, dict[str, Any], date | None]:
    targets = [n.pmid for n in record.notices_of_type(link) if n.pmid]
    about = f"PMID {', '.join(targets)}" if targets else "another paper"
    evidence |= {"notice_of_pmids": targets, "notice_kind": what}
    summary = f"This PMID is the {what} of {about}, not a paper: cite the paper itself, and say what happened to it."
    return Standing.IS_NOTICE, summary, evidence, None


def _verdict_summary(
    standing: Standing,
    notice: CommentCorrection | None,
    when: date | None,
    others: list[tuple[Standing, CommentCorrection | None]],
) -> str:
    text = HEADLINES[standing]
    if notice is not None and notice.ref_type == "RetractedandRepublishedIn":
        text = "Retracted and replaced by a republished version"
    if when:
        text += f" on {when.day} {when:%B %Y}"
    if notice is not None:
        text += f" (notice PMID {notice.pmid}: {notice.ref_source})" if notice.pmid else f" ({notice.ref_source})"
    elif standing == Standing.RETRACTED:
        text += " (PubMed marks it a Retracted Publication)"
    also = [f"{SIGNAL_NAMES[n.ref_type]} (PMID {n.pmid})" for _, n in others if n is not None]
    return text + "." + (f" Also: {', '.join(also)}." if also else "")


def _ref_source_date(ref_source: str) -> date | None:
    """The date in a RefSource such as "Lancet. 2010 Feb 6;375(9713):445"; the 1st when the day is missing."""
    match = _REF_SOURCE_DATE.search(ref_source)
    if not match:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), MONTHS[month], int(day or 1))
    except ValueError:
        return None
