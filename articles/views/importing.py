"""The writers' import page: upload → preview of what will be created (nothing written) → "Import".

The preview carries the decoded text to the confirming request in a signed, compressed hidden field, so
the import creates exactly what was previewed (matched against the library again at that moment) and no
upload is kept on the server in between.
"""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat

from .. import roles
from ..importers import MAX_IMPORT_BYTES, ImportFailed, import_article, plan_import, read_import_file, template_docx
from ..models import Article, Audience

_PAYLOAD_SALT = "articles.import-preview"
_PAYLOAD_MAX_AGE = 24 * 3600  # a preview left open overnight is read again from the file instead


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text=f"Plain text (.txt), Markdown (.md) or Word (.docx); at most {filesizeformat(MAX_IMPORT_BYTES)}."
    )
    bibliography = forms.FileField(
        required=False, help_text="Optional, for Markdown: the references as BibTeX (.bib) or CSL-JSON (.json)."
    )
    audience = forms.ChoiceField(choices=Audience.choices, help_text="The version the text goes into.")
    kind = forms.ChoiceField(choices=Article.Kind.choices, initial=Article.Kind.QA)
    title = forms.CharField(max_length=300, required=False, help_text="Leave empty to take the question or headline.")
    topic = forms.CharField(max_length=80, required=False, help_text="e.g. Asthma")

    def clean_file(self) -> str:
        return _text(self.cleaned_data["file"])

    def clean_bibliography(self) -> str:
        upload = self.cleaned_data.get("bibliography")
        return _text(upload) if upload else ""

    def import_options(self) -> dict[str, Any]:
        data, upload = self.cleaned_data, self.cleaned_data.get("bibliography") and self.files.get("bibliography")
        return {
            "text": data["file"],
            "bibliography": data["bibliography"],
            "bibliography_name": upload.name if upload else "",
            **{name: data[name] for name in ("audience", "kind", "title", "topic")},
        }


def _text(upload: UploadedFile[bytes]) -> str:
    if upload.size and upload.size > MAX_IMPORT_BYTES:  # refused before reading any of it
        raise forms.ValidationError(f"The file is larger than {filesizeformat(MAX_IMPORT_BYTES)}, the import limit.")
    try:
        return read_import_file(upload, upload.name or "the file")
    except ImportFailed as error:
        raise forms.ValidationError(str(error)) from error


@login_required
def import_article_page(request: HttpRequest) -> HttpResponse:
    if not roles.is_writer(request.user):
        raise PermissionDenied("Only writers can import articles.")
    if request.method == "POST" and "payload" in request.POST:
        return _confirm(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        options = form.import_options()
        try:
            plan = plan_import(**options)
        except ImportFailed as error:
            form.add_error(None, f"{error} Nothing was imported.")
        else:
            payload = signing.dumps(options, salt=_PAYLOAD_SALT, compress=True)
            return render(request, "articles/import_preview.html", {"plan": plan, "payload": payload})
    return render(request, "articles/import.html", {"form": form, "layouts": _layouts()})


def _layouts() -> dict[str, str]:
    """The downloadable templates, shown in full on the page as the examples of each layout."""
    folder = settings.BASE_DIR / "static" / "import-templates"
    return {name: (folder / file).read_text(encoding="utf-8") for name, file in _EXAMPLES.items()}


_EXAMPLES = {"qa": "qa-template.txt", "markdown": "markdown-template.md"}


def _confirm(request: HttpRequest) -> HttpResponse:
    try:
        options = signing.loads(request.POST["payload"], salt=_PAYLOAD_SALT, max_age=_PAYLOAD_MAX_AGE)
    except signing.BadSignature:
        messages.error(request, "That preview has expired or was changed; choose the file again. Nothing was imported.")
        return redirect("import_article")
    try:
        report = import_article(author=request.user, **options)
    except ImportFailed as error:
        # The library changed since the preview in a way that makes the file fail (e.g. a key now taken).
        messages.error(request, f"{error} Nothing was imported.")
        return redirect("import_article")
    for note in report.notes():
        getattr(messages, note.level)(request, note.text)
    return redirect("desk:article", slug=report.article.slug)


@login_required
def import_template_docx(request: HttpRequest) -> HttpResponse:
    """The Word template: the accepted layout as a .docx with the styles the reader expects."""
    if not roles.is_writer(request.user):
        raise PermissionDenied("Only writers can import articles.")
    buffer = io.BytesIO()
    template_docx().save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response["Content-Disposition"] = 'attachment; filename="article-template.docx"'
    return response
