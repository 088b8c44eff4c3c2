"""The public page cache, and its one entry point for "something a reader can see has changed".

Whoever changes what a reader sees — a publication, a withdrawal, a reader notice opened or closed by the
citation watch, an edit of a site page, a correction note — calls `public_pages_changed(article_id)`
(or with no id for site-wide pages). The next request for those pages renders afresh, in every process on
every machine, and `Article.public_changed_at` records when it happened (the syndication API's
`modified_since` feed reads it).

How it stays correct without timeouts: each public page depends on a few *generations* kept in the shared
cache (the whole site; the article list; one article). A generation is a random token, replaced on every
change. A page is stored together with the tokens that were current *before* it was rendered, and served
only while every token still matches. So a change committed while a page was rendering makes that page
unservable at once, an evicted token can never come back with an old value, and nothing lives in a process.

Views opt in with `@public_page(...)`; `PublicPageMiddleware`, right after WhiteNoise, serves and stores
them, so a stored page skips sessions, CSRF, authentication and the view. Only anonymous readers are
served or stored: a request with a session cookie (a signed-in person, whose page shows desk links) or
pending messages is rendered normally and marked private. For anonymous readers the session is never
touched, so the article page carries no `Vary: Cookie`. Any cache error renders the page normally: an
outage of Redis costs speed, never an error page.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date

logger = logging.getLogger(__name__)

SITE = "site"  # every public page: site pages, the disclaimer, the layout
LISTING = "listing"  # pages that list articles: the index and the sitemap
# Headers the cache sets itself on every response it serves; the rest of a stored response is kept.
_OWN_HEADERS = {"vary", "set-cookie", "cache-control", "expires", "etag", "last-modified", "content-length"}
_ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def article_generation(slug: str) -> str:
    """The generation of one article's pages (slugs never change once an article exists)."""
    return f"article:{slug}"


# --- Invalidation ---------------------------------------------------------------------------------


def public_pages_changed(article_id: int | None = None) -> None:
    """Record that an article's public pages (or, with no id, every public page) changed.

    Safe to call inside a transaction: the generations are replaced now *and* again after commit, so a
    page rendered from the not-yet-committed state in between cannot outlive the commit.
    """
    if article_id is None:
        generations = [SITE]
    else:
        from .models import Article  # the models never import this module; views and workflow do

        articles = Article.objects.filter(pk=article_id)
        articles.update(public_changed_at=timezone.now())
        slugs = list(articles.values_list("slug", flat=True))
        generations = [LISTING, *map(article_generation, slugs)]
    _renew(generations)
    transaction.on_commit(lambda: _renew(generations))


def _token() -> str:
    # Time first, for Last-Modified; random after, so a token once replaced never recurs.
    return f"{time.time_ns()}-{secrets.token_hex(6)}"


def _token_time(token: str) -> float:
    return int(token.split("-", 1)[0]) / 1e9


def _cache() -> Any:
    return caches[settings.PAGE_CACHE_ALIAS]


def _renew(generations: list[str]) -> None:
    try:
        # No expiry: an evicted generation is recreated with a new token, which only costs a re-render.
        _cache().set_many({f"gen:{name}": _token() for name in generations}, timeout=None)
    except Exception:
        # Pages then live at most PAGE_CACHE_SECONDS; say so loudly, it is the one degraded case.
        logger.exception("page cache: could not renew %s", generations)


# --- Serving ----------------------------------------------------------------------------------------


def is_anonymous_reader(request: HttpRequest) -> bool:
    """No session cookie and no pending message: the page is the same for every such reader.

    Decided from cookies alone, so it costs no query and never loads the session."""
    cookies = request.COOKIES
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in cookies
        and CookieStorage.cookie_name not in cookies
    )


@functools.cache
def _release() -> str:
    """What the code that renders pages looks like: a deploy that changes a template, the app's code or
    the static files (whose hashed names pages link to) starts from fresh keys."""
    base = Path(settings.BASE_DIR)
    digest = hashlib.sha256(settings.PAGE_CACHE_RELEASE.encode())
    sources = [*sorted((base / "templates").rglob("*.html")), *sorted((base / "articles").rglob("*.py"))]
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    for path in [*sources, manifest]:
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PublicPage:
    """How a public view's pages are stored: see `public_page`."""

    depends_on: Callable[..., Iterable[str]]
    query: tuple[str, ...] | None
    variant: Callable[[HttpRequest], str] | None


