"""Search: the readers' index of published articles and the writers' reference library.

Words match in any order. On PostgreSQL it is full-text search (weighted: title, then bottom line or
authors, then the text; websearch syntax such as "quoted phrase" and -word; English stemming, ranked)
with trigram similarity on titles for typos ("dupilumb"). SQLite has neither, so every word, lightly
stemmed, must appear somewhere, ranked by where it appears. Migration 0011 builds, on PostgreSQL only,
a GIN index on the library's document expression below and trigram indexes on titles.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramWordSimilarity
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, Exists, F, FloatField, Model, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Article, PublishedVariant, Reference

_M = TypeVar("_M", bound=Model)
_Articles = TypeVar("_Articles", bound=QuerySet[Article])
_References = TypeVar("_References", bound=QuerySet[Reference])
CONFIG = "english"
# word_similarity of a searched word to a word of a title at or above this counts as a match despite a
# typo ("dupilumb" to "dupilumab" is 0.78; unrelated words of a similar length stay below 0.4).
TYPO_SIMILARITY = 0.6
MAX_WORDS = 12
_WORD = re.compile(r"\w+")
# Plural and verb endings dropped on SQLite, so "biologics" finds "biologic" (PostgreSQL stems properly).
_SUFFIXES = ("ies", "es", "s", "ing", "ed")


def words(query: str) -> list[str]:
    """The searched stems: "Biologics for asthma" → ["biologic", "for", "asthma"]."""
    return [_stem(word) for word in _WORD.findall(query.lower())[:MAX_WORDS]]


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


# --- Published articles ---------------------------------------------------------------------------


def article_document() -> CombinedExpression:
    # The article's own title (the question on the card) comes from the publication: a join, so this
    # vector is computed per query rather than read from an index; published versions are few.
    return (
        SearchVector("publication__title", weight="A", config=CONFIG)
        + SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("summary", weight="B", config=CONFIG)
        + SearchVector("body_text", weight="C", config=CONFIG)
    )


def search_articles(articles: _Articles, query: str) -> _Articles:
    """Articles whose live publication matches, best first (annotated `search_rank`)."""
    if not words(query):
        return articles.none()
    matching = _matching_variants(query).filter(publication=OuterRef("live_publication"))
    best = matching.order_by(F("search_rank").desc()).values_list(F("search_rank"))[:1]
    return (
        articles.filter(Exists(matching))
        .annotate(search_rank=Subquery(best, output_field=FloatField()))
        .order_by(F("search_rank").desc(), "-live_publication__approved_at", "pk")
    )


def _matching_variants(query: str) -> QuerySet[PublishedVariant]:
    variants = PublishedVariant.objects.all()
    if _on_postgresql():
        return _full_text(variants, query, article_document(), ["publication__title", "title", "summary"])
    return _every_word(variants, query, {"publication__title": 3, "title": 3, "summary": 2, "body_text": 1})


def _full_text(
    rows: QuerySet[_M], query: str, document: Any, titles: list[str], *, also: Q | None = None
) -> QuerySet[_M]:
    """PostgreSQL: the query as websearch full text; failing that, each word (of four letters or more)
    found by full text or, misspelt, by trigram similarity to a word of one of the `titles` fields."""
    search_query = SearchQuery(query, search_type="websearch", config=CONFIG)
    fuzzy = Q()
    similarity: Any = Value(0.0, output_field=FloatField())
    for word in [w for w in _WORD.findall(query.lower())[:MAX_WORDS] if len(w) >= 4]:
        closest = (
            Greatest(*(TrigramWordSimilarity(word, name) for name in titles))
            if len(titles) > 1
            else (TrigramWordSimilarity(word, titles[0]))
        )
        fuzzy &= Q(search_document=SearchQuery(word, config=CONFIG)) | Q(
            GreaterThanOrEqual(Coalesce(closest, Value(0.0)), TYPO_SIMILARITY)
        )
        similarity += Coalesce(closest, Value(0.0))
    match = Q(search_document=search_query) | (fuzzy if fuzzy else Q(pk__in=[]))
    if also is not None:
        match |= also
    found = (
        rows.annotate(search_document=document)
        .filter(match)
        .annotate(search_rank=SearchRank(F("search_document"), search_query) + similarity / 10)
    )
    return cast(QuerySet[_M], found)


def _every_word(rows: QuerySet[_M], query: str, weights: dict[str, int]) -> QuerySet[_M]:
    """SQLite: each stem in one of the fields (any order); ranked by the weight of where each is found."""
    return cast(QuerySet[_M], rows.filter(_all_words(weights, query)).annotate(search_rank=_word_rank(weights, query)))


def _all_words(fields: dict[str, int], query: str) -> Q:
    match = Q()
    for stem in words(query):
        in_any = Q()
        for name in fields:
            in_any |= Q(**{f"{name}__icontains": stem})
        match &= in_any
    return match


def _word_rank(weights: dict[str, int], query: str) -> Any:
    rank: Any = Value(0.0, output_field=FloatField())
    for stem in words(query):
        for name, weight in weights.items():
            rank += Case(When(**{f"{name}__icontains": stem}, then=Value(float(weight))), default=Value(0.0))
    return rank


# --- The reference library ------------------------------------------------------------------------


def reference_document() -> CombinedExpression:
    return (
        SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("authors", weight="B", config=CONFIG)
        + SearchVector("source", weight="C", config=CONFIG)
    )


def search_references(references: _References, query: str) -> _References:
    """By words in title, authors and source (any order, best first); by key, DOI or PMID; a pasted
    doi.org link or "PMID: 123" finds that reference."""
    from .references import parse_identifier  # references.py imports the models this module reads

    if not words(query):
        return references
    identifier = Q(key__iexact=query) | Q(doi__iexact=query.lower())
    try:
        kind, value = parse_identifier(query)
        identifier |= Q(**{kind: value})
    except ValidationError:
        pass  # not an identifier: the words are enough
    if _on_postgresql():
        by_document = _full_text(
            references, query, reference_document(), ["title"], also=identifier | Q(key__icontains=query)
        )
        return cast(
            _References,
            by_document.annotate(
                search_rank=F("search_rank") + Case(When(identifier, then=Value(10.0)), default=Value(0.0))
            ).order_by(F("search_rank").desc(), "key"),
        )
    fields = {"title": 3, "authors": 2, "source": 1, "key": 1, "doi": 1, "pmid": 1}
    by_words = (
        references.filter(identifier | _all_words(fields, query))
        .annotate(search_rank=_word_rank(fields, query) + Case(When(identifier, then=Value(10.0)), default=Value(0.0)))
        .order_by(F("search_rank").desc(), "key")
    )
    return by_words


# --- Highlighting ---------------------------------------------------------------------------------


def highlight(text: str, query: str) -> SafeString:
    """The text, escaped, with each word that a searched stem starts wrapped in <mark>."""
    stems = sorted({stem for stem in words(query) if len(stem) >= 2}, key=len, reverse=True)
    escaped = str(escape(text))
    if not stems:
        return mark_safe(escaped)  # noqa: S308 - escaped above
    pattern = re.compile(r"\b(" + "|".join(re.escape(stem) for stem in stems) + r")\w*", re.IGNORECASE)
    return mark_safe(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))  # noqa: S308 - escaped
