"""Who is who: the two editorial groups and the questions views and the workflow ask about a person."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

WRITERS = "Writers"
ADVISORY_BOARD = "Advisory Board"

# What each group may do in the Django admin and through model permissions (the workflow checks roles itself).
GROUP_PERMISSIONS = {
    WRITERS: [
        "add_article", "change_article", "view_article",
        "add_articlevariant", "change_articlevariant", "view_articlevariant",
        "add_articlereference", "delete_articlereference", "view_articlereference",
        "add_reference", "change_reference", "view_reference",
    ],
    ADVISORY_BOARD: [
        "view_article", "review_article", "view_articlevariant", "view_articlereference",
        "add_reference", "change_reference", "view_reference",
    ],
}  # fmt: skip


def ensure_editorial_groups(group_model: Any, permission_model: Any) -> None:
    """Create the two groups with their permissions if missing. Takes the models so the data migration
    can pass its historical ones; load_demo and tests pass the real ones (e.g. after a flush)."""
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(
            *permission_model.objects.filter(content_type__app_label="articles", codename__in=codenames)
        )


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


def signed_in(request: HttpRequest) -> User:
    """The person behind a login-required view: the decorator has already sent anonymous visitors to log in,
    so an anonymous user here is refused rather than passed on as if they were someone."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user
