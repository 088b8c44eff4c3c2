"""A real HTTP server on 127.0.0.1 that answers like Crossref, NCBI E-utilities and ordinary web pages.

It serves the recorded responses in ../shared/api-samples byte for byte, and builds answers for other
identifiers from those same recorded shapes. Tests can script failures (404, 500 then 200, a closed
port) and read back every request it received, e.g. to assert that PubMed ids went in one batch.

Routes: /crossref/works/{doi} and /crossref/works?filter=doi:…,updates:… (Crossref's own filter parsing,
so a DOI with a comma breaks the filter exactly as it does there), /eutils/esummary.fcgi and
/eutils/efetch.fcgi, and any other path as a web page scripted with `add_page` / `redirect`.

Reuse outside pytest (bench/): `with serve(FakeWeb(latency=0.05)) as base_url:` and point the settings
(CROSSREF_API_URL=base_url+"/crossref", EUTILS_API_URL=base_url+"/eutils", LINK_CHECK_ALLOW_LOOPBACK=1)
at it; `add_clean_works` / `add_clean_articles` build thousands of lean records quickly.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
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
# A recorded correction notice (an erratum typed plain journal-article) found only through `update-to`.
WORKLIST_NOTICE = ("crossref-worklist-filter-with-update-to-erratum.json", 14)
NOT_FOUND_TEXT = (SAMPLES / "crossref-error-404-resource-not-found.txt").read_bytes()
SUMMARY_ERROR = "cannot get document summary"
CROSSREF_LIST_FILTERS = frozenset({"doi", "updates"})  # the ones the fake implements; others answer 400
CROSSREF_MAX_ROWS = 1000


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample(name))


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    only_if: str = ""  # given only to a request whose query string contains this (e.g. "updates:")


@dataclass(frozen=True)
class Page:
    """A scripted web page: what GET (and HEAD, unless `head_status` says otherwise) answers."""

    status: int = 200
    body: bytes = b"<!doctype html><title>A page</title><p>Some text.</p>"
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()  # e.g. (("Location", "/new"),) or (("Retry-After", "1"),)
    head_status: int | None = None  # e.g. 405: HEAD refused, GET works
    delay: float = 0.0  # seconds before answering (a timeout, when longer than the client waits)


@dataclass(frozen=True)
class Seen:
    path: str
    params: dict[str, str]
    method: str = "GET"
    at: float = 0.0  # time.monotonic() when the request arrived, to count requests per second
    host: str = ""  # the Host header
    headers: dict[str, str] = field(default_factory=dict)  # every request header, e.g. to assert no Cookie

    @property
    def ids(self) -> list[str]:
        return self.params.get("id", "").split(",")


@dataclass
class FakeWeb:
    """Crossref under /crossref, E-utilities under /eutils; state tests can add to before the calls."""

    crossref_works: dict[str, bytes] = field(default_factory=dict)  # DOI → /works/{doi} JSON envelope
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # PMID → esummary record
    articles: dict[str, str] = field(default_factory=dict)  # PMID → efetch <PubmedArticle> XML
    _messages: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # DOI → work object
    canned: dict[str, list[Canned]] = field(default_factory=dict)  # path → answers given before the real one
    pages: dict[str, Page] = field(default_factory=dict)  # path → a web page (link checks)
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latency: float = 0.0  # seconds added before every answer (benchmarks: a distant service)
    base_url: str = ""  # "http://127.0.0.1:PORT", set once the server listens
    # DOI a notice updates → the notices' DOIs (what `filter=updates:` searches)
    notices_by_target: dict[str, set[str]] = field(default_factory=dict)
    in_flight: int = 0  # requests being answered right now, and the most seen at once
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        for name in CROSSREF_SAMPLE_FILES:
            raw = sample(name)
            self._store_work(json.loads(raw)["message"], raw)
        name, index = WORKLIST_NOTICE
        self._store_work(sample_json(name)["message"]["items"][index])
        self.pages["/"] = Page(body=b"<!doctype html><title>Home</title><p>Welcome.</p>")
        summary = sample_json("pubmed-esummary-single.json")["result"]
        self.summaries |= {uid: summary[uid] for uid in summary["uids"]}
        for name in EFETCH_SAMPLE_FILES:
            text = sample(name).decode()
            article = re.search(r"<PubmedArticle>.*</PubmedArticle>", text, re.DOTALL)
            pmid = re.search(r"<PMID[^>]*>(\d+)</PMID>", text)
            assert article and pmid, name
            self.articles[pmid.group(1)] = article.group(0)

    # --- scripting: Crossref ----------------------------------------------------------------------
    def add_work(self, doi: str, **fields: Any) -> None:
        """A work in the recorded envelope; `updated_by=[crossref_update(…)]` / `update_to=[…]` for notices."""
        envelope = crossref_envelope(doi, **fields)
        self._store_work(envelope["message"], json.dumps(envelope).encode())

    def add_notice(
        self, notice_doi: str, *, updates: str, type: str = "retraction", source: str | None = "publisher", **kw: Any
    ) -> None:
        """A notice (typed plain journal-article, as Crossref does) whose `update-to` names the work it updates.

        Without `updated_by` on that work, only the reverse `filter=updates:` query finds it."""
        title = kw.pop("title", f"{type.replace('_', ' ').capitalize()} notice")
        entry = crossref_update(updates, type, source=source, **kw)
        self.add_work(notice_doi, title=title, update_to=[entry])

    def add_clean_works(self, dois: Iterable[str]) -> None:
        """Many ordinary works at once, lean (no reference list), for sweeps and benchmarks."""
        for number, doi in enumerate(dois):
            message = {**LEAN_WORK, "DOI": doi, "title": [f"A clean study number {number}"]}
            self._store_work(message, json.dumps(_work_envelope(message)).encode())

    def _store_work(self, message: dict[str, Any], raw: bytes | None = None) -> None:
        doi = str(message["DOI"]).lower()
        self.crossref_works[doi] = raw if raw is not None else json.dumps(_work_envelope(message)).encode()
        self._messages[doi] = message
        for entry in message.get("update-to") or []:
            self.notices_by_target.setdefault(str(entry["DOI"]).lower(), set()).add(doi)

    # --- scripting: PubMed --------------------------------------------------------------------------
    def add_summary(self, pmid: str, **fields: Any) -> None:
        self.summaries[pmid] = esummary_record(pmid, **fields)

    def add_article(self, pmid: str, **fields: Any) -> None:
        """An efetch record; see `pubmed_article` for the fields (publication types, notices, DOI)."""
        self.articles[pmid] = pubmed_article(pmid, **fields)

    def add_clean_articles(self, pmids: Iterable[str]) -> None:
        """Many ordinary journal articles at once, for sweeps and benchmarks."""
        for pmid in pmids:
            self.articles[pmid] = pubmed_article(pmid, title=f"A clean trial {pmid}.")

    # --- scripting: web pages -----------------------------------------------------------------------
    def add_page(self, path: str, status: int = 200, **fields: Any) -> str:
        """A page at `path`; returns its full URL. `headers` may be a dict."""
        if isinstance(fields.get("headers"), dict):
            fields["headers"] = tuple(fields["headers"].items())
        self.pages[path] = Page(status=status, **fields)
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 301) -> str:
        """`path` answers `status` with Location `to` (a path or a full URL); returns its full URL."""
        return self.add_page(path, status, body=b"", headers={"Location": to})

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- scripting: failures and what was seen ------------------------------------------------------
    def fail_next(
        self,
        path: str,
        *statuses: int,
        body: bytes = b"",
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
        only_if: str = "",
    ) -> None:
        """The next requests to `path` (e.g. "/crossref/works/10.1/x") get these statuses, then the real answer.

        `only_if`: only requests whose decoded query string contains it (e.g. "updates:" for the reverse query)."""
        extra = tuple((headers or {}).items())
        self.canned.setdefault(path, []).extend(Canned(s, body, content_type, extra, only_if) for s in statuses)

    def seen(self, path_suffix: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    def most_requests_in_one_second(self, path_prefix: str) -> int:
        """The most requests to paths starting with `path_prefix` inside any one-second window."""
        with self.lock:
            times = sorted(r.at for r in self.requests if r.path.startswith(path_prefix))
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    # --- answering ----------------------------------------------------------------------------
    def answer(
        self, path: str, params: dict[str, str], *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Canned:
        headers = headers or {}
        with self.lock:
            self.requests.append(Seen(path, params, method, time.monotonic(), headers.get("Host", ""), headers))
            query = "&".join(f"{k}={v}" for k, v in params.items())
            scripted = self.canned.get(path, [])
            for index, canned in enumerate(scripted):
                if canned.only_if in query:
                    return scripted.pop(index)
        if path == "/crossref/works":
            return self._work_list(params)
        if path.startswith("/crossref/works/"):
            return self._work(path.removeprefix("/crossref/works/").lower())
        if path == "/eutils/esummary.fcgi":
            return self._esummary(params.get("id", "").split(","))
        if path == "/eutils/efetch.fcgi":
            return self._efetch(params.get("id", "").split(","))
        return self._page(path, method)

    def _page(self, path: str, method: str) -> Canned:
        page = self.pages.get(path)
        if page is None:
            return Canned(404, b"<!doctype html><title>Not found</title>", "text/html")
        if page.delay:
            time.sleep(page.delay)
        status = page.head_status if method == "HEAD" and page.head_status else page.status
        return Canned(status, page.body, page.content_type, page.headers)

    def _work(self, doi: str) -> Canned:
        if doi in self.crossref_works:
            return Canned(200, self.crossref_works[doi], "application/json")
        return Canned(404, NOT_FOUND_TEXT, "text/plain")  # Crossref's own 404: plain text, not JSON

    def _work_list(self, params: dict[str, str]) -> Canned:
        """`works?filter=…`: filters split on every comma, then name and value at the first colon; the same
        name repeated is OR-ed, different names AND-ed (as the production API does)."""
        wanted: dict[str, set[str]] = {}
        for part in params.get("filter", "").split(","):
            name, colon, value = part.partition(":")
            if not colon or name not in CROSSREF_LIST_FILTERS:
                return _crossref_filter_error(name or part)
            wanted.setdefault(name, set()).add(value.lower())
        found = set(self.crossref_works)
        if "doi" in wanted:
            found &= wanted["doi"]
        if "updates" in wanted:
            found &= {notice for target in wanted["updates"] for notice in self.notices_by_target.get(target, ())}
        rows = min(int(params.get("rows", 20)), CROSSREF_MAX_ROWS)
        cursor = params.get("cursor")
        start = int(params.get("offset", 0)) if cursor is None else (0 if cursor == "*" else int(cursor))
        dois = sorted(found)
        items = [self._messages[doi] for doi in dois[start : start + rows]]
        message: dict[str, Any] = {"facets": {}, "total-results": len(dois), "items": items, "items-per-page": rows,
                                   "query": {"start-index": start, "search-terms": None}}  # fmt: skip
        if cursor is not None:
            message["next-cursor"] = str(start + rows)
        body = {"status": "ok", "message-type": "work-list", "message-version": "1.0.0", "message": message}
        return Canned(200, json.dumps(body).encode(), "application/json;charset=UTF-8")

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
    title: str = "A study of something",
    authors: list[tuple[str, str]] | None = None,
    container: str = "Journal of Examples",
    year: int = 2015,
    volume: str = "",
    page: str = "",
    updated_by: list[dict[str, Any]] | None = None,
    update_to: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A /works/{doi} answer: the recorded journal-article envelope with this work's fields."""
    envelope = copy.deepcopy(sample_json("crossref-work-journal-article.json"))
    message = envelope["message"]
    authors = authors if authors is not None else [("Alex", "Example")]
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
    if updated_by is not None:
        message["updated-by"] = updated_by
    if update_to is not None:
        message["update-to"] = update_to
    return envelope


