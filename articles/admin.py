"""The editor-in-chief's tools: people, groups, the reference library. Status is read-only here:
decisions go through articles.workflow, never around it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db import models
from django.http import HttpRequest
from reversion.admin import VersionAdmin

from . import editing, page_cache, workflow
from .models import (
    Article,
    ArticleReference,
    ArticleUpdate,
    ArticleVariant,
    Profile,
    Publication,
    ReaderFeedback,
    Reference,
    ReviewAssignment,
    WorkflowEvent,
)


class ProfileInline(admin.StackedInline[Profile, User]):
    model = Profile
    can_delete = False
    fields = ["display_name", "credentials", "specialty", "bio", "disclosures"]


class PersonAdmin(UserAdmin[User]):
    inlines = [ProfileInline]
    list_display = ["username", "display_name", "email", "is_staff", "group_list"]
    list_select_related = ["profile"]

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).prefetch_related("groups")

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Saving the new user has already made its profile (articles.signals); the inline's profile
        # fills that one in rather than inserting a second profile for the same person.
        if formset.model is Profile:
            existing = Profile.objects.filter(user=form.instance).first()
            for profile_form in formset.forms:
                if existing and profile_form.instance.pk is None:
                    profile_form.instance.pk = existing.pk
                    profile_form.instance._state.adding = False
        super().save_formset(request, form, formset, change)

    @admin.display(description="Name")
    def display_name(self, user: User) -> str:
        profile = getattr(user, "profile", None)
        return profile.signature if profile else ""

    @admin.display(description="Groups")
    def group_list(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())


admin.site.unregister(User)
admin.site.register(User, PersonAdmin)


class ArticleVariantInline(admin.StackedInline[ArticleVariant, Article]):
    model = ArticleVariant
    extra = 0
    max_num = 2


class ArticleReferenceInline(admin.TabularInline[ArticleReference, Article]):
    model = ArticleReference
    extra = 0
    autocomplete_fields = ["reference"]


@admin.register(Article)
class ArticleAdmin(VersionAdmin):  # type: ignore[misc]  # django-reversion ships no types
    """History and recover come from django-reversion. Status is never editable here, and a change saved
    here has the same consequences as one saved in the editor (approved → new draft)."""

    list_display = ["title", "kind", "topic", "status", "content_version", "updated_at"]
    list_filter = ["status", "kind", "topic"]
    search_fields = ["title", "slug", "topic"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = [
        "status",
        "content_version",
        "approved_at",
        "live_publication",
        "public_changed_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["rereview_notified_at"]
    filter_horizontal = ["authors"]
    inlines = [ArticleVariantInline, ArticleReferenceInline]

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        # An unchanged form saves nothing, so no revision is recorded for it.
        if not change or form.has_changed():
            super().save_model(request, obj, form, change)
        if change and "slug" in form.changed_data:
            # Stored pages are keyed by address: the old one must stop answering at once (rare: renew all).
            page_cache.public_pages_changed()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if change and (form.has_changed() or any(formset.has_changed() for formset in formsets)):
            editing.record_admin_edit(form.instance, by=request.user)


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """The record of the workflow: visible to editors, never written from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkflowEvent)
class WorkflowEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "article", "action", "actor", "from_status", "to_status", "content_version"]
    list_filter = ["action"]
    list_select_related = ["article", "actor"]
    search_fields = ["article__title", "note"]


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["review_round", "reviewer", "recommendation", "due_at", "decided_at", "conflict_of_interest"]
    list_select_related = ["review_round__article", "reviewer"]


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    list_display = ["title", "approved_at", "content_version", "revision"]
    list_select_related = ["revision"]


@admin.register(ReaderFeedback)
class ReaderFeedbackAdmin(ReadOnlyAdmin):
    """Moderation happens on the desk (articles.feedback); here editors can look things up."""

    list_display = ["received_at", "article", "kind", "category", "status", "decided_by"]
    list_filter = ["kind", "category", "status"]
    list_select_related = ["article", "decided_by"]
    search_fields = ["article__title", "text"]
    exclude = ["email"]  # only the reply needs it, and it is erased after FEEDBACK_EMAIL_RETENTION_DAYS


@admin.register(ArticleUpdate)
class ArticleUpdateAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "article", "kind", "note", "by"]
    list_filter = ["kind"]
    list_select_related = ["article", "by"]


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin[Reference]):
    list_display = ["key", "kind", "title", "source", "year", "doi", "pmid", "metadata_status"]
    list_filter = ["kind", "metadata_status"]
    search_fields = ["key", "title", "authors", "doi", "pmid"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # as the library's own form

    def save_model(self, request: HttpRequest, obj: Reference, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            # As in the library: articles in review citing it get a new version, so no decision loaded before
            # this change can bind it.
            workflow.reference_edited(obj, by=request.user)
