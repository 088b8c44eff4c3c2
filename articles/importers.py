"""Importing an article written elsewhere into a draft with linked library references.

Two inputs are understood:

1. the flattened Q&A form (text copied out of a web page, like the Q&A seed): the question on the first
   line, bare numbers at the end of a statement as citation markers ("… treatment 1, 2"), a "Bottom Line"
   section, and a "References" section whose entries are three lines each: kind, title, "source, year";
2. Markdown with Pandoc citations (`[@key]`), a `# Title`, an optional `## Bottom line` section, and the
   references in a BibTeX or CSL-JSON file alongside or in a final `## References` list with DOIs/PMIDs.

Parsing writes nothing; `import_article` then matches every reference to the library (DOI, then PMID,
then exact title) or creates it, and creates the draft, all in one transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import reduce
from itertools import dropwhile
from operator import or_
from typing import Any

from bibtexparser import middlewares
from bibtexparser.entrypoint import parse_string as parse_bibtex
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from . import editing
from .identifiers import normalise_doi, normalise_pmid
from .models import Article, ArticleReference, Audience, Reference
from .references import key_base, unique_key
from .rendering import CitationUse, ReferenceLookup, find_citations, normalise_citation_key, replace_citation_keys


class ImportFailed(Exception):
    """The file cannot be imported; `line` (1-based, when known) says where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {message}" if line else message)
        self.line = line


@dataclass
class SourceReference:
    """A reference as the imported file gives it, before it is matched to the library."""

    label: str  # how the file cites it: "3" (flattened), or its BibTeX / CSL / list key
    line: int
    kind: str = Reference.Kind.RESEARCH
    title: str = ""
    authors: list[str] = field(default_factory=list)
    source: str = ""
    year: int | None = None
    volume: str = ""
    pages: str = ""
    doi: str | None = None
    pmid: str | None = None
    url: str = ""
    # Entries known only by an identifier: the metadata lookup fills in the rest later.
    metadata_pending: bool = False


@dataclass
class ParsedArticle:
    title: str
    variant_title: str
    summary: str
    body: str  # Markdown; citations as [@label] of the source references, or [@doi:…] / [@pmid:…]
    references: list[SourceReference]


@dataclass(frozen=True)
class ImportReport:
    article: Article
    matched: list[tuple[SourceReference, Reference, str]]  # (as given, library entry, "DOI" / "PMID" / "title")
    created: list[Reference]
    unmatched: list[str]  # citations that point at no reference; left in the text as unknown keys

    def lines(self) -> list[str]:
        lines = [f"Imported “{self.article.title}” as a draft ({self.article.slug})."]
        lines += [f"Matched {given.label} to library reference {ref.key} by {how}." for given, ref, how in self.matched]
        lines += [f"Created library reference {ref.key}: {ref.title[:80]}" for ref in self.created]
        lines += [f"Could not match {what}." for what in self.unmatched]
        return lines


def import_article(
    text: str,
    *,
    audience: str,
    author: Any,
    title: str = "",
    topic: str = "",
    kind: str = Article.Kind.QA,
    bibliography: str = "",
    bibliography_name: str = "",
) -> ImportReport:
    """Create a draft from `text` in the given audience's version; raises ImportFailed and writes nothing
    when the file cannot be read."""
    parsed = parse(text, bibliography, bibliography_name)
    title = (title or parsed.title).strip()
    if not title:
        raise ImportFailed("the file has no title (a “# Heading” on the first line); give one.", 1)
    if audience not in Audience.values or kind not in Article.Kind.values:
        raise ImportFailed(f"unknown audience “{audience}” or kind “{kind}”.")
    with transaction.atomic():
        resolution = _Resolution.resolve(parsed.references)
        resolution.attach_cited_identifiers(find_citations(parsed.body))
        body, unmatched = _rewrite_citations(parsed.body, resolution.by_label, resolution.known_identifiers())
        article_text = editing.ArticleText(
            title=title,
            kind=kind,
            topic=topic.strip() or "General",
            variants={audience: editing.VariantText(parsed.variant_title or title, parsed.summary, body)},
        )
        try:
            article = editing.create_article(by=author, text=article_text)
        except editing.EditNotAllowed as error:
            raise ImportFailed(str(error)) from error
        ArticleReference.objects.bulk_create(
            # ignore_conflicts: create_article already attached the cited entries that were in the library.
            (ArticleReference(article=article, reference=ref) for ref in resolution.attached()),
            ignore_conflicts=True,
        )
    return ImportReport(article, resolution.matched, resolution.created, unmatched)


