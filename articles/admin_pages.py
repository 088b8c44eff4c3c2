"""Admin for the public site's staff-written pages (kept apart from articles/admin.py)."""

from __future__ import annotations

from django.contrib import admin

from .models import SitePage


@admin.register(SitePage)
class SitePageAdmin(admin.ModelAdmin[SitePage]):
    list_display = ["title", "slug", "updated_at"]
    search_fields = ["title", "body"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary"]}),
        (
            "Text",
            {"fields": ["body"], "description": "Markdown: ## for headings, - for lists, [text](https://…) for links."},
        ),
        (None, {"fields": ["updated_at"]}),
    ]
