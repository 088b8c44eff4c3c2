"""The one way Markdown becomes HTML on this site: Python-Markdown, then the nh3 allow-list sanitiser.

Nothing a writer types reaches a reader without passing `sanitise`; raw HTML, event handlers and
`javascript:` / `data:` / `vbscript:` links are removed by the allow-list, whatever the Markdown produced.

Citations are Pandoc style (`[@castro2018]`, `[@a; @b]`, `[@doi:…]`, `[@pmid:…]`) and are handled by a
small Python-Markdown extension, so `[@…]` inside code spans and code blocks stays literal text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

import markdown
import nh3
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

from .identifiers import CITATION_KEY_PATTERN, normalise_doi, normalise_pmid

if TYPE_CHECKING:
    from .models import Reference

MARKDOWN_EXTENSIONS = ["tables", "footnotes", "sane_lists", "smarty", "fenced_code"]

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl", "dt", "em",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "section", "small", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id", "class"},
    "abbr": {"title"},
    "div": {"class", "id"},
    "li": {"id", "class"},
    "ol": {"start", "class"},
    "section": {"class", "id"},
    # id: the back-link target of a number hidden inside a citation range such as "3 to 5".
    "span": {"class", "id"},
    "sup": {"id", "class"},
    "td": {"align"},
    "th": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def render_markdown(text: str) -> SafeString:
    html = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return mark_safe(sanitise(html))  # noqa: S308 - sanitised by the allow-list just above


# --- Citations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitationUse:
    key: str  # "castro2018", or "doi:<normalised doi>", or "pmid:<digits>"
    line: int  # 1-based line number in the Markdown body


@dataclass(frozen=True)
class RenderedText:
    body_html: SafeString
    references_html: SafeString
    cited: list[Reference]
    unknown: list[CitationUse]


class ReferenceLookup:
    """Resolves citation keys against a given set of references (an article's, or the library's)."""

    def __init__(self, by_key: dict[str, Reference], by_doi: dict[str, Reference], by_pmid: dict[str, Reference]):
        self._by_key, self._by_doi, self._by_pmid = by_key, by_doi, by_pmid

    @classmethod
    def from_references(cls, references: Iterable[Reference]) -> ReferenceLookup:
        refs = list(references)
        return cls(
            by_key={ref.key: ref for ref in refs},
            by_doi={ref.doi: ref for ref in refs if ref.doi},
            by_pmid={ref.pmid: ref for ref in refs if ref.pmid},
        )

    def resolve(self, key: str) -> Reference | None:
        scheme, _, value = key.partition(":")
        if scheme == "doi" and value:
            return self._by_doi.get(value)
        if scheme == "pmid" and value:
            return self._by_pmid.get(value)
        return self._by_key.get(key)


# Python-Markdown keeps no source positions, so a preprocessor tags every "[@" with "line.n" (its line,
# and which "[@" of that line it is) between two private-use characters; the inline pattern reads the
# tag and a postprocessor removes any tag left behind (those inside code, which no inline pattern touches).
_TAG_OPEN, _TAG_CLOSE = "\ue000", "\ue001"
_TAG_RE = re.compile(f"{_TAG_OPEN}\\d+\\.\\d+{_TAG_CLOSE}")
# DOIs may hold almost any character; inside a citation they end at whitespace, ";" or "]".
_ITEM = rf"@(?:(?i:doi):[^\s;\]]+|(?i:pmid):\d+|{CITATION_KEY_PATTERN})"
_ITEMS = rf"\s*({_ITEM}(?:\s*;\s*{_ITEM})*)\s*\]"
_CITATION_RE = rf"\[{_TAG_OPEN}(\d+)\.(\d+){_TAG_CLOSE}{_ITEMS}"
_OPENING_RE = re.compile(r"\[(?=\s*@)")  # where a citation may start; the tag goes right after it
_SOURCE_CITATION_RE = re.compile(rf"\[{_ITEMS}")
_MARKER_ATTR, _POSITION_ATTR = "data-citation-keys", "data-citation-position"


def normalise_citation_key(raw: str) -> str:
    """`doi:` and `pmid:` keys in their canonical form; an invalid identifier is kept as written."""
    scheme, _, value = raw.partition(":")
    try:
        if scheme.lower() == "doi":
            return f"doi:{normalise_doi(value)}"
        if scheme.lower() == "pmid":
            return f"pmid:{normalise_pmid(value)}"
    except ValidationError:
        return raw
    return raw


class _LineTagger(Preprocessor):
    """Tags each "[@" with "line.n": its line and which "[@" of that line it is."""

    def run(self, lines: list[str]) -> list[str]:
        return [_tag_line(number, line) for number, line in enumerate(lines, start=1)]


def _tag_line(number: int, line: str) -> str:
    line = line.replace(_TAG_OPEN, "").replace(_TAG_CLOSE, "")  # a writer cannot forge a tag
    pieces = _OPENING_RE.split(line)
    tagged = [f"[{_TAG_OPEN}{number}.{index}{_TAG_CLOSE}{piece}" for index, piece in enumerate(pieces[1:])]
    return pieces[0] + "".join(tagged)


class _CitationPattern(InlineProcessor):
    # The stubs type InlineProcessor.handleMatch against Pattern's one-argument form; this is the documented
    # two-argument InlineProcessor signature.
    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[etree.Element | str | None, int | None, int | None]:
        keys = [normalise_citation_key(item.strip()[1:]) for item in m.group(3).split(";")]
        marker = etree.Element("sup", {_MARKER_ATTR: " ".join(keys), _POSITION_ATTR: f"{m.group(1)}.{m.group(2)}"})
        return marker, m.start(0), m.end(0)


@dataclass
class _Numbering:
    """What one rendering found: every use, and the numbers given by first appearance."""

    lookup: ReferenceLookup | None
    # Prefix of every anchor id, so two versions on one page (desk, review) keep their own links.
    id_prefix: str = ""
    uses: list[CitationUse] = field(default_factory=list)
    positions: list[tuple[int, int]] = field(default_factory=list)  # (line, n-th "[@" of the line)
    numbers: dict[str, int] = field(default_factory=dict)  # Reference.key -> number
    cited: list[Reference] = field(default_factory=list)
    occurrences: dict[int, int] = field(default_factory=dict)  # number -> markers citing it so far
    unknown: list[CitationUse] = field(default_factory=list)

    def number_for(self, use: CitationUse) -> int | None:
        reference = self.lookup.resolve(use.key) if self.lookup else None
        if reference is None:
            self.unknown.append(use)
            return None
        if reference.key not in self.numbers:
            self.cited.append(reference)
            self.numbers[reference.key] = len(self.cited)
        return self.numbers[reference.key]

    def next_occurrence(self, number: int) -> int:
        self.occurrences[number] = self.occurrences.get(number, 0) + 1
        return self.occurrences[number]


class _CitationNumberer(Treeprocessor):
    def __init__(self, md: markdown.Markdown, numbering: _Numbering) -> None:
        super().__init__(md)
        self.numbering = numbering

    def run(self, root: etree.Element) -> None:
        # root.iter() walks in document order, which is the order readers meet the citations in.
        for marker in [el for el in root.iter("sup") if _MARKER_ATTR in el.attrib]:
            line, index = (int(part) for part in marker.attrib.pop(_POSITION_ATTR).split("."))
            self.numbering.positions.append((line, index))
            uses = [CitationUse(key, line) for key in marker.attrib.pop(_MARKER_ATTR).split()]
            self.numbering.uses.extend(uses)
            if self.numbering.lookup is not None:
                self._fill(marker, uses)

    def _fill(self, marker: etree.Element, uses: list[CitationUse]) -> None:
        resolved = [(use, self.numbering.number_for(use)) for use in uses]
        numbers = sorted({number for _, number in resolved if number is not None})
        unknown = [use.key for use, number in resolved if number is None]
        if not numbers:
            marker.tag, marker.text = "span", AtomicString(_unknown_text(unknown))
            marker.set("class", "citation-unknown")
            return
        marker.set("class", "citation")
        for index, run in enumerate(_runs(numbers)):
            if index:
                _append_text(marker, ",")
            self._add_run(marker, run)
        if unknown:
            flag = etree.SubElement(marker, "span", {"class": "citation-unknown"})
            flag.text = AtomicString(_unknown_text(unknown))

    def _add_run(self, marker: etree.Element, run: list[int]) -> None:
        if len(run) < 3:
            for index, number in enumerate(run):
                if index:
                    _append_text(marker, ",")
                self._link(marker, number)
            return
        self._link(marker, run[0])
        for number in run[1:-1]:
            etree.SubElement(marker, "span", {"id": self._anchor(number), "class": "citation-anchor"})
        _append_text(marker, "\u2013")
        self._link(marker, run[-1])

    def _link(self, marker: etree.Element, number: int) -> None:
        prefix = self.numbering.id_prefix
        link = etree.SubElement(marker, "a", {"href": f"#{prefix}ref-{number}", "id": self._anchor(number)})
        link.text = AtomicString(str(number))

    def _anchor(self, number: int) -> str:
        return f"{self.numbering.id_prefix}cite-{number}-{self.numbering.next_occurrence(number)}"


def _unknown_text(keys: list[str]) -> str:
    return "[" + "; ".join(f"?{key}" for key in keys) + "]"


def _runs(numbers: list[int]) -> list[list[int]]:
    """[1, 2, 3, 5] -> [[1, 2, 3], [5]]: consecutive numbers grouped, so 3+ can print as a range."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and runs[-1][-1] == number - 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def _append_text(parent: etree.Element, text: str) -> None:
    if len(parent):
        parent[-1].tail = AtomicString((parent[-1].tail or "") + text)
    else:
        parent.text = AtomicString((parent.text or "") + text)


