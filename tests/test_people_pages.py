"""Who and when: bylines with credentials on every kind, profile pages with exactly the published work,
the Medical Advisory Board page, "Last reviewed · Next review due", and the JSON-LD about people."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from articles import page_cache, workflow
from articles.models import Article

from . import editorial

pytestmark = pytest.mark.django_db


def json_ld(html: str) -> dict[str, Any]:
    [block] = re.findall(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(block)


def day(moment: Any) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


@pytest.fixture
def people(cast: Any) -> Any:
    cast.writer.profile.credentials = "MPH, medical writer"
    cast.writer.profile.save()
    cast.reviewer.profile.specialty = "Respiratory medicine"
    cast.reviewer.profile.disclosures = "Speaker fees from an inhaler maker (2025)."
    cast.reviewer.profile.bio = "Runs a severe-asthma clinic."
    cast.reviewer.profile.save()
    return cast


@pytest.mark.parametrize("kind", [Article.Kind.QA, Article.Kind.NEWS])
def test_every_kind_has_a_byline_with_credentials_linking_to_profiles(client: Any, people: Any, kind: str) -> None:
    text = editorial.article_text()
    article = editorial.approved(people, text=type(text)(text.title, kind, text.topic, text.variants))
    html = client.get(f"/articles/{article.slug}/patient/").content.decode()
    writer, reviewer = people.writer.profile, people.reviewer.profile
    link = f'<a href="/people/{writer.pk}/" rel="author"><strong>{writer.display_name}</strong></a>'
    assert f"Written by {link}, MPH, medical writer" in html
    assert f'<a href="/people/{reviewer.pk}/"><strong>{reviewer.display_name}</strong></a>, MD' in html


def test_last_reviewed_and_next_review_due_follow_the_cadence(client: Any, people: Any, settings: Any) -> None:
    settings.REVIEW_INTERVAL_DAYS = 180
    article = editorial.approved(people)
    approved = article.approved_at
    assert approved is not None
    html = client.get(f"/articles/{article.slug}/clinician/").content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert f"Last reviewed {day(approved)} · Next review due {day(approved + timedelta(days=180))}" in text
    # A re-review moves both dates and the JSON-LD's lastReviewed.
    later = approved + timedelta(days=200)
    with time_machine.travel(later):
        workflow.confirm_still_accurate(
            article, by=people.reviewer2, conflict_of_interest="None", **editorial.seen(article)
        )
    html = client.get(f"/articles/{article.slug}/clinician/").content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert f"Last reviewed {day(later)} · Next review due {day(later + timedelta(days=180))}" in text
    assert json_ld(html)["lastReviewed"] == later.date().isoformat()


def test_json_ld_carries_author_and_reviewer_with_credentials(client: Any, people: Any) -> None:
    article = editorial.approved(people)
    data = json_ld(client.get(f"/articles/{article.slug}/patient/").content.decode())
    [author] = data["author"]
    assert author["@type"] == "Person" and author["name"] == people.writer.profile.display_name
    assert author["hasCredential"]["name"] == "MPH, medical writer"
    assert author["url"] == f"http://testserver/people/{people.writer.profile.pk}/"
    reviewer = data["reviewedBy"]
    assert reviewer["@type"] == "Person" and reviewer["hasCredential"]["name"] == "MD"
    assert reviewer["url"] == f"http://testserver/people/{people.reviewer.profile.pk}/"
    assert data["lastReviewed"] == article.approved_at.date().isoformat()


def test_profile_lists_exactly_the_published_articles_written_and_reviewed(client: Any, people: Any) -> None:
    editorial.approved(people, text=editorial.article_text("Is a spacer worth using?"))
    reviewed_by_other = editorial.under_review(people, text=editorial.article_text("Can I swim with asthma?"))
    workflow.approve(
        reviewed_by_other, by=people.reviewer2, conflict_of_interest="None", **editorial.seen(reviewed_by_other)
    )
    draft = editorial.new_article(people, text=editorial.article_text("A draft about peak flow?"))
    pending = editorial.under_review(people, text=editorial.article_text("A pending note on steroids?"))

    writer_page = client.get(f"/people/{people.writer.profile.pk}/").content.decode()
    written = re.search(r'<ul class="related-list written">(.*?)</ul>', writer_page, re.S).group(1)
    assert "Is a spacer worth using?" in written and "Can I swim with asthma?" in written
    for hidden in (draft, pending):
        assert hidden.title not in writer_page

    reviewer_page = client.get(f"/people/{people.reviewer.profile.pk}/").content.decode()
    reviewed = re.search(r'<ul class="related-list reviewed">(.*?)</ul>', reviewer_page, re.S).group(1)
    assert "Is a spacer worth using?" in reviewed
    assert "Can I swim with asthma?" not in reviewed and pending.title not in reviewer_page
    assert "Speaker fees from an inhaler maker (2025)." in reviewer_page
    assert "Respiratory medicine" in reviewer_page and "Runs a severe-asthma clinic." in reviewer_page
    reviewer2_page = client.get(f"/people/{people.reviewer2.profile.pk}/").content.decode()
    assert "Can I swim with asthma?" in reviewer2_page and "None declared." in reviewer2_page


def test_profile_counts_queries_the_same_for_many_articles(
    client: Any, people: Any, django_assert_max_num_queries: Any
) -> None:
    editorial.approved(people, text=editorial.article_text("Question one?"))
    with django_assert_max_num_queries(6) as few:
        client.get(f"/people/{people.writer.profile.pk}/")
    for n in range(4):
        editorial.approved(people, text=editorial.article_text(f"Question number {n + 2}?"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/people/{people.writer.profile.pk}/").status_code == 200


def test_people_without_public_work_have_no_profile(client: Any, people: Any) -> None:
    editorial.new_article(people)  # a draft only
    for person in (people.writer, people.editor, people.outsider):
        assert client.get(f"/people/{person.profile.pk}/").status_code == 404
    assert client.get(f"/people/{people.reviewer2.profile.pk}/").status_code == 200  # board members always
    people.reviewer2.is_active = False
    people.reviewer2.save()
    page_cache.public_pages_changed()  # what saving the person in the admin does (PersonAdmin)
    assert client.get(f"/people/{people.reviewer2.profile.pk}/").status_code == 404


def test_advisory_board_page_lists_exactly_the_active_board(client: Any, people: Any) -> None:
    html = client.get("/advisory-board/").content.decode()
    for member in (people.reviewer, people.reviewer2, people.board_author):
        assert f'href="/people/{member.profile.pk}/">{member.profile.display_name}</a>' in html
    for other in (people.writer, people.editor, people.outsider):
        assert f"/people/{other.profile.pk}/" not in html
    assert "Speaker fees from an inhaler maker (2025)." in html
    assert html.count("none declared") == 2
