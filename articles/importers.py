"""Importing an article written elsewhere into a draft with linked library references.

Three inputs are understood:

1. the flattened Q&A form (text copied out of a web page, like the Q&A seed): the question on the first
   line, bare numbers at the end of a statement as citation markers ("… treatment 1, 2"), a "Bottom Line"
   section (before or after the others), and a "References" section whose entries are three lines each:
   kind, title, "source, year";
2. Markdown with Pandoc citations (`[@key]`), a `# Title` (or the question on the first line), sections in
   any order, one of them "Bottom line", and the references in a BibTeX or CSL-JSON file alongside or in a
   `## References` list with DOIs/PMIDs;
3. a Word document (.docx), read into one of the two: heading styles become Markdown headings, superscript
   numbers become citation markers.

`plan_import` reads and matches without writing anything (the upload form shows it as a preview);
`import_article` plans again inside one transaction and writes the draft and the new library entries, or
nothing. Every problem with a file is an `ImportFailed` naming the line where it can.
"""

from __future__ import annotations

import io
import json
import re
import string
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from itertools import dropwhile
from operator import or_
from typing import Any, Protocol

from bibtexparser import middlewares
from bibtexparser.entrypoint import parse_string
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from . import editing, jobs, references
from .identifiers import normalise_doi, normalise_pmid
from .models import Article, ArticleReference, Audience, Reference
from .references import key_base, unique_key
from .rendering import (
    CitationUse,
    ReferenceLookup,
    find_citations,
    normalise_citation_key,
    replace_citation_keys,
    validate_body,
)
from .texts import ArticleText, VariantText

# One limit for the upload form and the command. A long article is ~50 KB of text; a Word document with
# pictures a few hundred KB. The text of a .docx may be at most this much once unzipped.
MAX_IMPORT_BYTES = 1024 * 1024
MAX_UNZIPPED_BYTES = 20 * MAX_IMPORT_BYTES
TITLE_MAX_LENGTH = Article._meta.get_field("title").max_length or 300
TOPIC_MAX_LENGTH = Article._meta.get_field("topic").max_length or 80
# The section that becomes the reader's "Bottom line" box; the first of these names found wins.
SUMMARY_HEADINGS = ("bottom line", "the bottom line", "short answer", "in short", "summary")


class ImportFailed(Exception):
    """The file cannot be imported; `line` (1-based, when known) says where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {message}" if line else message)
        self.line = line


@dataclass
class SourceReference:
    """A reference as the imported file gives it, before it is matched to the library."""

    label: str  # how the file cites it: "3" (numbered), or its BibTeX / CSL / list key
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
    title_line: int
    variant_title: str
    summary: str  # Markdown; the Bottom line, its citations kept
    body: str  # Markdown; citations as [@label] of the source references, or [@doi:…] / [@pmid:…]
    references: list[SourceReference]


@dataclass(frozen=True)
class Note:
    """One line of an import's report; "warning" is what a writer should look at (shown amber)."""

    level: str  # "success", "info" or "warning"
    text: str


@dataclass
class ImportPlan:
    """What an import will create; built without writing anything."""

    title: str
    kind: str
    topic: str
    audience: str
    text: VariantText  # citations already rewritten to library keys or identifiers
    matched: list[tuple[SourceReference, Reference, str]]  # (as given, library entry, "DOI" / "PMID" / "title")
    created: list[tuple[SourceReference, Reference]]  # (as given, the new entry, unsaved until imported)
    unmatched: list[str]  # citations that point at no reference; left in the text as unknown keys
    attached: list[Reference]

    @property
    def kind_label(self) -> str:
        return str(Article.Kind(self.kind).label)

    def sections(self) -> list[tuple[str, int]]:
        """(heading, number of citations) for the Bottom line and each body section, for the preview."""
        lines = self.text.body.split("\n")
        starts = [0] + [n for n, line in enumerate(lines, start=1) if _HEADING_RE.match(line)]
        counts = Counter(max(s for s in starts if s <= use.line) for use in find_citations(self.text.body))
        found = [("Bottom line", len(find_citations(self.text.summary)))] if self.text.summary else []
        for start in starts:
            if start or counts[start]:
                found.append(
                    (lines[start - 1].lstrip("#").strip() if start else "Before the first heading", counts[start])
                )
        return found

    def notes(self) -> list[Note]:
        notes = [
            Note("info", f"Matched {g.label} to library reference {r.key} by {how}.") for g, r, how in self.matched
        ]
        notes += [Note("warning", _created_text(given, ref)) for given, ref in self.created]
        notes += [
            Note("warning", f"Could not match {what}; it stays in the text as an unknown key.")
            for what in self.unmatched
        ]
        return notes


