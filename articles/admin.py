"""The editor-in-chief's tools: people, groups, the reference library. Status is read-only here:
decisions go through articles.workflow, never around it."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from .models import Article, ArticleReference, ArticleVariant, Profile, Reference


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["display_name", "credentials", "bio"]


class PersonAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "display_name", "email", "is_staff", "group_list"]
    list_select_related = ["profile"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Name")
    def display_name(self, user: User) -> str:
        profile = getattr(user, "profile", None)
        return profile.signature if profile else ""

    @admin.display(description="Groups")
    def group_list(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())


admin.site.unregister(User)
admin.site.register(User, PersonAdmin)


class ArticleVariantInline(admin.StackedInline):
    model = ArticleVariant
    extra = 0
    max_num = 2


class ArticleReferenceInline(admin.TabularInline):
    model = ArticleReference
    extra = 0
    autocomplete_fields = ["reference"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "topic", "status", "updated_at"]
    list_filter = ["status", "kind", "topic"]
    search_fields = ["title", "slug", "topic"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["status", "created_at", "updated_at"]
    filter_horizontal = ["authors"]
    inlines = [ArticleVariantInline, ArticleReferenceInline]


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ["key", "kind", "title", "source", "year", "doi", "pmid", "metadata_status"]
    list_filter = ["kind", "metadata_status"]
    search_fields = ["key", "title", "authors", "doi", "pmid"]
