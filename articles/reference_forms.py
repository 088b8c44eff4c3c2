"""Forms of the reference library: one reference typed by hand, and a paste of identifiers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from .identifiers import normalise_doi, normalise_pmcid, normalise_pmid
from .models import Reference

MAX_PASTED_IDENTIFIERS = 200


class ReferenceForm(forms.ModelForm[Reference]):
    # Declared wider than the model's columns: "https://doi.org/…" or "PMID: 123" is accepted and shortened.
    doi = forms.CharField(label="DOI", required=False, max_length=500, help_text="e.g. 10.1056/NEJMoa1304048")
    pmid = forms.CharField(label="PMID", required=False, max_length=40, help_text="PubMed id, e.g. 23688323")
    pmcid = forms.CharField(label="PMCID", required=False, max_length=40, help_text="e.g. PMC5122160")
    url = forms.URLField(label="URL", required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = Reference
        fields = ["key", "kind", "title", "authors", "source", "year", "volume", "pages", "doi", "pmid", "pmcid", "url"]
        widgets = {"title": forms.Textarea(attrs={"rows": 2}), "authors": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The metadata lookup may fill this reference while the page is open: with the values as
            # loaded kept in the page, only the fields the person changed are saved (see changed_data).
            for field in self.fields.values():
                field.show_hidden_initial = True

    def clean_doi(self) -> str | None:
        return self._identifier("doi", normalise_doi)

    def clean_pmid(self) -> str | None:
        return self._identifier("pmid", normalise_pmid)

    def clean_pmcid(self) -> str | None:
        return self._identifier("pmcid", normalise_pmcid)

    def _identifier(self, name: str, normalise: Callable[[str], str]) -> str | None:
        raw = self.cleaned_data.get(name) or ""
        if not raw.strip():
            return None  # NULL, not "": the unique constraint allows any number of references without one
        value = normalise(raw)
        duplicate = Reference.objects.filter(**{name: value}).exclude(pk=self.instance.pk).first()
        if duplicate:
            raise ValidationError(
                format_html(
                    '<a href="{}">{}</a> already has this {}. Cite that reference instead of adding it twice.',
                    reverse("library:detail", args=[duplicate.pk]),
                    duplicate.key,
                    self.fields[name].label,
                ),
                code="duplicate",
            )
        return value

    def save_changes(self) -> Reference:
        """Saves a new reference whole; an existing one only in the fields the person changed."""
        reference: Reference = self.save(commit=False)
        if reference._state.adding:
            reference.save()
        elif self.changed_data:
            reference.save(update_fields=[*self.changed_data, "updated_at"])
        return reference


class IdentifierPasteForm(forms.Form):
    identifiers = forms.CharField(
        label="DOIs and PMIDs, one per line",
        widget=forms.Textarea(attrs={"rows": 10, "placeholder": "10.1056/NEJMoa1304048\nPMID: 29782217"}),
        help_text="DOIs may be pasted as https://doi.org/… or doi:…; PMIDs as 23688323 or PMID: 23688323.",
        max_length=50_000,
    )

    def clean_identifiers(self) -> str:
        text: str = self.cleaned_data["identifiers"]
        count = sum(1 for line in text.splitlines() if line.strip())
        if count > MAX_PASTED_IDENTIFIERS:
            raise ValidationError(f"Paste at most {MAX_PASTED_IDENTIFIERS} identifiers at a time (got {count}).")
        return text
