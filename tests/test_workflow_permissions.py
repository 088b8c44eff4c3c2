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
from articles.roles import ADVISORY_BOARD

from . import editorial
from .conftest import make_person

ACTORS = [
    "author",
    "co_author",
    "other_writer",
    "board_member_who_is_author",
    "editor_on_board_who_edited",
    "assigned_reviewer",
    "unassigned_reviewer",
    "outsider",
    "anonymous",
]
WRITERS_OF_THE_ARTICLE = {"author", "co_author", "board_member_who_is_author"}
CHANGE_NOTE = "Add the dose for children."


def _assigned(cast: Any) -> Article:
    """Submitted; the editor assigned the review to reviewer2 only; a staff editor on the Board edited it."""
    article = editorial.submitted(cast, co_authors=(cast.co_writer, cast.board_author))
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer2])
    assert editorial.edit(article, cast.board_editor, patient_body="Use your preventer inhaler every day.\n")
    return editorial.refreshed(article)


def _under_review(cast: Any) -> Article:
    article = editorial.submitted(cast, co_authors=(cast.co_writer, cast.board_author))
    workflow.assign_reviewers(article, by=cast.editor, reviewers=[cast.reviewer2])
    workflow.start_review(article, by=cast.reviewer2)
    # The staff editor corrects the text during review: from now on they are one of its writers.
    assert editorial.edit(article, cast.board_editor, patient_body="Use your preventer inhaler every day.\n")
    return editorial.refreshed(article)


def _approved_and_due(cast: Any) -> Article:
    article = _under_review(cast)
    workflow.approve(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    return editorial.refreshed(article)


def _draft(cast: Any) -> Article:
    article = editorial.new_article(cast, co_authors=(cast.co_writer, cast.board_author))
    assert editorial.edit(article, cast.board_editor, patient_body="Use your preventer inhaler every day.\n")
    return editorial.refreshed(article)


def _submitted(cast: Any) -> Article:
    article = _draft(cast)
    workflow.submit(article, by=cast.writer)
    return editorial.refreshed(article)


def _seen(article: Article) -> dict[str, Any]:
    return {"seen_version": editorial.refreshed(article).content_version}


# transition: (state it starts from, who may do it, function call, POST data)
TRANSITIONS: dict[
    str, tuple[Callable[[Any], Article], set[str], Callable[[Article, Any], Any], Callable[[Article], dict[str, Any]]]
] = {
    "submit": (_draft, WRITERS_OF_THE_ARTICLE, lambda a, u: workflow.submit(a, by=u), lambda a: {}),
    "withdraw": (_submitted, WRITERS_OF_THE_ARTICLE, lambda a, u: workflow.withdraw(a, by=u), lambda a: {}),
    "start_review": (_assigned, {"assigned_reviewer"}, lambda a, u: workflow.start_review(a, by=u), lambda a: {}),
    "approve": (
        _under_review,
        {"assigned_reviewer"},
        lambda a, u: workflow.approve(a, by=u, conflict_of_interest="None declared", **_seen(a)),
        lambda a: {"conflict": "none", **_seen(a)},
    ),
    "request_changes": (
        _under_review,
        {"assigned_reviewer"},
        lambda a, u: workflow.request_changes(a, by=u, note=CHANGE_NOTE, **_seen(a)),
        lambda a: {"note": CHANGE_NOTE, **_seen(a)},
    ),
    # Due for re-review (REVIEW_INTERVAL_DAYS=0): any independent board member, assigned before or not.
    "confirm_still_accurate": (
        _approved_and_due,
        {"assigned_reviewer", "unassigned_reviewer"},
        lambda a, u: workflow.confirm_still_accurate(a, by=u, conflict_of_interest="None", **_seen(a)),
        lambda a: {"conflict": "none", **_seen(a)},
    ),
}


@pytest.fixture
def people(cast: Any, settings: Any) -> Any:
    settings.REVIEW_INTERVAL_DAYS = 0
    cast.board_editor = make_person("bob_boardeditor", ADVISORY_BOARD, is_staff=True)
    return cast


def person(cast: Any, actor: str) -> Any:
    return {
        "author": cast.writer,
        "co_author": cast.co_writer,
        "other_writer": cast.other_writer,
        "board_member_who_is_author": cast.board_author,
        "editor_on_board_who_edited": cast.board_editor,
        "assigned_reviewer": cast.reviewer2,
        "unassigned_reviewer": cast.reviewer,
        "outsider": cast.outsider,
        "anonymous": AnonymousUser(),
    }[actor]


DECISIVE_EVENT = {"confirm_still_accurate": WorkflowEvent.Action.REREVIEW_CONFIRMED}


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("transition", TRANSITIONS)
def test_transition_permissions_through_the_functions(people: Any, transition: str, actor: str) -> None:
    build, allowed, call, _data = TRANSITIONS[transition]
    article = build(people)
    before = (article.status, article.approved_at, WorkflowEvent.objects.count())
    if actor in allowed:
        event = call(article, person(people, actor))
        after = editorial.refreshed(article)
        assert (after.status, after.approved_at) != before[:2]
        assert after.status == event.to_status
        assert WorkflowEvent.objects.count() == before[2] + 1
    else:
        with pytest.raises(workflow.TransitionNotAllowed):
            call(article, person(people, actor))
        after = editorial.refreshed(article)
        assert (after.status, after.approved_at, WorkflowEvent.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("transition", TRANSITIONS)
def test_transition_permissions_through_http(client: Any, people: Any, transition: str, actor: str) -> None:
    build, allowed, _call, data = TRANSITIONS[transition]
    article = build(people)
    user = person(people, actor)
    if user.is_authenticated:
        client.force_login(user)
    before = (article.status, article.approved_at, WorkflowEvent.objects.count())
    response = client.post(f"/desk/articles/{article.slug}/do/{transition}/", data(article))
    after = editorial.refreshed(article)
    if actor in allowed:
        assert response.status_code == 302, response.content.decode()[:500]
        assert (after.status, after.approved_at) != before[:2]
        assert WorkflowEvent.objects.count() == before[2] + 1
    else:
        assert response.status_code == 403
        assert (after.status, after.approved_at, WorkflowEvent.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize("transition", ["start_review", "approve", "request_changes"])
def test_an_editor_on_the_board_may_override_the_assignment_only_with_a_reason(people: Any, transition: str) -> None:
    cast = people
    build, _allowed, _call, _data = TRANSITIONS[transition]
    article = build(cast)
    overrider = make_person("ivy_independenteditor", ADVISORY_BOARD, is_staff=True)
    kwargs: dict[str, Any] = {
        "start_review": {},
        "approve": {"conflict_of_interest": "None", **_seen(article)},
        "request_changes": {"note": CHANGE_NOTE, **_seen(article)},
    }[transition]
    step = getattr(workflow, transition)
    with pytest.raises(workflow.WorkflowError, match="reason for overriding"):
        step(article, by=overrider, **kwargs)
    event = step(article, by=overrider, override_reason="Reviewer on leave until March.", **kwargs)
    assert "Editor's override of the assignment: Reviewer on leave until March." in event.note


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