@dataclass(frozen=True)
class ImportReport:
    article: Article
    plan: ImportPlan
    owed: tuple[str, ...] = ()  # follow-up work the job queue could not take (jobs.owed_notes)

    @property
    def matched(self) -> list[tuple[SourceReference, Reference, str]]:
        return self.plan.matched

    @property
    def created(self) -> list[Reference]:
        return [ref for _, ref in self.plan.created]

    @property
    def unmatched(self) -> list[str]:
        return self.plan.unmatched

    def notes(self) -> list[Note]:
        done = Note("success", f"Imported “{self.article.title}” as a draft ({self.article.slug}).")
        owed = [Note("warning", jobs.owed_message(self.owed))] if self.owed else []
        return [done, *owed, *self.plan.notes()]

    def lines(self) -> list[str]:
        return [note.text for note in self.notes()]


def _created_text(given: SourceReference, reference: Reference) -> str:
    title = reference.title if len(reference.title) <= 80 else reference.title[:79].rstrip() + "…"
    what = f"“{title}”" if title else (f"DOI {reference.doi}" if reference.doi else f"PMID {reference.pmid}")
    pending = "; its details will be looked up" if given.metadata_pending else ""
    new = f"New library reference {reference.key} for the file's reference {given.label}"
    return f"{new}: {what}{pending}. Check its details."


def plan_import(
    text: str,
    *,
    audience: str,
    title: str = "",
    topic: str = "",
    kind: str = Article.Kind.QA,
    bibliography: str = "",
    bibliography_name: str = "",
) -> ImportPlan:
    """Everything `import_article` would create, read from the file and matched to the library; writes nothing."""
    if audience not in Audience.values or kind not in Article.Kind.values:
        raise ImportFailed(f"unknown audience “{audience}” or kind “{kind}”.")
    parsed = parse(text, bibliography, bibliography_name)
    title, line = (title.strip(), None) if title.strip() else (parsed.title, parsed.title_line)
    _check_title(title, line)
    if len(topic.strip()) > TOPIC_MAX_LENGTH:
        raise ImportFailed(f"the topic is {len(topic.strip())} characters long; at most {TOPIC_MAX_LENGTH} fit.")
    for part, text in (("The Bottom line", parsed.summary), ("The text", parsed.body)):
        try:
            validate_body(text)  # the editor's bounds: length, brackets, nesting
        except ValidationError as refusal:
            raise ImportFailed(refusal.messages[0].replace("The text", part, 1)) from refusal
    resolution = _Resolution.resolve(parsed.references)
    resolution.attach_cited_identifiers(find_citations(parsed.summary) + find_citations(parsed.body))
    rewrite = _CitationRewriter(resolution.by_label, resolution.known_identifiers())
    variant = VariantText(parsed.variant_title or title, rewrite(parsed.summary), rewrite(parsed.body))
    return ImportPlan(
        title=title,
        kind=kind,
        topic=topic.strip() or "General",
        audience=audience,
        text=variant,
        matched=resolution.matched,
        created=resolution.created,
        unmatched=rewrite.unmatched,
        attached=resolution.attached(),
    )


def import_article(text: str, *, audience: str, author: Any, **options: Any) -> ImportReport:
    """Create a draft from `text` in the given audience's version, with its new library entries; raises
    ImportFailed and writes nothing when the file cannot be imported. Options as for `plan_import`.

    The report says which lookups are owed if the job queue could not take them when the import
    committed (called inside an outer transaction, they are queued, or owed, only when that commits)."""
    with jobs.owed_notes() as owed, transaction.atomic():
        # Planned again inside the transaction: the library may have changed since a preview.
        plan = plan_import(text, audience=audience, **options)
        _save_new_references(plan.created)
        article_text = ArticleText(title=plan.title, kind=plan.kind, topic=plan.topic, variants={audience: plan.text})
        try:
            article = editing.create_article(by=author, text=article_text)
        except editing.EditNotAllowed as error:
            raise ImportFailed(str(error)) from error
        ArticleReference.objects.bulk_create(
            # ignore_conflicts: create_article already attached the cited entries that were in the library.
            (ArticleReference(article=article, reference=ref) for ref in plan.attached),
            ignore_conflicts=True,
        )
    return ImportReport(article, plan, owed=tuple(owed))


