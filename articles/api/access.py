"""Who may call the API and how often: anyone at the anonymous rate per address; partners with an API key
(made in the admin) at their own rate per key. Counters live in the Django cache (Redis), so every web
process and machine shares them."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import KeyParser

logger = logging.getLogger(__name__)
_UNCHECKED = object()


def presented_key(request: HttpRequest | Request) -> str | None:
    """The key from `Authorization: Api-Key <key>`, if the caller sent one."""
    return KeyParser().get(request) or None


def partner_key(request: Request) -> APIKey | None:
    """The caller's usable (known, unrevoked, unexpired) key, looked up once per request."""
    found = getattr(request, "_partner_key", _UNCHECKED)
    if found is _UNCHECKED:
        key = presented_key(request)
        found = None
        if key:
            try:
                found = APIKey.objects.get_from_key(key)
            except APIKey.DoesNotExist:
                found = None
        request._partner_key = found  # type: ignore[attr-defined]
    return found  # type: ignore[return-value]


class ValidApiKeyIfPresent(BasePermission):
    """No key is fine (public data); a key that is unknown, revoked or expired is refused, so a partner
    learns at once that their key stopped working instead of silently dropping to the anonymous rate."""

    message = "This API key is not valid: it is unknown, revoked or expired. Omit it to use the anonymous rate."

    def has_permission(self, request: Request, view: Any) -> bool:
        return presented_key(request) is None or partner_key(request) is not None


class _CacheThrottle(SimpleRateThrottle):
    rate_setting = ""

    def get_rate(self) -> str:
        return str(getattr(settings, self.rate_setting))

    def allow_request(self, request: Request, view: Any) -> bool:
        # Read-only public data: with the cache (Redis) down, serve rather than fail.
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache backend raises its client's own errors
            logger.warning("API throttle skipped: the cache is unavailable", exc_info=True)
            return True


class PartnerKeyThrottle(_CacheThrottle):
    scope = "partner"
    rate_setting = "API_KEY_RATE"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = partner_key(request)
        return None if key is None else f"throttle:api:key:{key.prefix}"


class AnonymousThrottle(_CacheThrottle):
    scope = "anonymous"
    rate_setting = "API_ANON_RATE"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if presented_key(request):
            return None
        return f"throttle:api:anon:{self.get_ident(request)}"
