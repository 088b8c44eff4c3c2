"""Article pages rendered as a frame plus live parts (articles/framed.py) read exactly like the whole template
rendered afresh, through every change a reader can see; and the reader's compiled queries
(articles/compiled.py) give what their querysets give, then and after the rows change."""

from __future__ import annotations

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import close_old_connections, connection, connections
from django.template import Context, Engine, TemplateSyntaxError, engines
from django.test import Client
from django.utils import timezone

from articles import corrections, watch, workflow
from articles.compiled import CompiledQuery
from articles.framed import _FRAMING, _Framing, frames
from articles.models import Article

from . import editorial, watch_checkers
from .test_citation_watch import RETRACTED_DOI, citing, reference, retract, sweep
from .test_page_cache import republish

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache_off(settings: Any) -> None:
    # Every request renders: the frame (once) and its live parts (each time).
    settings.PAGE_CACHE_ENABLED = False
    settings.CITATION_CHECKERS = ["tests.watch_checkers.ScriptedDoiChecker"]
    watch_checkers.FINDINGS.clear()


def read(client: Client, settings: Any, article: Article, audience: str = "patient") -> str:
    """The page from its frame, after checking it against the whole template rendered afresh."""
    path = f"/articles/{article.slug}/{audience}/"
    settings.FRAMED_PAGES = False
    whole = client.get(path)
    settings.FRAMED_PAGES = True
    framed = client.get(path)
    assert framed.status_code == whole.status_code == 200
    assert unmasked(framed.content.decode()) == unmasked(whole.content.decode())
    return framed.content.decode()


def unmasked(html: str) -> str:
    # A signed-in person's sign-out form carries a CSRF token masked afresh on every render.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', html)


