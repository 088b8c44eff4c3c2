"""The one way Markdown becomes HTML on this site: markdown-it-py, then the nh3 allow-list sanitiser.

Nothing a writer types reaches a reader without passing `sanitise`; raw HTML, event handlers and
`javascript:` / `data:` / `vbscript:` links are removed by the allow-list, whatever the Markdown produced,
and only the classes and ids this module itself writes survive, so a body cannot dress up as site chrome.

Why markdown-it-py and not Python-Markdown: Python-Markdown's inline parser is quadratic on several inputs
(upstream issue #798, open): measured here, `"[a](" * 2000` took 1.18 s against 0.063 s for 500 (18.7x for
4x the input), `"[" * 2000` 0.69 s (9.4x), and 500 nested list levels 1.1 s (2,000 raised RecursionError).
No guard in front of it bounds that without refusing ordinary paragraphs. markdown-it-py (a CommonMark
parser) grew 4.0x for 4x the input on the same families (`"[a](" * 8000` in 0.27 s), and stops nesting at
`maxNesting`, so no body can hold a worker; `validate_body` still bounds what may be saved.

Citations are Pandoc style (`[@castro2018]`, `[@a; @b]`, `[@doi:…]`, `[@pmid:…]`) and are handled by an
inline rule, so `[@…]` inside code spans and code blocks stays literal text.
"""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import nh3
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join, strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin

from .identifiers import CITATION_KEY_PATTERN, normalise_doi, normalise_pmid

if TYPE_CHECKING:
    from .models import Reference

# --- Limits -----------------------------------------------------------------------------------------

# About six times the longest article we hold; far above any real one.
BODY_MAX_CHARS = 40_000
# Lists and quotations inside each other; real articles use two or three levels.
BODY_MAX_DEPTH = 6
# Every "[" may open a link, an image, a footnote or a citation, and the parser looks ahead through the
# rest of its paragraph for the end, so brackets cost in proportion to the paragraph's length: measured,
# 1,500 of them before 37,000 characters of text tripled the time of the text alone. A real article has
# one or two per citation and link: a few hundred in all, a dozen or two in its densest paragraph.
BODY_MAX_BRACKETS = 1_500
PARAGRAPH_MAX_BRACKETS = 100
# markdown-it's own recursion guard, which also sets how far each "[" looks inside nested brackets
# (the cost of a bracket flood grows with it: 100 was seven times slower than 20). Past it the parser
# silently drops the rest of a block, which validate_body refuses long before: BODY_MAX_DEPTH levels
# of lists use 2 x 6 = 12 token levels, leaving room for a table (4 more) inside the deepest one.
_PARSER_MAX_NESTING = 20

_CONTAINERS = {"bullet_list_open", "ordered_list_open", "blockquote_open", "footnote_open"}
_CONTAINER_ENDS = {"bullet_list_close", "ordered_list_close", "blockquote_close", "footnote_close"}


def validate_body(body: str) -> None:
    """Raise ValidationError naming the limit when a Markdown body is too long, has too many brackets,
    or is nested too deep.
    The editor form, the live preview and the importer all call this one rule."""
    if len(body) > BODY_MAX_CHARS:
        raise ValidationError(
            "The text is %(length)s characters long; the limit is %(limit)s characters. Split it into two articles.",
            code="body_too_long",
            params={"length": f"{len(body):,}", "limit": f"{BODY_MAX_CHARS:,}"},
        )
    brackets = body.count("[")
    if brackets > BODY_MAX_BRACKETS:
        raise ValidationError(
            "The text has %(count)s opening square brackets “[”; the limit is %(limit)s.",
            code="body_too_many_brackets",
            params={"count": f"{brackets:,}", "limit": f"{BODY_MAX_BRACKETS:,}"},
        )
    tokens = _BLOCKS.parse(body, {})  # blocks only: cheap, and enough to find paragraphs and nesting
    for line, count in _brackets_per_paragraph(tokens):
        if count > PARAGRAPH_MAX_BRACKETS:
            raise ValidationError(
                "The paragraph at line %(line)s has %(count)s opening square brackets “[”; "
                "the limit is %(limit)s per paragraph.",
                code="paragraph_too_many_brackets",
                params={"line": line, "count": f"{count:,}", "limit": PARAGRAPH_MAX_BRACKETS},
            )
    depth = nesting_depth(tokens)
    if depth > BODY_MAX_DEPTH:
        raise ValidationError(
            "Lists and quotations are nested %(depth)s levels deep; the limit is %(limit)s levels.",
            code="body_too_deep",
            params={"depth": depth, "limit": BODY_MAX_DEPTH},
        )


