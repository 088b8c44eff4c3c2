"""Checks cited references now: the due ones (the daily sweep), one article's, or all of them.

Without --sync the batches go to the Celery workers and this command follows their progress; with
--sync they run here, in this process, without a worker. Either way it ends with a table of verdicts.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from articles import tasks, watch
from articles.models import Article, Reference, ReferenceCheck, severity_rank

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Check cited references against Crossref, PubMed, their links and their age."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--article", metavar="SLUG", help="only the references this article cites")
        which.add_argument("--all", action="store_true", help="every reference in the library, due or not")
        parser.add_argument("--sync", action="store_true", help="run here, without a Celery worker")
        parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the workers")

    def handle(self, *args: Any, **options: Any) -> None:
        # OutputWrapper writes like a text stream; rich only needs write() and flush().
        console = Console(file=cast(IO[str], self.stdout), force_terminal=False)
        plan = self._plan(options)
        console.print(f"Checking {plan.reference_count} reference(s) in {len(plan.batches)} batch(es).")
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            bar = progress.add_task("batches", total=len(plan.batches))
            if options["sync"]:
                for batch in plan.batches:
                    watch.run_batch(batch)
                    watch.batch_finished(batch)
                    progress.advance(bar)
            else:
                self._follow_workers(plan, progress, bar, options["timeout"])
        console.print(verdict_table(plan.run))

    def _plan(self, options: dict[str, Any]) -> watch.SweepPlan:
        if options["article"]:
            article = Article.objects.filter(slug=options["article"]).first()
            if article is None:
                raise CommandError(f"No article with the slug {options['article']!r}.")
            ids = list(article.references.values_list("pk", flat=True))
            return watch.plan_sweep(timezone.now(), reference_ids=ids)
        if options["all"]:
            return watch.plan_sweep(timezone.now(), reference_ids=Reference.objects.values_list("pk", flat=True))
        return watch.plan_sweep(timezone.now())

    def _follow_workers(self, plan: watch.SweepPlan, progress: Progress, bar: Any, timeout: int) -> None:
        for batch in plan.batches:
            tasks.check_citation_batch.delay(batch.as_message())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = watch.batches_done(plan.run)
            progress.update(bar, completed=done)
            if done >= len(plan.batches) and (not plan.batches or watch.run_finished(plan.run)):
                return
            time.sleep(POLL_SECONDS)
        raise CommandError("The workers did not finish in time (is a Celery worker running?).")


def verdict_table(run: str) -> Table:
    """How many references each checker found in each standing, in this run."""
    counts = Counter(ReferenceCheck.objects.filter(run=run).values_list("checker", "standing"))
    checkers = sorted({checker for checker, _ in counts})
    table = Table(title="Verdicts")
    table.add_column("Standing")
    for checker in checkers:
        table.add_column(checker, justify="right")
    table.add_column("total", justify="right")
    for standing in sorted({s for _, s in counts}, key=severity_rank):
        row = [counts[(checker, standing)] for checker in checkers]
        table.add_row(standing.replace("_", " "), *map(str, row), str(sum(row)))
    return table
