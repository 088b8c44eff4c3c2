from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from . import roles


def role_flags(request: HttpRequest) -> dict[str, Callable[[], bool]]:
    """Lets the navigation show what the person's role can do (the server still checks every action).

    Callables, which templates call only when they use them: a page that shows no navigation (the error
    pages, which must render with the database down) then makes no query for them.
    """
    user = request.user
    return {
        "is_writer": lambda: roles.is_writer(user),
        "is_board_member": lambda: roles.is_board_member(user),
        "is_editor": lambda: roles.is_editor(user),
    }