def crossref_update(
    doi: str,
    type: str,
    *,
    source: str | None = "publisher",
    date: tuple[int, ...] = (2020, 1, 15),
    record_id: int | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """One `updated-by` / `update-to` entry in the recorded shape; `record-id` as Retraction Watch entries carry.

    `doi` is the notice's DOI in `updated-by`, the updated work's DOI in `update-to`."""
    year, month, day = (*date, 1, 1)[:3]
    stamp = f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z"
    entry: dict[str, Any] = {
        "DOI": doi,
        "type": type,
        "label": label or type.replace("_", " ").capitalize(),
        "updated": {"date-parts": [list(date)], "date-time": stamp, "timestamp": 0},
    }
    if source is not None:
        entry["source"] = source
    if record_id is not None:
        entry["record-id"] = record_id
    return entry


def _lean_work() -> dict[str, Any]:
    # The recorded work without its long reference list and other bulk: the same shape, a fraction of the size.
    message = copy.deepcopy(sample_json("crossref-work-journal-article.json")["message"])
    for bulky in ("reference", "link", "license", "relation", "assertion"):
        message.pop(bulky, None)
    message["reference-count"] = 0
    return message


LEAN_WORK = _lean_work()


def _work_envelope(message: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": message}


def _crossref_filter_error(name: str) -> Canned:
    # The recorded validation-failure envelope, naming the offending filter as the service does.
    envelope = sample_json("crossref-error-400-filter-not-available.json")
    envelope["message"][0].update(
        value=name,
        message=f"Filter '{name}' specified but there is no such filter for this route. "
        f"Valid filters for this route are: {', '.join(sorted(CROSSREF_LIST_FILTERS))}",
    )
    return Canned(400, json.dumps(envelope).encode(), "application/json;charset=utf-8")


def pubmed_article(
    pmid: str,
    *,
    title: str = "A study of something.",
    publication_types: Iterable[str] = ("Journal Article",),
    notices: Iterable[tuple[str, str | None, str]] = (),
    doi: str | None = None,
    status: str = "MEDLINE",
) -> str:
    """A <PubmedArticle> in efetch's element structure; `notices` are (RefType, PMID or None, RefSource)."""
    article = ET.Element("PubmedArticle")
    citation = ET.SubElement(article, "MedlineCitation", Status=status, Owner="NLM")
    ET.SubElement(citation, "PMID", Version="1").text = pmid
    body = ET.SubElement(citation, "Article", PubModel="Print")
    ET.SubElement(body, "ArticleTitle").text = title
    types = ET.SubElement(body, "PublicationTypeList")
    for name in publication_types:
        ET.SubElement(types, "PublicationType", UI=PUBLICATION_TYPE_UI.get(name, "")).text = name
    notices = list(notices)
    if notices:
        listing = ET.SubElement(citation, "CommentsCorrectionsList")
        for ref_type, ref_pmid, ref_source in notices:
            entry = ET.SubElement(listing, "CommentsCorrections", RefType=ref_type)
            ET.SubElement(entry, "RefSource").text = ref_source
            if ref_pmid:
                ET.SubElement(entry, "PMID", Version="1").text = ref_pmid
    ids = ET.SubElement(ET.SubElement(article, "PubmedData"), "ArticleIdList")
    ET.SubElement(ids, "ArticleId", IdType="pubmed").text = pmid
    if doi:
        ET.SubElement(ids, "ArticleId", IdType="doi").text = doi
    return ET.tostring(article, encoding="unicode")


PUBLICATION_TYPE_UI = {
    "Journal Article": "D016428",
    "Retracted Publication": "D016441",
    "Retraction of Publication": "D016440",
    "Published Erratum": "D016425",
    "Expression of Concern": "D000075742",
    "Systematic Review": "D000078182",
}


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
        protocol_version = "HTTP/1.1"  # keep-alive, as the real services: clients reuse one connection

        def do_GET(self) -> None:
            self._respond("GET")

        def do_HEAD(self) -> None:
            self._respond("HEAD")

        def _respond(self, method: str) -> None:
            with web.lock:
                web.in_flight += 1
                web.max_in_flight = max(web.max_in_flight, web.in_flight)
            try:
                if web.latency:
                    time.sleep(web.latency)
                url = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                canned = web.answer(unquote(url.path), params, method=method, headers=dict(self.headers.items()))
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(canned.body)))
                for name, value in canned.headers:
                    self.send_header(name, value)
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(canned.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer
            finally:
                with web.lock:
                    web.in_flight -= 1

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output quiet

    return Handler


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(web: FakeWeb) -> Iterator[str]:
    """Runs the fake services on a free loopback port for the duration; yields (and sets) `web.base_url`."""
    with serve_also(web, "127.0.0.1") as base_url:
        web.base_url = base_url
        yield base_url


@contextlib.contextmanager
def serve_also(web: FakeWeb, host: str) -> Iterator[str]:
    """The same services at another loopback address (127.0.0.2, …): another web site to the link checker,
    which limits how many requests go to one host at once. Yields its base URL."""
    server = ThreadingHTTPServer((host, 0), _handler(web))
    server.daemon_threads = True  # a request sleeping through a timeout test must not hold up the shutdown
    # A short poll interval: shutdown() waits for the loop to notice, and every test pays that wait.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(name="fakeweb")
def fakeweb_fixture() -> Iterator[FakeWeb]:
    """The fake services, with CROSSREF_API_URL and EUTILS_API_URL pointing at them in every thread.

    LINK_CHECK_ALLOW_LOOPBACK is on so the link checker may fetch the pages it serves on 127.0.0.1
    (private, link-local and metadata addresses stay refused). The loopback Crossref has no rate limit,
    so tests do not wait for the public one (1 list request a second); NCBI's 3 a second stays."""
    web = FakeWeb()
    with serve(web) as base, override_settings(**fake_service_settings(base)):
        yield web


def fake_service_settings(base_url: str) -> dict[str, Any]:
    """The settings that point every checker at the fake services served at `base_url`."""
    return {
        "CROSSREF_API_URL": f"{base_url}/crossref",
        "EUTILS_API_URL": f"{base_url}/eutils",
        "LINK_CHECK_ALLOW_LOOPBACK": True,
        "CROSSREF_RATE_PER_SECOND": 100,
        "CROSSREF_LIST_RATE_PER_SECOND": 100,
    }
