"""Footnotes keep to their own audience version, as citations do: on a page that shows both versions
(the desk page, a revision's preview, the editor's two live previews) every in-page link lands on the one
element it names, and the patient's footnote 1 is not the clinician's. Reader pages, which show one
version, keep the plain ids they have always had."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from articles import versioning
from articles.editing import VariantText
from articles.models import Reference
from articles.rendering import ReferenceLookup, render_article_text, sanitise

from . import editorial

pytestmark = pytest.mark.django_db

PATIENT = VariantText(
    "Can I keep my inhaler routine?",
    "Yes. Keep using your inhaler every day.",
    "Your daily inhaler calms your airways.[^1] Skipping it can bring back a cough [@okafor2021].\n\n"
    "[^1]: A preventer inhaler, usually brown or orange.\n",
)
CLINICIAN = VariantText(
    "Maintaining inhaled corticosteroid therapy",
    "Continue maintenance inhaled corticosteroids.",
    "Stepping down early loses control[^1] and brings exacerbations [@okafor2021].\n\n"
    "[^1]: Defined by ACQ-5 above 1.5.\n",
)


@pytest.fixture
def reference() -> Reference:
    return Reference.objects.create(key="okafor2021", title="Stepping down ICS", source="Thorax", year=2021)


def dangling_links(html: str) -> dict[str, int]:
    """Every in-page link target that is not exactly one element's id, with how many elements carry it."""
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    targets = set(re.findall(r'\shref="#([^"]+)"', html))
    return {target: ids[target] for target in targets if ids[target] != 1}


def footnote_ids(html: str) -> set[str]:
    return set(re.findall(r'\sid="(fn[^"]*)"', html))


def assert_each_version_keeps_its_footnotes(html: str) -> None:
    assert "brown or orange" in html and "ACQ-5" in html  # both versions and both notes are on the page
    assert dangling_links(html) == {}
    patient = {i for i in footnote_ids(html) if "patient" in i}
    clinician = {i for i in footnote_ids(html) if "clinician" in i}
    assert patient == {"fn-patient-1", "fnref-patient-1"}
    assert clinician == {"fn-clinician-1", "fnref-clinician-1"}
    assert footnote_ids(html) == patient | clinician  # no unprefixed footnote left to collide
    assert 'href="#fn-patient-1"' in html and 'href="#fn-clinician-1"' in html


def test_prefixed_rendering_gives_footnotes_the_citations_prefix(reference: Reference) -> None:
    body = "Claim.[^1] Again.[^1] Cited [@okafor2021].\n\n[^1]: The note.\n"
    rendered = render_article_text(body, ReferenceLookup.from_references([reference]), id_prefix="patient-")
    html = rendered.body_html + rendered.references_html
    assert '<a href="#fn-patient-1" id="fnref-patient-1"' in html
    assert '<a href="#fn-patient-1" id="fnref-patient-1:1"' in html  # the second use of the same note
    assert '<li id="fn-patient-1" class="footnote-item">' in html
    assert 'href="#fnref-patient-1" class="footnote-backref"' in html
    assert 'href="#fnref-patient-1:1" class="footnote-backref"' in html
    assert 'id="patient-cite-1-1"' in html
    assert dangling_links(html) == {}


def test_unprefixed_rendering_keeps_the_plain_footnote_ids() -> None:
    html = render_article_text("Claim.[^1]\n\n[^1]: The note.\n", ReferenceLookup.from_references([])).body_html
    assert '<a href="#fn1" id="fnref1"' in html and '<li id="fn1" class="footnote-item">' in html
    assert "patient" not in html


@pytest.mark.parametrize(
    "kept", ["fn-patient-1", "fnref-patient-1", "fnref-patient-1:2", "fn-clinician-12", "fn1", "fnref1:1", "fn:1"]
)
def test_sanitiser_keeps_the_footnote_ids_the_renderer_writes(kept: str) -> None:
    assert sanitise(f'<li id="{kept}">x</li>') == f'<li id="{kept}">x</li>'


@pytest.mark.parametrize(
    "refused",
    ["fn-patient", "fn-patient-", "fn-Patient-1", "fn-patient-1-2", "fnx-patient-1", "patient-fn1", "fn-pa-tient-1"],
)
def test_sanitiser_refuses_anything_else_shaped_like_a_footnote_id(refused: str) -> None:
    assert sanitise(f'<li id="{refused}">x</li>') == "<li>x</li>"


def footnoted_article(cast: Any) -> Any:
    return editorial.new_article(cast, text=editorial.article_text(patient=PATIENT, clinician=CLINICIAN))


def test_desk_page_links_every_footnote_and_citation_to_its_own_version(
    cast: Any, client: Any, reference: Reference
) -> None:
    article = footnoted_article(cast)
    client.force_login(cast.writer)
    html = client.get(f"/desk/articles/{article.slug}/").content.decode()
    assert_each_version_keeps_its_footnotes(html)
    assert 'id="patient-cite-1-1"' in html and 'id="clinician-cite-1-1"' in html


def test_revision_preview_links_every_footnote_to_its_own_version(cast: Any, client: Any, reference: Reference) -> None:
    article = footnoted_article(cast)
    revision = versioning.latest_revision(article)
    client.force_login(cast.writer)
    html = client.get(f"/desk/articles/{article.slug}/revisions/{revision.pk}/").content.decode()
    assert_each_version_keeps_its_footnotes(html)


def test_the_editors_two_live_previews_together_link_each_footnote_once(
    cast: Any, client: Any, reference: Reference
) -> None:
    client.force_login(cast.writer)
    previews = [
        client.post("/desk/preview/", {"audience": audience, "summary": text.summary, "body": text.body})
        for audience, text in (("patient", PATIENT), ("clinician", CLINICIAN))
    ]
    assert [response.status_code for response in previews] == [200, 200]
    assert_each_version_keeps_its_footnotes("".join(response.content.decode() for response in previews))


def test_reader_page_shows_one_version_with_its_plain_footnote_ids(
    cast: Any, client: Any, reference: Reference
) -> None:
    article = editorial.approved(cast, text=editorial.article_text(patient=PATIENT, clinician=CLINICIAN))
    assert 'id="fn1"' in article.live_publication.variant("patient").body_html  # frozen as before
    html = client.get(f"/articles/{article.slug}/patient/").content.decode()
    assert '<a href="#fn1" id="fnref1"' in html and '<li id="fn1" class="footnote-item">' in html
    assert "fn-patient" not in html
    assert dangling_links(html) == {}
