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
from .models.editorial import PROVISIONAL_KEY_PREFIX
from .references import key_base, unique_key

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
        # A placeholder key is never shown: left empty, one is made from the first author and year.
        self.fields["key"].required = False
        self.fields[
            "key"
        ].help_text = "Cited in the text as [@key]. Leave empty to make one from the first author and year."
        self._key_was_provisional = bool(self.instance.pk) and self.instance.has_provisional_key
        if self._key_was_provisional:
            self.initial["key"] = ""
        if self.instance.pk:
            # The metadata lookup may fill this reference while the page is open: with the values as
            # loaded kept in the page, only the fields the person changed are saved (see changed_data).
            for field in self.fields.values():
                field.show_hidden_initial = True

    def clean_key(self) -> str:
        key: str = (self.cleaned_data.get("key") or "").strip()
        if key.startswith(PROVISIONAL_KEY_PREFIX):
            raise ValidationError(f"Keys starting “{PROVISIONAL_KEY_PREFIX}” are kept for references being looked up.")
        if key and Reference.objects.filter(key=key).exclude(pk=self.instance.pk).exists():
            raise ValidationError(
                f"Another reference already uses the key “{key}”. Choose another, e.g. “{unique_key(key)}”.",
                code="duplicate",
            )
        return key

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("key") and not self.has_error("key"):
            if self.instance.pk and not self.instance.has_provisional_key and "key" not in self.changed_data:
                # Shown empty while it was provisional; the lookup gave it a real key meanwhile.
                cleaned["key"] = self.instance.key
            elif self.instance.pk and not self.instance.has_provisional_key:
                self.add_error("key", "Give the reference a key.")
            else:
                authors = [line.strip() for line in (cleaned.get("authors") or "").splitlines() if line.strip()]
                cleaned["key"] = unique_key(
                    key_base(authors[0] if authors else "", cleaned.get("year")), exclude_pk=self.instance.pk
                )
                self.instance.key = cleaned["key"]
        return cleaned

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
        typed = [*self.changed_data]
        if self._key_was_provisional or "key" in typed:
            reference.key = self.cleaned_data["key"]
            typed.append("key")
        if reference.metadata_status != Reference.MetadataStatus.COMPLETE and reference.title.strip():
            # Details typed by a person finish the reference: the lookup no longer owes it anything.
            reference.metadata_status, reference.metadata_error = Reference.MetadataStatus.COMPLETE, ""
            typed += ["metadata_status", "metadata_error"]
        if reference._state.adding:
            reference.save()
        elif typed:
            reference.save(update_fields=[*dict.fromkeys(typed), "updated_at"])
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
