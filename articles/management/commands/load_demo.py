"""Loads the demo people, references and the two demo articles. Idempotent: existing rows are left as
they are, so a second run changes nothing (and never overwrites edits made since the first)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from articles import demo_content, versioning, workflow
from articles.models import Article, ArticleReference, ArticleVariant, Reference
from articles.roles import ensure_editorial_groups


class Command(BaseCommand):
    help = "Create demo users, references and articles (local development only)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            ensure_editorial_groups(Group, Permission)
            people = {person["username"]: self._person(person) for person in demo_content.PEOPLE}
            references = {ref["key"]: self._reference(ref) for ref in demo_content.REFERENCES}
            created = [
                self._article(spec, people["writer"], references)
                for spec in demo_content.ARTICLES
                if not Article.objects.filter(slug=spec["slug"]).exists()
            ]
            for article in created:
                # Demo articles reach readers the only way any article does: through the workflow.
                workflow.submit(article, by=people["writer"])
                workflow.start_review(article, by=people["reviewer"])
                workflow.approve(
                    article,
                    by=people["reviewer"],
                    conflict_of_interest="None declared",
                    seen_version=article.content_version,
                )
        self.stdout.write(f"Demo content ready ({len(created)} article(s) created).")

    def _person(self, spec: dict[str, Any]) -> User:
        user, created = User.objects.get_or_create(
            username=spec["username"],
            defaults={"email": spec["email"], "is_staff": spec.get("staff", False)},
        )
        if created:
            user.set_password(spec["password"])
            user.is_superuser = spec.get("staff", False)
            user.save()
            profile = user.profile
            profile.display_name = spec["display_name"]
            profile.credentials = spec["credentials"]
            profile.bio = spec["bio"]
            profile.specialty = spec.get("specialty", "")
            profile.disclosures = spec.get("disclosures", "")
            profile.save()
            if spec["group"]:
                user.groups.add(Group.objects.get(name=spec["group"]))
        return user

    def _reference(self, spec: dict[str, Any]) -> Reference:
        reference, _ = Reference.objects.get_or_create(key=spec["key"], defaults=spec)
        return reference

    def _article(self, spec: dict[str, Any], writer: User, references: dict[str, Reference]) -> Article:
        article = Article.objects.create(slug=spec["slug"], title=spec["title"], kind=spec["kind"], topic=spec["topic"])
        with versioning.article_revision(article, by=writer, comment="Demo content loaded"):
            article.authors.add(writer)
            for audience, fields in spec["variants"].items():
                # Stored as the editor stores text (trimmed), so a first edit shows no phantom change.
                ArticleVariant.objects.create(
                    article=article, audience=audience, **{k: v.strip() for k, v in fields.items()}
                )
            for key in spec["references"]:
                ArticleReference.objects.create(article=article, reference=references[key])
        return article
