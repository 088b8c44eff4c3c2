"""Hostile Markdown cannot hold a worker: rendering grows linearly on every known pathological family,
and a body over the length or nesting limit is refused with the limit named (form, preview, import)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from articles.forms import variant_forms
from articles.models import Reference
from articles.rendering import (
    BODY_MAX_BRACKETS,
    BODY_MAX_CHARS,
    BODY_MAX_DEPTH,
    PARAGRAPH_MAX_BRACKETS,
    ReferenceLookup,
    find_citations,
    render_article_text,
    validate_body,
)

LOOKUP = ReferenceLookup.from_references([Reference(key="alpha", title="Alpha")])

# Each family builds a body from a repetition count n. Upstream reports and the probe of this site.
FAMILIES: dict[str, Callable[[int], str]] = {
    "open brackets [": lambda n: "[" * n,
    "unclosed links [a](": lambda n: "[a](" * n,
    "empty links []((": lambda n: "[]((" * n,
    "images ![": lambda n: "![" * n,
    "citation openings [@": lambda n: "[@" * n,
    "citations [@alpha]": lambda n: "[@alpha]" * n,
    "footnote openings [^": lambda n: "[^" * n,
    "backtick flood": lambda n: "`" * n,
    "backtick runs `a``": lambda n: "`a``" * n,
    "escaped backticks \\``": lambda n: "\\``" * n,
    "emphasis *a": lambda n: "*a" * n,
    "emphasis _a": lambda n: "_a" * n,
    "strong **a": lambda n: "**a" * n,
    "mixed emphasis **_* ": lambda n: "**_* " * n,
    "angle brackets <>": lambda n: "<>" * n,
    "raw tags <a": lambda n: "<a" * n,
    "entities &": lambda n: "&amp;&" * n,
    "table columns": lambda n: "|a" * (n // 8) + "\n" + "|-" * (n // 8) + "\n" + ("|a" * (n // 8) + "\n") * 4,
    "list nesting - - -": lambda n: "- " * n + "a",
    "quote nesting > > >": lambda n: "> " * n + "a",
    "list in quote nesting > - ": lambda n: "> - " * n + "a",
}
N = 1500  # small enough to keep the suite fast, large enough that 4n of a quadratic family shows 16x


def render_seconds(body: str) -> float:
    started = time.perf_counter()
    render_article_text(body, LOOKUP)
    return time.perf_counter() - started


def growth(family: Callable[[int], str], n: int = N) -> float:
    """Time at 4n over time at n; the best of three of each, interleaved, so a busy machine slows both
    sizes alike instead of one. The garbage collector is paused: its passes land on one run or the other
    at random, and it is the parser's growth that is measured."""
    small, large = family(n), family(4 * n)
    timings: dict[str, list[float]] = {"small": [], "large": []}
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            timings["small"].append(render_seconds(small))
            timings["large"].append(render_seconds(large))
    finally:
        gc.enable()
    return min(timings["large"]) / max(min(timings["small"]), 1e-6)


@pytest.mark.parametrize("name", FAMILIES)
def test_rendering_grows_about_linearly_on_every_pathological_family(name: str) -> None:
    # The renderer itself never refuses (bodies saved before the limits must still display), so it must
    # stay linear even on bodies the editor would refuse: 4x the input may take at most ~5x the time.
    # A busy machine can inflate one measurement; a quadratic family shows ~16x every time, so a ratio
    # over the bound is measured again (up to three times) before it counts.
    ratios = []
    for _ in range(3):
        ratios.append(growth(FAMILIES[name]))
        if ratios[-1] <= 5.5:
            break
    assert min(ratios) <= 5.5, (name, ratios)


@pytest.mark.parametrize("name", FAMILIES)
def test_every_pathological_family_is_accepted_linearly_or_refused_with_the_limit_named(name: str) -> None:
    for n in (N, 4 * N):
        body = FAMILIES[name](n)
        try:
            validate_body(body)
        except ValidationError as refusal:
            message = " ".join(refusal.messages)
            assert "the limit is" in message
            named = (
                f"{BODY_MAX_CHARS:,} characters",
                f"{BODY_MAX_DEPTH} levels",
                f"limit is {BODY_MAX_BRACKETS:,}.",
                f"limit is {PARAGRAPH_MAX_BRACKETS} per paragraph",
            )
            assert any(limit in message for limit in named), message


