"""Nothing a writer types, or the library holds, can run script in a reader's browser."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from articles.models import Reference
from articles.rendering import ReferenceLookup, render_article_text, render_markdown

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    "<body onload=alert(1)>",
    '<a href="javascript:alert(1)">raw link</a>',
    "[md link](javascript:alert(1))",
    "[upper](JaVaScRiPt:alert(1))",
    "[spaced]( javascript:alert(1) )",
    "[entity](&#106;avascript:alert(1))",
    "[hex entity](&#x6A;&#x61;&#x76;&#x61;script:alert(1))",
    "[tab](java\tscript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    "![img data](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    '[ref link][x]\n\n[x]: javascript:alert(1) "title"',
    '[quote](https://ok.example/" onmouseover="alert(1))',
    '<a href="https://ok.example" onclick="alert(1)">click</a>',
    '<div title="x" onmouseover=alert(1)>hover</div>',
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    '<form action="javascript:alert(1)"><button>go</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<base href=javascript:alert(1)//>",
    "[@<script>alert(1)</script>]",
    '[@doi:10.1234/"><script>alert(1)</script>]',
    "[@doi:10.1234/<img/src=x/onerror=alert(1)>]",
    '[@key"onmouseover="alert(1)]',
    "*emphasis <img src=x onerror=alert(1)>*",
    "`<script>alert(1)</script>` in code is text",
    "```\n<script>alert(1)</script>\n```",
    "<!-- <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<details open ontoggle=alert(1)>",
    '<a href="&#x09;javascript:alert(1)">tab entity</a>',
]

DANGEROUS_SCHEME = re.compile(r"^(javascript|data|vbscript):", re.IGNORECASE)
C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
FORBIDDEN_TAGS = {"script", "style", "iframe", "svg", "math", "object", "embed", "form", "meta", "base", "img", "body"}


class Audit(HTMLParser):
    """Collects everything in the HTML that a browser could execute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in {"style", "srcdoc", "formaction"}:
                self.problems.append(f"{tag}[{name}]")
            # What a browser's URL parser does: strip leading/trailing controls and spaces, drop tabs and newlines.
            cleaned = re.sub(r"[\t\n\r]", "", html.unescape(value or "").strip(C0_AND_SPACE))
            if DANGEROUS_SCHEME.match(cleaned):
                self.problems.append(f"{tag}[{name}]={value}")


def executable_parts(markup: str) -> list[str]:
    audit = Audit()
    audit.feed(markup)
    problems = list(audit.problems)
    if "<script" in markup.lower():
        problems.append("<script")
    for tag in re.findall(r"<[a-zA-Z][^>]*>", markup):
        attribute_names = re.sub(r'"[^"]*"', '""', tag)  # a quoted value may mention "onclick=" harmlessly
        if re.search(r"\son\w+\s*=", attribute_names, re.IGNORECASE):
            problems.append(tag)
    return problems


def citing_lookup() -> ReferenceLookup:
    return ReferenceLookup.from_references([Reference(key="key", title="A title")])


def test_the_corpus_is_large_enough():
    assert len(PAYLOADS) >= 25


@pytest.mark.parametrize("payload", PAYLOADS)
def test_render_markdown_leaves_nothing_executable(payload):
    assert executable_parts(render_markdown(f"Before\n\n{payload}\n\nAfter [@key]")) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_render_article_text_leaves_nothing_executable(payload):
    rendered = render_article_text(f"Cited [@key]. {payload}\n\n- item {payload} [@key]", citing_lookup())
    assert executable_parts(rendered.body_html) == []
    assert executable_parts(rendered.references_html) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_library_fields_are_escaped_in_the_reference_list(payload):
    hostile = Reference(
        key="hostile",
        kind=Reference.Kind.WEBSITE,
        title=payload,
        authors=f"{payload}\nSmith J",
        source=payload,
        volume=payload[:40],
        pages=payload[:40],
        doi=f'10.1234/"><script>alert(1)</script>{payload}',
        pmid='1"><svg onload=alert(1)>',
        url="javascript:alert(1)",
    )
    rendered = render_article_text("[@hostile]", ReferenceLookup.from_references([hostile]))

    assert executable_parts(rendered.references_html) == []
    assert '<li id="ref-1">' in rendered.references_html  # the entry is still there, with the text escaped


def test_an_attacker_cannot_forge_citation_markers_with_private_characters():
    rendered = render_article_text("x [\ue0009.9\ue001@nokey] and \ue000 raw \ue001 then [@key]", citing_lookup())
    assert "\ue000" not in rendered.body_html and "\ue001" not in rendered.body_html
    assert "[9.9@nokey]" in rendered.body_html  # left as the text it is, not a marker
    assert [ref.key for ref in rendered.cited] == ["key"]
    assert rendered.unknown == []


def test_ordinary_formatting_survives():
    body = (
        "Some **bold** and *emphasis* with a [trial link](https://www.nejm.org/doi/full/10.1056/NEJMoa1804092).\n\n"
        "- first\n- second\n\n1. one\n2. two\n\n"
        "| Drug | Effect |\n|---|---|\n| dupilumab | fewer attacks |\n\n"
        "> a quotation\n\n## A heading\n\nCited [@key]."
    )
    for html_out in (render_markdown(body), render_article_text(body, citing_lookup()).body_html):
        assert "<strong>bold</strong>" in html_out and "<em>emphasis</em>" in html_out
        assert '<a href="https://www.nejm.org/doi/full/10.1056/NEJMoa1804092" rel="noopener noreferrer">' in html_out
        assert "<ul>\n<li>first</li>" in html_out and "<ol>\n<li>one</li>" in html_out
        assert "<table>" in html_out and "<td>dupilumab</td>" in html_out
        assert "<blockquote>" in html_out and "<h2>A heading</h2>" in html_out


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        '<img src=x OnError="alert(1)">',
        '<a href=" &#x09;JaVa&#x0A;script:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<iframe src="https://x.example"></iframe>',
    ],
)
def test_the_audit_itself_flags_unsanitised_markup(raw):
    assert executable_parts(raw) != []
