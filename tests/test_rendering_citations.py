"""Citation numbering, markers, back-links and the reference list."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from articles.citing import check_citations
from articles.models import Article, ArticleReference, ArticleVariant, Reference
from articles.rendering import CitationUse, ReferenceLookup, find_citations, render_article_text


def ref(key: str, **fields) -> Reference:
    defaults = {"title": f"Title of {key}", "kind": Reference.Kind.RESEARCH}
    return Reference(key=key, **{**defaults, **fields})


KEYS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
LOOKUP = ReferenceLookup.from_references([ref(key) for key in KEYS])


def markers(html: str) -> list[str]:
    """The visible text of each citation marker, e.g. ["1,2", "3\u20135"]."""
    return [re.sub(r"<[^>]+>", "", m) for m in re.findall(r'<sup class="citation">(.*?)</sup>', html)]


def test_numbers_follow_first_appearance_and_repeats_reuse_them():
    rendered = render_article_text("First [@charlie]. Then [@alpha; @charlie]. Again [@alpha].", LOOKUP)

    assert markers(rendered.body_html) == ["1", "1,2", "2"]
    assert [r.key for r in rendered.cited] == ["charlie", "alpha"]


def test_markers_link_to_the_reference_list_entries():
    html = render_article_text("A claim [@bravo].", LOOKUP).body_html
    assert '<sup class="citation"><a href="#ref-1" id="cite-1-1" rel="noopener noreferrer">1</a></sup>' in html


def test_runs_of_three_or_more_print_as_a_range():
    body = "[@alpha; @bravo] then [@charlie; @delta; @echo] then [@echo; @alpha; @bravo; @charlie; @foxtrot]"
    html = render_article_text(body, LOOKUP).body_html

    assert markers(html) == ["1,2", "3\u20135", "1\u20133,5,6"]
    # The range links its first and last numbers; the middle one is still a back-link target.
    assert re.search(
        r'<a href="#ref-3"[^>]*>3</a><span class="citation-anchor" id="cite-4-1"></span>\u2013<a href="#ref-5"', html
    )


def test_two_numbers_are_never_a_range():
    assert markers(render_article_text("[@alpha; @bravo]", LOOKUP).body_html) == ["1,2"]


def test_each_audience_version_numbers_on_its_own():
    clinician = render_article_text("[@delta] and [@alpha]", LOOKUP)
    patient = render_article_text("[@alpha] only", LOOKUP)

    assert [r.key for r in clinician.cited] == ["delta", "alpha"]
    assert [r.key for r in patient.cited] == ["alpha"]
    assert '<li id="ref-1">' in patient.references_html and '<li id="ref-2">' not in patient.references_html


def test_every_use_gets_a_back_link_from_its_reference():
    rendered = render_article_text("One [@alpha]. Two [@bravo; @alpha].\n\nThree [@alpha].", LOOKUP)

    for k in (1, 2, 3):
        assert f'id="cite-1-{k}"' in rendered.body_html
        assert f'href="#cite-1-{k}"' in rendered.references_html
    assert rendered.references_html.count("\u21a9") == 4  # three for alpha, one for bravo


def test_reference_list_entry_shows_kind_title_authors_source_and_links():
    guideline = ref(
        "gina2024",
        kind=Reference.Kind.GUIDELINE,
        title="Global strategy for asthma management and prevention",
        authors="Reddel HK\nBacharier LB\nBateman ED\nBrightling CE",
        source="Global Initiative for Asthma",
        year=2024,
        url="https://ginasthma.org/reports/",
    )
    research = ref(
        "castro2018",
        authors="Castro M\nCorren J",
        source="The New England Journal of Medicine",
        year=2018,
        volume="378",
        pages="2486-2496",
        doi="10.1056/nejmoa1804092",
        pmid="29782217",
    )
    html = render_article_text("[@gina2024; @castro2018]", ReferenceLookup.from_references([guideline, research]))
    entries = html.references_html.split("</li>")

    assert html.references_html.startswith('<ol class="references">')
    assert '<span class="reference-kind">Guideline</span>' in entries[0]
    assert "Global strategy for asthma management and prevention" in entries[0]
    assert "Reddel HK, Bacharier LB, Bateman ED, et al." in entries[0]
    assert "Brightling" not in entries[0]
    assert "Global Initiative for Asthma, 2024" in entries[0]
    assert '<a href="https://ginasthma.org/reports/" rel="noopener noreferrer">Link</a>' in entries[0]
    assert '<span class="reference-kind">Research</span>' in entries[1]
    assert "Castro M, Corren J<" in entries[1] and "et al." not in entries[1]
    assert "The New England Journal of Medicine, 2018;378:2486-2496" in entries[1]
    assert '<a href="https://doi.org/10.1056/nejmoa1804092" rel="noopener noreferrer">DOI</a>' in entries[1]
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/29782217/" rel="noopener noreferrer">PubMed</a>' in entries[1]


def test_identifier_citations_resolve_by_doi_and_pmid():
    castro = ref("castro2018", doi="10.1056/nejmoa1804092", pmid="29782217")
    lookup = ReferenceLookup.from_references([castro])

    rendered = render_article_text("[@doi:10.1056/NEJMoa1804092] and [@pmid:29782217] and [@castro2018]", lookup)
    assert markers(rendered.body_html) == ["1", "1", "1"]
    assert rendered.cited == [castro]
    assert lookup.resolve("doi:10.1056/nejmoa1804092") is castro
    assert lookup.resolve("pmid:29782217") is castro
    assert lookup.resolve("doi:10.1000/other") is None


def test_unknown_keys_render_visibly_and_are_reported_with_their_line():
    rendered = render_article_text("Known [@alpha].\n\nUnknown [@nosuch] and [@bravo; @ghost].", LOOKUP)

    assert '<span class="citation-unknown">[?nosuch]</span>' in rendered.body_html
    assert '<span class="citation-unknown">[?ghost]</span>' in rendered.body_html
    assert rendered.unknown == [CitationUse("nosuch", 3), CitationUse("ghost", 3)]
    assert [r.key for r in rendered.cited] == ["alpha", "bravo"]


def test_nothing_cited_means_no_reference_list():
    rendered = render_article_text("No citations here, only [@ghost].", LOOKUP)
    assert rendered.references_html == ""
    assert rendered.cited == []


def test_citations_in_code_are_left_alone():
    body = "Inline `[@alpha]` code.\n\n    [@bravo] indented\n\n```\n[@charlie] fenced\n```\n\nReal [@delta]."
    rendered = render_article_text(body, LOOKUP)

    assert "<code>[@alpha]</code>" in rendered.body_html
    assert "[@bravo] indented" in rendered.body_html
    assert "[@charlie] fenced" in rendered.body_html
    assert [r.key for r in rendered.cited] == ["delta"]
    assert find_citations(body) == [CitationUse("delta", 9)]


def test_escaped_brackets_are_not_citations():
    assert find_citations(r"Literally \[@alpha] here.") == []


def test_find_citations_lists_every_use_in_order_with_lines_and_normalised_identifiers():
    body = "# Title\n\nOne [@alpha; @DOI:10.1056/NEJMoa1804092].\n\n- item [@pmid:29782217]\n- and [@alpha]\n"
    assert find_citations(body) == [
        CitationUse("alpha", 3),
        CitationUse("doi:10.1056/nejmoa1804092", 3),
        CitationUse("pmid:29782217", 5),
        CitationUse("alpha", 6),
    ]


def test_a_citation_split_over_two_lines_counts_on_its_first_line():
    assert find_citations("Claim [@alpha;\n@bravo] here.") == [CitationUse("alpha", 1), CitationUse("bravo", 1)]


# --- check_citations --------------------------------------------------------------------------------


@pytest.fixture
def article(cast) -> Article:
    article = Article.objects.create(slug="a", title="A question", topic="Asthma")
    article.authors.add(cast.writer)
    castro = Reference.objects.create(key="castro2018", title="Castro", doi="10.1056/nejmoa1804092")
    unused = Reference.objects.create(key="unused2020", title="Unused")
    Reference.objects.create(key="wenzel2013", title="Wenzel", pmid="23688323")  # in the library only
    ArticleReference.objects.bulk_create([ArticleReference(article=article, reference=r) for r in (castro, unused)])
    ArticleVariant.objects.create(
        article=article, audience="clinician", title="C", summary="S", body="Fine [@castro2018].\n\nBad [@nosuch]."
    )
    ArticleVariant.objects.create(
        article=article,
        audience="patient",
        title="P",
        summary="S",
        body="By DOI [@doi:10.1056/NEJMoa1804092].\n\n[@pmid:23688323]",
    )
    return article


def test_check_citations_reports_unknown_keys_unattached_library_entries_and_unused_references(
    article, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        report = check_citations(article)

    assert report.errors == [
        "Unknown citation [@nosuch] on line 3 of the healthcare professional version.",
        "Citation [@pmid:23688323] on line 3 of the patient or caregiver version is in the library as wenzel2013 "
        "but not attached to this article: attach it.",
    ]
    assert report.warnings == ["Reference unused2020 is attached but never cited."]


def test_check_citations_is_clean_when_everything_resolves(article):
    article.variants.filter(audience="clinician").update(body="[@castro2018] and [@unused2020]")
    article.variants.filter(audience="patient").update(body="[@doi:10.1056/nejmoa1804092]")
    report = check_citations(article)
    assert (report.errors, report.warnings) == ([], [])


# --- Property: markers and list entries always agree -------------------------------------------------


class CitationLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.marker_targets: set[str] = set()  # "ref-N" that a marker links to
        self.entries: set[str] = set()  # "ref-N" ids in the list
        self.backlink_targets: set[str] = set()
        self.anchors: set[str] = set()  # ids of marker occurrences

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        href, ident = attributes.get("href") or "", attributes.get("id") or ""
        if tag == "a" and href.startswith("#ref-"):
            self.marker_targets.add(href[1:])
        if tag == "a" and href.startswith("#cite-"):
            self.backlink_targets.add(href[1:])
        if ident.startswith("cite-"):
            self.anchors.add(ident)
        if tag == "li" and ident.startswith("ref-"):
            self.entries.add(ident)


words = st.sampled_from(["asthma", "cough", "**bold**", "_it_", "dose", "`code [@alpha]`", "mucus", "1,2"])
citation = st.lists(st.sampled_from([*KEYS, "ghost", "doi:10.1056/x"]), min_size=1, max_size=4).map(
    lambda keys: "[" + "; ".join(f"@{k}" for k in keys) + "]"
)
paragraph = st.lists(st.one_of(words, citation), min_size=1, max_size=12).map(" ".join)
list_item = paragraph.map(lambda text: f"- {text}")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(paragraph, list_item), min_size=1, max_size=6))
def test_every_marker_has_an_entry_and_every_entry_a_marker(blocks):
    rendered = render_article_text("\n\n".join(blocks), LOOKUP)
    body, references = CitationLinks(), CitationLinks()
    body.feed(rendered.body_html)
    references.feed(rendered.references_html)

    # Every number shown (or hidden inside a range such as "1 to 3") has its entry, and no entry is orphaned.
    cited_numbers = {"ref-" + anchor.split("-")[1] for anchor in body.anchors}
    assert body.marker_targets <= cited_numbers == references.entries
    assert references.entries == {f"ref-{n}" for n in range(1, len(rendered.cited) + 1)}
    assert references.backlink_targets == body.anchors
