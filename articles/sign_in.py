"""Sign-in abuse: django-axes counts failed sign-ins (site and admin alike, both go through
`authenticate`) and pauses an account, and separately an address, after AXES_FAILURE_LIMIT failures
in a row, until AXES_COOLOFF_TIME has passed or an editor lifts it in the admin ("Access attempts").

These two callables are what axes asks this site for: the client's address and the page to show."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """The address to count failures against. Behind the TLS proxy every request comes from the proxy,
    which appends the real client as the last X-Forwarded-For entry (earlier entries are the client's
    own say and could be forged to dodge the count)."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    address: str | None = request.META.get("REMOTE_ADDR")
    return address


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)
