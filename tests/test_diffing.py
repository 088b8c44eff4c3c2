"""The word-level diff on crafted texts: what is marked, what collapses, and that nothing is injected."""

from __future__ import annotations

from articles.diffing import diff_texts, text_diff, word_diff
from articles.texts import ArticleText, VariantText

LONG = " ".join(f"word{n}" for n in range(80))


def test_insertion_is_marked_and_long_unchanged_runs_collapse() -> None:
    html = word_diff(f"{LONG} end.", f"{LONG} inserted end.")
    assert "<ins>inserted </ins>" in html
    assert "<del>" not in html
    assert 'class="diff-skip"' in html and "word0" not in html and "word79" in html


def test_deletion_is_marked() -> None:
    html = word_diff("Take two puffs twice daily.", "Take two puffs daily.")
    assert "<del>twice </del>" in html and "<ins>" not in html


def test_moved_paragraph_shows_as_deleted_and_inserted() -> None:
    first, second = "Keep using the spacer with each dose.", "Rinse your mouth after the steroid inhaler."
    html = word_diff(f"{first}\n\n{second}", f"{second}\n\n{first}")
    # difflib keeps one paragraph in place and reports the other as removed here and added there.
    assert f"<ins>{second}" in html and f"{second}</del>" in html
    assert html.count("Rinse") == 2 and html.count("spacer") == 1


def test_change_inside_a_citation_marker() -> None:
    html = word_diff("Fewer attacks [@castro2018].", "Fewer attacks [@rabe2018].")
    assert "<del>[@castro2018].</del>" in html and "<ins>[@rabe2018].</ins>" in html


def test_html_in_either_side_is_escaped_never_injected() -> None:
    html = word_diff("<script>alert(1)</script> safe", 'safe <img src=x onerror="alert(2)">')
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html


def test_references_added_removed_and_changed() -> None:
    text = ArticleText("T", "qa", "Asthma", {"patient": VariantText("h", "s", "b")})
    old = {"a": {"key": "a", "title": "Old A", "year": 2019}, "b": {"key": "b", "title": "B", "year": 2020}}
    new = {"a": {"key": "a", "title": "New A", "year": 2019}, "c": {"key": "c", "title": "C", "year": 2024}}
    result = diff_texts(text, text, old, new)
    assert [r["key"] for r in result.references_added] == ["c"]
    assert [r["key"] for r in result.references_removed] == ["b"]
    assert [(c.key, c.fields) for c in result.references_changed] == [("a", ["title"])]
    assert not any(f.changed for f in result.fields)
    assert result.has_changes


def test_unchanged_texts_have_no_changes() -> None:
    text = ArticleText("T", "qa", "Asthma", {"patient": VariantText("h", "s", "b")})
    assert not diff_texts(text, text).has_changes


def test_a_rewritten_paragraph_is_shown_whole_beside_the_old_one() -> None:
    old = "Keep the dose.\n\nInhaled steroids calm the airways over weeks.\n\nSee your nurse yearly.\n"
    new = "Keep the dose.\n\nA daily preventer slowly settles swelling inside your lungs.\n\nSee your nurse yearly.\n"
    html = str(text_diff(old, new))
    assert html.count('class="diff-rewrite"') == 1
    assert "<del>Inhaled steroids calm the airways over weeks.\n\n</del>" in html
    assert "<ins>A daily preventer slowly settles swelling inside your lungs.\n\n</ins>" in html
    # A light edit stays a word diff, and unchanged paragraphs are not marked at all.
    light = str(text_diff(old, old.replace("over weeks", "over a few weeks")))
    assert 'class="diff-rewrite"' not in light
    assert "Keep the dose.\n\nInhaled steroids calm the airways over <ins>a few </ins>weeks." in light
    assert "<del>Keep" not in html and "<ins>See" not in html
