"""Word-level differences between two versions of an article, for reviewers and for edit conflicts.

Built on difflib. Every piece of text is escaped before it is wrapped in <ins>/<del>, so a diff of
text containing HTML shows the HTML as text and never injects it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Audience
from .texts import ArticleText, VariantText

TOKEN_RE = re.compile(r"\s+|[^\s]+")
CONTEXT_TOKENS = 16  # words and spaces kept either side of a change; longer unchanged runs collapse


def _tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def _equal_run(tokens: list[str], *, at_start: bool, at_end: bool) -> str:
    keep_before = 0 if at_start else CONTEXT_TOKENS
    keep_after = 0 if at_end else CONTEXT_TOKENS
    if len(tokens) <= keep_before + keep_after + 4:
        return escape("".join(tokens))
    head = escape("".join(tokens[:keep_before]))
    tail = escape("".join(tokens[len(tokens) - keep_after :]))
    return f'{head}<span class="diff-skip" title="unchanged text">…</span>{tail}'


def word_diff(old: str, new: str) -> SafeString:
    """Inline diff: deletions in <del>, insertions in <ins>, long unchanged runs collapsed to “…”."""
    a, b = _tokens(old), _tokens(new)
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    parts: list[str] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            parts.append(_equal_run(a[i1:i2], at_start=index == 0, at_end=index == len(opcodes) - 1))
            continue
        if i2 > i1:
            parts.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return mark_safe("".join(parts))  # noqa: S308 - every text part above is escaped


# A paragraph whose words changed more than this (difflib ratio below it) reads better as the old and the
# new paragraph side by side than as a word-by-word tangle of <del> and <ins>.
REWRITE_RATIO = 0.5
_PARAGRAPH_BREAK = re.compile(r"(\n\s*\n)")


def text_diff(old: str, new: str) -> SafeString:
    """Diff of a body: paragraphs matched first; each lightly edited paragraph diffed word by word, each
    rewritten one (most words changed) shown whole, old beside new."""
    a, b = _paragraphs(old), _paragraphs(new)
    parts: list[str] = []
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            unchanged = _tokens("".join(a[i1:i2]))
            parts.append(_equal_run(unchanged, at_start=index == 0, at_end=index == len(opcodes) - 1))
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            parts.append(_paragraph_change(olds[k] if k < len(olds) else "", news[k] if k < len(news) else ""))
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts only


def _paragraphs(text: str) -> list[str]:
    """Paragraphs with their trailing blank line attached, so joining them gives the text back."""
    pieces = _PARAGRAPH_BREAK.split(text)
    return [pieces[i] + (pieces[i + 1] if i + 1 < len(pieces) else "") for i in range(0, len(pieces), 2) if pieces[i]]


def _paragraph_change(old: str, new: str) -> str:
    if old and new and SequenceMatcher(None, _tokens(old), _tokens(new), autojunk=False).ratio() < REWRITE_RATIO:
        return (
            '<div class="diff-rewrite" role="group" aria-label="Paragraph rewritten">'
            f'<div class="diff-side diff-old"><span class="diff-side-label">Before</span><del>{escape(old)}</del></div>'
            f'<div class="diff-side diff-new"><span class="diff-side-label">After</span><ins>{escape(new)}</ins></div>'
            "</div>"
        )
    return str(word_diff(old, new))


@dataclass(frozen=True)
class FieldDiff:
    label: str
    changed: bool
    html: SafeString


@dataclass(frozen=True)
class ReferenceChange:
    key: str
    title: str
    fields: list[str]


@dataclass(frozen=True)
class ArticleDiff:
    fields: list[FieldDiff]
    references_added: list[dict[str, Any]]
    references_removed: list[dict[str, Any]]
    references_changed: list[ReferenceChange]

    @property
    def has_changes(self) -> bool:
        return any(f.changed for f in self.fields) or bool(
            self.references_added or self.references_removed or self.references_changed
        )


def _field(label: str, old: str, new: str) -> FieldDiff:
    return FieldDiff(label, old != new, word_diff(old, new))


def _variant_fields(audience: Audience, old: VariantText | None, new: VariantText | None) -> list[FieldDiff]:
    empty = VariantText("", "", "")
    old, new = old or empty, new or empty
    name = audience.label
    return [
        _field(f"{name}: heading", old.title, new.title),
        _field(f"{name}: bottom line", old.summary, new.summary),
        FieldDiff(f"{name}: text", old.body != new.body, text_diff(old.body, new.body)),
    ]


COMPARED_REFERENCE_FIELDS = ["title", "authors", "source", "year", "volume", "pages", "doi", "pmid", "url", "kind"]


def diff_texts(
    old: ArticleText,
    new: ArticleText,
    old_refs: dict[str, dict[str, Any]] | None = None,
    new_refs: dict[str, dict[str, Any]] | None = None,
) -> ArticleDiff:
    fields = [_field("Title", old.title, new.title), _field("Topic", old.topic, new.topic)]
    for audience in Audience:
        fields += _variant_fields(audience, old.variants.get(audience.value), new.variants.get(audience.value))
    old_refs, new_refs = old_refs or {}, new_refs or {}
    changed = [
        ReferenceChange(key, new_refs[key].get("title", ""), [
            name for name in COMPARED_REFERENCE_FIELDS if old_refs[key].get(name) != new_refs[key].get(name)
        ])
        for key in sorted(old_refs.keys() & new_refs.keys())
    ]  # fmt: skip
    return ArticleDiff(
        fields=fields,
        references_added=[new_refs[k] for k in sorted(new_refs.keys() - old_refs.keys())],
        references_removed=[old_refs[k] for k in sorted(old_refs.keys() - new_refs.keys())],
        references_changed=[c for c in changed if c.fields],
    )
