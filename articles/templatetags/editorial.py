from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from ..rendering import render_markdown

register = template.Library()


@register.filter
def safe_markdown(text: str) -> SafeString:
    """Markdown through the site's one renderer and sanitiser."""
    return render_markdown(text or "")