def parse(text: str, bibliography: str = "", bibliography_name: str = "") -> ParsedArticle:
    if not text.strip():
        raise ImportFailed("The file is empty.", 1)
    text = text.replace("\r\n", "\n")
    if bibliography.strip() or _looks_like_markdown(text):
        return _parse_markdown(text, bibliography, bibliography_name)
    return _parse_flattened(text)


def _looks_like_markdown(text: str) -> bool:
    return bool(re.search(r"^#{1,6} |\[@", text, re.MULTILINE))


# --- The flattened Q&A form ------------------------------------------------------------------------

# The page furniture around the answer in a copied Q&A page; none of it is the writer's text.
_CHROME_RE = re.compile(
    r"^(Medical Advisory Board|Educational purpose only|Article Review Status$|Submitted$|Under Review$"
    r"|Approved$|Last updated:|Personalize$|Help us tailor|Which best describes you\?)",
    re.IGNORECASE,
)
_TRAILER_RE = re.compile(r"^(Professional Medical Disclaimer|Disclaimer|Have a follow-up question\?)", re.I)
_MARKERS_RE = re.compile(r"(?<=\S)\s+(\d{1,3}(?:\s*,\s*\d{1,3})*)\s*$")
_BULLET_RE = re.compile(r"^(\s*)[•\u2022\-*]\s+(.*)$")
_SOURCE_YEAR_RE = re.compile(r"^(.*?),?\s+((?:1[89]|20)\d{2})\.?$")
_MAX_HEADING_WORDS = 12
_KIND_BY_LABEL = {
    **{label.lower(): value for value, label in Reference.Kind.choices},
    **{value: value for value in Reference.Kind.values},
    "systematic review": Reference.Kind.REVIEW,
    "meta-analysis": Reference.Kind.REVIEW,
}


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based, in the file
    text: str


def _parse_flattened(text: str) -> ParsedArticle:
    lines = [_Line(number, raw.rstrip()) for number, raw in enumerate(text.split("\n"), start=1) if raw.strip()]
    title = lines[0].text.strip()
    bottom = _find_heading(lines, "bottom line")
    references_at = _find_heading(lines, "references")
    if bottom is None or references_at is None or references_at < bottom:
        missing = "“Bottom Line”" if bottom is None else "“References”"
        raise ImportFailed(f"the file ends without a {missing} section; it looks truncated.", lines[-1].number)
    variant_title, body_lines = _split_header(lines[1:bottom], fallback_title=title)
    trailer = next((i for i in range(references_at + 1, len(lines)) if _TRAILER_RE.match(lines[i].text)), len(lines))
    return ParsedArticle(
        title=title,
        variant_title=variant_title,
        summary=" ".join(_strip_markers(line.text.strip())[0] for line in lines[bottom + 1 : references_at]),
        body=_flattened_body(body_lines),
        references=_flattened_references(lines[references_at + 1 : trailer], after=lines[references_at]),
    )


def _find_heading(lines: list[_Line], heading: str) -> int | None:
    return next((i for i, line in enumerate(lines) if line.text.strip().lower() == heading), None)


def _split_header(lines: list[_Line], fallback_title: str) -> tuple[str, list[_Line]]:
    """Skip the page furniture; a heading before the first paragraph is this audience's title."""
    content = list(dropwhile(lambda line: bool(_CHROME_RE.match(line.text.strip())), lines))
    if content and _is_heading(content[0].text):
        return content[0].text.strip(), content[1:]
    return fallback_title, content


def _is_heading(text: str) -> bool:
    stripped = text.strip()
    return (
        not _BULLET_RE.match(text)
        and not _MARKERS_RE.search(stripped)
        and len(stripped.split()) <= _MAX_HEADING_WORDS
        and not stripped.endswith((".", ",", ";", ":"))
    )


def _strip_markers(text: str) -> tuple[str, list[str]]:
    match = _MARKERS_RE.search(text)
    if not match:
        return text, []
    return text[: match.start()], [number.strip() for number in match.group(1).split(",")]


def _with_citations(text: str) -> str:
    """ "… failure. 1, 2" -> "… failure [@1; @2]." (Pandoc style: the citation before the full stop)."""
    text, labels = _strip_markers(text.strip())
    if not labels:
        return text
    citation = "[" + "; ".join(f"@{label}" for label in labels) + "]"
    if text[-1:] in ".!?":
        return f"{text[:-1]} {citation}{text[-1]}"
    return f"{text} {citation}"


