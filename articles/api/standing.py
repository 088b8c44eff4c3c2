"""Each cited source's current standing from the citation watch, for the API's reference lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def standings_for(reference_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """reference id → the latest verdict per checker (empty until the citation watch has checked it)."""
    return {}
