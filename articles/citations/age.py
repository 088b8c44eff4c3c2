"""Age: a source older than the configured years for its kind is shown as aging (not alarming).

Half of clinical guidelines are out of date after about 5.8 years, so guidelines and systematic reviews
age faster than other sources. Only the publication year is known for most references, so age is counted
in calendar years: a 2020 guideline is six years old throughout 2026.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.utils import timezone

from .verdicts import ReferenceToCheck, Standing, Verdict

KIND_NAMES = {"guideline": "guideline", "review": "systematic review"}


def max_age_years(kind: str) -> int:
    """The age (in years) after which a source of this Reference.Kind counts as aging."""
    if kind == "guideline":
        return int(settings.GUIDELINE_MAX_AGE_YEARS)
    if kind == "review":
        return int(settings.REVIEW_MAX_AGE_YEARS)
    return int(settings.SOURCE_MAX_AGE_YEARS)


class AgeChecker:
    """No network: judges every reference from its kind and year against today's date."""

    name = "age"
    batch_size = 1000

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
        this_year = timezone.localdate().year
        return [self._judge(reference, this_year) for reference in batch]

    def _judge(self, reference: ReferenceToCheck, this_year: int) -> Verdict:
        limit = max_age_years(reference.kind)
        kind = KIND_NAMES.get(reference.kind, "source")
        if reference.year is None:
            return Verdict(reference.id, self.name, Standing.UNKNOWN,
                           "No publication year is recorded, so its age cannot be judged.",
                           {"kind": reference.kind, "max_age_years": limit})  # fmt: skip
        age = this_year - reference.year
        evidence = {"kind": reference.kind, "year": reference.year, "age_years": age, "max_age_years": limit}
        if age > limit:
            summary = f"Published in {reference.year}: {age} years old, past the {limit} years set for a {kind}."
            return Verdict(reference.id, self.name, Standing.AGING, summary, evidence)
        return Verdict(reference.id, self.name, Standing.CLEAN, f"Published in {reference.year} ({age} years old).",
                       evidence)  # fmt: skip