class _TagRemover(Postprocessor):
    def run(self, text: str) -> str:
        return _TAG_RE.sub("", text)


class CitationExtension(Extension):
    def __init__(self, numbering: _Numbering) -> None:
        super().__init__()
        self.numbering = numbering

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        # Before whitespace normalisation (30) and fenced code (25), so every line is still the writer's line.
        md.preprocessors.register(_LineTagger(md), "citation_lines", 35)
        # After backticks (190) and escapes (180), so code spans and "\[@x]" stay literal.
        md.inlinePatterns.register(_CitationPattern(_CITATION_RE, md), "citation", 177)
        # After inline patterns (20) and smarty (6): the tree is complete and in document order.
        md.treeprocessors.register(_CitationNumberer(md, self.numbering), "citation_numbers", 5)
        # After raw HTML is restored (30): tags inside stashed code blocks are removed too.
        md.postprocessors.register(_TagRemover(md), "citation_tags", 1)


def _convert(body: str, numbering: _Numbering) -> str:
    extensions: list[str | Extension] = [*MARKDOWN_EXTENSIONS, CitationExtension(numbering)]
    return markdown.markdown(body, extensions=extensions, output_format="html")


def find_citations(body: str) -> list[CitationUse]:
    """Every citation in the body, in document order, with its line; citations inside code are not ones."""
    numbering = _Numbering(lookup=None)
    _convert(body, numbering)
    return numbering.uses


