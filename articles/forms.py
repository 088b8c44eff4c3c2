"""Forms of the writing and review pages. They validate input; the rules live in articles.workflow."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User

from .editing import ArticleText, VariantText
from .models import Article, Audience
from .rendering import validate_body
from .roles import ADVISORY_BOARD


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=300, help_text="The question (Q&A) or the headline (news).")
    kind = forms.ChoiceField(choices=Article.Kind.choices)
    topic = forms.CharField(max_length=80, help_text="e.g. Asthma, Dermatology")
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    base_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)
    comment = forms.CharField(
        max_length=200, required=False, label="What changed (optional)", help_text="Shown in the article's history."
    )


class VariantForm(forms.Form):
    title = forms.CharField(max_length=300, required=False, label="Heading shown")
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Bottom line", validators=[validate_body]
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24}),  # data-preview-target is set per audience below
        required=False,
        label="Text (Markdown)",
        validators=[validate_body],
        help_text="Cite with [@key], several with [@key1; @key2], or straight from [@doi:…] / [@pmid:…].",
    )


def variant_forms(data: Any = None, initial: dict[str, VariantText] | None = None) -> dict[str, VariantForm]:
    initial = initial or {}
    forms_by_audience = {
        audience: VariantForm(data, prefix=audience, initial=vars(initial[audience]) if audience in initial else None)
        for audience in Audience.values
    }
    for audience, form in forms_by_audience.items():
        form.fields["body"].widget.attrs["data-preview-target"] = f"preview-{audience}"
    return forms_by_audience


def article_text(article_form: ArticleForm, forms_by_audience: dict[str, VariantForm]) -> ArticleText:
    data = article_form.cleaned_data
    variants = {a: VariantText(**f.cleaned_data) for a, f in forms_by_audience.items()}
    return ArticleText(data["title"], data["kind"], data["topic"], variants)


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class RequestChangesForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), label="What needs to change", help_text="Required."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Shown beside the approval form, which has a "note" too: its own ids keep each label on its box.
        kwargs.setdefault("auto_id", "changes-%s")
        super().__init__(*args, **kwargs)


class ApproveForm(forms.Form):
    CONFLICT_CHOICES = [("none", "I have no conflict of interest"), ("declared", "My conflict is:")]

    conflict = forms.ChoiceField(choices=CONFLICT_CHOICES, widget=forms.RadioSelect, label="Conflict of interest")
    conflict_detail = forms.CharField(required=False, label="Describe the conflict")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note (optional)")
    # Shown only when re-approving a live article; required there for a substantive change (corrections.py).
    change_note = forms.CharField(
        required=False,
        max_length=200,
        label="Public change note",
        help_text="One line readers see under “Updates” on the article and on /updates/.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("conflict") == "declared" and not data.get("conflict_detail", "").strip():
            self.add_error("conflict_detail", "Describe the conflict, or choose “I have no conflict of interest”.")
        return data

    def declaration(self) -> str:
        data = self.cleaned_data
        return "None declared" if data["conflict"] == "none" else data["conflict_detail"].strip()


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Add a comment")


class AssignForm(forms.Form):
    reviewers = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(groups__name=ADVISORY_BOARD, is_active=True).select_related("profile"),
        widget=forms.CheckboxSelectMultiple,
    )
    due_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Due on")
