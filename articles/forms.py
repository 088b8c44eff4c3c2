"""Forms of the writing and review pages. They validate input; the rules live in articles.workflow."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from .editing import ArticleText, VariantText
from .models import Article, Audience, ReviewAssignment, ReviewRound
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


class DecisionForm(forms.Form):
    """What every review decision carries: the content version (and revision) the person was shown, so
    the workflow can refuse the decision if the text changed since; and, for an editor acting outside the
    editor's assignment, the reason for overriding it."""

    seen_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    seen_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)
    override_reason = forms.CharField(
        required=False,
        label="Why you are deciding although other reviewers are assigned",
        help_text="Recorded with your decision as an editor's override.",
    )
    id_prefix = ""

    def __init__(self, *args: Any, override: bool = False, **kwargs: Any) -> None:
        # Several decision forms share a page: each gets its own ids so every label stays on its box.
        kwargs.setdefault("auto_id", f"{self.id_prefix}%s" if self.id_prefix else "id_%s")
        super().__init__(*args, **kwargs)
        if not override:
            del self.fields["override_reason"]

    def seen(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"seen_version": data["seen_version"], "seen_revision": data.get("seen_revision")}

    def override_text(self) -> str:
        return str(self.cleaned_data.get("override_reason", ""))


class RequestChangesForm(DecisionForm):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), label="What needs to change", help_text="Required."
    )
    id_prefix = "changes-"


class _ConflictDeclaration(forms.Form):
    CONFLICT_CHOICES = [("none", "I have no conflict of interest"), ("declared", "My conflict is:")]

    conflict = forms.ChoiceField(choices=CONFLICT_CHOICES, widget=forms.RadioSelect, label="Conflict of interest")
    conflict_detail = forms.CharField(required=False, label="Describe the conflict")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note (optional)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("conflict") == "declared" and not data.get("conflict_detail", "").strip():
            self.add_error("conflict_detail", "Describe the conflict, or choose “I have no conflict of interest”.")
        return data

    def declaration(self) -> str:
        data = self.cleaned_data
        return "None declared" if data["conflict"] == "none" else data["conflict_detail"].strip()


class ApproveForm(_ConflictDeclaration, DecisionForm):
    # Shown only when re-approving a live article; required there for a substantive change (corrections.py).
    change_note = forms.CharField(
        required=False,
        max_length=200,
        label="Public change note",
        help_text="One line readers see under “Updates” on the article and on /updates/.",
    )


class ConfirmForm(_ConflictDeclaration, DecisionForm):
    id_prefix = "confirm-"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("override_reason", None)  # re-review has no assignment to override


class StartReviewForm(DecisionForm):
    id_prefix = "start-"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Starting is not a decision on the text; only an editor's override reason travels with it.
        self.fields["seen_version"].required = False


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Add a comment")


class ReviewerChoiceField(forms.ModelMultipleChoiceField[User]):
    def label_from_instance(self, obj: Any) -> str:
        profile = getattr(obj, "profile", None)
        name = profile.signature if profile else obj.get_username()
        count = getattr(obj, "open_reviews", 0)
        return f"{name} · {count} open review{'s' if count != 1 else ''}"


def board_members_with_workload() -> Any:
    """Active Advisory Board members with their number of undecided reviews in open rounds."""
    open_reviews = Count(
        "review_assignments",
        filter=Q(
            review_assignments__review_round__outcome=ReviewRound.Outcome.OPEN,
            review_assignments__recommendation=ReviewAssignment.Recommendation.PENDING,
        ),
    )
    return (
        User.objects.filter(groups__name=ADVISORY_BOARD, is_active=True)
        .select_related("profile")
        .annotate(open_reviews=open_reviews)
        .order_by("profile__display_name", "username")
    )


class AssignForm(forms.Form):
    reviewers = ReviewerChoiceField(
        queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple, label="Reviewers"
    )
    due_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Due on",
        help_text="Empty: the usual review time. A date also replaces the due date of reviewers already assigned.",
    )

    def __init__(self, *args: Any, exclude_ids: Iterable[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Those who wrote the text cannot review it: they are not offered.
        reviewers = self.fields["reviewers"]
        assert isinstance(reviewers, ReviewerChoiceField)
        reviewers.queryset = board_members_with_workload().exclude(pk__in=list(exclude_ids))

    def clean_due_on(self) -> date | None:
        due_on = self.cleaned_data.get("due_on")
        if due_on is not None and due_on <= timezone.localdate():
            raise forms.ValidationError("Choose a date after today.")
        return due_on

    def due_at(self) -> datetime | None:
        due_on = self.cleaned_data["due_on"]
        return timezone.make_aware(datetime.combine(due_on, time(23, 59))) if due_on else None


class UnassignForm(forms.Form):
    reviewer = forms.ModelChoiceField(queryset=User.objects.filter(groups__name=ADVISORY_BOARD))
