"""A real HTTP server on 127.0.0.1 that answers like Crossref and NCBI E-utilities.

It serves the recorded responses in ../shared/api-samples byte for byte, and builds answers for other
identifiers from those same recorded shapes. Tests can script failures (404, 500 then 200, a closed
port) and read back every request it received, e.g. to assert that PubMed ids went in one batch.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.test import override_settings

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "api-samples"

CROSSREF_SAMPLE_FILES = (
    "crossref-work-journal-article.json",
    "crossref-work-updated-by-correction.json",
    "crossref-work-self-new-version-update.json",
)
EFETCH_SAMPLE_FILES = (
    "pubmed-efetch-retracted-wakefield.xml",
    "pubmed-efetch-retracted-legacy-2011.xml",
    "pubmed-efetch-retraction-notice-legacy-2016.xml",
    "pubmed-efetch-erratum-in.xml",
    "pubmed-efetch-published-erratum-notice.xml",
)
NOT_FOUND_TEXT = (SAMPLES / "crossref-error-404-resource-not-found.txt").read_bytes()
SUMMARY_ERROR = "cannot get document summary"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Seen:
    path: str
    params: dict[str, str]

    @property
    def ids(self) -> list[str]:
        return self.params.get("id", "").split(",")


@dataclass
class FakeWeb:
    """Crossref under /crossref, E-utilities under /eutils; state tests can add to before the calls."""

    crossref_works: dict[str, bytes] = field(default_factory=dict)  # DOI → /works/{doi} JSON envelope
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # PMID → esummary record
    articles: dict[str, str] = field(default_factory=dict)  # PMID → efetch <PubmedArticle> XML
    canned: dict[str, list[Canned]] = field(default_factory=dict)  # path → answers given before the real one
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for name in CROSSREF_SAMPLE_FILES:
            raw = sample(name)
            self.crossref_works[json.loads(raw)["message"]["DOI"].lower()] = raw
        summary = sample_json("pubmed-esummary-single.json")["result"]
        self.summaries |= {uid: summary[uid] for uid in summary["uids"]}
        for name in EFETCH_SAMPLE_FILES:
            text = sample(name).decode()
            article = re.search(r"<PubmedArticle>.*</PubmedArticle>", text, re.DOTALL)
            pmid = re.search(r"<PMID[^>]*>(\d+)</PMID>", text)
            assert article and pmid, name
            self.articles[pmid.group(1)] = article.group(0)

    # --- scripting ----------------------------------------------------------------------------
    def add_work(self, doi: str, **fields: Any) -> None:
        self.crossref_works[doi.lower()] = json.dumps(crossref_envelope(doi, **fields)).encode()

    def add_summary(self, pmid: str, **fields: Any) -> None:
        self.summaries[pmid] = esummary_record(pmid, **fields)

    def fail_next(self, path: str, *statuses: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        """The next requests to `path` (e.g. "/crossref/works/10.1/x") get these statuses, then the real answer."""
        self.canned.setdefault(path, []).extend(Canned(s, body, content_type) for s in statuses)

    def seen(self, path_suffix: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    # --- answering ----------------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str]) -> Canned:
        with self.lock:
            self.requests.append(Seen(path, params))
            scripted = self.canned.get(path)
            if scripted:
                return scripted.pop(0)
        if path.startswith("/crossref/works/"):
            return self._work(path.removeprefix("/crossref/works/").lower())
        if path == "/eutils/esummary.fcgi":
            return self._esummary(params.get("id", "").split(","))
        if path == "/eutils/efetch.fcgi":
            return self._efetch(params.get("id", "").split(","))
        return Canned(404, b"Not found", "text/plain")

    def _work(self, doi: str) -> Canned:
        if doi in self.crossref_works:
            return Canned(200, self.crossref_works[doi], "application/json")
        return Canned(404, NOT_FOUND_TEXT, "text/plain")  # Crossref's own 404: plain text, not JSON

    def _esummary(self, ids: list[str]) -> Canned:
        result: dict[str, Any] = {"uids": ids}
        for uid in ids:
            result[uid] = self.summaries.get(uid, {"uid": uid, "error": SUMMARY_ERROR})
        body = {"header": {"type": "esummary", "version": "0.3"}, "result": result}
        return Canned(200, json.dumps(body).encode(), "application/json; charset=UTF-8")

    def _efetch(self, ids: list[str]) -> Canned:
        found = "\n".join(self.articles[i] for i in ids if i in self.articles)
        body = f'<?xml version="1.0" ?>\n<PubmedArticleSet>\n{found}\n</PubmedArticleSet>\n'
        return Canned(200, body.encode(), "text/xml; charset=UTF-8")


def crossref_envelope(
    doi: str,
    *,
    title: str,
    authors: list[tuple[str, str]],
    container: str,
    year: int,
    volume: str = "",
    page: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A /works/{doi} answer: the recorded journal-article envelope with this work's fields."""
    envelope = copy.deepcopy(sample_json("crossref-work-journal-article.json"))
    message = envelope["message"]
    message.update(
        {
            "DOI": doi,
            "title": [title],
            "author": [{"given": g, "family": f, "sequence": "additional", "affiliation": []} for g, f in authors],
            "container-title": [container],
            "issued": {"date-parts": [[year]]},
            "volume": volume,
            "page": page,
            **extra,
        }
    )
    return envelope


def esummary_record(
    pmid: str,
    *,
    title: str,
    authors: list[str],
    journal: str,
    source: str,
    pubdate: str,
    volume: str = "",
    pages: str = "",
    doi: str | None = None,
) -> dict[str, Any]:
    """An esummary record: the recorded one with this paper's fields."""
    record = copy.deepcopy(sample_json("pubmed-esummary-single.json")["result"]["27933103"])
    record.update(
        {
            "uid": pmid,
            "title": title,
            "authors": [{"name": name, "authtype": "Author", "clusterid": ""} for name in authors],
            "fulljournalname": journal,
            "source": source,
            "pubdate": pubdate,
            "volume": volume,
            "pages": pages,
            "pmcrefcount": "",  # the live service sends "" or an integer
            "articleids": [{"idtype": "pubmed", "idtypen": 1, "value": pmid}]
            + ([{"idtype": "doi", "idtypen": 3, "value": doi}] if doi else []),
        }
    )
    return record


def _handler(web: FakeWeb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            canned = web.answer(unquote(url.path), params)
            self.send_response(canned.status)
            self.send_header("Content-Type", canned.content_type)
            self.send_header("Content-Length", str(len(canned.body)))
            self.end_headers()
            self.wfile.write(canned.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="fakeweb")
def fakeweb_fixture() -> Iterator[FakeWeb]:
    """The fake services, with CROSSREF_API_URL and EUTILS_API_URL pointing at them in every thread."""
    web = FakeWeb()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(web))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with override_settings(CROSSREF_API_URL=f"{base}/crossref", EUTILS_API_URL=f"{base}/eutils"):
            yield web
    finally:
        server.shutdown()
        server.server_close()
