"""Every reader and desk page costs a fixed number of SQL queries, whatever the size of what it shows.

The article page: at most 3 with an empty page cache and none with a warm one, for 1, 10 or 200 references
and 1 or 1,000 revisions. The index, review queue, "My articles", the library and the history page: the same
count for a small and a large site.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from articles import workflow

from . import editorial, sizes

pytestmark = pytest.mark.django_db

# Signed-in pages include the session, the user and the role checks of the navigation.
# One query each for the citation watch's alerted articles (queue) and standings (library).
# The queue names each row's writers and assigned reviewers: one prefetch of writers per table, and for
# "under review by me" its rounds and their open assignments.
EXPECTED = {"reader index": 3, "review queue": 15, "review queue (editor)": 12, "my articles": 14, "library list": 7}
# my articles: +1 for the last turning event of every listed article ("Changes requested by …"), one query for all.
EXPECTED_HISTORY = 9


@pytest.mark.parametrize(("references", "revisions"), [(1, 1), (10, 1), (200, 1), (1, 1000), (200, 1000)])
def test_article_page_costs_at_most_three_queries_cold_and_none_warm(
    client: Any, cast: Any, django_assert_max_num_queries: Any, django_assert_num_queries: Any,
    references: int, revisions: int,
) -> None:  # fmt: skip
    article = sizes.approved_article(cast, references=references, revisions=revisions)
    for audience in ("patient", "clinician"):
        url = f"/articles/{article.slug}/{audience}/"
        with django_assert_max_num_queries(3):
            cold = client.get(url)
        assert cold.status_code == 200
        assert "Daily use helps many people" in cold.content.decode()
        assert cold.content.decode().count('<li id="ref-') == references
        with django_assert_num_queries(0):
            warm = client.get(url)
        assert warm.content == cold.content


def grow_site(cast: Any, rounds: int) -> None:
    """`rounds` sets of articles in every state, with comments, two named reviewers and cited references."""
    for i in range(rounds):
        draft = sizes.approved_article(cast, references=3, revisions=2, title=f"Approved then edited {i}?")
        editorial.edit(draft, cast.writer, patient_body=f"## Edited\n\nA new draft paragraph {i} [@{_key(draft)}].\n")
        workflow.add_comment(draft, by=cast.reviewer, body=f"Looks right {i}.")
        waiting = sizes.approved_article(cast, references=2, revisions=1, title=f"Resubmitted {i}?")
        editorial.edit(waiting, cast.writer, patient_body=f"## Edited\n\nSubmitted again {i} [@{_key(waiting)}].\n")
        workflow.submit(editorial.refreshed(waiting), by=cast.writer)
        workflow.assign_reviewers(
            editorial.refreshed(waiting), by=cast.editor, reviewers=[cast.reviewer, cast.reviewer2]
        )
        reviewing = editorial.submitted(cast, text=editorial.article_text(f"Under review {i}?"))
        workflow.start_review(reviewing, by=cast.reviewer)
        workflow.add_comment(reviewing, by=cast.reviewer2, body=f"One question {i}.")
        editorial.new_article(cast, text=editorial.article_text(f"Just a draft {i}?"))


def _key(article: Any) -> str:
    return article.references.first().key


def query_count(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.fixture
def signed_in(cast: Any) -> dict[str, Any]:
    clients = {}
    for name in ("writer", "reviewer", "editor"):
        clients[name] = Client()
        clients[name].force_login(getattr(cast, name))
    return clients


PAGES = [
    ("reader index", None, "/"),
    ("review queue", "reviewer", "/desk/queue/"),
    ("review queue (editor)", "editor", "/desk/queue/"),
    ("my articles", "writer", "/desk/articles/"),
    ("library list", "writer", "/library/"),
]


def test_list_pages_cost_the_same_however_much_there_is(cast: Any, signed_in: dict[str, Any], settings: Any) -> None:
    settings.PAGE_CACHE_ENABLED = False  # the reader index is measured rendering
    grow_site(cast, 1)
    small = {label: query_count(signed_in[who] if who else Client(), url) for label, who, url in PAGES}
    grow_site(cast, 4)
    large = {label: query_count(signed_in[who] if who else Client(), url) for label, who, url in PAGES}
    assert large == small
    assert small == EXPECTED


def test_history_costs_the_same_for_2_and_1000_revisions(cast: Any, signed_in: dict[str, Any]) -> None:
    few = sizes.approved_article(cast, references=2, revisions=2, title="Few revisions?")
    many = sizes.approved_article(cast, references=200, revisions=1000, title="Many revisions?")
    for article in (few, many):
        workflow.add_comment(article, by=cast.reviewer, body="Noted.")
    counts = [query_count(signed_in["reviewer"], f"/desk/articles/{a.slug}/history/") for a in (few, many)]
    last_page = query_count(signed_in["reviewer"], f"/desk/articles/{many.slug}/history/?page=last")
    assert counts[0] == counts[1] == last_page == EXPECTED_HISTORY