def _flattened_body(lines: list[_Line]) -> str:
    blocks: list[str] = []
    in_subsections = previous_was_bullet = False
    for index, line in enumerate(lines):
        bullet = _BULLET_RE.match(line.text)
        if bullet:
            depth = max(len(bullet.group(1)) // 2 - 1, 0)  # the copied page indents two spaces a level
            item = "    " * depth + "- " + _with_citations(bullet.group(2))
            if previous_was_bullet:
                blocks[-1] += "\n" + item  # one tight list, not one list per item
            else:
                blocks.append(item)
        elif _is_heading(line.text):
            # A heading directly followed by another opens a section with subsections (## then ###).
            followed_by_heading = index + 1 < len(lines) and _is_heading(lines[index + 1].text)
            level = "##" if followed_by_heading or not in_subsections else "###"
            in_subsections = in_subsections or followed_by_heading
            blocks.append(f"{level} {line.text.strip()}")
        else:
            blocks.append(_with_citations(line.text))
        previous_was_bullet = bool(bullet)
    return "\n\n".join(blocks) + "\n"


def _flattened_references(lines: list[_Line], after: _Line) -> list[SourceReference]:
    if not lines:
        raise ImportFailed("the “References” section is empty; the file looks truncated.", after.number)
    references = []
    for start in range(0, len(lines), 3):
        entry = lines[start : start + 3]
        number = start // 3 + 1
        if len(entry) < 3:
            raise ImportFailed(
                f"reference {number} is incomplete: expected three lines (kind, title, “source, year”); "
                "the file looks truncated.",
                entry[-1].number,
            )
        references.append(_flattened_reference(str(number), *entry))
    return references


def _flattened_reference(label: str, kind: _Line, title: _Line, source: _Line) -> SourceReference:
    kind_value = _KIND_BY_LABEL.get(kind.text.strip().lower())
    if kind_value is None:
        known = ", ".join(label for _, label in Reference.Kind.choices)
        raise ImportFailed(
            f"expected the kind of reference {label} ({known}), found “{kind.text.strip()}”.", kind.number
        )
    source_year = _SOURCE_YEAR_RE.match(source.text.strip())
    if not source_year:
        raise ImportFailed(
            f"expected “source, year” for reference {label}, found “{source.text.strip()}”.", source.number
        )
    return SourceReference(
        label=label,
        line=kind.number,
        kind=kind_value,
        title=title.text.strip().rstrip("."),
        source=source_year.group(1).strip(),
        year=int(source_year.group(2)),
    )


# --- The Markdown form -----------------------------------------------------------------------------

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_ITEM_LABEL_RE = re.compile(r"^\[@([^\]\s]+)\]:?\s*")
_DOI_IN_TEXT_RE = re.compile(r"(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)", re.IGNORECASE)
_PMID_IN_TEXT_RE = re.compile(r"PMID:?\s*(\d{1,8})", re.IGNORECASE)
_URL_IN_TEXT_RE = re.compile(r"<?(https?://\S+?)>?(?=[\s.,;]*$|\s)")
_CITATION_RE = re.compile(r"\[@[^\]]*\]")  # only to drop citations from the plain-text summary


def _parse_markdown(text: str, bibliography: str, bibliography_name: str) -> ParsedArticle:
    lines = text.split("\n")
    sections = _sections(lines)
    title = next((s.title for s in sections if s.level == 1), "")
    summary = next((s for s in sections if s.title.lower() == "bottom line"), None)
    listed = next((s for s in sections if s.title.lower() == "references" and not bibliography.strip()), None)
    # The title heading itself is not body text, but what follows it is.
    body = [s.body if s.level == 1 else s.lines() for s in sections if s is not summary and s is not listed]
    return ParsedArticle(
        title=title,
        variant_title=title,
        summary=_CITATION_RE.sub("", " ".join(summary.text().split())).strip() if summary else "",
        body="\n".join(line for lines in body for line in lines).strip() + "\n",
        references=(
            _bibliography(bibliography, bibliography_name) if bibliography.strip() else _listed_references(listed)
        ),
    )


@dataclass
class _Section:
    level: int  # 0 for text before any heading
    title: str
    heading: str
    start: int  # the heading's line number
    body: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return ([self.heading] if self.heading else []) + self.body

    def text(self) -> str:
        return "\n".join(self.body).strip()


def _sections(lines: list[str]) -> list[_Section]:
    sections = [_Section(0, "", "", 0)]
    in_fence = False
    for number, line in enumerate(lines, start=1):
        in_fence = in_fence != line.lstrip().startswith(("```", "~~~"))
        heading = None if in_fence else _HEADING_RE.match(line)
        if heading:
            sections.append(_Section(len(heading.group(1)), heading.group(2), line, number))
        else:
            sections[-1].body.append(line)
    return sections


def _listed_references(section: _Section | None) -> list[SourceReference]:
    if section is None:
        return []
    items: list[tuple[int, str]] = []
    for offset, line in enumerate(section.body, start=section.start + 1):
        item = _LIST_ITEM_RE.match(line)
        if item:
            items.append((offset, item.group(1)))
        elif line.strip() and items:
            items[-1] = (items[-1][0], f"{items[-1][1]} {line.strip()}")  # a wrapped list item
    return [_listed_reference(number, text) for number, text in items]


def _listed_reference(number: int, text: str) -> SourceReference:
    label_match = _ITEM_LABEL_RE.match(text)
    rest = text[label_match.end() :] if label_match else text
    doi_match, pmid_match = _DOI_IN_TEXT_RE.search(rest), _PMID_IN_TEXT_RE.search(rest)
    if not (doi_match or pmid_match):
        raise ImportFailed("a reference in the list has neither a DOI nor a PMID.", number)
    doi = _identifier(normalise_doi, doi_match.group(1).rstrip(".,;)") if doi_match else None, number)
    pmid = _identifier(normalise_pmid, pmid_match.group(1) if pmid_match else None, number)
    url = _URL_IN_TEXT_RE.search(rest)
    title = rest
    for found in (doi_match, pmid_match, url):
        title = title.replace(found.group(0), " ") if found else title
    return SourceReference(
        label=label_match.group(1) if label_match else f"doi:{doi}" if doi else f"pmid:{pmid}",
        line=number,
        title=" ".join(title.split()).strip(" .,;"),
        doi=doi,
        pmid=pmid,
        url=url.group(1) if url and "doi.org/" not in url.group(1) else "",
        metadata_pending=True,
    )


def _identifier(normalise: Any, raw: str | None, line: int) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return str(normalise(raw))
    except ValidationError as error:
        raise ImportFailed(error.messages[0], line) from error


def _bibliography(content: str, name: str) -> list[SourceReference]:
    if name.lower().endswith(".json") or content.lstrip().startswith(("[", "{")):
        return _csl_json(content)
    return _bibtex(content)


_BIBTEX_KIND = {"book": Reference.Kind.TEXTBOOK, "misc": Reference.Kind.WEBSITE, "online": Reference.Kind.WEBSITE}


def _bibtex(content: str) -> list[SourceReference]:
    library = parse_bibtex(
        content,
        append_middleware=[
            middlewares.LatexDecodingMiddleware(),
            middlewares.SeparateCoAuthors(),
            middlewares.SplitNameParts(),
        ],
    )
    if library.failed_blocks:
        failed = library.failed_blocks[0]
        # bibtexparser's own message counts lines from 0; keep only its last line, the reason.
        reason = str(getattr(failed, "error", "")).strip().splitlines()[-1:] or ["malformed entry"]
        line = None if failed.start_line is None else failed.start_line + 1
        raise ImportFailed(f"the BibTeX entry starting here cannot be read: {reason[0].strip()}", line)
    if not library.entries:
        raise ImportFailed("the BibTeX file holds no entries.")
    return [_bibtex_reference(entry) for entry in library.entries]


def _bibtex_reference(entry: Any) -> SourceReference:
    line = entry.start_line + 1  # bibtexparser counts from 0
    fields = {key.lower(): value.value for key, value in entry.fields_dict.items()}
    # BibTeX has no field for the kind of source; a non-standard "kind" field (e.g. guideline) is honoured.
    kind = str(fields.get("kind", "")).strip().lower()
    return SourceReference(
        label=entry.key,
        line=line,
        kind=_KIND_BY_LABEL.get(kind) or _BIBTEX_KIND.get(entry.entry_type.lower(), Reference.Kind.RESEARCH),
        title=_plain(fields.get("title", "")),
        authors=[_short_name(" ".join(n.last), " ".join(n.first)) for n in fields.get("author", [])],
        source=_plain(fields.get("journal") or fields.get("booktitle") or fields.get("publisher") or ""),
        year=_year(fields.get("year", ""), line),
        volume=_plain(fields.get("volume", "")),
        pages=_plain(fields.get("pages", "")).replace("\u2013", "-"),  # the LaTeX decoder made "--" an en dash
        doi=_identifier(normalise_doi, fields.get("doi"), line),
        pmid=_identifier(normalise_pmid, fields.get("pmid"), line),
        url=fields.get("url", ""),
    )


def _csl_json(content: str) -> list[SourceReference]:
    try:
        items = json.loads(content)
    except json.JSONDecodeError as error:
        raise ImportFailed(f"the CSL-JSON file cannot be read: {error.msg}.", error.lineno) from error
    items = items if isinstance(items, list) else [items]
    if not items or not all(isinstance(item, dict) and item.get("id") for item in items):
        raise ImportFailed("the CSL-JSON file must be a list of items, each with an “id”.")
    return [_csl_reference(index, item) for index, item in enumerate(items, start=1)]


_CSL_KIND = {"book": Reference.Kind.TEXTBOOK, "webpage": Reference.Kind.WEBSITE, "report": Reference.Kind.GUIDELINE}


def _csl_reference(index: int, item: dict[str, Any]) -> SourceReference:
    issued = (item.get("issued") or {}).get("date-parts") or [[None]]
    year = issued[0][0] if issued and issued[0] else None
    return SourceReference(
        label=str(item["id"]),
        line=index,  # JSON has no useful line per item; the item's position is the best pointer
        kind=_CSL_KIND.get(str(item.get("type", "")), Reference.Kind.RESEARCH),
        title=_plain(str(item.get("title", ""))),
        authors=[_short_name(a.get("family", ""), a.get("given", "")) for a in item.get("author", [])],
        source=_plain(str(item.get("container-title") or item.get("publisher") or "")),
        year=_year(str(year or ""), index),
        volume=str(item.get("volume", "")),
        pages=str(item.get("page", "")),
        doi=_identifier(normalise_doi, item.get("DOI"), index),
        pmid=_identifier(normalise_pmid, item.get("PMID"), index),
        url=str(item.get("URL", "")),
    )


def _plain(value: str) -> str:
    """BibTeX keeps capitals with braces ("{COVID}-19"); the library stores plain text."""
    return " ".join(value.replace("{", "").replace("}", "").split())


def _short_name(family: str, given: str) -> str:
    """ "Castro", "Mario J." -> "Castro MJ", the library's author style (Vancouver)."""
    initials = "".join(part[0] for part in re.split(r"[\s.\-]+", given) if part)
    return f"{_plain(family)} {initials.upper()}".strip()


def _year(raw: str, line: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not re.fullmatch(r"\d{4}", raw):
        raise ImportFailed(f"“{raw}” is not a year.", line)
    return int(raw)


# --- Matching to the library -----------------------------------------------------------------------


@dataclass
class _Resolution:
    by_label: dict[str, Reference] = field(default_factory=dict)
    matched: list[tuple[SourceReference, Reference, str]] = field(default_factory=list)
    created: list[Reference] = field(default_factory=list)

    @classmethod
    def resolve(cls, given: list[SourceReference]) -> _Resolution:
        resolution = cls()
        library = _LibraryIndex.for_references(given)
        for source in given:
            found = library.match(source)
            if found:
                reference, how = found
                resolution.matched.append((source, reference, how))
            else:
                reference = _create(source, library)
                resolution.created.append(reference)
            library.add(reference)  # two entries for one paper in the file become one reference
            resolution.by_label[source.label] = reference
        return resolution

    def attach_cited_identifiers(self, uses: list[CitationUse]) -> None:
        """[@doi:…] / [@pmid:…] cited in the text but not listed in the file: take them from the library."""
        known = self.known_identifiers()
        wanted = {use.key: use for use in uses if use.key.startswith(("doi:", "pmid:")) and use.key not in known}
        if not wanted:
            return
        ids = [key.split(":", 1)[1] for key in wanted]
        library = ReferenceLookup.from_references(Reference.objects.filter(Q(doi__in=ids) | Q(pmid__in=ids)))
        for key, use in wanted.items():
            reference = library.resolve(key)
            if reference is not None:
                self.by_label[key] = reference
                given = SourceReference(label=key, line=use.line)
                self.matched.append((given, reference, "DOI" if key.startswith("doi:") else "PMID"))

    def attached(self) -> list[Reference]:
        return list({ref.pk: ref for ref in self.by_label.values()}.values())

    def known_identifiers(self) -> dict[str, Reference]:
        known = {}
        for ref in self.by_label.values():
            known.update({f"doi:{ref.doi}": ref} if ref.doi else {})
            known.update({f"pmid:{ref.pmid}": ref} if ref.pmid else {})
        return known


@dataclass
class _LibraryIndex:
    """The library entries that could match this file, fetched in three queries."""

    by_doi: dict[str, Reference]
    by_pmid: dict[str, Reference]
    by_title: dict[str, Reference]

    @classmethod
    def for_references(cls, given: list[SourceReference]) -> _LibraryIndex:
        titles = {_title_key(s.title) for s in given if s.title}
        title_query = reduce(or_, (Q(title__iexact=t) | Q(title__iexact=f"{t}.") for t in titles), Q(pk__in=[]))
        by_title: dict[str, Reference] = {}
        for ref in Reference.objects.filter(title_query).order_by("pk"):
            by_title.setdefault(_title_key(ref.title), ref)
        return cls(
            by_doi={r.doi: r for r in Reference.objects.filter(doi__in=[s.doi for s in given if s.doi]) if r.doi},
            by_pmid={r.pmid: r for r in Reference.objects.filter(pmid__in=[s.pmid for s in given if s.pmid]) if r.pmid},
            by_title=by_title,
        )

    def match(self, source: SourceReference) -> tuple[Reference, str] | None:
        if source.doi and source.doi in self.by_doi:
            return self.by_doi[source.doi], "DOI"
        if source.pmid and source.pmid in self.by_pmid:
            return self.by_pmid[source.pmid], "PMID"
        candidate = self.by_title.get(_title_key(source.title)) if source.title else None
        # Same title but a different DOI or PMID is another paper (e.g. a correction notice).
        if candidate and not _conflicting(source, candidate):
            return candidate, "title"
        return None

    def add(self, reference: Reference) -> None:
        for index, value in ((self.by_doi, reference.doi), (self.by_pmid, reference.pmid)):
            if value:
                index.setdefault(value, reference)
        if reference.title:
            self.by_title.setdefault(_title_key(reference.title), reference)


def _title_key(title: str) -> str:
    return " ".join(title.split()).rstrip(".").lower()


def _conflicting(source: SourceReference, reference: Reference) -> bool:
    return bool(
        (source.doi and reference.doi and source.doi != reference.doi)
        or (source.pmid and reference.pmid and source.pmid != reference.pmid)
    )


def _create(source: SourceReference, library: _LibraryIndex) -> Reference:
    reference = Reference(
        key=_new_key(source),
        kind=source.kind,
        title=source.title,
        authors="\n".join(source.authors),
        source=source.source,
        year=source.year,
        volume=source.volume,
        pages=source.pages,
        doi=source.doi,
        pmid=source.pmid,
        url=source.url,
        metadata_status=Reference.MetadataStatus.PENDING
        if source.metadata_pending
        else Reference.MetadataStatus.COMPLETE,
    )
    try:
        reference.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
        raise ImportFailed(f"reference {source.label} cannot be stored ({problems}).", source.line) from error
    reference.save()
    return reference


def _new_key(source: SourceReference) -> str:
    """The library's own key rule (castro2018, castro2018a …); the flattened form has no authors, so
    there the first word of the title stands in for the surname."""
    first_author = source.authors[0] if source.authors else (source.title.split() or ["ref"])[0]
    return unique_key(key_base(first_author, source.year))


def _rewrite_citations(body: str, by_label: dict[str, Reference], known: dict[str, Reference]) -> tuple[str, list[str]]:
    """Replace the file's own citation labels by library keys; report citations that point nowhere."""
    unmatched: list[str] = []

    def rewrite(label: str) -> str:
        identifier = normalise_citation_key(label)
        # Identifier citations stay as the writer wrote them; the renderer resolves them.
        is_identifier = identifier.startswith(("doi:", "pmid:"))
        reference = known.get(identifier) if is_identifier else by_label.get(label)
        if reference is None:
            unmatched.append(f"citation [@{label}]")
        return label if is_identifier or reference is None else reference.key

    return replace_citation_keys(body, rewrite), unmatched
