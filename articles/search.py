"""Search: the readers' index of published articles and the writers' reference library.

Words match in any order. On PostgreSQL it is full-text search (weighted: title, then bottom line or
authors, then the text; websearch syntax such as "quoted phrase" and -word; English stemming, ranked)
with trigram similarity on titles for typos ("dupilumb"). SQLite has neither, so every word, lightly
stemmed, must appear somewhere, ranked by where it appears. Migration 0010 builds, on PostgreSQL only,
a GIN index on the library's document expression below and trigram indexes on titles.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramWordSimilarity
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Article, PublishedVariant, Reference

CONFIG = "english"
# word_similarity of the query to a title at or above this counts as a match despite a typo: high
# enough that sharing one word of a two-word query does not.
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


def article_document() -> SearchVector:
    # The article's own title (the question on the card) comes from the publication: a join, so this
    # vector is computed per query rather than read from an index; published versions are few.
    return (
        SearchVector("publication__title", weight="A", config=CONFIG)
        + SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("summary", weight="B", config=CONFIG)
        + SearchVector("body_text", weight="C", config=CONFIG)
    )


def search_articles(articles: QuerySet[Article], query: str) -> QuerySet[Article]:
    """Articles whose live publication matches, best first (annotated `search_rank`)."""
    if not words(query):
        return articles.none()
    matching = _matching_variants(query).filter(publication=OuterRef("live_publication"))
    best = matching.order_by("-search_rank").values("search_rank")[:1]
    return (
        articles.filter(Exists(matching))
        .annotate(search_rank=Subquery(best, output_field=FloatField()))
        .order_by("-search_rank", "-live_publication__approved_at", "pk")
    )


def _matching_variants(query: str) -> QuerySet[PublishedVariant]:
    variants = PublishedVariant.objects.all()
    if _on_postgresql():
        search_query = SearchQuery(query, search_type="websearch", config=CONFIG)
        similarity = Greatest(
            TrigramWordSimilarity(query, "publication__title"),
            TrigramWordSimilarity(query, "title"),
            TrigramWordSimilarity(query, "summary"),
        )
        return (
            variants.annotate(search_document=article_document(), search_similarity=similarity)
            .filter(Q(search_document=search_query) | Q(search_similarity__gte=TYPO_SIMILARITY))
            .annotate(search_rank=SearchRank(F("search_document"), search_query) + F("search_similarity"))
        )
    return _every_word(variants, query, {"publication__title": 3, "title": 3, "summary": 2, "body_text": 1})


def _every_word(rows: QuerySet, query: str, weights: dict[str, int]) -> QuerySet:
    """SQLite: each stem in one of the fields (any order); ranked by the weight of where each is found."""
    return rows.filter(_all_words(weights, query)).annotate(search_rank=_word_rank(weights, query))


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


def reference_document() -> SearchVector:
    return (
        SearchVector("title", weight="A", config=CONFIG)
        + SearchVector("authors", weight="B", config=CONFIG)
        + SearchVector("source", weight="C", config=CONFIG)
    )


def search_references(references: QuerySet[Reference], query: str) -> QuerySet[Reference]:
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
        search_query = SearchQuery(query, search_type="websearch", config=CONFIG)
        return (
            references.annotate(
                search_document=reference_document(),
                search_similarity=Coalesce(TrigramWordSimilarity(query, "title"), Value(0.0)),
            )
            .filter(
                identifier
                | Q(search_document=search_query)
                | Q(search_similarity__gte=TYPO_SIMILARITY)
                | Q(key__icontains=query)
            )
            .annotate(
                search_rank=SearchRank(F("search_document"), search_query)
                + F("search_similarity")
                + Case(When(identifier, then=Value(10.0)), default=Value(0.0))
            )
            .order_by("-search_rank", "key")
        )
    fields = {"title": 3, "authors": 2, "source": 1, "key": 1, "doi": 1, "pmid": 1}
    return (
        references.filter(identifier | _all_words(fields, query))
        .annotate(search_rank=_word_rank(fields, query) + Case(When(identifier, then=Value(10.0)), default=Value(0.0)))
        .order_by("-search_rank", "key")
    )


# --- Highlighting ---------------------------------------------------------------------------------


def highlight(text: str, query: str) -> SafeString:
    """The text, escaped, with each word that a searched stem starts wrapped in <mark>."""
    stems = sorted({stem for stem in words(query) if len(stem) >= 2}, key=len, reverse=True)
    escaped = str(escape(text))
    if not stems:
        return mark_safe(escaped)  # noqa: S308 - escaped above
    pattern = re.compile(r"\b(" + "|".join(re.escape(stem) for stem in stems) + r")\w*", re.IGNORECASE)
    return mark_safe(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))  # noqa: S308 - escaped
