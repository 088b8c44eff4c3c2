"""The public page cache: anonymous readers get stored pages, and every change a reader can see reaches the
very next request — a new approval, a reader notice, a site page edit — while a signed-in person's page is
never stored or shared. Browsers and CDNs revalidate with ETag / Last-Modified, and a Redis outage only
costs speed."""

from __future__ import annotations

import gzip
import re
import socket
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from articles import page_cache, workflow
from articles.models import Article, SitePage

from . import editorial, watch_checkers
from .test_citation_watch import RETRACTED_DOI, citing, reference, retract, sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def article(cast: Any) -> Article:
    return editorial.approved(cast)


def url(article: Article, audience: str = "patient") -> str:
    return f"/articles/{article.slug}/{audience}/"


def republish(cast: Any, article: Article, patient_body: str) -> None:
    """A writer edits the approved article and the Advisory Board approves the new text."""
    editorial.edit(article, cast.writer, patient_body=patient_body)
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
    workflow.approve(
        editorial.refreshed(article),
        by=cast.reviewer,
        conflict_of_interest="None declared",
        change_note="Reworded.",
        **editorial.seen(article),
    )


def test_a_new_approval_shows_on_the_very_next_request(
    client: Any, cast: Any, article: Article, django_assert_num_queries: Any
) -> None:
    assert "Your daily inhaler calms your airways" in client.get(url(article)).content.decode()
    with django_assert_num_queries(0):  # stored
        client.get(url(article))

    editorial.edit(article, cast.writer, patient_body="## Why it helps\n\nA reworded draft paragraph.\n")
    # A draft is not public: readers keep the stored approved page.
    assert "A reworded draft paragraph" not in client.get(url(article)).content.decode()

    republish(cast, article, "## Why it helps\n\nThe newly approved paragraph.\n")
    html = client.get(url(article)).content.decode()
    assert "The newly approved paragraph." in html
    assert editorial.refreshed(article).public_changed_at is not None


