from __future__ import annotations

from django.http import HttpRequest

from . import roles


def role_flags(request: HttpRequest) -> dict[str, bool]:
    """Lets the navigation show what the person's role can do (the server still checks every action)."""
    user = request.user
    return {
        "is_writer": roles.is_writer(user),
        "is_board_member": roles.is_board_member(user),
        "is_editor": roles.is_editor(user),
    }
