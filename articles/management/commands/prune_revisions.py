"""Deletes old draft revisions. Never deletes a revision that a publication or a workflow event points to
(the record of what was submitted and approved), nor an article's latest revision (the current text)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from reversion.models import Revision, Version

from articles.models import Article, Publication, WorkflowEvent


def protected_revision_ids() -> set[int]:
    published = Publication.objects.exclude(revision=None).values_list("revision_id", flat=True)
    acted_on = WorkflowEvent.objects.exclude(revision=None).values_list("revision_id", flat=True)
    latest = (
        Version.objects.get_for_model(Article)
        .values("object_id")
        .annotate(latest=Max("revision_id"))
        .values_list("latest", flat=True)
    )
    return {*published, *acted_on, *latest}


def prune(keep_days: int, *, dry_run: bool = False) -> int:
    cutoff = timezone.now() - timedelta(days=keep_days)
    with transaction.atomic():
        old = Revision.objects.filter(date_created__lt=cutoff).exclude(pk__in=protected_revision_ids())
        count: int = old.count()
        if not dry_run:
            old.delete()  # cascades to the revision's versions only
    return count


class Command(BaseCommand):
    help = "Delete draft revisions older than --keep-days, keeping every published or event-referenced one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep-days", type=int, required=True)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        count = prune(options["keep_days"], dry_run=options["dry_run"])
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {count} revision(s) older than {options['keep_days']} days.")
