"""The public corrections log: what changed between approved versions, told to readers in one line.

When an article that readers can already see is approved again, the new publication is compared with the
one it replaces:

- **No change**: title, bottom lines, texts and cited references read the same word for word. The log says
  "Checked on …, no changes needed" (a re-review confirming the text without a new approval says the same).
- **Typo fix**: every changed word is a spelling slip: the same number of words, and each changed word
  differs from the old one by at most two letters (insert, delete, substitute, swap), is at least four
  letters long, holds no digit, and is not a word that carries meaning on its own in medical text
  ("not", "daily", "before", "avoid", …). Case, punctuation and layout changes count as typo fixes.
  A public note is optional.
- **Substantive change**: anything else — a word added or removed, a number changed ("5 mg" → "50 mg"), a
  negation, a reference cited or dropped, an audience version added or removed. The approval needs a
  one-line public change note; without one it is refused.

`articles.workflow` calls `record_approval` and `record_check`; views read `updates_for` / `recent_updates`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.html import strip_tags
from rapidfuzz.distance import OSA

from .models import Article, ArticleUpdate, ProposedChangeNote, Publication
from .page_cache import public_pages_changed
from .rendering import ReferenceLookup, render_article_text

MAX_NOTE_LENGTH = 200
MAX_TYPO_EDITS = 2
MIN_TYPO_WORD_LENGTH = 4
# Words whose change turns one instruction into another even when only a letter differs ("now"/"not" is
# caught by the length rule; these are the longer ones). A change touching one is never a typo fix.
MEANING_WORDS = frozenset(
    [
        "not", "never", "none", "nothing", "nobody", "cannot", "cant", "dont", "doesnt", "shouldnt", "mustnt", "wont",
        "isnt", "arent", "without", "must", "should", "may", "might", "always", "often", "rarely", "sometimes",
        "usually", "daily", "weekly", "monthly", "yearly", "hourly", "nightly", "once", "twice", "more", "less",
        "most", "least", "fewer", "higher", "lower", "before", "after", "during", "until", "unless", "avoid", "stop",
        "start", "stopping", "starting", "continue", "increase", "decrease", "reduce", "double", "half", "every",
        "each", "only", "also", "adult", "adults", "child", "children", "infant", "infants", "pregnant", "safe",
        "unsafe", "risk", "risks", "benefit", "harm",
    ]
)  # fmt: skip
_WORD = re.compile(r"\w+")


class Change(IntEnum):
    """Ordered, so the largest change of any field is the change of the whole article."""

    NONE = 0
    TYPO = 1
    SUBSTANTIVE = 2


class ChangeNoteProblem(ValueError):
    """The approval's public change note is missing where required, or not one short line."""


@dataclass(frozen=True)
class VersionText:
    headline: str
    title: str
    summary: str
    text: str
    references: tuple[str, ...]


Snapshot = dict[str, VersionText]


def _reference_identity(ref: dict[str, Any]) -> str:
    return ref.get("doi") or (f"pmid:{ref['pmid']}" if ref.get("pmid") else "") or ref.get("key", "")


def publication_snapshot(publication: Publication) -> Snapshot:
    return {
        v.audience: VersionText(
            publication.title,
            v.title,
            v.summary,
            v.body_text,
            tuple(_reference_identity(ref) for ref in v.references),
        )
        for v in publication.variants.all()
    }


def working_copy_snapshot(article: Article) -> Snapshot:
    """The text a reviewer would approve now, rendered the way publishing renders it."""
    lookup = ReferenceLookup.from_references(article.references.all())
    snapshot = {}
    for variant in article.variants.all():
        rendered = render_article_text(variant.body, lookup)
        refs = tuple(ref.doi or (f"pmid:{ref.pmid}" if ref.pmid else ref.key) for ref in rendered.cited)
        snapshot[variant.audience] = VersionText(
            article.title, variant.title, variant.summary, strip_tags(rendered.body_html), refs
        )
    return snapshot


def is_typo_fix(old: str, new: str) -> bool:
    """One changed word: is it a spelling slip rather than a different statement? (See the module doc.)"""
    if old == new:
        return True
    if any(ch.isdigit() for ch in old + new) or {old, new} & MEANING_WORDS:
        return False
    if min(len(old), len(new)) < MIN_TYPO_WORD_LENGTH:
        return False
    return OSA.distance(old, new) <= MAX_TYPO_EDITS


def classify_text(old: str, new: str) -> Change:
    if old == new:
        return Change.NONE
    old_words, new_words = _WORD.findall(old.casefold()), _WORD.findall(new.casefold())
    if len(old_words) != len(new_words):
        return Change.SUBSTANTIVE
    # Same number of words: compare them in place, so a swap of two words counts as two changed words.
    if all(is_typo_fix(a, b) for a, b in zip(old_words, new_words, strict=True)):
        return Change.TYPO
    return Change.SUBSTANTIVE


