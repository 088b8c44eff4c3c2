"""Age: guidelines and systematic reviews age after 5 years, other sources after 10; shown, not alarming."""

from __future__ import annotations

import time_machine
from django.test import override_settings

from articles.citations.age import AgeChecker
from articles.citations.verdicts import ALERTING, ReferenceToCheck, Standing


def ref(kind: str, year: int | None, id: int = 1) -> ReferenceToCheck:
    return ReferenceToCheck(id=id, kind=kind, year=year, doi=None, pmid=None, url="")


@time_machine.travel("2026-03-01", tick=False)
def test_each_kind_ages_after_its_own_number_of_years() -> None:
    batch = [ref("guideline", 2021, 1), ref("guideline", 2020, 2), ref("review", 2020, 3),
             ref("research", 2016, 4), ref("research", 2015, 5), ref("website", 2010, 6)]  # fmt: skip
    verdicts = AgeChecker().check(batch)
    assert [v.standing for v in verdicts] == [Standing.CLEAN, Standing.AGING, Standing.AGING,
                                              Standing.CLEAN, Standing.AGING, Standing.AGING]  # fmt: skip
    assert [v.reference_id for v in verdicts] == [1, 2, 3, 4, 5, 6]
    assert verdicts[1].summary == "Published in 2020: 6 years old, past the 5 years set for a guideline."
    assert verdicts[1].evidence == {"kind": "guideline", "year": 2020, "age_years": 6, "max_age_years": 5}
    assert all(v.checker == "age" and v.standing not in ALERTING for v in verdicts)


@time_machine.travel("2026-03-01", tick=False)
def test_limits_come_from_settings() -> None:
    with override_settings(GUIDELINE_MAX_AGE_YEARS=8, SOURCE_MAX_AGE_YEARS=3):
        verdicts = AgeChecker().check([ref("guideline", 2020), ref("research", 2022)])
    assert [v.standing for v in verdicts] == [Standing.CLEAN, Standing.AGING]


def test_the_same_reference_ages_as_time_passes() -> None:
    with time_machine.travel("2025-06-01", tick=False):
        assert AgeChecker().check([ref("review", 2020)])[0].standing == Standing.CLEAN
    with time_machine.travel("2026-01-02", tick=False):
        assert AgeChecker().check([ref("review", 2020)])[0].standing == Standing.AGING


def test_without_a_year_the_age_is_unknown_not_clean() -> None:
    (verdict,) = AgeChecker().check([ref("guideline", None)])
    assert verdict.standing == Standing.UNKNOWN