def public_page(
    depends_on: Callable[..., Iterable[str]] = lambda **kwargs: (),
    *,
    query: tuple[str, ...] | None = None,
    variant: Callable[[HttpRequest], str] | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Mark a view as a public page: PublicPageMiddleware serves and stores it for anonymous readers.

    `depends_on(**view_kwargs)` names the generations the page depends on besides SITE. `query`: the GET
    parameters the view reads (they become part of the key; any other parameter renders uncached); None
    means the view ignores the query string. `variant(request)`: what else the page depends on (e.g. a
    cookie), added to the key and announced with `Vary: Cookie`.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if is_anonymous_reader(request):
                # The page is the same for every anonymous reader; pinning the user keeps the session unread
                # (so no Vary: Cookie) and costs no query.
                request.user = AnonymousUser()
                return view(request, *args, **kwargs)
            response = view(request, *args, **kwargs)
            # A person's own page (it shows desk links): never in a shared cache, always revalidated.
            patch_cache_control(response, private=True, no_cache=True)
            return response

        wrapper.public_page = PublicPage(depends_on, query, variant)  # type: ignore[attr-defined]
        return wrapper

    return decorate


class PublicPageMiddleware:
    """Serves stored public pages right after WhiteNoise, before sessions, CSRF, authentication and the
    view run, so a stored page costs about what a static file does. A page is stored as the inner
    middleware finished it (with its security headers) and gzip-compressed once, when stored."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        page = _public_page_at(request) if is_anonymous_reader(request) else None
        if page is None:
            return self.get_response(request)
        spec, kwargs = page
        varies = spec.variant is not None
        key = _entry_key(request, spec.query, spec.variant)
        if key is None:
            return _publicly_cacheable(request, self.get_response(request), None, varies)
        generations = [SITE, *spec.depends_on(**kwargs)]
        return _serve(request, key, generations, lambda: self.get_response(request), varies)


def _public_page_at(request: HttpRequest) -> tuple[PublicPage, dict[str, Any]] | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    spec = getattr(match.func, "public_page", None)
    return (spec, match.kwargs) if isinstance(spec, PublicPage) else None


def _entry_key(
    request: HttpRequest, query: tuple[str, ...] | None, variant: Callable[[HttpRequest], str] | None
) -> str | None:
    if not settings.PAGE_CACHE_ENABLED:
        return None
    params = ""
    if query is not None:
        if set(request.GET) - set(query):
            return None  # unbounded or unknown parameters (a search) are rendered, not stored
        params = "&".join(f"{name}={request.GET.get(name, '')}" for name in query)
    extra = variant(request) if variant else ""
    # Host and scheme: pages carry absolute canonical URLs.
    raw = f"{request.scheme}://{request.get_host()}{request.path}?{params}#{extra}"
    return f"page:{_release()}:{hashlib.sha256(raw.encode()).hexdigest()}"


def _serve(
    request: HttpRequest, key: str, generations: list[str], render: Callable[[], HttpResponse], varies: bool
) -> HttpResponse:
    gen_keys = [f"gen:{name}" for name in generations]
    try:
        found = _cache().get_many([key, *gen_keys])
        tokens = [found.get(k) or _start_generation(k) for k in gen_keys]
    except Exception:
        logger.warning("page cache unavailable; rendering %s", request.path, exc_info=True)
        return _publicly_cacheable(request, render(), None, varies)
    if None in tokens:  # evicted the moment it was made: render, store nothing
        return _publicly_cacheable(request, render(), None, varies)
    entry = found.get(key)
    if entry is not None and entry["tokens"] == tokens:
        return _publicly_cacheable(request, _from_entry(entry, _accepts_gzip(request)), entry, varies)
    # The tokens were read before rendering: a change committed meanwhile leaves this entry unservable.
    response = render()
    entry = _store(key, tokens, response)
    return _publicly_cacheable(request, response, entry, varies)


def _start_generation(key: str) -> str | None:
    cache = _cache()
    cache.add(key, _token(), timeout=None)
    token: str | None = cache.get(key)  # whoever added first wins, so every process agrees on the token
    return token


def _store(key: str, tokens: list[str | None], response: HttpResponse) -> dict[str, Any] | None:
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    cache_control = response.get("Cache-Control", "")
    if (
        response.status_code != 200
        or response.streaming
        or response.cookies
        or response.has_header("Content-Encoding")
        or "no-store" in cache_control
        or "private" in cache_control
    ):
        return None
    entry = {
        "tokens": tokens,
        "content": response.content,
        # Public pages hold no secret (no CSRF token, no personal data), so compressing them is BREACH-safe.
        "gzip": gzip.compress(response.content, compresslevel=6, mtime=0),
        "headers": {k: v for k, v in response.items() if k.lower() not in _OWN_HEADERS},
        "etag": f'"{hashlib.sha256(response.content).hexdigest()[:32]}"',
        "last_modified": max(_token_time(token) for token in tokens if token),
    }
    try:
        _cache().set(key, entry, timeout=settings.PAGE_CACHE_SECONDS)
    except Exception:
        logger.warning("page cache: could not store %s", key, exc_info=True)
    return entry


def _accepts_gzip(request: HttpRequest) -> bool:
    return bool(_ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")))


def _from_entry(entry: dict[str, Any], gzipped: bool) -> HttpResponse:
    body = entry["gzip"] if gzipped else entry["content"]
    response = HttpResponse(body)
    for name, value in entry["headers"].items():
        response[name] = value
    response["Content-Length"] = str(len(body))
    if gzipped:
        response["Content-Encoding"] = "gzip"
    return response


def _publicly_cacheable(
    request: HttpRequest, response: HttpResponse, entry: dict[str, Any] | None, varies: bool
) -> HttpResponse:
    """Headers for browsers and CDNs: revalidate after a short while, with an ETag they can send back."""
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    cache_control = response.get("Cache-Control", "")
    if response.status_code != 200 or "no-store" in cache_control or "private" in cache_control:
        return response
    patch_vary_headers(response, ["Cookie", "Accept-Encoding"] if varies else ["Accept-Encoding"])
    # Medical pages: a retraction notice must reach readers within minutes, so max-age stays short.
    patch_cache_control(
        response,
        public=True,
        max_age=settings.PUBLIC_PAGE_MAX_AGE,
        stale_while_revalidate=settings.PUBLIC_PAGE_STALE_SECONDS,
    )
    if entry is None:
        if response.streaming:
            return response
        response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
        return get_conditional_response(request, etag=response["ETag"], response=response) or response
    # Each encoding is its own representation, with its own strong validator.
    etag = entry["etag"][:-1] + '-gzip"' if response.get("Content-Encoding") == "gzip" else entry["etag"]
    response["ETag"] = etag
    last_modified = int(entry["last_modified"])
    response["Last-Modified"] = http_date(last_modified)
    conditional = get_conditional_response(request, etag=etag, last_modified=last_modified, response=response)
    return conditional or response
