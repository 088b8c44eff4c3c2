"""Who may do what: every transition by every kind of person, through the functions and through HTTP.

A refused step leaves the status as it was and writes no event; over HTTP it answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from articles import workflow
from articles.models import Article, WorkflowEvent

from . import editorial

ACTORS = ["author", "co_author", "other_writer", "board_member", "board_member_who_is_author", "outsider", "anonymous"]
WRITERS_OF_THE_ARTICLE = {"author", "co_author", "board_member_who_is_author"}

# transition: (state it starts from, who may do it, function call, POST data)
TRANSITIONS: dict[str, tuple[Callable[..., Article], set[str], Callable[[Article, Any], Any], dict[str, str]]] = {
    "submit": (editorial.new_article, WRITERS_OF_THE_ARTICLE, lambda a, u: workflow.submit(a, by=u), {}),
    "withdraw": (editorial.submitted, WRITERS_OF_THE_ARTICLE, lambda a, u: workflow.withdraw(a, by=u), {}),
    "start_review": (editorial.submitted, {"board_member"}, lambda a, u: workflow.start_review(a, by=u), {}),
    "approve": (
        editorial.under_review,
        {"board_member"},
        lambda a, u: workflow.approve(a, by=u, conflict_of_interest="None declared"),
        {"conflict": "none"},
    ),
    "request_changes": (
        editorial.under_review,
        {"board_member"},
        lambda a, u: workflow.request_changes(a, by=u, note="Add the dose for children."),
        {"note": "Add the dose for children."},
    ),
}


def person(cast: Any, actor: str) -> Any:
    return {
        "author": cast.writer,
        "co_author": cast.co_writer,
        "other_writer": cast.other_writer,
        "board_member": cast.reviewer,
        "board_member_who_is_author": cast.board_author,
        "outsider": cast.outsider,
        "anonymous": AnonymousUser(),
    }[actor]


def article_in_start_state(cast: Any, transition: str) -> Article:
    build = TRANSITIONS[transition][0]
    return build(cast, co_authors=(cast.co_writer, cast.board_author))


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("transition", TRANSITIONS)
def test_transition_permissions_through_the_functions(cast: Any, transition: str, actor: str) -> None:
    article = article_in_start_state(cast, transition)
    _build, allowed, call, _data = TRANSITIONS[transition]
    before_status, before_events = article.status, WorkflowEvent.objects.count()
    if actor in allowed:
        event = call(article, person(cast, actor))
        assert editorial.refreshed(article).status == event.to_status != before_status
        assert WorkflowEvent.objects.count() == before_events + 1
    else:
        with pytest.raises(workflow.TransitionNotAllowed):
            call(article, person(cast, actor))
        assert editorial.refreshed(article).status == before_status
        assert WorkflowEvent.objects.count() == before_events


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("transition", TRANSITIONS)
def test_transition_permissions_through_http(client: Any, cast: Any, transition: str, actor: str) -> None:
    article = article_in_start_state(cast, transition)
    _build, allowed, _call, data = TRANSITIONS[transition]
    user = person(cast, actor)
    if user.is_authenticated:
        client.force_login(user)
    before_status, before_events = article.status, WorkflowEvent.objects.count()
    response = client.post(f"/desk/articles/{article.slug}/do/{transition}/", data)
    if actor in allowed:
        assert response.status_code == 302, response.content.decode()[:500]
        assert editorial.refreshed(article).status != before_status
        assert WorkflowEvent.objects.count() == before_events + 1
    else:
        assert response.status_code == 403
        assert editorial.refreshed(article).status == before_status
        assert WorkflowEvent.objects.count() == before_events


@pytest.mark.django_db
def test_get_cannot_trigger_a_transition(client: Any, cast: Any) -> None:
    article = editorial.new_article(cast)
    client.force_login(cast.writer)
    assert client.get(f"/desk/articles/{article.slug}/do/submit/").status_code == 405
    assert editorial.refreshed(article).status == Article.Status.DRAFT


@pytest.mark.django_db
def test_csrf_is_enforced_on_actions(cast: Any) -> None:
    from django.test import Client

    article = editorial.new_article(cast)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cast.writer)
    assert strict.post(f"/desk/articles/{article.slug}/do/submit/").status_code == 403
    assert editorial.refreshed(article).status == Article.Status.DRAFT
