"""The reference library pages: who may use them, search, detail, and typing a reference by hand."""

from __future__ import annotations

import threading
import time
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from articles.models import Article, ArticleReference, Reference
from articles.references import reference_for_identifier
from tests.fakeweb import FakeWeb, fakeweb_fixture  # noqa: F401

LIST = reverse("library:list")
CREATE = reverse("library:create")
ADD = reverse("library:add_by_identifier")


def castro(**fields: Any) -> Reference:
    values = {
        "key": "castro2018",
        "title": "Dupilumab efficacy and safety in moderate-to-severe uncontrolled asthma",
        "authors": "Castro M\nCorren J\nPavord ID",
        "source": "The New England Journal of Medicine",
        "year": 2018,
        "volume": "378",
        "pages": "2486-2496",
        "doi": "10.1056/nejmoa1804092",
        "pmid": "29782217",
        "pmcid": "PMC6400000",
    }
    return Reference.objects.create(**(values | fields))


def wenzel() -> Reference:
    return Reference.objects.create(
        key="wenzel2013",
        title="Dupilumab in persistent asthma with elevated eosinophil levels",
        authors="Wenzel S\nFord L",
        doi="10.1056/nejmoa1304048",
        pmid="23688323",
    )


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


class FormFields(HTMLParser):
    """The name → value pairs a browser would submit from a page's forms (inputs, textareas, selects)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type") != "submit":
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data.removeprefix("\n") if not self.values[self._textarea] else data


def form_values(html: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    return parser.values


# --- Who may use the library -----------------------------------------------------------------------


@pytest.mark.parametrize("person", ["writer", "reviewer", "board_author", "editor"])
def test_writers_board_members_and_staff_use_the_library(cast: Any, person: str) -> None:
    reference = castro()
    client = signed_in(getattr(cast, person))
    for url in (LIST, CREATE, ADD, reverse("library:detail", args=[reference.pk])):
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("library:edit", args=[reference.pk])).status_code == 200


def test_an_account_without_a_role_is_refused(cast: Any) -> None:
    reference = castro()
    client = signed_in(cast.outsider)
    for url in (LIST, CREATE, ADD, reverse("library:detail", args=[reference.pk])):
        assert client.get(url).status_code == 403, url
    assert client.post(ADD, {"identifiers": "10.1056/NEJMoa1304048"}).status_code == 403
    assert client.post(reverse("library:edit", args=[reference.pk]), {"key": "hijacked"}).status_code == 403
    assert Reference.objects.get().key == "castro2018"
    assert Reference.objects.count() == 1


def test_anonymous_readers_are_sent_to_sign_in(db: None, client: Client) -> None:
    for url in (LIST, CREATE, ADD):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.post(ADD, {"identifiers": "10.1056/NEJMoa1304048"}).status_code == 302
    assert not Reference.objects.exists()


def test_posts_need_the_csrf_token(cast: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.writer)
    assert client.post(ADD, {"identifiers": "10.1056/NEJMoa1304048"}).status_code == 403
    assert not Reference.objects.exists()


def test_the_navigation_links_to_the_library_for_writers_and_board(cast: Any) -> None:
    link = f'href="{LIST}"'
    assert link in signed_in(cast.writer).get(LIST).content.decode()
    assert link in signed_in(cast.reviewer).get(LIST).content.decode()
    assert link not in signed_in(cast.outsider).get(reverse("articles:index")).content.decode()


# --- List and search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "castro",
        "uncontrolled ASTHMA",
        "Pavord",
        "10.1056/NEJMoa1804092",
        "https://doi.org/10.1056/NEJMoa1804092",
        "29782217",
        "PMID: 29782217",
        "castro2018",
    ],
)
def test_search_finds_by_title_author_doi_pmid_or_key(cast: Any, query: str) -> None:
    castro()
    wenzel()
    html = signed_in(cast.writer).get(LIST, {"q": query}).content.decode()
    assert "castro2018" in html
    assert "wenzel2013" not in html


def test_search_without_a_match_says_so(cast: Any) -> None:
    castro()
    html = signed_in(cast.writer).get(LIST, {"q": "melanoma"}).content.decode()
    assert "No reference matches “melanoma”" in html
    assert "castro2018" not in html


def test_list_marks_references_still_waiting_for_metadata(cast: Any) -> None:
    castro()
    Reference.objects.create(key="pending-doi-10.1000-xyz", doi="10.1000/xyz", metadata_status="pending")
    html = signed_in(cast.writer).get(LIST).content.decode()
    assert html.count("The details are being looked up on Crossref") == 1
    assert "lookup-pending" in html and "DOI 10.1000/xyz" in html
    assert "pending-doi" not in html  # never the placeholder key


def test_list_is_paginated_in_a_fixed_number_of_queries(cast: Any, django_assert_max_num_queries: Any) -> None:
    Reference.objects.bulk_create(Reference(key=f"ref{n:03}", title=f"Paper {n:03}") for n in range(60))
    client = signed_in(cast.writer)
    with django_assert_max_num_queries(8):
        first = client.get(LIST).content.decode()
    assert "ref000" in first and "ref024" in first and "ref025" not in first
    assert "Page 1 of 3" in first
    second = client.get(LIST, {"page": 2}).content.decode()
    assert "ref025" in second and "ref000" not in second


# --- Detail ----------------------------------------------------------------------------------------


def test_detail_shows_every_field_links_and_citing_articles(cast: Any) -> None:
    reference = castro(url="https://www.nejm.org/doi/full/10.1056/NEJMoa1804092")
    citing = Article.objects.create(slug="dupilumab-asthma", title="Is dupilumab right for my asthma?", topic="Asthma")
    Article.objects.create(slug="unrelated", title="Eczema and sleep", topic="Dermatology")
    ArticleReference.objects.create(article=citing, reference=reference)
    citing.authors.add(cast.writer)
    html = signed_in(cast.writer).get(reverse("library:detail", args=[reference.pk])).content.decode()
    for text in (
        "Dupilumab efficacy and safety",
        "Castro M, Corren J, Pavord ID",
        "The New England Journal of Medicine",
        "2018",
        "378",
        "2486-2496",
        "[@castro2018]",
    ):
        assert text in html, text
    assert 'href="https://doi.org/10.1056/nejmoa1804092"' in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/29782217/"' in html
    assert 'href="https://pmc.ncbi.nlm.nih.gov/articles/PMC6400000/"' in html
    assert 'href="https://www.nejm.org/doi/full/10.1056/NEJMoa1804092"' in html
    assert "Is dupilumab right for my asthma?" in html
    assert "Eczema and sleep" not in html


def test_detail_of_an_unknown_identifier_says_not_found(cast: Any) -> None:
    reference = Reference.objects.create(
        key="pending-doi-10.1000-nope",
        doi="10.1000/nope",
        metadata_status="not_found",
        metadata_error="Crossref has no record of DOI 10.1000/nope.",
    )
    html = signed_in(cast.writer).get(reverse("library:detail", args=[reference.pk])).content.decode()
    assert (
        "Not found: Crossref has no record of DOI 10.1000/nope. Check the identifier, or type the details yourself."
        in html
    )
    assert ">Look up again</button>" in html and "pending-doi" not in html
    assert "No article cites this reference yet." in html


# --- Creating and editing by hand ------------------------------------------------------------------


def typed(**fields: str) -> dict[str, str]:
    return {"key": "smith2020", "kind": "guideline", "title": "Asthma guideline", "authors": "Smith J"} | fields


def test_identifiers_are_stored_normalised_and_blanks_as_null(cast: Any) -> None:
    client = signed_in(cast.writer)
    response = client.post(
        CREATE, typed(doi="https://doi.org/10.1056/NEJMoa1804092", pmid="PMID: 29782217", pmcid="pmc6400000")
    )
    reference = Reference.objects.get(key="smith2020")
    assert response.status_code == 302 and response["Location"] == reverse("library:detail", args=[reference.pk])
    assert (reference.doi, reference.pmid, reference.pmcid) == ("10.1056/nejmoa1804092", "29782217", "PMC6400000")
    assert reference.metadata_status == "complete"
    # Many references without identifiers: NULL, not "", so the unique constraints do not collide.
    client.post(CREATE, typed(key="who2021"))
    client.post(CREATE, typed(key="nice2022"))
    assert Reference.objects.filter(doi=None, pmid=None, pmcid=None).count() == 2


def test_bad_identifiers_are_form_errors_and_what_was_typed_is_kept(cast: Any) -> None:
    response = signed_in(cast.writer).post(
        CREATE, typed(title="My carefully typed title", doi="10.1056 NEJM", pmid="2978x217", pmcid="PMX12")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a DOI" in html and "is not a PMID" in html and "is not a PMCID" in html
    values = form_values(html)
    assert (values["doi"], values["pmid"], values["pmcid"]) == ("10.1056 NEJM", "2978x217", "PMX12")
    assert values["title"] == "My carefully typed title"
    assert not Reference.objects.exists()


def test_a_duplicate_doi_links_to_the_reference_that_has_it(cast: Any) -> None:
    existing = castro()
    response = signed_in(cast.writer).post(CREATE, typed(doi="doi:10.1056/NEJMoa1804092", pmid="29782217"))
    html = response.content.decode()
    assert response.status_code == 200
    detail = reverse("library:detail", args=[existing.pk])
    assert f'<a href="{detail}">castro2018</a> already has this DOI' in html
    assert f'<a href="{detail}">castro2018</a> already has this PMID' in html
    assert form_values(html)["doi"] == "doi:10.1056/NEJMoa1804092"
    assert Reference.objects.count() == 1


def test_editing_keeps_own_identifiers_and_refuses_another_references(cast: Any) -> None:
    mine, other = castro(), wenzel()
    client = signed_in(cast.writer)
    page = form_values(client.get(reverse("library:edit", args=[mine.pk])).content.decode())
    assert client.post(reverse("library:edit", args=[mine.pk]), page | {"volume": "378(25)"}).status_code == 302
    mine.refresh_from_db()
    assert (mine.volume, mine.doi) == ("378(25)", "10.1056/nejmoa1804092")
    response = client.post(reverse("library:edit", args=[mine.pk]), page | {"pmid": other.pmid})
    assert "already has this PMID" in response.content.decode()
    mine.refresh_from_db()
    assert mine.pmid == "29782217"


def test_saving_an_edit_keeps_metadata_the_lookup_filled_meanwhile(cast: Any) -> None:
    pending = Reference.objects.create(
        key="pending-doi-10.1056-nejmoa1804092", doi="10.1056/nejmoa1804092", metadata_status="pending"
    )
    client = signed_in(cast.writer)
    edit = reverse("library:edit", args=[pending.pk])
    page = form_values(client.get(edit).content.decode())
    # The lookup finishes while the writer is on the edit page.
    Reference.objects.filter(pk=pending.pk).update(
        key="castro2018", title="Dupilumab efficacy", authors="Castro M", year=2018, metadata_status="complete"
    )
    assert client.post(edit, page | {"kind": "review", "volume": "378"}).status_code == 302
    pending.refresh_from_db()
    assert (pending.kind, pending.volume) == ("review", "378")
    assert (pending.key, pending.title, pending.authors, pending.year) == (
        "castro2018",
        "Dupilumab efficacy",
        "Castro M",
        2018,
    )


# --- Uniqueness under concurrency ------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_requests_adding_the_same_doi_at_once_give_one_reference(celery_worker: Any, fakeweb: FakeWeb) -> None:
    barrier = threading.Barrier(2)
    found: list[Reference | BaseException] = []

    def add() -> None:
        try:
            barrier.wait(timeout=10)
            found.append(reference_for_identifier("doi", "https://doi.org/10.1056/NEJMoa1804092"))
        except BaseException as exc:  # asserted on below
            found.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(r, Reference) for r in found) and len(found) == 2, found
    assert Reference.objects.filter(doi="10.1056/nejmoa1804092").count() == 1
    assert found[0].pk == found[1].pk
    # The one lookup queued runs on the worker; Crossref does not know this DOI, so it is marked failed.
    deadline = time.monotonic() + 20
    while Reference.objects.get().metadata_status == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Reference.objects.get().metadata_error.startswith("Crossref has no record of DOI 10.1056/nejmoa1804092")


def test_cited_by_lists_published_articles_and_only_the_viewers_own_drafts(cast: Any) -> None:
    from tests.editorial import approved, article_text, new_article

    reference = castro()
    live = approved(cast, text=article_text("Published inhaler question"))
    mine = new_article(cast, text=article_text("Wanda's unfinished draft"))
    theirs = editing_create(cast.other_writer, "Olga's secret draft")
    for article in (live, mine, theirs):
        ArticleReference.objects.create(article=article, reference=reference)
    detail = reverse("library:detail", args=[reference.pk])

    as_writer = signed_in(cast.writer).get(detail).content.decode()
    assert "Published inhaler question" in as_writer and "Wanda&#x27;s unfinished draft" in as_writer
    assert "Olga" not in as_writer
    as_other = signed_in(cast.other_writer).get(detail).content.decode()
    assert "Olga&#x27;s secret draft" in as_other and "Published inhaler question" in as_other
    assert "Wanda" not in as_other
    # A published article someone else wrote links to the reader page, with no working status shown.
    as_board = signed_in(cast.reviewer).get(detail).content.decode()
    assert live.get_absolute_url() in as_board and "draft" not in as_board.lower().split("cited by")[1]
    # The list page counts what the viewer may see, not everything.
    listing = signed_in(cast.other_writer).get(LIST).content.decode()
    assert "<td>2</td>" in listing


def editing_create(user: Any, title: str) -> Article:
    from articles import editing
    from tests.editorial import article_text

    return editing.create_article(by=user, text=article_text(title))
