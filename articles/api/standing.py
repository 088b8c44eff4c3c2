"""Each cited source's current standing from the citation watch, for the API's reference lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import watch


def standings_for(reference_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """reference id → the latest verdict per checker (empty until the citation watch has checked it)."""
    return {
        reference_id: [
            {"checker": c.checker, "standing": c.standing, "summary": c.summary, "checked_at": c.checked_at}
            for c in checks
        ]
        for reference_id, checks in watch.standings(reference_ids).items()
    }
