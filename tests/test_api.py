"""The syndication API as a partner uses it: only what readers can see, cheap to poll, revalidated with
304s, throttled in Redis, and described by a schema that matches the committed file."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from rest_framework_api_key.models import APIKey

from articles.editing import ArticleText, VariantText
from articles.models import Article, Reference
from tests.editorial import CLINICIAN, PATIENT, approved, edit, new_article, refreshed, seen, submitted
from tests.fakeweb import closed_port

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "articles" / "api" / "openapi.yaml"


@pytest.fixture(autouse=True)
def generous_rates(settings: Any) -> None:
    # Every test client calls from 127.0.0.1 and the counters live in the shared Redis: only the
    # throttling tests below set a low rate, each from an address of its own.
    settings.API_ANON_RATE = "100000/minute"


def cited_text(title: str, *keys: str, topic: str = "Asthma", kind: str = Article.Kind.QA) -> ArticleText:
    cites = "".join(f" A finding [@{key}]." for key in keys)
    patient = VariantText(PATIENT.title, PATIENT.summary, PATIENT.body + cites)
    return ArticleText(title, kind, topic, {"patient": patient, "clinician": CLINICIAN})


def library(*keys: str) -> list[Reference]:
    return [
        Reference.objects.create(
            key=key,
            title=f"A trial called {key}",
            authors="Okafor D\nRaman P",
            source="Thorax",
            year=2021,
            doi=f"10.5555/{key}",
        )
        for key in keys
    ]


def published(cast: Any, title: str, *keys: str, **kwargs: Any) -> Article:
    return approved(cast, text=cited_text(title, *keys, **kwargs))


def get(client: Client, path: str, **headers: Any) -> Any:
    return client.get(f"/api/v1/{path}", **headers)


# --- Only approved content, as readers see it ------------------------------------------------------------


def test_only_live_publications_are_listed(client: Client, cast: Any) -> None:
    live = published(cast, "Is a daily preventer worth it?")
    draft = new_article(cast, text=cited_text("A draft nobody approved"))
    waiting = submitted(cast, text=cited_text("Waiting for the board"))
    listed = get(client, "articles/").json()["results"]
    assert [item["slug"] for item in listed] == [live.slug]
    for hidden in (draft, waiting):
        assert get(client, f"articles/{hidden.slug}/").status_code == 404
        assert get(client, f"articles/{hidden.slug}/patient/").status_code == 404


def test_an_article_being_edited_is_served_as_last_approved(client: Client, cast: Any) -> None:
    article = published(cast, "Can I stop my inhaler in summer?")
    edit(article, cast.writer, patient_body="An unreviewed sentence about stopping treatment.")
    body = get(client, f"articles/{article.slug}/").content.decode()
    assert "unreviewed sentence" not in body
    assert "Your daily inhaler calms your airways" in body
    assert refreshed(article).status == Article.Status.DRAFT


def test_detail_carries_both_versions_references_and_the_review_record(client: Client, cast: Any) -> None:
    library("kaur2021", "mendes2019")
    article = published(cast, "Which inhaler first?", "kaur2021", "mendes2019")
    data = get(client, f"articles/{article.slug}/").json()
    assert [v["audience"] for v in data["versions"]] == ["clinician", "patient"]
    patient = data["versions"][1]
    assert [(r["number"], r["doi"]) for r in patient["references"]] == [
        (1, "10.5555/kaur2021"),
        (2, "10.5555/mendes2019"),
    ]
    assert patient["references"][0]["id"] == Reference.objects.get(key="kaur2021").pk
    assert 'href="#ref-1"' in patient["body_html"] and "<script" not in patient["body_html"]
    assert "calms your airways" in patient["body_text"] and "<" not in patient["body_text"]
    assert patient["canonical_url"] == f"http://testserver/articles/{article.slug}/patient/"
    reviewer = data["review"]["reviewers"][0]
    assert reviewer == {"name": cast.reviewer.profile.display_name, "credentials": "MD"}
    assert data["review"]["next_review_due"] > data["review"]["approved_at"][:10]
    assert data["authors"][0]["name"] == cast.writer.profile.display_name


def test_an_audience_version_alone(client: Client, cast: Any) -> None:
    article = published(cast, "Do spacers help?")
    data = get(client, f"articles/{article.slug}/clinician/").json()
    assert data["version"]["audience"] == "clinician"
    assert data["version"]["bottom_line"] == CLINICIAN.summary
    assert get(client, f"articles/{article.slug}/veterinarian/").status_code == 404


def test_no_desk_data_leaks(client: Client, cast: Any) -> None:
    article = published(cast, "What is a flare-up?")
    text = get(client, f"articles/{article.slug}/").content.decode()
    for secret in ("content_version", "status", cast.writer.username, cast.reviewer.email, "conflict"):
        assert secret not in text


# --- Filters, pagination, polling -----------------------------------------------------------------------


def test_filters_by_topic_kind_and_audience(client: Client, cast: Any) -> None:
    asthma = published(cast, "Asthma at night")
    eczema = published(cast, "Eczema creams", topic="Dermatology", kind=Article.Kind.NEWS)

    def slugs(query: str) -> list[str]:
        return [item["slug"] for item in get(client, f"articles/?{query}").json()["results"]]

    assert slugs("topic=dermatology") == [eczema.slug]
    assert slugs("kind=qa") == [asthma.slug]
    assert sorted(slugs("audience=clinician")) == sorted([asthma.slug, eczema.slug])
    assert get(client, "articles/?kind=poem").status_code == 400
    refused = get(client, "articles/?modified_since=yesterday")
    assert refused.status_code == 400 and "modified_since" in refused.json()


def test_cursor_pages_cover_every_article_once_newest_change_first(client: Client, cast: Any, settings: Any) -> None:
    settings.API_PAGE_SIZE = 2
    made = []
    for day in range(5):
        with time_machine.travel(f"2026-03-0{day + 1} 09:00Z", tick=False):
            made.append(published(cast, f"Question number {day}").slug)
    seen, url = [], "/api/v1/articles/"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [item["slug"] for item in page["results"]]
        url = page["next"]
    assert seen == list(reversed(made))


def test_modified_since_returns_an_article_after_its_re_approval(client: Client, cast: Any) -> None:
    with time_machine.travel("2026-01-10 09:00Z", tick=False):
        old = published(cast, "First approved long ago")
        quiet = published(cast, "Never touched again")
    with time_machine.travel("2026-05-01 09:00Z", tick=False):
        edit(old, cast.writer, patient_body="A clearer sentence about daily use.")
        from articles import workflow

        workflow.submit(refreshed(old), by=cast.writer)
        workflow.start_review(refreshed(old), by=cast.reviewer)
        workflow.approve(
            refreshed(old), by=cast.reviewer, conflict_of_interest="None declared", change_note="Reworded.", **seen(old)
        )
    changed = get(client, "articles/?modified_since=2026-04-01T00:00:00Z").json()["results"]
    assert [item["slug"] for item in changed] == [old.slug]
    assert changed[0]["modified_at"].startswith("2026-05-01")
    assert quiet.slug in {item["slug"] for item in get(client, "articles/").json()["results"]}


# --- Topics and library entries -------------------------------------------------------------------------


def test_topics_count_approved_articles_only(client: Client, cast: Any) -> None:
    published(cast, "One")
    published(cast, "Two")
    published(cast, "Three", topic="Dermatology")
    new_article(cast, text=cited_text("Draft on another topic", topic="Cardiology"))
    topics = get(client, "topics/").json()
    assert [(t["name"], t["articles"]) for t in topics] == [("Asthma", 2), ("Dermatology", 1)]


def test_a_reference_is_public_only_while_a_live_publication_cites_it(client: Client, cast: Any) -> None:
    cited, drafted = library("kaur2021", "secret2024")
    article = published(cast, "Cited in public", "kaur2021")
    new_article(cast, text=cited_text("Only a draft cites this", "secret2024"))
    data = get(client, f"references/{cited.pk}/").json()
    assert data["doi"] == "10.5555/kaur2021"
    assert [c["slug"] for c in data["cited_by"]] == [article.slug]
    assert get(client, f"references/{drafted.pk}/").status_code == 404
    assert get(client, "references/999999/").status_code == 404


# --- Cost and revalidation ------------------------------------------------------------------------------


def test_query_counts_do_not_grow_with_the_number_of_articles(
    client: Client, cast: Any, django_assert_num_queries: Any
) -> None:
    published(cast, "Only one")
    with django_assert_num_queries(3):
        assert get(client, "articles/").status_code == 200
    for n in range(5):
        published(cast, f"Another one {n}")
    with django_assert_num_queries(3):
        assert len(get(client, "articles/").json()["results"]) == 6


def test_query_counts_do_not_grow_with_the_number_of_references(
    client: Client, cast: Any, django_assert_num_queries: Any
) -> None:
    library(*(f"ref{n}" for n in range(12)))
    few = published(cast, "Few sources", "ref0")
    many = published(cast, "Many sources", *(f"ref{n}" for n in range(12)))
    for article in (few, many):
        # The article with its publication, the versions, the public update log, and the sources' standing.
        with django_assert_num_queries(4):
            assert get(client, f"articles/{article.slug}/").status_code == 200


def test_revalidation_answers_304_until_something_changes(client: Client, cast: Any) -> None:
    article = published(cast, "Revalidate me")
    for path in (f"articles/{article.slug}/", f"articles/{article.slug}/patient/", "articles/", "topics/"):
        first = get(client, path)
        assert "max-age=60" in first["Cache-Control"] and "public" in first["Cache-Control"]
        assert get(client, path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        assert get(client, path, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    etag = get(client, f"articles/{article.slug}/")["ETag"]
    edit(article, cast.writer, patient_body="A changed sentence.")
    from articles import workflow

    workflow.submit(refreshed(article), by=cast.writer)
    workflow.start_review(refreshed(article), by=cast.reviewer)
    workflow.approve(
        refreshed(article),
        by=cast.reviewer,
        conflict_of_interest="None declared",
        change_note="Reworded.",
        **seen(article),
    )
    again = get(client, f"articles/{article.slug}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and "A changed sentence." in again.content.decode()


# --- Keys and throttling (counted in the real Redis) -----------------------------------------------------


def from_address() -> dict[str, str]:
    return {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}


def test_anonymous_callers_are_throttled_per_address_with_retry_after(client: Client, cast: Any, settings: Any) -> None:
    settings.API_ANON_RATE = "3/minute"
    address = from_address()
    assert [get(client, "topics/", **address).status_code for _ in range(3)] == [200, 200, 200]
    refused = get(client, "topics/", **address)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert get(client, "topics/", **from_address()).status_code == 200  # another reader is not affected
    # A forged X-Forwarded-For does not buy a fresh bucket when not behind the proxy.
    assert get(client, "topics/", HTTP_X_FORWARDED_FOR="1.2.3.4", **address).status_code == 429


def test_partners_with_a_key_get_their_own_rate_and_bad_keys_are_refused(
    client: Client, cast: Any, settings: Any
) -> None:
    settings.API_ANON_RATE = "1/minute"
    settings.API_KEY_RATE = "5/minute"
    _, key = APIKey.objects.create_key(name=f"Clinic app {uuid.uuid4()}")
    address, auth = from_address(), {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    assert [get(client, "topics/", **address, **auth).status_code for _ in range(5)] == [200] * 5
    assert get(client, "topics/", **address, **auth).status_code == 429
    assert get(client, "topics/", **address).status_code == 200  # the anonymous bucket is separate
    refused = get(client, "topics/", HTTP_AUTHORIZATION="Api-Key not.a-key", **from_address())
    assert refused.status_code == 403 and "not valid" in refused.json()["detail"]
    _, revoked_key = APIKey.objects.create_key(name=f"Old partner {uuid.uuid4()}", revoked=True)
    assert get(client, "topics/", HTTP_AUTHORIZATION=f"Api-Key {revoked_key}", **from_address()).status_code == 403


def redis_down(settings: Any) -> None:
    """Points every cache the API could touch (throttle counters, the page cache) at a closed port."""
    for alias in ("default", "pages"):
        down = {**settings.CACHES[alias], "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}
        settings.CACHES = {**settings.CACHES, alias: down}


def test_with_redis_down_the_api_serves_unthrottled_rather_than_failing(
    client: Client, cast: Any, settings: Any
) -> None:
    # Read-only public data: losing the counters must not take the partners' feed down with them.
    settings.API_ANON_RATE = "1/minute"
    settings.API_KEY_RATE = "1/minute"
    article = published(cast, "Still served without Redis")
    _, key = APIKey.objects.create_key(name=f"Clinic app {uuid.uuid4()}")
    address, auth = from_address(), {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    for headers in ({}, auth):  # with Redis up, both buckets are spent
        assert [get(client, "articles/", **address, **headers).status_code for _ in range(2)] == [200, 429]
    redis_down(settings)
    paths = ("articles/", f"articles/{article.slug}/", f"articles/{article.slug}/patient/", "topics/")
    for path in paths:
        for headers in ({}, auth):
            answer = get(client, path, **address, **headers)
            assert answer.status_code == 200, (path, headers, answer.content[:200])
            # Revalidation needs no cache either.
            assert get(client, path, HTTP_IF_NONE_MATCH=answer["ETag"], **address, **headers).status_code == 304
    assert article.slug in get(client, "articles/", **address, **auth).content.decode()
    assert get(client, "schema/", **address).status_code == 200 and get(client, "docs/", **address).status_code == 200
    # A bad key is still refused: keys are checked in the database, not the cache.
    assert get(client, "articles/", HTTP_AUTHORIZATION="Api-Key not.a-key", **address).status_code == 403


# --- The schema -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_validates_and_matches_the_committed_file(tmp_path: Path) -> None:
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert generated.read_text() == SCHEMA_FILE.read_text(), (
        "The API changed: regenerate with `python manage.py spectacular --file articles/api/openapi.yaml`"
    )


def test_schema_and_docs_pages_are_served_under_the_csp(client: Client, db: None) -> None:
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/articles/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "<script>" not in html and "<style>" not in html  # everything from our own static files
    assert "cdn" not in html.lower()
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_partner_keys_are_managed_in_the_admin(client: Client, cast: Any) -> None:
    client.force_login(cast.editor)
    cast.editor.is_superuser = True
    cast.editor.save()
    assert client.get("/admin/rest_framework_api_key/apikey/").status_code == 200
    assert client.get("/admin/rest_framework_api_key/apikey/add/").status_code == 200


# --- The citation watch, as partners see it --------------------------------------------------------------


def test_a_retracted_source_shows_its_standing_a_reader_notice_and_moves_the_feed(
    client: Client, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import date

    from articles import watch
    from articles.citations.verdicts import Standing, Verdict

    [source] = library("kaur2021")
    with time_machine.travel("2026-01-10 09:00Z", tick=False):
        article = published(cast, "Does this trial still hold?", "kaur2021")
    assert get(client, "articles/?modified_since=2026-06-01T00:00:00Z").json()["results"] == []
    with time_machine.travel("2026-06-02 09:00Z", tick=False):
        verdict = Verdict(source.pk, "crossref", Standing.RETRACTED, "Retracted on 1 June 2026.", {}, date(2026, 6, 1))
        with django_capture_on_commit_callbacks(execute=True):  # as after the watch's commit
            watch.record_verdicts([verdict], run="api-test", checked_ids=[source.pk])
    changed = get(client, "articles/?modified_since=2026-06-01T00:00:00Z").json()["results"]
    assert [item["slug"] for item in changed] == [article.slug]
    data = get(client, f"articles/{article.slug}/").json()
    assert [n["standing"] for n in data["reader_notices"]] == ["retracted"]
    assert "retracted" in data["reader_notices"][0]["text"]
    reference = data["versions"][1]["references"][0]
    assert [(s["checker"], s["standing"]) for s in reference["standing"]] == [("crossref", "retracted")]
    assert get(client, f"references/{source.pk}/").json()["standing"][0]["standing"] == "retracted"
