"""Import an article written elsewhere as a draft: `manage.py import_article FILE --audience patient
--author USERNAME [--title …] [--topic …] [--kind qa|news] [--bib FILE]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from articles.importers import ImportFailed, import_article
from articles.models import Article, Audience


class Command(BaseCommand):
    help = "Import a flattened Q&A text or a Markdown article (with BibTeX / CSL-JSON) as a draft."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--audience", required=True, choices=Audience.values)
        parser.add_argument("--author", required=True, help="Username of the writer who will own the draft.")
        parser.add_argument("--title", default="")
        parser.add_argument("--topic", default="")
        parser.add_argument("--kind", default=Article.Kind.QA, choices=Article.Kind.values)
        parser.add_argument("--bib", type=Path, help="A BibTeX (.bib) or CSL-JSON (.json) file of references.")

    def handle(self, *args: Any, **options: Any) -> None:
        author = get_user_model().objects.filter(username=options["author"]).first()
        if author is None:
            raise CommandError(f"No user called “{options['author']}”.")
        bib: Path | None = options["bib"]
        try:
            report = import_article(
                _read(options["file"]),
                audience=options["audience"],
                author=author,
                title=options["title"],
                topic=options["topic"],
                kind=options["kind"],
                bibliography=_read(bib) if bib else "",
                bibliography_name=bib.name if bib else "",
            )
        except ImportFailed as error:
            raise CommandError(f"{options['file']}: {error} Nothing was imported.") from error
        self.stdout.write("\n".join(report.lines()))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Cannot read {path}: {error}") from error
