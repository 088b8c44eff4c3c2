"""Are an article's citations fit for review? Unknown citations block submission; unused references warn."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from .models import Article, Reference
from .rendering import CitationUse, ReferenceLookup, find_all_citations


@dataclass(frozen=True)
class CitationReport:
    errors: list[str]  # block submission
    warnings: list[str]
    # The attached references some citation resolves to (for the reference fitness check); not part of equality.
    cited: list[Reference] = field(default_factory=list, compare=False)


def check_citations(article: Article) -> CitationReport:
    """Three queries whatever the article's size: its versions, its references, and (only when an
    identifier citation does not resolve) the library entries with those identifiers."""
    attached = list(article.references.all())
    lookup = ReferenceLookup.from_references(attached)
    errors: list[str] = []
    unresolved: list[tuple[str, CitationUse]] = []
    cited: dict[str, Reference] = {}
    for variant in article.variants.all():
        label = variant.get_audience_display().lower()
        for use in find_all_citations(variant.summary, variant.body):
            reference = lookup.resolve(use.key)
            if reference is None:
                unresolved.append((label, use))
            else:
                cited.setdefault(reference.key, reference)
    library = _library_by_identifier([use.key for _, use in unresolved])
    errors.extend(_unresolved_message(label, use, library.resolve(use.key)) for label, use in unresolved)
    warnings = [f"Reference {ref.label} is attached but never cited." for ref in attached if ref.key not in cited]
    return CitationReport(errors=errors, warnings=warnings, cited=list(cited.values()))


def _library_by_identifier(keys: list[str]) -> ReferenceLookup:
    dois = [key.removeprefix("doi:") for key in keys if key.startswith("doi:")]
    pmids = [key.removeprefix("pmid:") for key in keys if key.startswith("pmid:")]
    if not dois and not pmids:
        return ReferenceLookup.from_references([])
    return ReferenceLookup.from_references(Reference.objects.filter(Q(doi__in=dois) | Q(pmid__in=pmids)))


def _unresolved_message(label: str, use: CitationUse, in_library: Reference | None) -> str:
    place = "in the Bottom line" if use.in_summary else f"on line {use.line}"
    where = f"{place} of the {label} version"
    if in_library is not None:
        # The renderer numbers only attached references, so the reader would see "[?doi:…]".
        return (
            f"Citation [@{use.key}] {where} is in the library as {in_library.label} "
            "but not attached to this article: attach it."
        )
    return f"Unknown citation [@{use.key}] {where}."
