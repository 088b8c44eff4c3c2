"""`{% live %}…{% endlive %}`: a part of a page rendered on every request, around a frame rendered once
(see articles/framed.py)."""

from __future__ import annotations

from django import template
from django.template.base import Parser, Token

from ..framed import LiveNode

register = template.Library()


@register.tag
def live(parser: Parser, token: Token) -> LiveNode:
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("{% live %} takes no arguments")
    if any(command in ("for", "with") for command, *_ in parser.command_stack):
        # Rendered later on its own, it would not see the loop's or with's variables.
        raise template.TemplateSyntaxError("{% live %} cannot stand inside {% for %} or {% with %}")
    nodelist = parser.parse(("endlive",))
    parser.delete_first_token()
    return LiveNode(nodelist)
