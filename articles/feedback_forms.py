"""Forms of reader feedback: the public question / problem forms and the writers' moderation forms.
They validate input; the rules (rate limit, states, who may act) live in articles.feedback."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from .feedback import MAX_REASON_LENGTH, MAX_REPLY_LENGTH, MAX_TEXT_LENGTH, MIN_TEXT_LENGTH
from .models import Article, Audience, ReaderFeedback

HONEYPOT_FIELD = "website"


class ReaderMessageForm(forms.Form):
    # No maxlength attribute on purpose: the browser would cut a pasted text silently; the server refuses
    # an over-long one with a message and gives the whole text back to shorten.
    text = forms.CharField(
        label="Your question",
        widget=forms.Textarea(attrs={"rows": 6, "aria-describedby": "privacy-notice"}),
        min_length=MIN_TEXT_LENGTH,
        error_messages={"min_length": "Please write a little more (at least %(limit_value)d characters)."},
    )
    email = forms.EmailField(
        label="Your email (optional)",
        required=False,
        max_length=254,
    )
    audience = forms.ChoiceField(choices=Audience.choices, required=False, widget=forms.HiddenInput)
    # The honeypot: hidden from people (and from screen readers); automated senders fill every field.
    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].help_text = (
            "Only if you would like a reply. We use it for nothing else and delete it "
            f"{settings.FEEDBACK_EMAIL_RETENTION_DAYS} days after you write."
        )

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"].strip()
        if len(text) > MAX_TEXT_LENGTH:
            raise forms.ValidationError(
                f"Please keep it under {MAX_TEXT_LENGTH} characters (this is {len(text)}). Your text is kept below."
            )
        return text

    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT_FIELD, "").strip())


class ProblemReportForm(ReaderMessageForm):
    category = forms.ChoiceField(
        label="What is wrong?", choices=ReaderFeedback.Category.choices, widget=forms.RadioSelect
    )
    field_order = ["category", "text", "email", "audience", "website"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].label = "Tell us what is wrong"


class AcceptForm(forms.Form):
    linked_article = forms.ModelChoiceField(
        queryset=Article.objects.order_by("title"),
        required=False,
        label="Taken up by",
        empty_label="This article (an edit)",
        help_text="Or the article that answers it, e.g. a new article started for this question.",
    )


class AnswerForm(forms.Form):
    reply = forms.CharField(label="Your reply", widget=forms.Textarea(attrs={"rows": 6}), max_length=MAX_REPLY_LENGTH)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Why it is declined",
        max_length=MAX_REASON_LENGTH,
        help_text="Kept for the team; the reader is not emailed.",
    )


class ChangeNoteForm(forms.Form):
    change_note = forms.CharField(
        label="Public change note",
        required=False,
        max_length=200,
        help_text="One line readers see under “Updates”, e.g. “Added the 2026 guideline's advice on dosing.”",
    )
