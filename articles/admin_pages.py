"""Admin for the public site's staff-written pages (kept apart from articles/admin.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import SitePage
from .page_cache import public_pages_changed


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

    # Site pages are linked from every public page (policy, disclaimer): any change renews them all.
    def save_model(self, request: HttpRequest, obj: SitePage, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        public_pages_changed()

    def delete_model(self, request: HttpRequest, obj: SitePage) -> None:
        super().delete_model(request, obj)
        public_pages_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SitePage]) -> None:
        super().delete_queryset(request, queryset)
        public_pages_changed()
