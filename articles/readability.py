"""Reading level of an audience version, measured with textstat (Flesch-Kincaid grade and SMOG).

What is measured is what the reader reads: the version's title, bottom line and body, as plain text.
The Markdown is rendered by the site's renderer and reduced to its text blocks; each heading, paragraph
and list item counts as its own sentence (a list item has no full stop, and without one textstat would
run a whole list into a single enormous sentence). Citations `[@…]` are removed first: they are not words.

Drug and disease names inflate both measures ("dupilumab" is four syllables a patient already knows), so
each text is measured twice: raw, and adjusted, with the names from a configurable list replaced by a
one-syllable word. The limit for patient versions applies to the adjusted grade.

Nothing here touches the database beyond the article's (usually prefetched) variants.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import textstat
from django.conf import settings

from .rendering import render_markdown

if TYPE_CHECKING:
    from .models import Article, ArticleVariant

HARDEST_SHOWN = 5
MASK_WORD = "term"  # one syllable, four letters: counts as a word, never as a hard one
MEASURES = {"smog": "SMOG", "flesch_kincaid": "Flesch-Kincaid"}

_CITATION_RE = re.compile(r"\s*\[@[^\]]*\]")  # with the space before it, so "study [@x]." ends "study."
# textstat's own sentence pattern, so the sentences we rank are the ones it counts.
_SENTENCE_RE = re.compile(r"\b[^.!?]+[.!?]*", re.UNICODE)
_BLOCK_TAGS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "blockquote", "pre", "dd", "dt"})


@dataclass(frozen=True)
class Sentence:
    text: str
    words: int
    polysyllables: int  # words of three syllables or more, after masking


@dataclass(frozen=True)
class Readability:
    words: int
    sentences: int
    flesch_kincaid: float
    smog: float
    adjusted_flesch_kincaid: float
    adjusted_smog: float
    hardest: list[Sentence]

    def adjusted_grade(self, measure: str) -> float:
        """The grade the patient limit is checked against: always the configured measure, so the figure
        a writer watches never changes meaning as the text grows."""
        return self.adjusted_smog if measure == "smog" else self.adjusted_flesch_kincaid

    def measure_used(self, measure: str) -> str:
        return measure

    @property
    def measured(self) -> bool:
        """False for an empty text: there is no reading level to show (nor a negative grade)."""
        return self.words > 0


# --- Plain text -----------------------------------------------------------------------------------


class _TextBlocks(HTMLParser):
    """Collects the text of each block element as one string."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._current: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        self._current.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.blocks.append(text)
        self._current = []

    def close(self) -> None:
        super().close()
        self._flush()


def _as_sentence(block: str) -> str:
    return block if block[-1] in ".!?" else block + "."


def plain_text(markdown_text: str) -> str:
    """The words a reader reads: no citations, no markup, one terminated sentence per block at least."""
    parser = _TextBlocks()
    parser.feed(render_markdown(_CITATION_RE.sub("", markdown_text)))
    parser.close()
    return " ".join(_as_sentence(block) for block in parser.blocks)


def variant_text(variant: ArticleVariant) -> str:
    return plain_text("\n\n".join((variant.title, variant.summary, variant.body)))


# --- Masking --------------------------------------------------------------------------------------


def _terms_file() -> Path:
    configured = getattr(settings, "READABILITY_MASKED_TERMS_FILE", "")
    return Path(configured) if configured else Path(__file__).with_name("readability_terms.txt")