# --- Reading files ---------------------------------------------------------------------------------

_OLD_WORD_MAGIC = b"\xd0\xcf\x11\xe0"  # the .doc (OLE) format Word used before 2007
_ZIP_MAGIC = b"PK\x03\x04"


class Readable(Protocol):
    """An open binary file or an upload."""

    def read(self, size: int = ..., /) -> bytes: ...


def read_import_file(stream: Readable, name: str) -> str:
    """The text of an uploaded or named file: size, encoding and content checked, a .docx converted."""
    data = stream.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFailed(f"“{name}” is larger than {filesizeformat(MAX_IMPORT_BYTES)}, the limit for an import.")
    if not data.strip():
        raise ImportFailed(f"“{name}” is empty.")
    if name.lower().endswith(".docx") or data.startswith(_ZIP_MAGIC):
        return docx_text(data, name)
    if data.startswith(_OLD_WORD_MAGIC) or name.lower().endswith(".doc"):
        raise ImportFailed(f"“{name}” is an old Word .doc file; save it in Word as .docx (or as plain text).")
    return decode_text(data, name)


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without a byte-order mark), or UTF-16 when it starts with its byte-order mark, as
    Windows "Unicode" text does; anything else is refused with the line of the first unreadable byte."""
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFailed(
            f"“{name}” is not UTF-8 text (byte 0x{data[error.start]:02X} cannot be read); "
            "save it as UTF-8 and try again.",
            line,
        ) from error
    _check_text(text, f"“{name}”")
    return text


def _check_text(text: str, what: str) -> None:
    """Characters no database column or editor can hold: a NUL (usually a binary file) or a lone surrogate."""
    found = re.search(r"[\x00\ud800-\udfff]", text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        name = "a NUL character" if found.group() == "\x00" else "an unpaired surrogate character"
        raise ImportFailed(f"{what} contains {name}; is it a text file? Save it as plain UTF-8 text.", line)


# --- Word documents --------------------------------------------------------------------------------

_SUPERSCRIPT_MARKERS_RE = re.compile(r"^\s*\d{1,3}(?:\s*[,\u2013\-]\s*\d{1,3})*\s*$")


def docx_text(data: bytes, name: str) -> str:
    """A .docx as the text the parsers read: Markdown when it uses heading styles, else one line per paragraph
    (the flattened form). Superscript numbers become [@n] citation markers; tables are kept, row by row."""
    blocks = [(style, content) for style, content in _docx_blocks(_open_docx(data, name)) if _has_text(content)]
    if not blocks:
        raise ImportFailed(f"“{name}” has no text.")
    if not any(style == "title" or style.startswith("heading") for style, _ in blocks):
        text = "\n\n".join(_flat_line(style, text) for style, text in blocks)
    else:
        # The title is a Title paragraph, else a first paragraph that is not a heading (the question), else
        # the first Heading 1; section headings go one level below it.
        if not any(style == "title" for style, _ in blocks) and not blocks[0][0].startswith(("heading", "table")):
            blocks[0] = ("title", blocks[0][1])
        shift = 1 if any(style == "title" for style, _ in blocks) else 0
        text = "\n\n".join(_markdown_line(style, text, shift) for style, text in blocks)
    _check_text(text, f"“{name}”")
    return text + "\n"


def _docx_blocks(document: Any) -> list[tuple[str, Any]]:
    """(style, text) of each paragraph, and ("table", rows of cell texts) of each table, in document order."""
    blocks: list[tuple[str, Any]] = []
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):
            rows = [[" ".join(_paragraph_text(p) for p in cell.paragraphs).strip() for cell in row.cells]
                    for row in item.rows]  # fmt: skip
            blocks.append(("table", rows))
        else:
            blocks.append((_paragraph_style(item), _paragraph_text(item)))
    return blocks


def _has_text(content: str | list[list[str]]) -> bool:
    return any(any(row) for row in content) if isinstance(content, list) else bool(content.strip())


def _flat_line(style: str, content: Any) -> str:
    if style == "table":  # the flattened form has no tables: one line per row, cells separated
        return "\n\n".join(" · ".join(cell for cell in row if cell) for row in content if any(row))
    return f"{content}"


def _pipe_table(rows: list[list[str]]) -> str:
    width = max(len(row) for row in rows)
    cells = [[cell.replace("|", "\\|") for cell in row] + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join([lines[0], "|" + " --- |" * width, *lines[1:]])


def _open_docx(data: bytes, name: str) -> Any:
    import docx  # python-docx; imported here so that only imports of Word files pay for loading it

    not_word = f"“{name}” is not a Word document (.docx); save it from Word as “Word Document (.docx)”."
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "word/document.xml" not in archive.namelist():
                raise ImportFailed(not_word)
            if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
                raise ImportFailed(f"“{name}” unpacks to more than {filesizeformat(MAX_UNZIPPED_BYTES)}.")
        return docx.Document(io.BytesIO(data))
    except ImportFailed:
        raise
    except zipfile.BadZipFile as error:
        raise ImportFailed(not_word) from error
    except Exception as error:  # python-docx and lxml raise many kinds on a damaged file
        raise ImportFailed(
            f"“{name}” is a damaged Word document ({type(error).__name__}); open and save it again."
        ) from error


def _paragraph_style(paragraph: Any) -> str:
    style = paragraph.style
    name = (style.name if style is not None else "") or ""
    # A list made with Word's list buttons keeps the "Normal" style and carries numbering properties instead.
    if paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None and not name.lower().startswith("list"):
        return "list bullet"
    return name.lower()


def _paragraph_text(paragraph: Any) -> str:
    # Word often splits "1,2" into several superscript runs: join neighbours before reading the numbers.
    pieces: list[tuple[bool, str]] = []
    for run in paragraph.runs:
        raised = bool(run.font.superscript)
        if pieces and pieces[-1][0] == raised:
            pieces[-1] = (raised, pieces[-1][1] + run.text)
        else:
            pieces.append((raised, run.text))
    parts = []
    for raised, text in pieces:
        if raised and _SUPERSCRIPT_MARKERS_RE.match(text):
            parts.append(" [" + "; ".join(f"@{n}" for n in _expand_numbers(text)) + "]")
        else:
            parts.append(text)
    # A marker before the full stop, as Pandoc writes it: "failure [@1]." rather than "failure. [@1]"
    return re.sub(r"([.!?])\s*(\[@[^\]]*\])", r" \2\1", "".join(parts)).strip()


def _expand_numbers(text: str) -> list[str]:
    """ "1,3-5" -> ["1", "3", "4", "5"] (en dashes too); an implausible range ("5-2", "1-90") gives its ends."""
    numbers: list[str] = []
    for part in re.split(r"\s*,\s*", text.strip()):
        ends = [end for end in re.split(r"\s*[\u2013\-]\s*", part) if end]
        low, high = int(ends[0]), int(ends[-1])
        if len(ends) == 2 and low < high <= low + 50:
            numbers += [str(n) for n in range(low, high + 1)]
        else:
            numbers += ends
    return numbers


# The Word template offered for download: the layout the reader above understands, in Word's own styles.
_DOCX_TEMPLATE = (
    ("Title", "Write the question or headline here?", ""),
    ("Heading 1", "Bottom line", ""),
    ("Normal", "The take-home message in plain words, with the number of its source in superscript.", "1"),
    ("Heading 1", "A section heading", ""),
    ("Normal", "A paragraph that explains one part of the answer.", "1,2"),
    ("List Bullet", "A point in a bulleted list", "2"),
    ("Heading 1", "References", ""),
    ("List Number", "Surname G, Other A. Title of the first source. The Journal. 2021. doi:10.1000/example.1", ""),
    ("List Number", "Name of the Society. Title of the guideline. 2019.", ""),
)


def template_docx() -> Any:
    """A python-docx Document of the accepted Word layout (numbered references, superscript markers)."""
    import docx

    document = docx.Document()
    for style, text, markers in _DOCX_TEMPLATE:
        paragraph = document.add_paragraph(text, style=style)
        if markers:
            paragraph.add_run(markers).font.superscript = True
    return document


def _markdown_line(style: str, text: Any, shift: int) -> str:
    if style == "table":
        return _pipe_table(text)
    if style == "title":
        return f"# {text}"
    level = re.match(r"heading (\d)", style)
    if level:
        return "#" * min(int(level.group(1)) + shift, 6) + f" {text}"
    if style.startswith("list number"):
        return f"1. {text}"
    if style.startswith("list"):
        return f"- {text}"
    return str(text)


# --- Parsing ---------------------------------------------------------------------------------------


def parse(text: str, bibliography: str = "", bibliography_name: str = "") -> ParsedArticle:
    _check_text(text, "The file")
    _check_text(bibliography, "The bibliography")
    if not text.strip():
        raise ImportFailed("The file is empty.", 1)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if bibliography.strip() or _looks_like_markdown(text):
        parsed = _parse_markdown(text, bibliography, bibliography_name)
    else:
        parsed = _parse_flattened(text)
    _check_body(parsed)
    return parsed


def _looks_like_markdown(text: str) -> bool:
    return bool(re.search(r"^#{1,6} |\[@", text, re.MULTILINE))


def _check_title(title: str, line: int | None) -> None:
    if not title:
        raise ImportFailed(
            "the file has no title: start it with the question or headline (“# Your question” in Markdown), "
            "or type a title.",
            1,
        )
    if len(title) > TITLE_MAX_LENGTH:
        raise ImportFailed(
            f"the title (the question or headline) is {len(title)} characters long; at most {TITLE_MAX_LENGTH} "
            "fit. Is a paragraph marked as the title?",
            line,
        )


def _check_body(parsed: ParsedArticle) -> None:
    """The body limits every save obeys (length, nesting), checked before any Markdown is parsed."""
    if len(parsed.variant_title) > TITLE_MAX_LENGTH:
        raise ImportFailed(
            f"the version's heading is {len(parsed.variant_title)} characters long; at most {TITLE_MAX_LENGTH} fit."
        )


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
    # The question is the first line, unless the file starts straight with a section.
    has_question = _heading_name(lines[0].text) not in (*SUMMARY_HEADINGS, "references")
    title = lines[0].text.strip() if has_question else ""
    bottom = next((i for i, line in enumerate(lines) if _heading_name(line.text) in SUMMARY_HEADINGS), None)
    references_at = _find_heading(lines, "references")
    if bottom is None or references_at is None:
        missing = "“Bottom Line”" if bottom is None else "“References”"
        raise ImportFailed(f"the file ends without a {missing} section; it looks truncated.", lines[-1].number)
    # Sections may come in any order; the disclaimer and what follows it are page furniture.
    trailer = next((i for i in range(1, len(lines)) if _TRAILER_RE.match(lines[i].text)), len(lines))
    bottom_end = next(
        (i for i in range(bottom + 1, len(lines)) if i in (references_at, trailer) or _is_heading(lines[i].text)),
        len(lines),
    )
    references_end = min([trailer, *(i for i in (bottom,) if i > references_at)])
    skipped = {*range(bottom, bottom_end), *range(references_at, references_end), *([0] if has_question else [])}
    rest = [line for i, line in enumerate(lines[:trailer]) if i not in skipped]
    variant_title, body_lines = _split_header(rest, fallback_title=title)
    return ParsedArticle(
        title=title,
        title_line=lines[0].number,
        variant_title=variant_title,
        summary=" ".join(_with_citations(line.text.strip()) for line in lines[bottom + 1 : bottom_end]),
        body=_flattened_body(body_lines),
        references=_flattened_references(lines[references_at + 1 : references_end], after=lines[references_at]),
    )


def _heading_name(text: str) -> str:
    return text.strip().rstrip(":").strip().lower()


def _find_heading(lines: list[_Line], heading: str) -> int | None:
    return next((i for i, line in enumerate(lines) if _heading_name(line.text) == heading), None)


def _split_header(lines: list[_Line], fallback_title: str) -> tuple[str, list[_Line]]:
    """Skip the page furniture; a heading before the first paragraph is this audience's title."""
    content = list(dropwhile(lambda line: bool(_CHROME_RE.match(line.text.strip())), lines))
    if content and _is_heading(content[0].text) and not (len(content) > 1 and _is_heading(content[1].text)):
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
            item = "    " * min(depth, 3) + "- " + _with_citations(bullet.group(2))
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
            f"expected the kind of reference {label} ({known}), found “{kind.text.strip()[:80]}”.", kind.number
        )
    source_year = _SOURCE_YEAR_RE.match(source.text.strip())
    if not source_year:
        raise ImportFailed(
            f"expected “source, year” for reference {label}, found “{source.text.strip()[:80]}”.", source.number
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
_SECTION_NAMES = (*SUMMARY_HEADINGS, "references")
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_ITEM_LABEL_RE = re.compile(r"^\[@([^\]\s]+)\]:?\s*")
_DOI_IN_TEXT_RE = re.compile(r"(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)", re.IGNORECASE)
_PMID_IN_TEXT_RE = re.compile(r"PMID:?\s*(\d{1,8})", re.IGNORECASE)
_URL_IN_TEXT_RE = re.compile(r"<?(https?://\S+?)>?(?=[\s.,;]*$|\s)")


def _parse_markdown(text: str, bibliography: str, bibliography_name: str) -> ParsedArticle:
    sections = _sections(text.split("\n"))
    titled = next((s for s in sections if s.level == 1 and _heading_name(s.title) not in _SECTION_NAMES), None)
    if titled is None:
        # No "# Title": the question or headline is the first line of text before any heading, never a heading.
        titled = _title_from_first_line(sections[0])
    summary = next((s for name in SUMMARY_HEADINGS for s in sections if _heading_name(s.title) == name), None)
    listed = next((s for s in sections if _heading_name(s.title) == "references" and not bibliography.strip()), None)
    # The title heading itself is not body text, but what follows it is.
    body = [s.body if s is titled else s.lines() for s in sections if s is not summary and s is not listed]
    return ParsedArticle(
        title=titled.title if titled else "",
        title_line=titled.start if titled else 1,
        variant_title=titled.title if titled else "",
        summary=" ".join(summary.text().split()) if summary else "",
        body="\n".join(line for lines in body for line in lines).strip() + "\n",
        references=(
            _bibliography(bibliography, bibliography_name) if bibliography.strip() else _listed_references(listed)
        ),
    )


def _title_from_first_line(opening: _Section) -> _Section | None:
    for offset, line in enumerate(opening.body):
        if line.strip():
            if _LIST_ITEM_RE.match(line) or "[@" in line:
                return None  # body text, not a question
            title = _Section(1, line.strip(), "", offset + 1)
            opening.body = opening.body[offset + 1 :]
            return title
    return None


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
    # An item without its own [@label]: is cited by its number in the list ([@3]), as Word documents do.
    return [_listed_reference(position, line, text) for position, (line, text) in enumerate(items, start=1)]


def _listed_reference(position: int, number: int, text: str) -> SourceReference:
    label_match = _ITEM_LABEL_RE.match(text)
    rest = text[label_match.end() :] if label_match else text
    doi_match, pmid_match = _DOI_IN_TEXT_RE.search(rest), _PMID_IN_TEXT_RE.search(rest)
    doi = _identifier(normalise_doi, doi_match.group(1).rstrip(".,;)") if doi_match else None, number)
    pmid = _identifier(normalise_pmid, pmid_match.group(1) if pmid_match else None, number)
    url = _URL_IN_TEXT_RE.search(rest)
    title = rest
    for found in (doi_match, pmid_match, url):
        title = title.replace(found.group(0), " ") if found else title
    title = " ".join(title.split()).strip(" .,;")
    if not (doi or pmid or title):
        raise ImportFailed("a reference in the list is empty.", number)
    return SourceReference(
        label=label_match.group(1) if label_match else str(position),
        line=number,
        title=title[:300],
        doi=doi,
        pmid=pmid,
        url=url.group(1) if url and "doi.org/" not in url.group(1) else "",
        metadata_pending=bool(doi or pmid),
    )


def _identifier(normalise: Callable[[str], str], raw: Any, line: int) -> str | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        return str(normalise(str(raw)))
    except ValidationError as error:
        raise ImportFailed(error.messages[0], line) from error


def _bibliography(content: str, name: str) -> list[SourceReference]:
    if name.lower().endswith(".json") or content.lstrip().startswith(("[", "{")):
        return _csl_json(content)
    return _bibtex(content)


_BIBTEX_KIND = {"book": Reference.Kind.TEXTBOOK, "misc": Reference.Kind.WEBSITE, "online": Reference.Kind.WEBSITE}


def _bibtex(content: str) -> list[SourceReference]:
    try:
        library = parse_string(
            content,
            append_middleware=[
                middlewares.LatexDecodingMiddleware(),
                middlewares.SeparateCoAuthors(),
                middlewares.SplitNameParts(),
            ],
        )
    except Exception as error:  # bibtexparser has no error type of its own for bad input
        raise ImportFailed(f"the BibTeX file cannot be read ({type(error).__name__}: {str(error)[:120]}).") from error
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
    authors = fields.get("author", [])
    return SourceReference(
        label=entry.key,
        line=line,
        kind=_KIND_BY_LABEL.get(kind) or _BIBTEX_KIND.get(entry.entry_type.lower(), Reference.Kind.RESEARCH),
        title=_plain(fields.get("title", "")),
        authors=[_bibtex_name(name) for name in (authors if isinstance(authors, list) else [authors])],
        source=_plain(fields.get("journal") or fields.get("booktitle") or fields.get("publisher") or ""),
        year=_year(fields.get("year", ""), line),
        volume=_plain(fields.get("volume", "")),
        pages=_plain(fields.get("pages", "")).replace("\u2013", "-"),  # the LaTeX decoder made "--" an en dash
        doi=_identifier(normalise_doi, fields.get("doi"), line),
        pmid=_identifier(normalise_pmid, fields.get("pmid"), line),
        url=_plain(fields.get("url", "")),
    )


def _bibtex_name(name: Any) -> str:
    if hasattr(name, "last"):
        return _short_name(" ".join(name.last), " ".join(name.first))
    return _plain(name)


# Deeper than any real CSL-JSON (items hold lists of objects of lists at most); json's own limit is Python's
# recursion limit, which would end in a RecursionError.
_CSL_MAX_DEPTH = 20


def _csl_json(content: str) -> list[SourceReference]:
    depth = _json_depth(content)
    if depth > _CSL_MAX_DEPTH:
        raise ImportFailed(f"the CSL-JSON file is nested {depth} levels deep; CSL-JSON needs at most 4.")
    try:
        items = json.loads(content)
    except json.JSONDecodeError as error:
        raise ImportFailed(f"the CSL-JSON file cannot be read: {error.msg}.", error.lineno) from error
    except RecursionError as error:  # belt and braces: _json_depth should have caught it
        raise ImportFailed("the CSL-JSON file is nested too deeply.") from error
    items = items if isinstance(items, list) else [items]
    if not items or not all(isinstance(item, dict) and item.get("id") for item in items):
        raise ImportFailed("the CSL-JSON file must be a list of items, each with an “id”.")
    return [_csl_reference(item, _csl_line(content, item)) for item in items]


def _json_depth(content: str) -> int:
    """How deeply brackets nest, outside strings; counted without parsing so no input can exhaust the stack."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', content):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _csl_line(content: str, item: dict[str, Any]) -> int:
    """JSON keeps no line numbers; the line of the item's "id" is the best pointer a writer can use."""
    found = re.search(r'"id"\s*:\s*' + re.escape(json.dumps(item["id"])), content)
    return content.count("\n", 0, found.start()) + 1 if found else 1


_CSL_KIND = {"book": Reference.Kind.TEXTBOOK, "webpage": Reference.Kind.WEBSITE, "report": Reference.Kind.GUIDELINE}


def _csl_reference(item: dict[str, Any], line: int) -> SourceReference:
    label = str(item["id"])
    return SourceReference(
        label=label,
        line=line,
        kind=_CSL_KIND.get(str(item.get("type", "")), Reference.Kind.RESEARCH),
        title=_csl_string(item, "title", line),
        authors=_csl_authors(item.get("author"), label, line),
        source=_csl_string(item, "container-title", line) or _csl_string(item, "publisher", line),
        year=_year(str(_csl_year(item.get("issued"), label, line) or ""), line),
        volume=_csl_string(item, "volume", line),
        pages=_csl_string(item, "page", line),
        doi=_identifier(normalise_doi, _csl_string(item, "DOI", line), line),
        pmid=_identifier(normalise_pmid, _csl_string(item, "PMID", line), line),
        url=_csl_string(item, "URL", line),
    )


def _csl_string(item: dict[str, Any], name: str, line: int) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # some tools write "container-title": ["…"]
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ImportFailed(f"item “{item['id']}”: “{name}” must be text, not {_json_type(value)}.", line)
    return _plain(str(value))


def _csl_authors(authors: Any, label: str, line: int) -> list[str]:
    if authors is None:
        return []
    if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
        example = '"author": [{"family": "Doe", "given": "Jane"}]'
        raise ImportFailed(f"item “{label}”: each author must be an object with a family name, like {example}.", line)
    names = []
    for author in authors:
        family, given = author.get("family") or author.get("literal") or "", author.get("given") or ""
        if not isinstance(family, str) or not isinstance(given, str):
            raise ImportFailed(f"item “{label}”: an author's “family” and “given” must be text.", line)
        names.append(_short_name(family, given))
    return names


def _csl_year(issued: Any, label: str, line: int) -> Any:
    if issued is None:
        return None
    try:
        year = issued["date-parts"][0][0]
    except (KeyError, IndexError, TypeError) as error:
        raise ImportFailed(f'item “{label}”: “issued” must look like {{"date-parts": [[2018, 5]]}}.', line) from error
    return year


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false"}.get(type(value), type(value).__name__)


def _plain(value: Any) -> str:
    """BibTeX keeps capitals with braces ("{COVID}-19"); the library stores plain text."""
    return " ".join(str(value).replace("{", "").replace("}", "").split())


def _short_name(family: str, given: str) -> str:
    """ "Castro", "Mario J." -> "Castro MJ", the library's author style (Vancouver)."""
    initials = "".join(part[0] for part in re.split(r"[\s.\-]+", given) if part)
    return f"{_plain(family)} {initials.upper()}".strip()


def _year(raw: str, line: int) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not re.fullmatch(r"\d{4}", raw):
        raise ImportFailed(f"“{raw[:40]}” is not a year.", line)
    return int(raw)


# --- Matching to the library -----------------------------------------------------------------------


@dataclass
class _Resolution:
    by_label: dict[str, Reference] = field(default_factory=dict)
    matched: list[tuple[SourceReference, Reference, str]] = field(default_factory=list)
    created: list[tuple[SourceReference, Reference]] = field(default_factory=list)

    @classmethod
    def resolve(cls, given: list[SourceReference]) -> _Resolution:
        resolution = cls()
        library = _LibraryIndex.for_references(given)
        planned_keys: set[str] = set()
        for source in given:
            found = library.match(source)
            if found:
                reference, how = found
                if reference.pk is not None:
                    resolution.matched.append((source, reference, how))
            else:
                reference = _new_reference(source, planned_keys)
                planned_keys.add(reference.key)
                resolution.created.append((source, reference))
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
        return list({id(ref): ref for ref in self.by_label.values()}.values())

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


def _new_reference(source: SourceReference, planned_keys: set[str]) -> Reference:
    """The library entry this source will become: validated now, so the preview shows every problem."""
    reference = Reference(
        key=_new_key(source, planned_keys),
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
    return reference


def _new_key(source: SourceReference, planned_keys: set[str]) -> str:
    """The library's own key rule (castro2018, castro2018a …), also avoiding keys planned for this file; the
    flattened form has no authors, so there the first word of the title stands in for the surname."""
    first_author = source.authors[0] if source.authors else (source.title.split() or ["ref"])[0]
    base = key_base(first_author, source.year)
    for suffix in ["", *string.ascii_lowercase]:
        key = unique_key(base + suffix)
        if key not in planned_keys:
            return key
    return unique_key(f"{base}-{len(planned_keys)}")


def _save_new_references(created: list[tuple[SourceReference, Reference]]) -> None:
    now = timezone.now()
    for given, reference in created:
        if given.metadata_pending:
            # Stamped as queued, as the library's own additions are: the owed-work sweep takes it up only if
            # no lookup ran within LOOKUP_OWED_AFTER_SECONDS, instead of queueing it a second time.
            reference.lookup_queued_at = now
        reference.save()
    # Known by an identifier only: one lookup after commit fills in authors, journal and year.
    references.look_up_after_commit([reference.pk for given, reference in created if given.metadata_pending])


class _CitationRewriter:
    """Replaces the file's own citation labels by library keys and records citations that point nowhere.
    Entries still waiting for their metadata are cited by DOI or PMID: their key changes once it is found."""

    def __init__(self, by_label: dict[str, Reference], known: dict[str, Reference]) -> None:
        self.by_label, self.known = by_label, known
        self.unmatched: list[str] = []

    def __call__(self, text: str) -> str:
        return replace_citation_keys(text, self._rewrite) if text else text

    def _rewrite(self, label: str) -> str:
        identifier = normalise_citation_key(label)
        # Identifier citations stay as the writer wrote them; the renderer resolves them.
        if identifier.startswith(("doi:", "pmid:")):
            if identifier not in self.known:
                self.unmatched.append(f"citation [@{label}]")
            return label
        reference = self.by_label.get(label)
        if reference is None:
            self.unmatched.append(f"citation [@{label}]")
            return label
        if reference.metadata_status == Reference.MetadataStatus.PENDING and (reference.doi or reference.pmid):
            return f"doi:{reference.doi}" if reference.doi else f"pmid:{reference.pmid}"
        return reference.key
