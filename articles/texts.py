"""The editor's view of an article's text, shared by editing, versioning, diffs and forms."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VariantText:
    title: str
    summary: str
    body: str


@dataclass(frozen=True)
class ArticleText:
    title: str
    kind: str
    topic: str
    variants: dict[str, VariantText] = field(default_factory=dict)