def _brackets_per_paragraph(tokens: list[Token]) -> Iterator[tuple[int, int]]:
    """(first line, "[" count) of each run of inline text: a paragraph, heading or table cell."""
    line = 1
    for token in tokens:
        if token.map:
            line = token.map[0] + 1
        if token.type == "inline":
            yield line, token.content.count("[")


def nesting_depth(tokens: list[Token]) -> int:
    """How many lists, quotations and footnotes sit inside each other at the deepest point."""
    depth = deepest = 0
    for token in tokens:
        if token.type in _CONTAINERS:
            depth += 1
            deepest = max(deepest, depth)
        elif token.type in _CONTAINER_ENDS:
            depth -= 1
    return deepest


# --- Sanitiser -----------------------------------------------------------------------------------

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl", "dt", "em",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "section", "small", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "id", "class"},
    "abbr": {"title"},
    "div": {"class"},
    "li": {"id", "class"},
    "ol": {"start", "class"},
    "section": {"class"},
    # id: the back-link target of a number hidden inside a citation range such as "3 to 5".
    "span": {"class", "id"},
    "sup": {"id", "class"},
    "td": {"align", "style"},
    "th": {"align", "style"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

# The only classes that survive, per element: those this module writes (citations, the reference list,
# footnotes; the footnote classes of the earlier renderer stay so publications frozen then keep theirs).
RENDERER_CLASSES = {
    "sup": {"citation", "footnote-ref"},
    "span": {
        "citation-unknown", "citation-anchor", "reference-kind", "reference-title", "reference-authors",
        "reference-source", "reference-links", "reference-backlinks",
    },
    "a": {"citation-backlink", "footnote-backref", "footnote-ref"},
    "ol": {"references", "footnotes-list"},
    "li": {"footnote-item"},
    "section": {"footnotes"},
    "div": {"footnote"},
}  # fmt: skip
# The only ids that survive: citation markers and their targets, footnotes (both renderers' forms).
# Pages showing both versions give each its own anchors: citations as "patient-cite-1-1", footnotes in
# markdown-it's document-id form "fn-patient-1" / "fnref-patient-1:1"; single-version pages and
# publications frozen earlier carry the unprefixed forms ("fn1", and the earlier renderer's "fn:1").
_ID_PREFIX = r"[a-z]{1,16}"
RENDERER_ID_RE = re.compile(
    rf"(?:{_ID_PREFIX}-)?(?:cite-\d+-\d+|ref-\d+)"
    r"|fn:?\d+(?::\d+)?|fnref\d*:?\d+(?::\d+)?"
    rf"|fn(?:ref)?-{_ID_PREFIX}-\d+(?::\d+)?"
)
# Cell alignment from Markdown tables is the one style the renderer writes.
_ALIGN_STYLE_RE = re.compile(r"text-align:(left|right|center)")


def _keep_attribute(element: str, attribute: str, value: str) -> str | None:
    if attribute == "class":
        kept = [name for name in value.split() if name in RENDERER_CLASSES.get(element, ())]
        return " ".join(kept) or None
    if attribute == "id":
        return value if RENDERER_ID_RE.fullmatch(value) else None
    if attribute == "style":
        return value if _ALIGN_STYLE_RE.fullmatch(value) else None
    return value


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


# The Bottom line is one paragraph of running text: no block elements survive in it.
INLINE_TAGS = {"a", "abbr", "b", "br", "cite", "code", "del", "em", "i", "ins", "small", "span", "strong", "sub", "sup"}
# "Lower it [@a]." loses its marker in the plain text; the space left before the full stop goes too.
_SPACE_BEFORE_PUNCTUATION_RE = re.compile(r"\s+([.,;:!?)])")

# --- The parser ------------------------------------------------------------------------------------

# A writer's own raw HTML loses every class, id and style before the sanitiser sees it, so even a
# class the renderer uses (a citation's) cannot be put on by hand.
_RAW_ATTRIBUTE_RE = re.compile(r"""\s(?:class|id|style)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.IGNORECASE)


def _raw_html_without_chrome(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _RAW_ATTRIBUTE_RE.sub(" ", tokens[idx].content)


def _typographic_dashes(state: StateCore) -> None:
    """Python-Markdown's "smarty" replacements the site has always had: en and em dashes, ellipsis
    (markdown-it's own set also turns "(c)" into ©, which would spoil list labels such as "(a) (b) (c)")."""
    for block in state.tokens:
        in_autolink = False  # a bare address shown as a link keeps its characters
        for token in block.children or ():
            if token.type in ("link_open", "link_close") and token.info == "auto":
                in_autolink = token.type == "link_open"
            elif token.type == "text" and not in_autolink:
                token.content = token.content.replace("---", "\u2014").replace("--", "\u2013").replace("...", "\u2026")


def _build_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"typographer": True, "maxNesting": _PARSER_MAX_NESTING})
    md.enable(["table", "smartquotes"])
    md.use(footnote_plugin, inline=False)
    md.core.ruler.before("smartquotes", "typographic_dashes", _typographic_dashes)
    md.inline.ruler.before("link", "citation", _citation_rule)
    md.add_render_rule("html_inline", _raw_html_without_chrome)
    md.add_render_rule("html_block", _raw_html_without_chrome)
    md.add_render_rule("citation", _render_citation)
    return md


def _convert(body: str, numbering: _Numbering) -> str:
    tokens = _MARKDOWN.parse(_tag_lines(body), {})
    for marker in _citation_tokens(tokens):
        numbering.record(marker)
    return _TAG_RE.sub("", _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, _render_env(numbering.id_prefix)))