def replace_citation_keys(body: str, replace: Callable[[str], str]) -> str:
    """The body with each key of each real citation (not those in code) passed through `replace`.
    Keys are given as written, so "[@Castro2018]" calls replace("Castro2018")."""
    numbering = _Numbering(lookup=None)
    _convert(body, numbering)
    line_starts = [0, *(match.end() for match in re.finditer("\n", body))]
    starts = [_opening_offset(body, line_starts[line - 1], index) for line, index in numbering.positions]
    # From the end backwards, so the offsets still to be used stay valid.
    for start in sorted(starts, reverse=True):
        citation = _SOURCE_CITATION_RE.match(body, start)
        if citation:
            items = [replace(item.strip()[1:]) for item in citation.group(1).split(";")]
            body = body[:start] + "[" + "; ".join(f"@{item}" for item in items) + "]" + body[citation.end() :]
    return body


def _opening_offset(body: str, line_start: int, index: int) -> int:
    line_end = body.find("\n", line_start)
    line = body[line_start : line_end if line_end >= 0 else len(body)]
    return line_start + [match.start() for match in _OPENING_RE.finditer(line)][index]


def render_article_text(body: str, lookup: ReferenceLookup, *, id_prefix: str = "") -> RenderedText:
    """One audience version's body with numbered citation markers, and its own numbered reference list.
    `id_prefix` (e.g. "patient-") goes before every anchor id, for pages that show both versions."""
    numbering = _Numbering(lookup=lookup, id_prefix=id_prefix)
    body_html = sanitise(_convert(body, numbering))
    return RenderedText(
        body_html=mark_safe(body_html),  # noqa: S308 - sanitised by the allow-list
        references_html=mark_safe(sanitise(_reference_list(numbering))),  # noqa: S308 - sanitised
        cited=numbering.cited,
        unknown=numbering.unknown,
    )