def test_a_reader_notice_appears_on_the_next_request(
    client: Any, cast: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The citation watch finds a cited source retracted: the stored page goes, in every process."""
    settings.CITATION_CHECKERS = ["tests.watch_checkers.ScriptedDoiChecker"]
    watch_checkers.FINDINGS.clear()
    reference("bad", RETRACTED_DOI)
    live = editorial.approved(cast, text=citing("bad"))
    assert "was retracted" not in client.get(url(live)).content.decode()  # now stored
    retract()
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    assert "A source cited here was retracted" in client.get(url(live)).content.decode()
    assert "A source cited here was retracted" in Client().get(url(live)).content.decode()


def test_one_articles_change_leaves_other_articles_stored(
    client: Any, cast: Any, article: Article, django_assert_num_queries: Any
) -> None:
    other = editorial.approved(cast, text=editorial.article_text("Is a spacer worth using?"))
    client.get(url(article))
    client.get(url(other))
    page_cache.public_pages_changed(other.pk)
    with django_assert_num_queries(0):
        client.get(url(article))
    # The article with its publication, and related articles; this process prepared its version already.
    with django_assert_num_queries(2):
        client.get(url(other))


def test_a_site_page_edit_reaches_every_public_page(client: Any, cast: Any, article: Article) -> None:
    page = SitePage.objects.get(slug="editorial-policy")
    client.get("/about/editorial-policy/")
    client.get(url(article))
    cast.editor.is_superuser = True
    cast.editor.save()
    staff = Client()
    staff.force_login(cast.editor)
    response = staff.post(
        f"/admin/articles/sitepage/{page.pk}/change/",
        {"title": "Editorial policy", "slug": page.slug, "summary": "", "body": "## Revised\n\nNew wording."},
    )
    assert response.status_code == 302
    assert "New wording." in client.get("/about/editorial-policy/").content.decode()


def test_a_signed_in_persons_page_is_never_served_to_a_reader(client: Any, cast: Any, article: Article) -> None:
    staff = Client()
    staff.force_login(cast.reviewer)
    response = staff.get(url(article))
    assert "Review queue" in response.content.decode()
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    anonymous = client.get(url(article))
    assert "Review queue" not in anonymous.content.decode() and "Sign in" in anonymous.content.decode()
    assert "public" in anonymous["Cache-Control"]


def test_a_readers_stored_page_is_never_served_to_a_signed_in_person(client: Any, cast: Any, article: Article) -> None:
    client.get(url(article))
    client.get(url(article))
    staff = Client()
    staff.force_login(cast.reviewer)
    html = staff.get(url(article)).content.decode()
    assert "Review queue" in html and "Sign in" not in html


def test_pending_messages_are_never_stored(client: Any, cast: Any, article: Article) -> None:
    """A message waiting in a cookie is shown on the next page: that page is the reader's own."""
    client.cookies["messages"] = "anything"
    response = client.get(url(article))
    assert "private" in response["Cache-Control"]


def test_the_article_page_does_not_vary_on_cookies(client: Any, article: Article) -> None:
    response = client.get(url(article))
    assert "Cookie" not in response.get("Vary", "")
    assert "max-age=60" in response["Cache-Control"] and "stale-while-revalidate" in response["Cache-Control"]
    assert not response.cookies


def test_revalidation_gives_304_until_the_page_changes(
    client: Any, cast: Any, article: Article, django_assert_num_queries: Any
) -> None:
    first = client.get(url(article))
    etag, last_modified = first["ETag"], first["Last-Modified"]
    with django_assert_num_queries(0):
        not_modified = client.get(url(article), HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not not_modified.content
    assert client.get(url(article), HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304

    # HTTP dates count whole seconds; the ETag (which clients send first) tells changes within one apart.
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        republish(cast, article, "## Why it helps\n\nA re-approved paragraph.\n")
    changed = client.get(url(article), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and "A re-approved paragraph." in changed.content.decode()
    assert changed["ETag"] != etag
    assert client.get(url(article), HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 200


def test_a_cold_cache_still_answers_304(client: Any, article: Article, settings: Any) -> None:
    etag = client.get(url(article))["ETag"]
    # A prefix nothing ever used: a fixed name would keep an earlier run's pages in the shared Redis.
    empty = {**settings.CACHES["pages"], "KEY_PREFIX": f"never-used-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "pages": empty}
    assert client.get(url(article), HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_audience_switch_still_remembers_the_choice(client: Any, article: Article) -> None:
    client.get(url(article, "patient"))  # the patient page is stored
    response = client.get(f"/articles/{article.slug}/", {"audience": "clinician"})
    assert response.cookies["audience"].value == "clinician"
    assert client.get(f"/articles/{article.slug}/")["Location"] == url(article, "clinician")
    # Each audience URL is its own stored page, whatever the cookie says.
    assert "Maintaining inhaled corticosteroid therapy" in client.get(url(article, "clinician")).content.decode()
    assert "Can I keep my inhaler routine?" in client.get(url(article, "patient")).content.decode()


def test_the_index_is_stored_per_remembered_audience(client: Any, article: Article) -> None:
    assert "Keep using your inhaler every day" in client.get("/").content.decode()
    client.cookies["audience"] = "clinician"
    html = client.get("/").content.decode()
    assert "Continue maintenance inhaled corticosteroids" in html
    assert "Cookie" in client.get("/")["Vary"]


def test_the_index_shows_a_new_publication_at_once(client: Any, cast: Any, article: Article) -> None:
    client.get("/")
    other = editorial.approved(cast, text=editorial.article_text("Is a spacer worth using?"))
    assert f"/articles/{other.slug}/" in client.get("/").content.decode()
    assert f"/articles/{other.slug}/patient/" in client.get("/sitemap.xml").content.decode()


def test_searches_are_rendered_not_stored(
    client: Any, cast: Any, article: Article, django_assert_num_queries: Any
) -> None:
    client.get("/", {"q": "inhaler"})
    with django_assert_num_queries(3):  # count, page and versions: rendered again
        client.get("/", {"q": "inhaler"})


def test_pending_pages_are_never_stored(client: Any, cast: Any, settings: Any) -> None:
    settings.PUBLISH_PENDING = True
    article = editorial.submitted(cast)
    response = client.get(url(article))
    assert "no-store" in response["Cache-Control"]
    editorial.edit(article, cast.writer, patient_body="## Why it helps\n\nEdited while pending.\n")
    assert "Edited while pending." in client.get(url(article)).content.decode()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_redis_outage_renders_pages_normally(client: Any, cast: Any, article: Article, settings: Any) -> None:
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CACHES = {**settings.CACHES, "pages": {**settings.CACHES["pages"], "LOCATION": dead}}
    for path in (url(article), "/", "/about/editorial-policy/", "/sitemap.xml"):
        assert client.get(path).status_code == 200
    republish(cast, article, "## Why it helps\n\nApproved during the outage.\n")  # publishing still works
    assert "Approved during the outage." in client.get(url(article)).content.decode()


def test_the_page_cache_can_be_turned_off(
    client: Any, article: Article, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.PAGE_CACHE_ENABLED = False
    client.get(url(article))
    with django_assert_num_queries(2):  # the article with its publication, related articles
        response = client.get(url(article))
    assert response.status_code == 200 and response["ETag"]


def test_renaming_an_address_in_the_admin_retires_the_stored_page(client: Any, cast: Any, article: Article) -> None:
    old = url(article)
    assert client.get(old).status_code == 200
    cast.editor.is_superuser = True
    cast.editor.save()
    staff = Client()
    staff.force_login(cast.editor)
    change = f"/admin/articles/article/{article.pk}/change/"
    form = staff.get(change).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in ("title", "kind", "topic")}
    data |= {"slug": "a-new-address", "authors": [u.pk for u in article.authors.all()]}
    for formset in staff.get(change).context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data |= {f"{management.prefix}-{k}": v for k, v in management.initial.items()}
        for f in formset.formset.forms:
            for name, field in f.fields.items():
                value = f.initial.get(name, field.initial)
                data[f"{f.prefix}-{name}"] = getattr(value, "pk", value) if value is not None else ""
    assert staff.post(change, data).status_code == 302
    assert client.get(old).status_code == 404
    assert client.get("/articles/a-new-address/patient/").status_code == 200


def test_a_stored_page_keeps_its_security_headers_and_is_sent_compressed_when_accepted(
    client: Any, article: Article
) -> None:
    fresh = client.get(url(article))
    stored = client.get(url(article), HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert stored["Content-Encoding"] == "gzip"
    assert gzip.decompress(stored.content) == fresh.content
    assert "Accept-Encoding" in stored["Vary"] and "Cookie" not in stored["Vary"]
    assert stored["ETag"] != fresh["ETag"]  # each encoding is its own representation
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert stored[header] == fresh[header]
    again = client.get(url(article), HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=stored["ETag"])
    assert again.status_code == 304


def test_production_static_files_are_hashed_compressed_and_immutable(
    client: Any, article: Article, settings: Any, tmp_path: Any
) -> None:
    """What `collectstatic` makes for production (STATIC_MANIFEST, on when DEBUG=0): hashed names that pages
    link to, gzip copies, and far-future immutable caching by WhiteNoise."""
    settings.STATIC_ROOT = str(tmp_path)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    # Only our own files: the admin's and the API docs' are collected the same way, just slower.
    call_command("collectstatic", interactive=False, verbosity=0, ignore_patterns=["admin", "drf_*", "rest_*"])
    html = Client().get(url(article)).content.decode()
    [stylesheet] = re.findall(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    response = Client().get(stylesheet, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
    assert "immutable" not in Client().get("/static/css/site.css")["Cache-Control"]  # unhashed: short-lived


def test_made_up_addresses_leave_nothing_in_the_cache(client: Any, article: Article) -> None:
    from django.core.cache import caches

    pages = caches["pages"]
    for n in range(5):
        assert client.get(f"/articles/no-such-article-{n}/patient/").status_code == 404
    assert pages.get_many([f"gen:article:no-such-article-{n}" for n in range(5)]) == {}
    client.get(url(article))
    assert pages.get(f"gen:{page_cache.article_generation(article.slug)}") is not None


@pytest.mark.parametrize("page", ["article", "index, remembered audience"])
def test_a_stored_page_is_served_with_the_headers_of_a_rendered_one(
    client: Any, article: Article, settings: Any, page: str
) -> None:
    """A stored page's headers are worked out once, as it is stored: they are those a page rendered for
    the reader gets, plus Last-Modified (from the generations) and its own ETag; a page that varies on the
    audience cookie says so (Vary: Cookie) either way."""
    path = url(article) if page == "article" else "/"
    if page != "article":
        client.cookies["audience"] = "clinician"
    settings.PAGE_CACHE_ENABLED = False
    rendered = client.get(path)
    settings.PAGE_CACHE_ENABLED = True
    client.get(path)
    stored = client.get(path)
    assert {**stored.headers, "ETag": ""} == {**rendered.headers, "ETag": "", "Last-Modified": stored["Last-Modified"]}
    assert ("Cookie" in stored["Vary"]) == (page != "article")
    assert client.get(path, HTTP_IF_NONE_MATCH=stored["ETag"]).status_code == 304