def test_a_body_over_the_length_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(ValidationError) as refusal:
        validate_body("Plain words. " * (BODY_MAX_CHARS // 10))
    assert f"the limit is {BODY_MAX_CHARS:,} characters" in refusal.value.messages[0]
    validate_body("Plain words. " * (BODY_MAX_CHARS // 14))  # just under: accepted


def test_a_flood_of_brackets_is_refused_naming_the_limit() -> None:
    with pytest.raises(ValidationError) as refusal:
        validate_body("[a](\n\n" * (BODY_MAX_BRACKETS + 1))
    assert f"the limit is {BODY_MAX_BRACKETS:,}" in refusal.value.messages[0]
    with pytest.raises(ValidationError) as refusal:
        validate_body("Intro.\n\nA dense one: " + "[" * (PARAGRAPH_MAX_BRACKETS + 1))
    assert refusal.value.messages[0] == (
        f"The paragraph at line 3 has {PARAGRAPH_MAX_BRACKETS + 1} opening square brackets “[”; "
        f"the limit is {PARAGRAPH_MAX_BRACKETS} per paragraph."
    )
    # A citation-heavy article is far inside both limits.
    paragraph = "See [the trial](https://example.org/t) [@alpha; @beta]. " * 20
    validate_body("\n\n".join([paragraph] * 30))


@pytest.mark.parametrize(
    "body",
    [
        "\n".join("  " * level + "- item" for level in range(BODY_MAX_DEPTH + 1)),
        "> " * (BODY_MAX_DEPTH + 1) + "quoted",
        "- " * (BODY_MAX_DEPTH + 1) + "item",
        "> - " * 4 + "x",
    ],
)
def test_nesting_past_the_limit_is_refused_naming_the_limit(body: str) -> None:
    with pytest.raises(ValidationError) as refusal:
        validate_body(body)
    assert f"the limit is {BODY_MAX_DEPTH} levels" in refusal.value.messages[0]


def test_real_article_structure_is_accepted() -> None:
    body = (
        "## What it is\n\nAsthma narrows the airways [@alpha].\n\n"
        "- Triggers\n  - pollen\n    - grass\n  - smoke\n- Symptoms\n\n"
        "> A quoted guideline\n>\n> - with a list\n>   - and a sub-point\n\n"
        "1. Step one\n2. Step two\n\n| Drug | Dose |\n|---|--:|\n| budesonide | 200 |\n\n"
        "A footnote.[^1]\n\n[^1]: Explained here.\n"
    )
    validate_body(body)
    assert [use.key for use in find_citations(body)] == ["alpha"]


def test_a_deep_list_renders_instead_of_crashing() -> None:
    # 2,000 levels raised RecursionError with the earlier renderer.
    rendered = render_article_text("\n".join(" " * (2 * level) + "- a" for level in range(2000)), LOOKUP)
    assert "<li>" in rendered.body_html


# --- The editor form and the live preview ---------------------------------------------------------------


def test_the_editor_form_refuses_an_over_long_body_naming_the_limit() -> None:
    forms_by_audience = variant_forms({"patient-title": "T", "patient-body": "[" * (BODY_MAX_CHARS + 1)})
    form = forms_by_audience["patient"]
    assert not form.is_valid()
    assert f"the limit is {BODY_MAX_CHARS:,} characters" in " ".join(str(error) for error in form.errors["body"])


def test_the_editor_form_refuses_deep_nesting_naming_the_limit() -> None:
    form = variant_forms({"patient-title": "T", "patient-body": "> " * 50 + "x"})["patient"]
    assert not form.is_valid()
    assert f"the limit is {BODY_MAX_DEPTH} levels" in " ".join(str(error) for error in form.errors["body"])


SECTION = (
    "## Why the inhaler matters\n\n"
    "Inhaled steroids calm the swelling inside the airways, so attacks come less often [@alpha]. "
    "Most people notice fewer night-time coughs within a few weeks, and *very few* side effects.\n\n"
    "- Rinse your mouth after each dose.\n- Keep a spare inhaler at work.\n  - Check the date.\n\n"
    "| Step | What to do |\n|---|---|\n| 1 | Shake the inhaler |\n| 2 | Breathe out fully |\n\n"
    "> Ask your nurse to watch your technique once a year.\n\n"
)


def longest_accepted(body: str) -> str:
    """The longest start of a hostile body within the length and bracket limits."""
    body = body[:BODY_MAX_CHARS]
    if body.count("[") > PARAGRAPH_MAX_BRACKETS and "\n\n" not in body:
        body = body[: [i for i, c in enumerate(body) if c == "["][PARAGRAPH_MAX_BRACKETS]]
    if body.count("[") > BODY_MAX_BRACKETS:
        body = body[: [i for i, c in enumerate(body) if c == "["][BODY_MAX_BRACKETS]]
    return body


def preview_seconds(client: Any, body: str, repeats: int = 2) -> tuple[float, Any]:
    best, response = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.post("/desk/preview/", {"audience": "clinician", "title": "T", "summary": "S", "body": body})
        best = min(best, time.perf_counter() - started)
    return best, response


def test_the_preview_of_the_worst_body_costs_a_small_multiple_of_a_normal_article(cast: Any, client: Any) -> None:
    Reference.objects.create(key="alpha", title="Alpha")
    client.force_login(cast.writer)
    typical = SECTION * 14  # about 6,000 characters, like the articles we hold
    longest = (SECTION * (BODY_MAX_CHARS // len(SECTION)))[: BODY_MAX_CHARS - 200]  # a normal article at the limit
    validate_body(longest)
    # The costliest families per character (measured), each as long as saving allows, and the densest
    # brackets allowed: the per-paragraph limit in every paragraph, each padded with emphasis.
    costliest = ["emphasis *a", "table columns", "footnote openings [^", "quote nesting > > >"]
    worst = {name: longest_accepted(FAMILIES[name](BODY_MAX_CHARS)) for name in costliest}
    dense = "![" * PARAGRAPH_MAX_BRACKETS + "*a" * 500 + "\n\n"
    worst["brackets then emphasis"] = longest_accepted(dense * (BODY_MAX_CHARS // len(dense)))
    typical_time, longest_time = preview_seconds(client, typical, 3)[0], preview_seconds(client, longest, 3)[0]

    ratios = {}
    for name, body in worst.items():
        seconds, response = preview_seconds(client, body)
        assert response.status_code in (200, 422), name
        if response.status_code == 422:  # refused before rendering (nesting): the limit is named
            assert "the limit is" in response.content.decode(), name
        ratios[name] = seconds / longest_time
        # The per-character cost of the worst text is a small multiple of ordinary text's, and the
        # length limit makes the whole a bounded multiple of a typical article's preview.
        assert seconds <= 25 * longest_time, (name, ratios[name])
        assert seconds <= 25 * (BODY_MAX_CHARS / len(typical)) * typical_time, (name, seconds / typical_time)


def test_the_preview_refuses_an_over_long_body_with_the_limit_named(cast: Any, client: Any) -> None:
    client.force_login(cast.writer)
    response = preview_seconds(client, "[" * (4 * BODY_MAX_CHARS))[1]
    assert response.status_code == 422
    assert f"the limit is {BODY_MAX_CHARS:,} characters" in response.content.decode()


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ("Words. " * (BODY_MAX_CHARS // 6), f"the limit is {BODY_MAX_CHARS:,} characters"),
        ("> " * 40 + "deep", f"the limit is {BODY_MAX_DEPTH} levels"),
        ("[" * 5000, f"the limit is {BODY_MAX_BRACKETS:,}"),
    ],
)
def test_the_importer_refuses_a_body_over_a_limit_and_writes_nothing(cast: Any, body: str, limit: str) -> None:
    from articles.importers import ImportFailed, import_article
    from articles.models import Article

    with pytest.raises(ImportFailed, match=limit):
        import_article(f"# A title\n\n{body}\n", audience="patient", author=cast.writer)
    assert not Article.objects.exists()


def test_the_bottom_line_is_bounded_like_the_body() -> None:
    form = variant_forms({"patient-title": "T", "patient-summary": "[" * 5000, "patient-body": "Fine."})["patient"]
    assert not form.is_valid()
    assert f"the limit is {BODY_MAX_BRACKETS:,}" in " ".join(str(error) for error in form.errors["summary"])
