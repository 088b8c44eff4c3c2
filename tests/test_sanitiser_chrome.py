"""A writer's text cannot dress up as the site: only the classes and ids the renderer itself writes
survive the sanitiser, and the renderer's own citation, reference-list and footnote markup does."""

from __future__ import annotations

import re

import pytest

from articles.models import Reference
from articles.rendering import ReferenceLookup, render_article_text, render_markdown, sanitise

LOOKUP = ReferenceLookup.from_references([Reference(key=k, title=f"Title {k}") for k in ("a", "b", "c", "d")])

SPOOFS = [
    '<div class="review-banner approved" id="reviewed">Reviewed by the Medical Advisory Board</div>',
    "<div class=review-banner>Reviewed by the Medical Advisory Board</div>",
    "<div CLASS='review-banner approved'>Reviewed by the Medical Advisory Board</div>",
    '<div\nclass="review-banner"\nid="main">Reviewed by the Medical Advisory Board</div>',
    '<p>Text <span class="banner-mark reviewed-by" id="ref-1">Reviewed by the Medical Advisory Board</span></p>',
    '<a class="button primary" href="https://example.org/">Reviewed by the Medical Advisory Board</a>',
    '<section class="references footnotes" id="cite-1-1">Reviewed by the Medical Advisory Board</section>',
    '<sup class="citation" id="cite-9-1"><a href="#ref-9">9</a></sup> Reviewed by the Medical Advisory Board',
    '<ol class="tracker"><li class="tracker-step current">Reviewed by the Medical Advisory Board</li></ol>',
    '<div style="position:fixed;top:0">Reviewed by the Medical Advisory Board</div>',
    '<table><tr><td style="position:fixed">Reviewed by the Medical Advisory Board</td></tr></table>',
]


def attributes(html: str, name: str) -> list[str]:
    return re.findall(rf'\s{name}="([^"]*)"', html)


@pytest.mark.parametrize("raw", SPOOFS)
def test_a_writers_classes_ids_and_styles_are_removed(raw: str) -> None:
    for html in (
        render_markdown(f"Intro.\n\n{raw}\n\nEnd."),
        render_article_text(f"Intro.\n\n{raw}", LOOKUP).body_html,
    ):
        assert "Reviewed by the Medical Advisory Board" in html  # the words stay, as plain text
        assert attributes(html, "class") == [] and attributes(html, "id") == [] and attributes(html, "style") == []


def test_site_chrome_classes_never_survive_even_straight_into_the_sanitiser() -> None:
    html = sanitise('<div class="review-banner approved"><span class="banner-mark">✓</span></div>')
    assert "review-banner" not in html and "banner-mark" not in html and "class" not in html
    # The renderer's own names survive only on the elements it puts them on.
    assert sanitise('<sup class="citation">1</sup>') == '<sup class="citation">1</sup>'
    assert sanitise('<div class="citation">1</div>') == "<div>1</div>"
    assert sanitise('<li id="javascript-thing">x</li>') == "<li>x</li>"


def test_the_renderers_citation_markup_survives() -> None:
    rendered = render_article_text("One [@a]. Range [@a; @b; @c; @d]. Unknown [@zz] and [@b; @ghost].", LOOKUP)
    body = rendered.body_html

    assert '<sup class="citation"><a href="#ref-1" id="cite-1-1" rel="noopener noreferrer">1</a></sup>' in body
    assert '<span class="citation-anchor" id="cite-2-1"></span>' in body
    assert '<span class="citation-unknown">[?zz]</span>' in body
    assert '<span class="citation-unknown">[?ghost]</span>' in body
    references = rendered.references_html
    assert references.startswith('<ol class="references">')
    for kept in ('<li id="ref-4">', 'class="reference-title"', 'class="citation-backlink"', 'href="#cite-1-2"'):
        assert kept in references


def test_footnotes_and_table_alignment_survive() -> None:
    body = "A claim.[^1]\n\n| Drug | Dose |\n|:--|--:|\n| x | 2 |\n\n[^1]: The note."
    html = render_article_text(body, LOOKUP).body_html
    assert '<sup class="footnote-ref"><a href="#fn1" id="fnref1"' in html
    assert '<section class="footnotes">' in html and '<li id="fn1" class="footnote-item">' in html
    assert 'style="text-align:right"' in html


def test_publications_frozen_by_the_earlier_renderer_keep_their_footnotes() -> None:
    frozen = (
        '<p>Claim<sup id="fnref:1"><a class="footnote-ref" href="#fn:1">1</a></sup></p>'
        '<div class="footnote"><ol><li id="fn:1"><p>Note '
        '<a class="footnote-backref" href="#fnref:1">↩</a></p></li></ol></div>'
    )
    assert sanitise(frozen) == frozen.replace('href="#fn:1"', 'href="#fn:1" rel="noopener noreferrer"').replace(
        'href="#fnref:1"', 'href="#fnref:1" rel="noopener noreferrer"'
    )


def test_typography_turns_dashes_and_dots_but_leaves_addresses_and_code_alone() -> None:
    html = render_markdown("Weeks 2--4 --- then... see <https://example.org/a--b> and `x--y` and (a) (b) (c).")
    assert "Weeks 2\u20134 \u2014 then\u2026" in html
    assert ">https://example.org/a--b</a>" in html and "<code>x--y</code>" in html
    assert "(c)" in html and "\u00a9" not in html
