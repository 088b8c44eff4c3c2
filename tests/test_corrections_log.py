"""The public corrections log: what counts as a substantive change, the note it requires at re-approval,
"Updates" on the article page and /updates/, and a re-review that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from articles import corrections, workflow
from articles.corrections import Change, classify_text
from articles.models import Article, ArticleUpdate

from . import editorial

pytestmark = pytest.mark.django_db

BODY = editorial.PATIENT.body  # "Your daily inhaler calms your airways. Skipping it can bring back a cough."


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Take it every morning.", "Take it every morning.", Change.NONE),
        ("Your inhaler calms the airways.", "Your inhaler calms the airways!", Change.TYPO),  # punctuation
        ("your inhaler calms", "Your Inhaler calms", Change.TYPO),  # case
        ("Your inhlaer calms the airways.", "Your inhaler calms the airways.", Change.TYPO),  # a swap
        ("The airwyas calm down.", "The airways calm down.", Change.TYPO),
        ("Use 5 mg a day.", "Use 50 mg a day.", Change.SUBSTANTIVE),  # one character, a tenfold dose
        ("Use 2.5 mg.", "Use 25 mg.", Change.SUBSTANTIVE),
        ("Do now stop it.", "Do not stop it.", Change.SUBSTANTIVE),  # short words are never typos
        ("You should stop it.", "You should not stop it.", Change.SUBSTANTIVE),  # a word added
        ("Take it daily.", "Take it weekly.", Change.SUBSTANTIVE),
        ("Use it before meals.", "Use it after meals.", Change.SUBSTANTIVE),
        ("It helps adults.", "It helps children.", Change.SUBSTANTIVE),
        ("The cough settles.", "The wheeze settles.", Change.SUBSTANTIVE),  # a different word
        ("Keep the inhaler.", "Keep the spacer.", Change.SUBSTANTIVE),
    ],
)
def test_what_counts_as_a_substantive_change(old: str, new: str, expected: Change) -> None:
    assert classify_text(old, new) == expected


def reapprove(cast: Any, article: Article, *, body: str, change_note: str = "", by: Any = None) -> Article:
    editorial.edit(article, cast.writer, patient_body=body)
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
    workflow.approve(
        editorial.refreshed(article),
        by=by or cast.reviewer,
        conflict_of_interest="None",
        change_note=change_note,
        **editorial.seen(article),
    )
    return editorial.refreshed(article)


def test_substantive_change_without_a_note_cannot_be_approved(cast: Any) -> None:
    article = editorial.approved(cast)
    live = article.live_publication
    with pytest.raises(workflow.WorkflowError, match="public change note"):
        reapprove(cast, article, body=BODY.replace("calms your airways", "calms your airways within a week"))
    article = editorial.refreshed(article)
    assert article.status == Article.Status.UNDER_REVIEW and article.live_publication == live
    assert not ArticleUpdate.objects.exists()


def test_reapproval_with_a_note_shows_it_on_the_page_and_on_updates(client: Any, cast: Any) -> None:
    article = editorial.approved(cast)
    note = "Added how quickly the inhaler starts to work."
    article = reapprove(cast, article, body=BODY.replace("airways.", "airways within a week."), change_note=note)
    [update] = ArticleUpdate.objects.all()
    assert (update.kind, update.note, update.publication) == ("updated", note, article.live_publication)
    day = f"{update.created_at:%B} {update.created_at.day}, {update.created_at.year}"
    for audience in ("patient", "clinician"):
        html = client.get(f"/articles/{article.slug}/{audience}/").content.decode()
        assert '<h2 id="updates-h">Updates</h2>' in html and f"{day}</time>: {note}" in html
        assert '<a href="#updates-h">Updates</a>' in html  # in "On this page" too
    log = client.get("/updates/").content.decode()
    assert note in log and article.live_publication.title in log


def test_typo_fix_needs_no_note_and_adds_no_line(client: Any, cast: Any) -> None:
    article = editorial.approved(cast)
    article = reapprove(cast, article, body=BODY.replace("airways", "airwyas"))  # published with a slip...
    article = reapprove(cast, article, body=BODY)  # ...and fixed without a note
    assert not ArticleUpdate.objects.exists()
    assert "Updates</h2>" not in client.get(f"/articles/{article.slug}/patient/").content.decode()


def test_note_is_one_short_line(cast: Any) -> None:
    article = editorial.approved(cast)
    with pytest.raises(workflow.WorkflowError, match="one line"):
        reapprove(cast, article, body=BODY + "\nOne more sentence.\n", change_note="x" * 201)
    workflow.approve(
        editorial.refreshed(article),
        by=cast.reviewer,
        conflict_of_interest="None",
        change_note="Two\nlines",
        **editorial.seen(article),
    )
    assert ArticleUpdate.objects.get().note == "Two lines"


def test_first_approval_logs_nothing(cast: Any) -> None:
    editorial.approved(cast)
    assert not ArticleUpdate.objects.exists()


def test_rereview_without_change_shows_checked_no_changes_needed(client: Any, cast: Any, settings: Any) -> None:
    settings.REVIEW_INTERVAL_DAYS = 0  # due for re-review at once (workflow refuses one that is not due)
    article = editorial.approved(cast)
    workflow.confirm_still_accurate(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    [update] = ArticleUpdate.objects.all()
    assert (update.kind, update.by) == ("checked", cast.reviewer2)
    day = f"{update.created_at:%B} {update.created_at.day}, {update.created_at.year}"
    html = client.get(f"/articles/{article.slug}/patient/").content.decode()
    assert "Checked on" in html and f"{day}</time>, no changes needed." in html
    assert "checked, no changes needed." in client.get("/updates/").content.decode()


def test_reapproval_of_unchanged_text_is_logged_as_checked(cast: Any) -> None:
    # E.g. only a reference's library entry was tidied: the article reads exactly as before.
    article = editorial.approved(cast)
    live = article.live_publication
    assert live is not None
    update = corrections.record_approval(article, previous=live, publication=live, note="", by=cast.reviewer)
    assert update is not None and update.kind == "checked"


def test_desk_page_tells_the_reviewer_a_note_is_required_and_prefills_the_writers_proposal(
    client: Any, cast: Any
) -> None:
    article = editorial.approved(cast)
    editorial.edit(article, cast.writer, patient_body=BODY.replace("a cough", "a cough and wheeze"))
    client.force_login(cast.writer)
    proposal = "Wheeze added to what can come back."
    response = client.post(f"/desk/articles/{article.slug}/do/propose_change_note/", {"change_note": proposal})
    assert response.status_code == 302
    workflow.submit(editorial.refreshed(article), by=cast.writer)
    workflow.start_review(editorial.refreshed(article), by=cast.reviewer)
    client.force_login(cast.reviewer)
    html = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert "a public change note is required" in html
    assert f'value="{proposal}"' in html
    # Approving through the page with the note cleared is refused, with the form kept.
    posted = {"conflict": "none", "change_note": "", **editorial.seen(article)}
    refused = client.post(f"/desk/articles/{article.slug}/do/approve/", posted)
    assert refused.status_code == 400 and "public change note" in refused.content.decode()
    posted["change_note"] = proposal
    assert client.post(f"/desk/articles/{article.slug}/do/approve/", posted).status_code == 302
    assert ArticleUpdate.objects.get().note == proposal
    assert corrections.proposed_note(article) == ""


def test_other_people_cannot_propose_the_note(client: Any, cast: Any) -> None:
    article = editorial.approved(cast)
    editorial.edit(article, cast.writer, patient_body=BODY + "\nMore.\n")
    client.force_login(cast.other_writer)
    response = client.post(f"/desk/articles/{article.slug}/do/propose_change_note/", {"change_note": "Mine"})
    assert response.status_code in (403, 404)
    assert corrections.proposed_note(article) == ""


def test_updates_page_lists_only_articles_readers_can_see(client: Any, cast: Any, settings: Any) -> None:
    settings.REVIEW_INTERVAL_DAYS = 0  # due for re-review at once
    article = editorial.approved(cast)
    workflow.confirm_still_accurate(article, by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article))
    hidden = editorial.new_article(cast, text=editorial.article_text("A never published question?"))
    ArticleUpdate.objects.create(article=hidden, kind="updated", note="Secret draft note", created_at=timezone.now())
    html = client.get("/updates/").content.decode()
    assert article.live_publication.title in html and "Secret draft note" not in html


def test_stored_pages_show_a_new_article_on_their_topic_and_a_new_update(
    client: Any, cast: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.REVIEW_INTERVAL_DAYS = 0  # due for re-review at once
    article = editorial.approved(cast)
    page = f"/articles/{article.slug}/patient/"
    assert "More about Asthma" not in client.get(page).content.decode()  # now stored
    client.get("/updates/")  # stored too
    with django_capture_on_commit_callbacks(execute=True):
        neighbour = editorial.approved(cast, text=editorial.article_text("Is a spacer worth using?"))
    html = client.get(page).content.decode()
    assert "More about Asthma" in html and f'href="/articles/{neighbour.slug}/"' in html
    with django_capture_on_commit_callbacks(execute=True):
        workflow.confirm_still_accurate(
            editorial.refreshed(article), by=cast.reviewer2, conflict_of_interest="None", **editorial.seen(article)
        )
    assert "no changes needed" in client.get(page).content.decode()
    assert "checked, no changes needed." in client.get("/updates/").content.decode()