def test_every_change_a_reader_can_see_shows_on_the_framed_page(
    client: Client, cast: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reference("bad", RETRACTED_DOI)
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=True):
        article = editorial.approved(cast, text=citing("bad"))
    first = read(client, settings, article)
    assert len(frames._frames) == 1
    assert "was retracted" not in first and "More about" not in first and "Checked on" not in first

    # The citation watch finds the source retracted: the banner, and the notice beside the reference.
    retract()
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    html = read(client, settings, article)
    assert html.count("was retracted") == 2
    assert len(frames._frames) == 2  # the notices are in the frame's key

    # Another article on the same topic is published: it is listed as related.
    other = editorial.approved(cast, text=editorial.article_text("Is a spacer worth using?"))
    assert f'href="{other.get_absolute_url()}">Is a spacer worth using?</a>' in read(client, settings, article)
    assert len(frames._frames) == 2  # the same frame, with a new live part

    # A re-review moves the review dates (in the frame's key) and adds an update line.
    before = workflow.public_review_dates(article, article.live_publication)[0]
    workflow.confirm_still_accurate(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    article = editorial.refreshed(article)
    after = workflow.public_review_dates(article, article.live_publication)[0]
    assert after - before > timedelta(days=300)
    html = read(client, settings, article)
    shown = timezone.localtime(after)  # pages print dates in the site's time zone
    assert "Checked on" in html and f"{shown:%B} {shown.day}, {shown.year}" in html

    # A correction note written afterwards is an update of its own.
    corrections.record_check(article, by=cast.reviewer)
    assert read(client, settings, article).count("no changes needed") == 2

    # The other audience has a frame of its own.
    frames.clear()
    assert "Professional medical disclaimer" in read(client, settings, article, "clinician")
    assert "Professional medical disclaimer" not in read(client, settings, article)
    assert len(frames._frames) == 2

    # A frame first rendered for a signed-in writer holds nothing of theirs: a reader then gets a reader's page.
    frames.clear()
    writer = Client()
    writer.force_login(cast.writer)
    assert "My articles" in read(writer, settings, article) and "Sign out" in read(writer, settings, article)
    reader_page = read(client, settings, article)
    assert "My articles" not in reader_page and "Sign out" not in reader_page
    assert "csrfmiddlewaretoken" not in reader_page

    # Taken out of public view, the page is gone at once.
    Article.objects.filter(pk=article.pk).update(live_publication=None)
    assert client.get(f"/articles/{article.slug}/patient/").status_code == 404


def test_a_new_approval_is_shown_from_a_new_frame(client: Client, cast: Any, settings: Any) -> None:
    article = editorial.approved(cast)
    assert "The newly approved paragraph." not in read(client, settings, article)
    republish(cast, article, "## Why it helps\n\nThe newly approved paragraph.\n")
    assert "The newly approved paragraph." in read(client, settings, article)
    assert len(frames._frames) == 2


def test_a_framed_page_revalidates_and_its_validator_follows_what_it_shows(
    client: Client, cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reference("bad", RETRACTED_DOI)
    path = editorial.approved(cast, text=citing("bad")).get_absolute_url() + "patient/"
    first = client.get(path)
    etag = first["ETag"]
    assert etag.strip('"') != hashlib.sha256(first.content).hexdigest()[:32]  # the frame's validator, not a hash
    assert client.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    frames.clear()  # as in another process: its own frame, the same page, the same validator
    assert client.get(path)["ETag"] == etag

    retract()
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    changed = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert "was retracted" in changed.content.decode()


@pytest.mark.django_db(transaction=True)
def test_readers_arriving_together_at_a_page_not_yet_framed_all_get_the_same_page(cast: Any, settings: Any) -> None:
    """A story breaks: many requests find no frame and build it at once (threads, as a threaded server
    would run them). Each builds its own and one is kept; every reader gets the same bytes and validator."""
    path = editorial.approved(cast).get_absolute_url() + "patient/"
    settings.FRAMED_PAGES = False
    whole = Client().get(path).content
    settings.FRAMED_PAGES = True
    readers = 6
    barrier = threading.Barrier(readers)

    def read_at_once(_: int) -> tuple[int, bytes, str]:
        try:
            barrier.wait(timeout=10)
            response = Client().get(path)
            return response.status_code, response.content, response["ETag"]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(readers) as pool:
        pages = list(pool.map(read_at_once, range(readers)))
    assert {status for status, _, _ in pages} == {200}
    assert {content for _, content, _ in pages} == {whole}
    assert len({etag for _, _, etag in pages}) == 1
    assert len(frames._frames) == 1


@pytest.mark.parametrize("enclosing", ["for i in items", "with i=items"])
def test_a_live_part_inside_a_loop_or_with_is_refused(enclosing: str) -> None:
    # Rendered later on its own, it would not see the loop's or with's variables.
    end = enclosing.split()[0]
    source = f"{{% load framed %}}{{% {enclosing} %}}{{% live %}}{{{{ i }}}}{{% endlive %}}{{% end{end} %}}"
    with pytest.raises(TemplateSyntaxError, match="cannot stand inside"):
        engines["django"].from_string(source)


def test_a_live_part_repeated_through_an_include_is_refused_when_framing() -> None:
    # The tag cannot see the loop around an include; the frame's rendering can.
    probe = "{% load framed %}{% live %}{{ i }}{% endlive %}"
    engine = Engine(
        loaders=[("django.template.loaders.locmem.Loader", {"probe.html": probe})],
        libraries={"framed": "articles.templatetags.framed"},
    )
    looped = engine.from_string("{% for i in items %}{% include 'probe.html' %}{% endfor %}")
    assert looped.render(Context({"items": [1, 2]})) == "12"
    with pytest.raises(ValueError, match="may not repeat"):
        looped.render(Context({"items": [1, 2], _FRAMING: _Framing()}))


def test_a_compiled_query_gives_what_its_queryset_gives_before_and_after_a_change(
    cast: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reference("bad", RETRACTED_DOI)
    article = editorial.approved(cast, text=citing("bad"))
    rows = (
        Article.objects.filter(pk=article.pk)
        .annotate(has_source_notice=watch.has_reader_notice())
        .values_list("id", "approved_at", "updates_log", "live_publication__reviewers", "has_source_notice")
    )
    compiled = CompiledQuery.of(rows)
    [before] = compiled.rows()
    assert [before] == list(rows.all())
    assert before[1].tzinfo is not None and isinstance(before[3], list) and before[4] is False

    retract()
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    corrections.record_check(article, by=cast.reviewer)
    [after] = compiled.rows()
    assert [after] == list(rows.all())
    assert after[4] is True and after[2] != before[2]


def test_on_postgresql_a_compiled_query_run_often_is_prepared_once_and_others_never(cast: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    article = editorial.approved(cast)
    query = CompiledQuery.of(Article.objects.filter(pk=article.pk).values_list("id", "slug"))
    for _ in range(6):  # DB_PREPARE_THRESHOLD is 5
        assert query.rows() == [(article.pk, article.slug)]
        Article.objects.filter(pk=article.pk).values_list("id", "title").get()  # an ordinary query, as often
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert sum('"articles_article"."slug"' in statement for statement in prepared) == 1
    assert not any('"articles_article"."title"' in statement for statement in prepared)


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_compiled_query_survives_its_connection_dying(cast: Any) -> None:
    """As when PostgreSQL restarts or an administrator ends a session: the statement it had prepared dies
    with the connection. The next request's first query, which stands in for Django's health check, finds
    it dead, opens another and is sent again there, where it is prepared again."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    article = editorial.approved(cast)
    query = CompiledQuery.of(Article.objects.filter(pk=article.pk).values_list("id", "slug"))
    for _ in range(6):
        query.rows()
    dying = connection.connection.info.backend_pid
    other = connection.copy()  # a second session ends the first, as a restart would
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [dying])
    finally:
        other.close()
    close_old_connections()  # what Django does as each request starts: the connection is to be checked
    for _ in range(6):
        assert query.rows() == [(article.pk, article.slug)]
    assert connection.connection.info.backend_pid != dying
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ['%"slug"%'])
        assert cursor.fetchone() == (1,)
