"""A reference's lookup says honestly where it stands: pending (since when), unreachable (retrying at …),
not found, failed, found. The service here is a real loopback server that is down, then up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from articles.models import Reference
from articles.references import look_up_again, reference_for_identifier
from tests.fakeweb import FakeWeb, closed_port, fakeweb_fixture  # noqa: F401

CASTRO_DOI = "10.1056/nejmoa1804092"


def publish_castro(web: FakeWeb) -> None:
    web.add_work(
        CASTRO_DOI,
        title="Dupilumab Efficacy and Safety in Moderate-to-Severe Uncontrolled Asthma",
        authors=[("Mario", "Castro"), ("Jonathan", "Corren")],
        container="New England Journal of Medicine",
        year=2018,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        assert time.monotonic() < deadline, list(Reference.objects.values("key", "metadata_status"))
        time.sleep(0.1)


def status_of(reference: Reference) -> str:
    return Reference.objects.get(pk=reference.pk).metadata_status


def detail_page(client: Client, reference: Reference) -> str:
    return client.get(reverse("library:detail", args=[reference.pk])).content.decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_service_down_then_up_goes_pending_unreachable_then_found(
    cast: Any, celery_worker: Any, fakeweb: FakeWeb, settings: Any
) -> None:
    settings.METADATA_RETRY_SECONDS = 2  # the task's retry comes 2 s after a failed attempt
    publish_castro(fakeweb)
    client = Client()
    client.force_login(cast.writer)
    with override_settings(CROSSREF_API_URL=f"http://127.0.0.1:{closed_port()}"):  # Crossref is down
        response = client.post(reverse("library:add_by_identifier"), {"identifiers": CASTRO_DOI})
        assert "The details are being looked up on Crossref (queued " in response.content.decode()
        reference = Reference.objects.get(doi=CASTRO_DOI)
        wait_for(lambda: status_of(reference) == "unreachable")
        html = detail_page(client, reference)
        assert "Crossref could not be reached; the lookup will be tried again at " in html
        assert "pending-doi" not in html and "DOI 10.1056/nejmoa1804092" in html
    # Crossref is back: the scheduled retry finds it, and the key comes from the metadata.
    wait_for(lambda: status_of(reference) == "complete")
    reference.refresh_from_db()
    assert reference.key == "castro2018" and reference.lookup_finished
    assert reference.lookup_retry_at is None
    html = detail_page(client, reference)
    assert "Cite it as <code>[@castro2018]</code>" in html and "looked up" not in html


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_look_up_again_queues_one_lookup_however_often_it_is_pressed(
    cast: Any, celery_worker: Any, fakeweb: FakeWeb
) -> None:
    reference = Reference.objects.create(
        key="pending-doi-10.1056-nejmoa1804092",
        doi=CASTRO_DOI,
        metadata_status="not_found",
        metadata_error="Crossref has no record of DOI 10.1056/nejmoa1804092.",
    )
    publish_castro(fakeweb)  # the identifier was mistyped at Crossref's end, and is there now
    client = Client()
    client.force_login(cast.writer)
    again = reverse("library:look_up_again", args=[reference.pk])
    first = client.post(again, follow=True).content.decode()
    second = client.post(again, follow=True).content.decode()  # a second tab, or a double click
    assert "Looking it up again" in first
    assert "It is already being looked up, or its details are in." in second
    wait_for(lambda: status_of(reference) == "complete")
    assert len(fakeweb.seen(f"/works/{CASTRO_DOI}")) == 1
    assert Reference.objects.get(pk=reference.pk).key == "castro2018"


def test_look_up_again_is_for_library_keepers_and_unfinished_lookups(cast: Any) -> None:
    found = Reference.objects.create(key="castro2018", doi=CASTRO_DOI, title="Dupilumab")
    assert look_up_again(found, by=cast.writer) is False  # found: nothing to look up
    client = Client()
    client.force_login(cast.outsider)
    assert client.post(reverse("library:look_up_again", args=[found.pk])).status_code == 403
    assert client.get(reverse("library:look_up_again", args=[found.pk])).status_code in (403, 405)


def test_failed_lookup_asks_for_the_details_and_typing_them_finishes_it(cast: Any) -> None:
    reference = reference_for_identifier("doi", "10.1000/odd")
    Reference.objects.filter(pk=reference.pk).update(
        metadata_status="failed", metadata_error="Crossref refused the request: HTTP 400"
    )
    client = Client()
    client.force_login(cast.writer)
    html = detail_page(client, reference)
    assert (
        "The details could not be looked up (Crossref refused the request: HTTP 400). "
        "Type them yourself, or look it up again." in html
    )
    edit = reverse("library:edit", args=[reference.pk])
    form = client.get(edit).content.decode()
    assert "pending-" not in form  # the key field starts empty, never showing the placeholder
    page = {"key": "", "initial-key": "", "kind": "research", "initial-kind": "research"}
    response = client.post(edit, page | {"title": "An odd paper", "authors": "Mühlen S\nRoe J", "year": "2020"})
    assert response.status_code == 302
    reference.refresh_from_db()
    assert (reference.key, reference.metadata_status, reference.metadata_error) == ("muhlen2020", "complete", "")
    assert reference.lookup_finished


def test_a_taken_key_gets_a_plain_message_with_a_free_one(cast: Any) -> None:
    Reference.objects.create(key="castro2018", title="Dupilumab")
    client = Client()
    client.force_login(cast.writer)
    response = client.post(reverse("library:create"), {"key": "castro2018", "kind": "research", "title": "Other"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Another reference already uses the key “castro2018”. Choose another, e.g. “castro2018a”." in html
    assert "Reference with this Key already exists" not in html


def test_the_desk_preview_says_where_a_cited_lookup_stands(cast: Any) -> None:
    reference_for_identifier("doi", "10.1000/waiting")
    client = Client()
    client.force_login(cast.writer)
    html = client.post(
        reverse("desk:preview"), {"body": "A claim [@doi:10.1000/waiting].", "audience": "patient"}
    ).content.decode()
    assert '<span class="reference-title">DOI 10.1000/waiting</span>' in html
    assert "The details are being looked up on Crossref (queued " in html
    assert "pending-" not in html
