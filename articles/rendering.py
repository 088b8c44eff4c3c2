"""The one way Markdown becomes HTML on this site: Python-Markdown, then the nh3 allow-list sanitiser.

Nothing a writer types reaches a reader without passing `render_markdown`; raw HTML, event handlers and
`javascript:` / `data:` / `vbscript:` links are removed by the sanitiser, whatever the Markdown produced.
"""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

MARKDOWN_EXTENSIONS = ["tables", "footnotes", "sane_lists", "smarty"]

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
    "span": {"class"},
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