@lru_cache(maxsize=4)
def _terms_pattern(path: Path, modified: float) -> re.Pattern[str] | None:
    """One regex for all terms, longest first so a phrase wins over its last word. Cached per file
    and modification time, so an edited list takes effect without a restart."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    terms = sorted({" ".join(line.split()) for line in lines if line}, key=len, reverse=True)
    if not terms:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, term.split())) for term in terms)
    # An optional plural or possessive ending, so "Dupixent's" and "polyps" match too.
    return re.compile(rf"\b(?:{alternatives})(?:'s|s)?\b", re.IGNORECASE)


def masked_terms_pattern() -> re.Pattern[str] | None:
    path = _terms_file()
    return _terms_pattern(path, path.stat().st_mtime)


def mask_terms(text: str) -> str:
    """Replace each listed term with the short word, once per word of the term (word counts stay true)."""
    pattern = masked_terms_pattern()
    if pattern is None:
        return text
    return pattern.sub(lambda m: " ".join([MASK_WORD] * len(m.group(0).split())), text)


# --- Measuring ------------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    # Like textstat, fragments of one or two words ("Yes.") are not counted as sentences.
    return [s.strip() for s in _SENTENCE_RE.findall(text) if textstat.lexicon_count(s) > 2]


def _sentence(text: str) -> Sentence:
    masked = mask_terms(text)
    return Sentence(text=text, words=textstat.lexicon_count(masked), polysyllables=textstat.polysyllabcount(masked))


def hardest_sentences(text: str, count: int = HARDEST_SHOWN) -> list[Sentence]:
    """The sentences that raise the grade most: the most words of three or more syllables (what SMOG
    counts), then the longest (what Flesch-Kincaid's sentence-length term counts). Ranked after masking,
    so a sentence is not called hard only because it names the drug."""
    ranked = sorted(map(_sentence, _sentences(text)), key=lambda s: (s.polysyllables, s.words), reverse=True)
    return ranked[:count]


def measure_text(text: str) -> Readability:
    """Figures for plain text (see `plain_text`)."""
    words = textstat.lexicon_count(text)
    if not words:
        return Readability(0, 0, 0.0, 0.0, 0.0, 0.0, [])
    masked = mask_terms(text)
    return Readability(
        words=words,
        sentences=textstat.sentence_count(text),
        flesch_kincaid=_flesch_kincaid(text),
        smog=_smog(text),
        adjusted_flesch_kincaid=_flesch_kincaid(masked),
        adjusted_smog=_smog(masked),
        hardest=hardest_sentences(text),
    )


def _flesch_kincaid(text: str) -> float:
    # The formula goes below zero for a few very short words ("Yes." is grade -3.4); no text is easier than 0.
    return max(0.0, float(textstat.flesch_kincaid_grade(text)))


def _smog(text: str) -> float:
    """McLaughlin's SMOG grade, scaled to 30 sentences as the formula does. textstat answers 0.0 below three
    sentences; the same formula on the sentences there are keeps one measure from the first line on."""
    sentences = int(textstat.sentence_count(text))
    if sentences >= 3:
        return float(textstat.smog_index(text))
    polysyllables = int(textstat.polysyllabcount(text))
    grade: float = 1.043 * math.sqrt(polysyllables * 30 / max(sentences, 1)) + 3.1291
    return round(grade, 1)


def measure_variant(variant: ArticleVariant) -> Readability:
    return measure_text(variant_text(variant))


# --- The patient limit (a workflow fitness check) -------------------------------------------------


def patient_measure() -> str:
    measure = getattr(settings, "PATIENT_GRADE_MEASURE", "smog")
    return measure if measure in MEASURES else "smog"


def _quoted(sentences: list[Sentence]) -> str:
    return " ".join(f"“{s.text}”" for s in sentences)


def readability_problems(article: Article) -> list[str]:
    """The patient version must read at or below PATIENT_MAX_GRADE (adjusted grade, configured measure).
    The clinician version has no limit; a missing patient version is reported by another check."""
    variant = next((v for v in article.variants.all() if v.audience == "patient"), None)
    if variant is None:
        return []
    figures = measure_variant(variant)
    measure = patient_measure()
    grade, limit = figures.adjusted_grade(measure), settings.PATIENT_MAX_GRADE
    if grade <= limit:
        return []
    name = MEASURES[figures.measure_used(measure)]
    return [
        f"The patient version reads at grade {grade:g} ({name}, drug and disease names masked); "
        f"the limit is grade {limit}. Simplify the hardest sentences first: {_quoted(figures.hardest)}"
    ]
