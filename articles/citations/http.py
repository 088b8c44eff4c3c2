"""GET with timeouts and retries, and the three ways an outside service can let us down.

The distinction matters downstream: a reference whose service was unreachable must never be taken
for one that was not found, and neither for one that was retracted.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx
from django.conf import settings

USER_AGENT = "contentreview/0.1 (medical editorial platform; reference metadata)"
RETRIES = 3
BACKOFF_SECONDS = 0.5
# Longer Retry-After values are cut short so a worker is not parked; if the service still refuses, the task
# retries later.
MAX_RETRY_AFTER_SECONDS = 30.0
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ServiceError(Exception):
    """Base for everything an outside service can answer other than the record asked for."""


class NotFound(ServiceError):
    """The service answered and has no such record (e.g. an unknown DOI)."""


class ServiceRefused(ServiceError):
    """The service answered with an error about the request itself (a 4xx other than 404)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServiceUnreachable(ServiceError):
    """No usable answer: connection failed, timed out, or 5xx/429 persisted through the retries."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """What httpx builds for verify=True (certificates checked against certifi's bundle), built once per
    process and shared by every client: building it costs about 40 ms of CPU, which a client made per link
    checked paid each time (the 10,000-reference sweep spent most of its time there)."""
    return ssl.create_default_context(cafile=certifi.where())


def make_client(base_url: str, *, accept: str, before_each: Callable[[], None] | None = None) -> httpx.Client:
    """A connection-reusing client; `before_each` runs before every attempt (retries too), e.g. a rate limit."""
    timeout = float(settings.OUTSIDE_HTTP_TIMEOUT_SECONDS)
    hooks = {"request": [lambda request: before_each()]} if before_each else {}
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": USER_AGENT, "Accept": accept},
        follow_redirects=True,
        event_hooks=hooks,
        verify=tls_context(),
    )


def get(
    client: httpx.Client,
    path: str,
    params: Mapping[str, str] | None = None,
    *,
    retries: int = RETRIES,
    backoff: float = BACKOFF_SECONDS,
) -> httpx.Response:
    """The first response that is not a transient failure; ServiceUnreachable once `retries` retries failed.

    4xx answers (404 included) are returned: what they mean depends on the service.
    """
    failure = ""
    for attempt in range(retries + 1):
        wait = backoff * 2**attempt
        try:
            response = client.get(path, params=params)
        except httpx.TransportError as exc:  # refused connection, DNS failure, read error, timeout
            failure = f"{type(exc).__name__} {exc}".strip()
        else:
            if response.status_code not in RETRYABLE_STATUSES:
                return response
            failure = f"HTTP {response.status_code}"
            wait = _retry_after(response, default=wait)
        if attempt < retries:
            time.sleep(wait)
    raise ServiceUnreachable(f"{client.base_url.host}: {failure} (tried {retries + 1} times)")


def _retry_after(response: httpx.Response, *, default: float) -> float:
    """Honours a 429/503 Retry-After (seconds or HTTP date), capped so a worker is not parked for long."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The decoded JSON object, or {} when the body is not JSON (a text/plain or HTML error page)."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not content_type.endswith("json"):
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
