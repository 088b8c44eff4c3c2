"""Crossref REST API: one work by DOI, with its bibliographic metadata and its update signals.

A work's `updated-by` lists the notices (correction, retraction, expression of concern…) that update
it; a notice's `update-to` lists the works it updates. Both are kept for the stale-citation checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from . import http

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


class CrossrefClient:
    """Reads Crossref at CROSSREF_API_URL; use as a context manager to reuse one connection."""

    def __init__(self, *, retries: int = http.RETRIES, backoff: float = http.BACKOFF_SECONDS) -> None:
        self._http = http.make_client(settings.CROSSREF_API_URL, accept="application/json")
        self._mailto = settings.CROSSREF_MAILTO
        self._retries = retries
        self._backoff = backoff

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
    )


def _date(date_parts: Any) -> date | None:
    """A date from date-parts; a missing month or day counts as the first (the date is then the earliest)."""
    if not date_parts or not date_parts[0] or not date_parts[0][0]:
        return None
    year, month, day = [*date_parts[0], 1, 1][:3]
    return date(int(year), int(month or 1), int(day or 1))