def _render_env(id_prefix: str) -> dict[str, Any]:
    """The footnote plugin's document id ("patient" gives "fn-patient-1"), so footnotes keep to their own
    version on a page showing both, as citations do; without a prefix footnotes keep their plain ids
    ("fn1"), the ones reader pages have always had."""
    doc_id = id_prefix.rstrip("-")
    return {"docId": doc_id} if doc_id else {}


def _convert_summary(summary: str, numbering: _Numbering) -> str:
    """The Bottom line as inline Markdown: no paragraphs, headings or lists, citations numbered by the same
    `numbering` as the body so the two share one reference list."""
    tokens = _MARKDOWN.parseInline(_tag_lines(summary), {"summary": True})
    for marker in _citation_tokens(tokens):
        numbering.record(marker)
    return _TAG_RE.sub("", _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))


def sanitise_inline(html: str) -> str:
    """The allow-list narrowed to inline elements: what may sit inside the Bottom line's one paragraph."""
    return nh3.clean(
        html,
        tags=INLINE_TAGS,
        attributes={tag: names for tag, names in ALLOWED_ATTRIBUTES.items() if tag in INLINE_TAGS},
        attribute_filter=_keep_attribute,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def render_summary_text(summary: str) -> str:
    """The Bottom line as plain text without citation markers: for search, meta descriptions, JSON-LD and
    the API's `bottom_line`."""
    html = _convert_summary(summary, _Numbering(lookup=None))  # no lookup: markers render as nothing
    text = html_module.unescape(strip_tags(sanitise_inline(html)))
    return _SPACE_BEFORE_PUNCTUATION_RE.sub(r"\1", " ".join(text.split()))


def render_markdown(text: str) -> SafeString:
    """Markdown without citations (summaries, site pages), through the same parser and sanitiser."""
    html = _TAG_RE.sub("", _MARKDOWN.render(text.replace(_TAG_OPEN, "").replace(_TAG_CLOSE, "")))
    return mark_safe(sanitise(html))  # noqa: S308 - sanitised by the allow-list just above


# --- Citations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitationUse:
    key: str  # "castro2018", or "doi:<normalised doi>", or "pmid:<digits>"
    line: int  # 1-based line number in the Markdown body (or in the Bottom line)
    in_summary: bool = False  # written in the Bottom line rather than the body


@dataclass(frozen=True)
class RenderedText:
    body_html: SafeString
    references_html: SafeString
    cited: list[Reference]
    unknown: list[CitationUse]
    summary_html: SafeString  # the Bottom line, inline HTML (no <p>)


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


# markdown-it keeps source lines only per block, so before parsing every "[@" is tagged with "line.n" (its
# line, and which "[@" of that line it is) between two private-use characters; the inline rule reads the
# tag, and any tag left behind (inside code, which no inline rule touches) is removed from the HTML.
_TAG_OPEN, _TAG_CLOSE = "\ue000", "\ue001"
_TAG_RE = re.compile(f"{_TAG_OPEN}\\d+\\.\\d+{_TAG_CLOSE}")
# DOIs may hold almost any character; inside a citation they end at whitespace, ";" or "]".
_ITEM = rf"@(?:(?i:doi):[^\s;\]]+|(?i:pmid):\d+|{CITATION_KEY_PATTERN})"
_ITEMS = rf"\s*({_ITEM}(?:\s*;\s*{_ITEM})*)\s*\]"
_CITATION_RE = re.compile(rf"\[{_TAG_OPEN}(\d+)\.(\d+){_TAG_CLOSE}{_ITEMS}")
_OPENING_RE = re.compile(r"\[(?=\s*@)")  # where a citation may start; the tag goes right after it
_SOURCE_CITATION_RE = re.compile(rf"\[{_ITEMS}")


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


def _tag_lines(body: str) -> str:
    """Each "[@" tagged with "line.n": its line and which "[@" of that line it is."""
    return "\n".join(_tag_line(number, line) for number, line in enumerate(body.split("\n"), start=1))


def _tag_line(number: int, line: str) -> str:
    line = line.replace(_TAG_OPEN, "").replace(_TAG_CLOSE, "")  # a writer cannot forge a tag
    pieces = _OPENING_RE.split(line)
    tagged = [f"[{_TAG_OPEN}{number}.{index}{_TAG_CLOSE}{piece}" for index, piece in enumerate(pieces[1:])]
    return pieces[0] + "".join(tagged)


def _citation_rule(state: StateInline, silent: bool) -> bool:
    # Runs after backticks and escapes, so code spans and "\[@x]" never reach it.
    if not state.src.startswith("[" + _TAG_OPEN, state.pos):
        return False
    match = _CITATION_RE.match(state.src, state.pos)
    if not match or match.end() > state.posMax:
        return False
    if not silent:
        token = state.push("citation", "sup", 0)
        keys = [normalise_citation_key(item.strip()[1:]) for item in match.group(3).split(";")]
        token.meta = {
            "keys": keys,
            "position": (int(match.group(1)), int(match.group(2))),
            "in_summary": bool(state.env.get("summary")),
        }
    state.pos = match.end()
    return True


def _citation_tokens(tokens: list[Token]) -> Iterator[Token]:
    """Citation tokens in document order (footnotes have already been moved to the end)."""
    for token in tokens:
        for child in token.children or ():
            if child.type == "citation":
                yield child


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

    def record(self, marker: Token) -> None:
        line, index = marker.meta["position"]
        self.positions.append((line, index))
        uses = [CitationUse(key, line, marker.meta.get("in_summary", False)) for key in marker.meta["keys"]]
        self.uses.extend(uses)
        marker.meta["html"] = self._marker_html(uses) if self.lookup is not None else ""

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

    def _marker_html(self, uses: list[CitationUse]) -> str:
        resolved = [(use, self.number_for(use)) for use in uses]
        numbers = sorted({number for _, number in resolved if number is not None})
        unknown = [use.key for use, number in resolved if number is None]
        if not numbers:
            return format_html('<span class="citation-unknown">{}</span>', _unknown_text(unknown))
        parts = ",".join(self._run_html(run) for run in _runs(numbers))
        if unknown:
            parts += format_html('<span class="citation-unknown">{}</span>', _unknown_text(unknown))
        return f'<sup class="citation">{parts}</sup>'

    def _run_html(self, run: list[int]) -> str:
        if len(run) < 3:
            return ",".join(self._link(number) for number in run)
        hidden = "".join(
            format_html('<span class="citation-anchor" id="{}"></span>', self._anchor(number)) for number in run[1:-1]
        )
        return f"{self._link(run[0])}{hidden}\u2013{self._link(run[-1])}"

    def _link(self, number: int) -> str:
        return format_html('<a href="#{}ref-{}" id="{}">{}</a>', self.id_prefix, number, self._anchor(number), number)

    def _anchor(self, number: int) -> str:
        return f"{self.id_prefix}cite-{number}-{self.next_occurrence(number)}"


def _render_citation(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return str(tokens[idx].meta.get("html", ""))


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


_MARKDOWN = _build_parser()
# The same block structure without inline parsing, for validate_body: linear and cheap on any input.
_BLOCKS = _build_parser()
_BLOCKS.core.ruler.disable(["inline", "smartquotes", "typographic_dashes", "footnote_tail"])


def find_citations(body: str) -> list[CitationUse]:
    """Every citation in the body, in document order, with its line; citations inside code are not ones."""
    numbering = _Numbering(lookup=None)
    for marker in _citation_tokens(_MARKDOWN.parse(_tag_lines(body), {})):
        numbering.record(marker)
    return numbering.uses


def find_summary_citations(summary: str) -> list[CitationUse]:
    """Every citation in a Bottom line, in order, each marked `in_summary`."""
    numbering = _Numbering(lookup=None)
    _convert_summary(summary, numbering)
    return numbering.uses


def find_all_citations(summary: str, body: str) -> list[CitationUse]:
    """The citations of one version: its Bottom line's first, then its body's (the reader's order)."""
    return find_summary_citations(summary) + find_citations(body)


def replace_citation_keys(body: str, replace: Callable[[str], str]) -> str:
    """The body with each key of each real citation (not those in code) passed through `replace`.
    Keys are given as written, so "[@Castro2018]" calls replace("Castro2018")."""
    numbering = _Numbering(lookup=None)
    for marker in _citation_tokens(_MARKDOWN.parse(_tag_lines(body), {})):
        numbering.record(marker)
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


def render_article_text(body: str, lookup: ReferenceLookup, summary: str = "", *, id_prefix: str = "") -> RenderedText:
    """One audience version's Bottom line and body with numbered citation markers, and its own numbered
    reference list. Numbers go by first appearance across the Bottom line, then the body: the reader meets
    the Bottom line first, and both point into the one list. `id_prefix` (e.g. "patient-") goes before every
    citation anchor id, for pages that show both versions."""
    numbering = _Numbering(lookup=lookup, id_prefix=id_prefix)
    summary_html = tighten_citations(sanitise_inline(_convert_summary(summary, numbering))) if summary else ""
    body_html = tighten_citations(sanitise(_convert(body, numbering)))
    return RenderedText(
        summary_html=mark_safe(summary_html),  # noqa: S308 - sanitised by the inline allow-list
        body_html=mark_safe(body_html),  # noqa: S308 - sanitised by the allow-list
        references_html=mark_safe(sanitise(_reference_list(numbering))),  # noqa: S308 - sanitised
        cited=numbering.cited,
        unknown=numbering.unknown,
    )


# Writers type "a claim [@key]." with a space; typeset text puts the number right after the word.
_SPACE_BEFORE_CITATION = re.compile(r'\s+(<sup class="citation")')


def tighten_citations(html: str) -> str:
    """No space before a citation number (also applied to HTML frozen before this rule existed)."""
    return _SPACE_BEFORE_CITATION.sub(r"\1", html)


# Headings of sanitised HTML carry no attributes (the allow-list gives them none), so this pattern is exact.
_SECTION_HEADING = re.compile(r"<h2>(.*?)</h2>", re.DOTALL)


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str


def anchor_sections(html: str) -> tuple[str, list[Section]]:
    """Sanitised body HTML with an id on each h2, and the sections in order, for "On this page".
    The ids come from slugify (letters, digits, hyphens), so adding them after sanitising is safe."""
    sections: list[Section] = []

    def anchor(match: re.Match[str]) -> str:
        title = strip_tags(match.group(1)).strip()
        base = "section-" + (slugify(title)[:60] or str(len(sections) + 1))
        taken = {s.anchor for s in sections}
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        sections.append(Section(slug, title))
        return f'<h2 id="{slug}">{match.group(1)}</h2>'

    return _SECTION_HEADING.sub(anchor, html), sections


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
    if ref.metadata_status != "complete":
        # Only in the desk's previews: the workflow does not approve text citing an unfinished reference.
        from .references import lookup_sentence  # references.py imports the task queue; keep rendering light

        parts.append(format_html('<span class="reference-lookup">{}</span>', lookup_sentence(ref)))
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
