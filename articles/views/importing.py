"""The writers' upload form for importing an article written elsewhere."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .. import roles
from ..importers import ImportFailed
from ..importers import import_article as run_import
from ..models import Article, Audience

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A Q&A copied from a web page (plain text), or Markdown with [@key] citations.")
    bibliography = forms.FileField(
        required=False, help_text="Optional: the references as BibTeX (.bib) or CSL-JSON (.json)."
    )
    audience = forms.ChoiceField(choices=Audience.choices, help_text="The version the text goes into.")
    kind = forms.ChoiceField(choices=Article.Kind.choices, initial=Article.Kind.QA)
    title = forms.CharField(max_length=300, required=False, help_text="Leave empty to take it from the file.")
    topic = forms.CharField(max_length=80, required=False, help_text="e.g. Asthma")

    def clean_file(self) -> str:
        return _text(self.cleaned_data["file"])

    def clean_bibliography(self) -> str:
        upload = self.cleaned_data.get("bibliography")
        return _text(upload) if upload else ""


def _text(upload: UploadedFile[bytes]) -> str:
    if upload.size and upload.size > MAX_UPLOAD_BYTES:
        raise forms.ValidationError("The file is larger than 2 MB.")
    try:
        content: bytes = upload.read()
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise forms.ValidationError("The file is not UTF-8 text.") from error


@login_required
def import_article(request: HttpRequest) -> HttpResponse:
    if not roles.is_writer(request.user):
        raise PermissionDenied("Only writers can import articles.")
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        bibliography = request.FILES.get("bibliography")
        try:
            report = run_import(
                data["file"],
                audience=data["audience"],
                author=request.user,
                title=data["title"],
                topic=data["topic"],
                kind=data["kind"],
                bibliography=data["bibliography"],
                bibliography_name=(bibliography.name or "") if bibliography else "",
            )
        except ImportFailed as error:
            form.add_error(None, f"{error} Nothing was imported.")
        else:
            for line in report.lines():
                messages.success(request, line)
            return redirect("desk:article", slug=report.article.slug)
    return render(request, "articles/import.html", {"form": form})
