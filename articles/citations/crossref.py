"""Crossref REST API: works by DOI, with their bibliographic metadata and update signals, and the checker.

A work's `updated-by` lists the notices (correction, retraction, expression of concern…) that update
it; a notice's `update-to` lists the works it updates. Both are kept for the stale-citation checks.
Since 2025 the production API also carries the Retraction Watch database: `updated-by` entries with
`source: "retraction-watch"` and a `record-id`, beside the publisher's own (`source: "publisher"`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from . import http
from .ratelimit import RateLimiter
from .verdicts import ReferenceToCheck, Standing, Verdict, in_batch_order

# Publishers mark a new version of the same record with a self-referencing update; it says nothing
# about the work's validity. Other self-references (an in-place retraction) are real signals.
SELF_UPDATE_TYPES_IGNORED = frozenset({"new_version"})


@dataclass(frozen=True)
class WorkUpdate:
    """One entry of `updated-by` or `update-to`: which DOI, what kind of update, and when."""

    type: str  # "retraction", "correction", "erratum", "expression_of_concern", "new_version", …
    doi: str
    label: str
    source: str | None  # "publisher", "retraction-watch"; older entries carry none
    updated: date | None
    record_id: str | None = None  # the Retraction Watch record number, on its entries


@dataclass(frozen=True)
class CrossrefWork:
    doi: str
    type: str
    title: str
    authors: tuple[str, ...]  # "Family Initials", e.g. "Lee HJ"
    container_title: str
    year: int | None
    volume: str
    pages: str
    updated_by: tuple[WorkUpdate, ...]  # notices that update this work
    update_to: tuple[WorkUpdate, ...]  # works this record (a notice) updates


# Crossref splits `filter=` on every comma, with no escape: a DOI holding a comma cannot go in a filter
# (it would split into a bogus filter and a 400). Such DOIs are looked up one by one instead.
LIST_PAGE_ROWS = 1000  # Crossref's maximum
MAX_LIST_PAGES = 20  # a reverse query for a few dozen DOIs never needs more; more means something is wrong


def filterable(doi: str) -> bool:
    return "," not in doi


class CrossrefClient:
    """Reads Crossref at CROSSREF_API_URL; use as a context manager to reuse one connection.

    Every attempt (retries too) waits its turn under the polite pool's limits, shared by all workers:
    one for single-work requests, a stricter one for list (filter) requests.
    """

    def __init__(self, *, retries: int = http.RETRIES, backoff: float = http.BACKOFF_SECONDS) -> None:
        self._http = http.make_client(settings.CROSSREF_API_URL, accept="application/json")
        self._http.event_hooks = {"request": [self._pace]}
        self._single = RateLimiter("crossref-single", settings.CROSSREF_RATE_PER_SECOND)
        self._list = RateLimiter("crossref-list", settings.CROSSREF_LIST_RATE_PER_SECOND)
        self._mailto = settings.CROSSREF_MAILTO
        self._retries = retries
        self._backoff = backoff

    def _pace(self, request: httpx.Request) -> None:
        (self._list if request.url.path.rstrip("/").endswith("/works") else self._single).wait()

    def __enter__(self) -> CrossrefClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def work(self, doi: str) -> CrossrefWork:
        """The work with this (normalised) DOI; NotFound, ServiceRefused or ServiceUnreachable otherwise."""
        params = {"mailto": self._mailto} if self._mailto else None
        path = "works/" + quote(doi, safe="/:;()[]<>")
        response = http.get(self._http, path, params, retries=self._retries, backoff=self._backoff)
        return parse_work(_work_message(response, doi))

    def works(self, dois: Sequence[str]) -> dict[str, CrossrefWork]:
        """The works Crossref has among these DOIs, in one `filter=doi:…,doi:…` request (same filter OR-ed).

        Every DOI must be `filterable`; an unknown DOI is simply absent from the result."""
        items = self._list_items("doi", dois, rows=len(dois))
        return {work.doi: work for work in map(parse_work, items)}

    def notices_updating(self, dois: Sequence[str]) -> list[CrossrefWork]:
        """Every work whose `update-to` names one of these DOIs (`filter=updates:…`), all pages read.

        Older notices point only this way: the work they retract or correct carries no `updated-by`."""
        return [parse_work(item) for item in self._list_items("updates", dois, rows=LIST_PAGE_ROWS)]

    def _list_items(self, name: str, dois: Sequence[str], *, rows: int) -> list[dict[str, Any]]:
        if not all(map(filterable, dois)):
            raise ValueError("a DOI with a comma cannot go into a Crossref filter")
        params = {"filter": ",".join(f"{name}:{doi}" for doi in dois), "rows": str(rows), "cursor": "*"}
        if self._mailto:
            params["mailto"] = self._mailto
        items: list[dict[str, Any]] = []
        for _page in range(MAX_LIST_PAGES):
            response = http.get(self._http, "works", params, retries=self._retries, backoff=self._backoff)
            message = _work_list_message(response)
            page = [item for item in message.get("items") or [] if isinstance(item, dict)]
            items += page
            if not page or len(items) >= int(message.get("total-results") or 0) or not message.get("next-cursor"):
                return items
            params["cursor"] = str(message["next-cursor"])
        raise http.ServiceRefused(f"Crossref kept paging after {MAX_LIST_PAGES} pages of {name} results", status=200)


def _work_message(response: httpx.Response, doi: str) -> dict[str, Any]:
    # Crossref's 404 is `text/plain` "Resource not found.", so the status decides before any JSON decoding.
    if response.status_code == 404:
        raise http.NotFound(f"Crossref has no record of DOI {doi}.")
    envelope = http.json_body(response)
    if response.status_code == 200 and envelope.get("status") == "ok" and isinstance(envelope.get("message"), dict):
        message: dict[str, Any] = envelope["message"]
        return message
    detail = error_messages(envelope) if envelope else response.text.strip()[:200]
    raise http.ServiceRefused(f"Crossref answered HTTP {response.status_code}: {detail}", status=response.status_code)


def _work_list_message(response: httpx.Response) -> dict[str, Any]:
    # A 400 here (a bad filter) must never read as "no notices": it is a refusal, and says why.
    envelope = http.json_body(response)
    if response.status_code == 200 and envelope.get("message-type") == "work-list":
        message = envelope.get("message")
        if isinstance(message, dict):
            return message
    detail = error_messages(envelope) if envelope else response.text.strip()[:200]
    raise http.ServiceRefused(f"Crossref answered HTTP {response.status_code}: {detail}", status=response.status_code)


def initials(given: str) -> str:
    """“Hyun Ju” → “HJ”, “Janet E.” → “JE”, “Jun-Gyo” → “JG” (PubMed's form)."""
    return "".join(part[0].upper() for part in re.split(r"[\s.\-]+", given) if part)


def error_messages(envelope: dict[str, Any]) -> str:
    """The text of an error envelope, whose `message` is a list of {type, value, message} (not an object)."""
    items = envelope.get("message")
    if not isinstance(items, list):
        return str(envelope.get("message-type", ""))
    return "; ".join(str(item.get("message") or item.get("type", "")) for item in items if isinstance(item, dict))


def parse_work(message: dict[str, Any]) -> CrossrefWork:
    """A work object: the `message` of /works/{doi}, or one item of a work-list."""
    doi = str(message.get("DOI", "")).lower()
    return CrossrefWork(
        doi=doi,
        type=message.get("type", ""),
        title=_first(message.get("title")),
        authors=tuple(filter(None, (_author(a) for a in message.get("author", [])))),
        container_title=_first(message.get("container-title")),
        year=_year(message),
        volume=str(message.get("volume", "")),
        pages=str(message.get("page", "")),
        updated_by=_updates(message.get("updated-by"), own_doi=doi),
        update_to=_updates(message.get("update-to"), own_doi=doi),
    )


def _first(values: Any) -> str:
    return " ".join(str(values[0]).split()) if values else ""


def _author(author: dict[str, Any]) -> str:
    if "family" not in author:
        return str(author.get("name", "")).strip()  # a consortium or group author
    return f"{author['family']} {initials(author.get('given', ''))}".strip()


def _year(message: dict[str, Any]) -> int | None:
    # `issued` is the earliest of print and online publication; date-parts may be [[2012, 3]] or [[None]].
    for field in ("issued", "published-print", "published-online"):
        parts = (message.get(field) or {}).get("date-parts") or [[None]]
        if parts[0] and parts[0][0]:
            return int(parts[0][0])
    return None


def _updates(entries: Any, *, own_doi: str) -> tuple[WorkUpdate, ...]:
    updates = (_update(entry) for entry in entries or [])
    return tuple(u for u in updates if not (u.doi == own_doi and u.type in SELF_UPDATE_TYPES_IGNORED))


def _update(entry: dict[str, Any]) -> WorkUpdate:
    return WorkUpdate(
        type=str(entry.get("type", "")),
        doi=str(entry.get("DOI", "")).lower(),
        label=str(entry.get("label", "")),
        source=entry.get("source"),
        updated=_date((entry.get("updated") or {}).get("date-parts")),
        record_id=str(entry["record-id"]) if entry.get("record-id") not in (None, "") else None,
    )


def _date(date_parts: Any) -> date | None:
    """A date from date-parts; a missing month or day counts as the first (the date is then the earliest)."""
    if not date_parts or not date_parts[0] or not date_parts[0][0]:
        return None
    year, month, day = [*date_parts[0], 1, 1][:3]
    return date(int(year), int(month or 1), int(day or 1))


# --- The Crossref checker ---------------------------------------------------------------------------

# Crossmark update types → what they make of the work they update.
UPDATE_STANDINGS: dict[str, Standing] = {
    "retraction": Standing.RETRACTED, "partial_retraction": Standing.RETRACTED,
    "withdrawal": Standing.RETRACTED, "removal": Standing.RETRACTED,
    "correction": Standing.CORRECTED, "corrigendum": Standing.CORRECTED, "erratum": Standing.CORRECTED,
    "expression_of_concern": Standing.UNDER_QUESTION,
    "new_version": Standing.SUPERSEDED, "new_edition": Standing.SUPERSEDED,
    "addendum": Standing.NOTE, "clarification": Standing.NOTE,
    "reinstatement": Standing.NOTE,  # Retraction Watch: a retraction withdrawn; see _set_aside_reinstated
}  # fmt: skip
# A record that updates another with one of these is a newer version of it, not a notice about it.
VERSION_TYPES = frozenset({"new_version", "new_edition"})
SEVERITY = (Standing.RETRACTED, Standing.UNDER_QUESTION, Standing.SUPERSEDED, Standing.CORRECTED, Standing.NOTE)
HEADLINES = {
    Standing.RETRACTED: "Retracted", Standing.UNDER_QUESTION: "Under an expression of concern",
    Standing.SUPERSEDED: "Superseded by a newer version", Standing.CORRECTED: "Corrected",
    Standing.NOTE: "Has a notice",
}  # fmt: skip
SOURCE_NAMES = {"retraction-watch": "Retraction Watch", "publisher": "the publisher"}


@dataclass(frozen=True)
class Finding:
    """One notice about a cited work, however it was found."""

    update: WorkUpdate  # its DOI is the notice's
    found_via: str  # "updated-by" (on the work) or "updates-query" (the notice's own update-to)

    @property
    def standing(self) -> Standing:
        return UPDATE_STANDINGS.get(self.update.type, Standing.NOTE)

    @property
    def source(self) -> str:
        # Entries without a source predate Retraction Watch in Crossref: the publisher deposited them.
        return self.update.source or "publisher"

    def evidence(self) -> dict[str, Any]:
        u = self.update
        return {"type": u.type, "notice_doi": u.doi, "source": u.source, "record_id": u.record_id,
                "date": u.updated.isoformat() if u.updated else None, "found_via": self.found_via}  # fmt: skip


class CrossrefChecker:
    """DOIs → verdicts from each work's `updated-by` and the reverse `updates:` query.

    Both lookups are list requests for CROSSREF_DOIS_PER_REQUEST DOIs at a time; a DOI with a comma (legal
    before 2007) cannot be put in a filter, so it is read alone and its reverse query is reported as
    impossible rather than passed over.
    """

    name = "crossref"
    batch_size = 100

    def __init__(self, *, retries: int = http.RETRIES, backoff: float = http.BACKOFF_SECONDS) -> None:
        self._retries = retries
        self._backoff = backoff

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
        by_doi: dict[str, list[ReferenceToCheck]] = {}
        for reference in batch:
            if reference.doi and reference.doi.strip():
                by_doi.setdefault(reference.doi.strip().lower(), []).append(reference)
        dois = list(by_doi)
        per_request = max(1, int(settings.CROSSREF_DOIS_PER_REQUEST))
        verdicts: list[Verdict] = []
        with CrossrefClient(retries=self._retries, backoff=self._backoff) as client:
            together = [doi for doi in dois if filterable(doi)]
            for start in range(0, len(together), per_request):
                chunk = together[start : start + per_request]
                judged = self._judge_chunk(client, chunk)
                verdicts += [self._verdict(r, *judged[doi]) for doi in chunk for r in by_doi[doi]]
            for doi in (doi for doi in dois if not filterable(doi)):
                judged_alone = self._judge_alone(client, doi)
                verdicts += [self._verdict(r, *judged_alone) for r in by_doi[doi]]
        return in_batch_order(verdicts, batch)

    def _judge_chunk(self, client: CrossrefClient, dois: list[str]) -> dict[str, Judgement]:
        try:
            works = client.works(dois)
        except http.ServiceError as exc:
            return {doi: _fault(exc, doi) for doi in dois}
        try:
            notices = client.notices_updating(dois)
        except http.ServiceError as exc:
            return {doi: _judge(doi, works.get(doi), [], reverse_failure=exc) for doi in dois}
        return {doi: _judge(doi, works.get(doi), notices) for doi in dois}

    def _judge_alone(self, client: CrossrefClient, doi: str) -> Judgement:
        try:
            work = client.work(doi)
        except http.NotFound:
            work = None
        except http.ServiceError as exc:
            return _fault(exc, doi)
        return _judge(doi, work, [], reverse_impossible=True)

    def _verdict(
        self, reference: ReferenceToCheck, standing: Standing, summary: str, evidence: dict[str, Any], when: date | None
    ) -> Verdict:
        return Verdict(reference.id, self.name, standing, summary, evidence, when)


Judgement = tuple[Standing, str, dict[str, Any], date | None]


def _fault(exc: http.ServiceError, doi: str) -> Judgement:
    if isinstance(exc, http.ServiceUnreachable):
        return Standing.UNREACHABLE, f"Crossref could not be reached: {exc}", {"doi": doi}, None
    status = getattr(exc, "status", None)
    return Standing.ERROR, f"Crossref refused the lookup: {exc}", {"doi": doi, "http_status": status}, None


def _judge(
    doi: str,
    work: CrossrefWork | None,
    notices: Sequence[CrossrefWork],
    *,
    reverse_failure: http.ServiceError | None = None,
    reverse_impossible: bool = False,
) -> Judgement:
    """One DOI's verdict from its work (None: Crossref has none) and the notices found pointing at it."""
    evidence: dict[str, Any] = {"doi": doi}
    if work is not None:
        # A record updating itself (an in-place retraction) is the paper, retracted; not a notice.
        notice_of = [u for u in work.update_to if u.type not in VERSION_TYPES and u.doi != doi]
        if notice_of:
            return _is_notice(doi, notice_of, evidence)
    findings = _findings(doi, work, notices)
    if reverse_failure is not None:
        evidence["incomplete"] = f"the search for notices pointing at this DOI failed: {reverse_failure}"
    if reverse_impossible:
        evidence["incomplete"] = "a DOI with a comma cannot be searched for notices pointing at it"
    if not findings:
        if reverse_failure is not None:
            return _fault(reverse_failure, doi)
        if work is None:
            summary = f"Crossref has no record of DOI {doi} (it may be registered elsewhere, e.g. DataCite)."
            return Standing.ERROR, summary, evidence, None
        if reverse_impossible:
            summary = ("Crossref shows no notice on the record, but older notices that point at a DOI with a "
                       "comma cannot be searched for: check by hand.")  # fmt: skip
            return Standing.UNKNOWN, summary, evidence, None
        return Standing.CLEAN, "Crossref lists no retraction, correction, concern or new version.", evidence, None
    return _bad_news(findings, evidence)


def _findings(doi: str, work: CrossrefWork | None, notices: Sequence[CrossrefWork]) -> list[Finding]:
    """Every notice from both directions, once per (notice DOI, type, source)."""
    found: dict[tuple[str, str, str], Finding] = {}
    for update in work.updated_by if work else ():
        finding = Finding(update, "updated-by")
        found.setdefault((update.doi, update.type, finding.source), finding)
    for update in work.update_to if work else ():
        if update.doi == doi:  # in place: the record is its own notice
            finding = Finding(update, "update-to on itself")
            found.setdefault((update.doi, update.type, finding.source), finding)
    for notice in notices:
        for target in notice.update_to:
            if target.doi != doi:
                continue
            # The notice's update-to names the work; the finding names the notice, like updated-by does.
            update = WorkUpdate(target.type, notice.doi, target.label, target.source, target.updated, target.record_id)
            finding = Finding(update, "updates-query")
            key = (update.doi, update.type, finding.source)
            if key in found:
                found[key] = Finding(found[key].update, "updated-by and updates-query")
            else:
                found[key] = finding
    return list(found.values())


def _set_aside_reinstated(findings: list[Finding], evidence: dict[str, Any]) -> list[Finding]:
    """A paper reinstated after its retraction is what it is now: the earlier retractions no longer count."""
    reinstated = [f.update.updated or date.max for f in findings if f.update.type == "reinstatement"]
    if not reinstated:
        return findings
    latest = max(reinstated)
    superseded = [f for f in findings if f.standing == Standing.RETRACTED and (f.update.updated or date.min) <= latest]
    evidence["set_aside"] = [dict(f.evidence(), why="reinstated later") for f in superseded]
    return [f for f in findings if f not in superseded]


def _bad_news(findings: list[Finding], evidence: dict[str, Any]) -> Judgement:
    findings = _set_aside_reinstated(findings, evidence)
    ordered = sorted(findings, key=lambda f: (SEVERITY.index(f.standing), -(f.update.updated or date.min).toordinal()))
    worst = ordered[0]
    disagreements = _disagreements(findings)
    evidence |= {
        "notice_doi": worst.update.doi,
        "notice_type": worst.update.type,
        "source": worst.update.source,
        "record_id": worst.update.record_id,
        "notice_date": worst.update.updated.isoformat() if worst.update.updated else None,
        "notices": [f.evidence() for f in ordered],
        "sources": sorted({f.source for f in findings}),
        "disagreements": disagreements,
    }
    summary = _summary(worst, ordered[1:], disagreements)
    return worst.standing, summary, evidence, worst.update.updated


def _summary(worst: Finding, others: list[Finding], disagreements: list[str]) -> str:
    u = worst.update
    text = HEADLINES[worst.standing]
    if worst.standing == Standing.NOTE:
        text = f"Has {'an' if u.type[:1] in 'aeiou' else 'a'} {u.type.replace('_', ' ')}"
    if u.type == "reinstatement":
        text = "Reinstated after a retraction"
    if u.updated:
        text += f" on {u.updated.day} {u.updated:%B %Y}"
    per = f"per {SOURCE_NAMES.get(worst.source, worst.source)}"
    if u.record_id:
        per += f" record {u.record_id}"
    text += f" (notice {u.doi}, {per})."
    if others:
        text += " Also: " + ", ".join(f"{f.update.type.replace('_', ' ')} ({f.update.doi})" for f in others) + "."
    if disagreements:
        text += " " + " ".join(disagreements)
    return text


def _disagreements(findings: list[Finding]) -> list[str]:
    """Where Retraction Watch and the publisher's deposits tell different stories."""
    by_source: dict[str, list[Finding]] = {}
    for finding in findings:
        by_source.setdefault(finding.source, []).append(finding)
    said: list[str] = []
    types_per_notice: dict[str, dict[str, str]] = {}
    for finding in findings:
        types_per_notice.setdefault(finding.update.doi, {})[finding.source] = finding.update.type
    for notice_doi, types in types_per_notice.items():
        if len(set(types.values())) > 1:
            described = "; ".join(f"{SOURCE_NAMES.get(s, s)} calls it {t.replace('_', ' ')}" for s, t in types.items())
            said.append(f"Sources disagree about notice {notice_doi}: {described}.")
    worst = {source: min(group, key=lambda f: SEVERITY.index(f.standing)) for source, group in by_source.items()}
    if len(worst) > 1 and len({f.standing for f in worst.values()}) > 1:
        described = "; ".join(f"{SOURCE_NAMES.get(s, s)} records {f.update.type.replace('_', ' ')} ({f.update.doi})"
                              for s, f in sorted(worst.items()))  # fmt: skip
        said.append(f"Sources disagree: {described}.")
    if set(worst) == {"retraction-watch"}:
        said.append("Only Retraction Watch records this; the publisher has deposited no notice.")
    return said


def _is_notice(doi: str, notice_of: list[WorkUpdate], evidence: dict[str, Any]) -> Judgement:
    first = notice_of[0]
    kind = first.type.replace("_", " ")
    about = ", ".join(u.doi for u in notice_of)
    when = f" ({first.updated.day} {first.updated:%B %Y})" if first.updated else ""
    evidence |= {"notice_of": [{"doi": u.doi, "type": u.type, "source": u.source,
                                "date": u.updated.isoformat() if u.updated else None} for u in notice_of]}  # fmt: skip
    summary = (f"This DOI is the {kind} notice of {about}{when}, not a paper: cite the paper itself, and say "
               f"what happened to it.")  # fmt: skip
    return Standing.IS_NOTICE, summary, evidence, first.updated
