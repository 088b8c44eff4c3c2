"""Production error pages: styled, with a way home, and rendered without touching the database (so
they still answer while it is down); a 403 is logged as one line; the favicon is served."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.views import defaults


def signed_in_request(cast: Any, client: Client) -> HttpRequest:
    """A request carrying a real session cookie, its user not yet loaded (as the middleware leaves it)."""
    client.force_login(cast.writer)
    request = RequestFactory().get("/no/such/page/")
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}

    def view(_: HttpRequest) -> HttpResponse:
        return HttpResponse()

    SessionMiddleware(view).process_request(request)
    AuthenticationMiddleware(view).process_request(request)
    return request


@pytest.mark.parametrize(
    ("handler", "exception", "status", "heading"),
    [
        (defaults.page_not_found, Http404("x"), 404, "We could not find that page"),
        (defaults.permission_denied, PermissionDenied("x"), 403, "You may not open this page"),
        (defaults.bad_request, SuspiciousOperation("x"), 400, "That request could not be understood"),
    ],
)
def test_error_pages_are_styled_and_make_no_query(
    cast: Any,
    client: Client,
    django_assert_num_queries: Any,
    handler: Any,
    exception: Exception,
    status: int,
    heading: str,
) -> None:
    request = signed_in_request(cast, client)
    with django_assert_num_queries(0):  # nothing to fail when the database is down
        response = handler(request, exception)
    html = response.content.decode()
    assert response.status_code == status
    assert f"<h1>{heading}</h1>" in html
    assert 'class="site-header"' in html and 'href="/">Go to the articles</a>' in html
    assert "/static/css/site.css" in html


def test_the_500_page_makes_no_query() -> None:
    # No database fixture: any query would raise here instead of rendering.
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_a_real_404_with_debug_off_uses_the_styled_page(db: None, client: Client, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/articles/no-such-article/patient/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_a_403_is_logged_as_one_line(cast: Any, client: Client, caplog: Any) -> None:
    client.force_login(cast.outsider)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/desk/queue/").status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /desk/queue/"
    handler = logging.getLogger().handlers[0]
    assert "Traceback" not in handler.format(record)


def test_the_favicon_is_served(db: None, client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/img/favicon.svg"
    assert 'rel="icon" href="/static/img/favicon.svg"' in client.get("/").content.decode()
