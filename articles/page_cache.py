"""The public page cache's one entry point for "something a reader can see has changed".

Whoever changes what a reader sees — a publication, a withdrawal, a reader notice opened or closed by the
citation watch, an edit of a site page, a correction note — calls `public_pages_changed(article_id)`
(or with no id for site-wide pages) after the change is committed. The page cache (issue 11) makes the
next request for those pages render afresh, across every process, and the syndication API reads the
same signal for its `modified_since` feed.
"""

from __future__ import annotations


def public_pages_changed(article_id: int | None = None) -> None:
    """Record that an article's public pages (or, with no id, every public page) changed."""
    # Placeholder until the page cache lands: nothing is cached yet, so there is nothing to invalidate.
    return None
