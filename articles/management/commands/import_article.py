"""Import an article written elsewhere as a draft: `manage.py import_article FILE --audience patient
--author USERNAME [--title …] [--topic …] [--kind qa|news] [--bib FILE] [--dry-run]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from articles.importers import ImportFailed, import_article, plan_import, read_import_file
from articles.models import Article, Audience


class Command(BaseCommand):
    help = "Import a flattened Q&A text, a Markdown article (with BibTeX / CSL-JSON) or a .docx as a draft."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--audience", required=True, choices=Audience.values)
        parser.add_argument("--author", required=True, help="Username of the writer who will own the draft.")
        parser.add_argument("--title", default="")
        parser.add_argument("--topic", default="")
        parser.add_argument("--kind", default=Article.Kind.QA, choices=Article.Kind.values)
        parser.add_argument("--bib", type=Path, help="A BibTeX (.bib) or CSL-JSON (.json) file of references.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would be created; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        author = get_user_model().objects.filter(username=options["author"]).first()
        if author is None:
            raise CommandError(f"No user called “{options['author']}”.")
        bib: Path | None = options["bib"]
        try:
            text, bibliography = _read(options["file"]), _read(bib) if bib else ""
            arguments = {
                "audience": options["audience"],
                "title": options["title"],
                "topic": options["topic"],
                "kind": options["kind"],
                "bibliography": bibliography,
                "bibliography_name": bib.name if bib else "",
            }
            if options["dry_run"]:
                plan = plan_import(text, **arguments)
                self.stdout.write(f"Would import “{plan.title}” (nothing written):")
                self.stdout.write("\n".join(f"[{note.level}] {note.text}" for note in plan.notes()))
                return
            report = import_article(text, author=author, **arguments)
        except ImportFailed as error:
            raise CommandError(f"{options['file']}: {error} Nothing was imported.") from error
        self.stdout.write("\n".join(f"[{note.level}] {note.text}" for note in report.notes()))


def _read(path: Path) -> str:
    """The same checks and size limit as the upload form (importers.read_import_file)."""
    try:
        with path.open("rb") as stream:
            return read_import_file(stream, path.name)
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