def classify(before: Snapshot, after: Snapshot) -> Change:
    if before.keys() != after.keys():
        return Change.SUBSTANTIVE
    change = Change.NONE
    for audience, old in before.items():
        new = after[audience]
        if old.references != new.references:
            return Change.SUBSTANTIVE
        for field in ("headline", "title", "summary", "text"):
            change = max(change, classify_text(getattr(old, field), getattr(new, field)))
    return change


def pending_change(article: Article) -> Change | None:
    """For the desk page: how the working copy differs from what readers see (None: nothing published yet)."""
    live = article.live_publication
    if live is None:
        return None
    return classify(publication_snapshot(live), working_copy_snapshot(article))


def clean_note(note: str) -> str:
    note = " ".join(note.split())  # one line, whatever was pasted
    if len(note) > MAX_NOTE_LENGTH:
        raise ChangeNoteProblem(f"Keep the public change note to one line of at most {MAX_NOTE_LENGTH} characters.")
    return note


# --- Writing the log (called by articles.workflow inside its transaction) ------------------------------


def record_approval(
    article: Article, *, previous: Publication | None, publication: Publication, note: str, by: Any
) -> ArticleUpdate | None:
    """Log a re-approval for readers; refuses (ChangeNoteProblem) a substantive change without a note."""
    note = clean_note(note)
    if previous is None:
        ProposedChangeNote.objects.filter(article=article).delete()
        return None  # a first publication: there is nothing it corrects
    change = classify(publication_snapshot(previous), publication_snapshot(publication))
    if change == Change.SUBSTANTIVE and not note:
        raise ChangeNoteRequired(
            "This version changes what the article says: write a one-line public change note for readers."
        )
    ProposedChangeNote.objects.filter(article=article).delete()
    if note:
        kind = ArticleUpdate.Kind.UPDATED
    elif change == Change.NONE:
        kind = ArticleUpdate.Kind.CHECKED
    else:
        return None  # a typo fix without a note: nothing readers need to know
    return _log(article, kind=kind, note=note, by=by, publication=publication, at=publication.approved_at)


class ChangeNoteRequired(ChangeNoteProblem):
    pass


def record_check(article: Article, *, by: Any) -> ArticleUpdate:
    """A re-review that confirmed the live text as it stands."""
    return _log(
        article,
        kind=ArticleUpdate.Kind.CHECKED,
        note="",
        by=by,
        publication=article.live_publication,
        at=article.approved_at or timezone.now(),
    )


def _log(article: Article, *, kind: str, note: str, by: Any, publication: Any, at: Any) -> ArticleUpdate:
    update = ArticleUpdate.objects.create(
        article=article, kind=kind, note=note, by=by, publication=publication, created_at=at
    )
    lines = [{"kind": u.kind, "note": u.note, "at": u.created_at.isoformat()} for u in updates_for(article)]
    Article.objects.filter(pk=article.pk).update(updates_log=lines)
    transaction.on_commit(lambda: public_pages_changed(article.pk))
    return update


@dataclass(frozen=True)
class UpdateLine:
    kind: str
    note: str
    at: datetime


def update_lines(article: Article) -> list[UpdateLine]:
    """The article's "Updates" for its page, read from the article row (see Article.updates_log)."""
    return [UpdateLine(line["kind"], line["note"], datetime.fromisoformat(line["at"])) for line in article.updates_log]


def propose_note(article: Article, *, by: Any, note: str) -> ProposedChangeNote | None:
    """The writer's suggested note for the next approval (an empty note withdraws the suggestion)."""
    note = clean_note(note)
    if not note:
        ProposedChangeNote.objects.filter(article=article).delete()
        return None
    proposal, _ = ProposedChangeNote.objects.update_or_create(
        article=article, defaults={"note": note, "proposed_by": by}
    )
    return proposal


def proposed_note(article: Article) -> str:
    proposal = ProposedChangeNote.objects.filter(article=article).first()
    return proposal.note if proposal else ""


# --- Reading the log -----------------------------------------------------------------------------------


def updates_for(article: Article) -> QuerySet[ArticleUpdate]:
    return ArticleUpdate.objects.filter(article=article)


def recent_updates() -> QuerySet[ArticleUpdate]:
    """Site-wide, newest first, for articles readers can still see."""
    return ArticleUpdate.objects.filter(article__live_publication__isnull=False).select_related(
        "article__live_publication"
    )


def public_log(article: Article) -> list[dict[str, Any]]:
    """The log as data (date, note) for the syndication API; a re-review reads "Checked, no changes needed"."""
    return [
        {"date": update.created_at, "note": update.note or ArticleUpdate.Kind.CHECKED.label}
        for update in updates_for(article)
    ]