# --- The reference list ------------------------------------------------------------------------------

MAX_AUTHORS_LISTED = 3


def _reference_list(numbering: _Numbering) -> str:
    if not numbering.cited:
        return ""
    items = format_html_join(
        "\n",
        "{}",
        (
            (_reference_item(number, ref, numbering.occurrences.get(number, 0), numbering.id_prefix),)
            for number, ref in enumerate(numbering.cited, start=1)
        ),
    )
    return format_html('<ol class="references">\n{}\n</ol>', items)


def _reference_item(number: int, ref: Reference, occurrences: int, prefix: str = "") -> SafeString:
    parts = [
        format_html('<span class="reference-kind">{}</span>', ref.get_kind_display()),
        format_html('<span class="reference-title">{}</span>', ref.title or ref.label),
    ]
    if ref.author_list:
        parts.append(format_html('<span class="reference-authors">{}</span>', _authors(ref.author_list)))
    if source := _source_line(ref):
        parts.append(format_html('<span class="reference-source">{}</span>', source))
    if links := _links(ref):
        parts.append(format_html('<span class="reference-links">{}</span>', links))
    backlinks = format_html_join(
        " ",
        '<a href="#{}cite-{}-{}" class="citation-backlink" title="Back to citation {}">\u21a9</a>',
        ((prefix, number, k, k) for k in range(1, occurrences + 1)),
    )
    parts.append(format_html('<span class="reference-backlinks">{}</span>', backlinks))
    return format_html(
        '<li id="{}ref-{}">{}</li>', prefix, number, format_html_join(" ", "{}", ((part,) for part in parts))
    )


def _authors(authors: list[str]) -> str:
    shown = ", ".join(authors[:MAX_AUTHORS_LISTED])
    return f"{shown}, et al." if len(authors) > MAX_AUTHORS_LISTED else shown


def _source_line(ref: Reference) -> str:
    """Vancouver-like: "Journal, 2018;378:2486-2496"."""
    line = ", ".join(part for part in (ref.source, str(ref.year or "")) if part)
    if ref.volume:
        line += f";{ref.volume}"
    if ref.pages:
        line += f":{ref.pages}"
    return line


def _links(ref: Reference) -> SafeString:
    links: list[tuple[str, str]] = []
    if ref.doi:
        links.append((f"https://doi.org/{quote(ref.doi, safe='/:;()')}", "DOI"))
    if ref.pmid:
        links.append((f"https://pubmed.ncbi.nlm.nih.gov/{quote(ref.pmid, safe='')}/", "PubMed"))
    # Only web addresses: a URL that reached the database some other way must not become a script link.
    if ref.url.lower().startswith(("https://", "http://")):
        links.append((ref.url, "Link"))
    return format_html_join(" ", '<a href="{}">{}</a>', links)
