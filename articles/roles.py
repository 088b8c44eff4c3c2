"""Who is who: the two editorial groups and the questions views and the workflow ask about a person."""

from __future__ import annotations

from typing import Any

WRITERS = "Writers"
ADVISORY_BOARD = "Advisory Board"


def group_names(user: Any) -> frozenset[str]:
    """The user's group names, read once per request and kept on the user object."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_contentreview_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._contentreview_groups = cached
    return cached


def is_writer(user: Any) -> bool:
    return WRITERS in group_names(user)


def is_board_member(user: Any) -> bool:
    return ADVISORY_BOARD in group_names(user)


def is_editor(user: Any) -> bool:
    """The editor-in-chief and other staff: manage people and see everything."""
    return bool(getattr(user, "is_authenticated", False) and user.is_staff)
