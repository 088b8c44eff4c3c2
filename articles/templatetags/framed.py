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
    nodelist = parser.parse(("endlive",))
    parser.delete_first_token()
    return LiveNode(nodelist)
