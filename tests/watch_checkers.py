"""A checker for tests of the watch's own rules (due dates, claims, alerts, notices, pages): it answers
what the test scripted for each DOI, like a Crossref that already knows. The real checkers answer the
loopback services in test_citation_checkers and test_link_checker, and run through a real worker over
demo-like sources in test_citation_sweep_worker."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date

from articles.citations.verdicts import ReferenceToCheck, Standing, Verdict

FINDINGS: dict[str, tuple[Standing, str, date | None]] = {}  # DOI → what the "service" says
BATCHES: list[list[int]] = []  # reference ids of every batch checked, in order


class ScriptedDoiChecker:
    name = "crossref"
    batch_size = 2

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
        BATCHES.append([r.id for r in batch])
        verdicts = []
        for reference in batch:
            standing, summary, day = FINDINGS.get(reference.doi or "", (Standing.CLEAN, "No notice.", None))
            verdicts.append(Verdict(reference.id, self.name, standing, summary, {"doi": reference.doi}, day))
        return verdicts


class SlowChecker:
    """Takes a moment per batch (like a distant service) and finds nothing: a sweep long enough to kill a
    worker in the middle of it."""

    name = "slow"
    batch_size = 2
    seconds = 0.4

    def check(self, batch: Sequence[ReferenceToCheck]) -> list[Verdict]:
        time.sleep(self.seconds)
        return [Verdict(r.id, self.name, Standing.CLEAN, "Nothing found.") for r in batch]
