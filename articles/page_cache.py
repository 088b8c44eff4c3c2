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
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
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
    """The generation of one article's pages (renaming an address in the admin renews every page)."""
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
    # Stored pages keep the headers they are served with, Cache-Control's lifetimes among them. Worked out
    # once per process (settings do not change in one), so a test that changes them must clear this cache.
    shaping = (settings.PAGE_CACHE_RELEASE, settings.PUBLIC_PAGE_MAX_AGE, settings.PUBLIC_PAGE_STALE_SECONDS)
    digest = hashlib.sha256(repr(shaping).encode())
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
            return _publicly_cacheable(request, self.get_response(request), varies)
        generations = [SITE, *spec.depends_on(**kwargs)]
        return _serve(request, key, generations, lambda: self.get_response(request), varies)


def _public_page_at(request: HttpRequest) -> tuple[PublicPage, dict[str, Any]] | None:
    found = _public_page_for(request.path_info)
    return None if found is None else (found[0], dict(found[1]))


# Resolving the address is a tenth of serving a stored page; the URLconf is fixed in a process, so an
# address resolves the same way every time. Made-up addresses (an unknown slug matches the article
# pattern like a real one) can only evict others: 1,024 are kept.
@functools.lru_cache(maxsize=1024)
def _public_page_for(path_info: str) -> tuple[PublicPage, tuple[tuple[str, Any], ...]] | None:
    try:
        match = resolve(path_info)
    except Resolver404:
        return None
    spec = getattr(match.func, "public_page", None)
    return (spec, tuple(match.kwargs.items())) if isinstance(spec, PublicPage) else None


@receiver(setting_changed)
def _urlconf_changed(setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":  # tests only: Django clears its own resolver caches likewise
        _public_page_for.cache_clear()


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
    # Each encoding is stored apart, so a hit reads only the bytes it sends (gzip: about a tenth).
    encoding = "gzip" if _ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")) else "identity"
    started: list[str] = []
    try:
        found = _cache().get_many([f"{key}:{encoding}", *gen_keys])
        tokens = [found.get(k) or _start_generation(k, started) for k in gen_keys]
    except Exception:
        logger.warning("page cache unavailable; rendering %s", request.path, exc_info=True)
        return _publicly_cacheable(request, render(), varies)
    if None in tokens:  # evicted the moment it was made: render, store nothing
        return _publicly_cacheable(request, render(), varies)
    entry = found.get(f"{key}:{encoding}")
    if entry is not None and entry["tokens"] == tokens:
        return _from_entry(request, entry)
    # The tokens were read before rendering: a change committed meanwhile leaves this entry unservable.
    response = render()
    entries = _store(key, tokens, response, varies)
    if entries is None:
        if started:
            _forget(started)
        return _publicly_cacheable(request, response, varies)
    # Answer with the representation the reader asked for, exactly as the next request will get it.
    return _from_entry(request, entries[encoding])


def _start_generation(key: str, started: list[str]) -> str | None:
    cache = _cache()
    if cache.add(key, _token(), timeout=None):
        started.append(key)
    token: str | None = cache.get(key)  # whoever added first wins, so every process agrees on the token
    return token


def _forget(keys: list[str]) -> None:
    """Generations started for a page that turned out not to exist (a made-up address) are removed, so
    requests for random addresses cannot fill Redis. Safe even if another process just started using one:
    a missing generation only means a re-render."""
    try:
        _cache().delete_many(keys)
    except Exception:
        logger.warning("page cache: could not remove %s", keys, exc_info=True)


def _store(
    key: str, tokens: list[str | None], response: HttpResponse, varies: bool
) -> dict[str, dict[str, Any]] | None:
    """Store the page in each encoding (None: not storable); returns the entries by encoding."""
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
    headers = {k: v for k, v in response.items() if k.lower() not in _OWN_HEADERS}
    etag = _validator(response)
    last_modified = max(_token_time(token) for token in tokens if token)
    plain: dict[str, Any] = {"tokens": tokens, "body": response.content, "headers": headers, "etag": f'"{etag}"'}
    # Public pages hold no secret (no CSRF token, no personal data), so compressing them is BREACH-safe.
    # Each encoding is its own representation, with its own strong validator.
    zipped: dict[str, Any] = {
        "tokens": tokens,
        "body": gzip.compress(response.content, compresslevel=6, mtime=0),
        "headers": {**headers, "Content-Encoding": "gzip"},
        "etag": f'"{etag}-gzip"',
    }
    entries = {"identity": plain, "gzip": zipped}
    for entry in entries.values():
        entry["last_modified"] = last_modified
        entry["headers"] = _served_headers(entry, varies)
    try:
        stored = {f"{key}:{encoding}": entry for encoding, entry in entries.items()}
        _cache().set_many(stored, timeout=settings.PAGE_CACHE_SECONDS)
    except Exception:
        logger.warning("page cache: could not store %s", key, exc_info=True)
    return entries


def _validator(response: HttpResponse) -> str:
    """The page's strong validator: the one its view computed (see articles/framed.py), else its hash."""
    etag = response.get("ETag", "")
    if len(etag) > 2 and etag.startswith('"') and etag.endswith('"'):  # strong; a weak one is not kept
        return etag[1:-1]
    return hashlib.sha256(response.content).hexdigest()[:32]


def _served_headers(entry: dict[str, Any], varies: bool) -> dict[str, str]:
    """Every header a stored page is served with, worked out once as it is stored, not on every hit."""
    response = HttpResponse(headers=entry["headers"])
    response["Content-Length"] = str(len(entry["body"]))
    _mark_public(response, varies)
    response["ETag"] = entry["etag"]
    response["Last-Modified"] = http_date(int(entry["last_modified"]))
    return dict(response.items())


def _from_entry(request: HttpRequest, entry: dict[str, Any]) -> HttpResponse:
    """A stored page, or 304 when the reader's copy is current."""
    response = HttpResponse(entry["body"], headers=entry["headers"])
    last_modified = int(entry["last_modified"])
    conditional = get_conditional_response(request, etag=entry["etag"], last_modified=last_modified, response=response)
    return conditional or response


def _publicly_cacheable(request: HttpRequest, response: HttpResponse, varies: bool) -> HttpResponse:
    """A public page rendered but not served from the cache: public headers and its ETag, or a 304."""
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    cache_control = response.get("Cache-Control", "")
    if response.status_code != 200 or "no-store" in cache_control or "private" in cache_control:
        return response
    _mark_public(response, varies)
    if response.streaming:
        return response
    response["ETag"] = f'"{_validator(response)}"'
    return get_conditional_response(request, etag=response["ETag"], response=response) or response


def _mark_public(response: HttpResponse, varies: bool) -> None:
    """Headers for browsers and CDNs: revalidate after a short while (with the ETag they send back)."""
    patch_vary_headers(response, ["Cookie", "Accept-Encoding"] if varies else ["Accept-Encoding"])
    # Medical pages: a retraction notice must reach readers within minutes, so max-age stays short.
    patch_cache_control(
        response,
        public=True,
        max_age=settings.PUBLIC_PAGE_MAX_AGE,
        stale_while_revalidate=settings.PUBLIC_PAGE_STALE_SECONDS,
    )
