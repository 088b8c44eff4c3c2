"""Bad import files end in a clear message naming the line where it can, never a 500 or a traceback, and
write nothing; the form and the command share one size limit. The parsers are fuzzed with hypothesis."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from articles.importers import MAX_IMPORT_BYTES, ImportFailed, import_article, parse, plan_import, read_import_file
from articles.models import Article, ArticleReference, ArticleVariant, Reference

SAMPLES = Path(__file__).parent / "samples"
QA_TEXT = (SAMPLES / "qa_flattened.txt").read_text(encoding="utf-8")
MD_TEXT = (SAMPLES / "article.md").read_text(encoding="utf-8")
BIB_TEXT = (SAMPLES / "article.bib").read_text(encoding="utf-8")
ONE_ITEM_CSL = '[{"id": "Doe2020", "title": "A trial", "author": ["Doe"], "issued": {"date-parts": [[2020]]}}]'


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Article, ArticleVariant, Reference, ArticleReference)}


def upload(client, content: bytes, name: str = "article.txt", bibliography: bytes | None = None, bib_name="r.bib"):
    data: dict[str, object] = {"audience": "patient", "kind": "qa", "title": "", "topic": ""}
    data["file"] = SimpleUploadedFile(name, content)
    if bibliography is not None:
        data["bibliography"] = SimpleUploadedFile(bib_name, bibliography)
    return client.post(reverse("import_article"), data)


def form_errors(response) -> str:
    form = response.context["form"]
    return " ".join(str(message) for messages in form.errors.values() for message in messages)


# (name, file bytes, bibliography bytes or None, what the message must say)
BAD_FILES = [
    ("nul.txt", QA_TEXT.replace("Bottom Line", "Bottom\x00Line").encode(), None, "contains a NUL character"),
    ("nul.md", MD_TEXT.encode(), BIB_TEXT.replace("Castro, Mario", "Castro\x00Mario").encode(), "NUL character"),
    ("long.md", ("# " + "very " * 80 + "long question?\n\nText.\n").encode(), None, "at most 300 fit"),
    ("deep.md", b"# T\n\nText [@a].\n", b"[" * 100_000 + b"]" * 100_000, "nested 100000 levels deep"),
    ("doe.md", b"# T\n\nText [@Doe2020].\n", ONE_ITEM_CSL.encode(), "each author must be an object"),
    ("latin1.txt", "Line one\nCaf\u00e9 au lait\n".encode("latin-1"), None, "is not UTF-8 text (byte 0xE9"),
    ("empty.txt", b"", None, "The submitted file is empty"),
    ("blank.txt", b"  \n\n \n", None, "is empty"),
    ("not-a-zip.docx", b"This is plain text pretending to be Word.", None, "is not a Word document (.docx)"),
    ("cut.docx", b"", None, "is not a Word document (.docx)"),  # filled in below: half of a real .docx
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, None, "old Word .doc file"),
    ("brackets.md", ("# T\n\n" + "[" * 8000 + "\n").encode(), None, "The text has 8,000 opening square brackets"),
    ("bl.md", ("# T\n\n## Bottom line\n\n" + "[a](" * 2000 + "\n").encode(), None, "The Bottom line has 2,000"),
    ("nested.md", ("# T\n\n" + "".join("  " * i + "- x\n" for i in range(60))).encode(), None, "the limit is 6 levels"),
    ("huge.txt", b"a" * (MAX_IMPORT_BYTES + 1), None, "larger than 1.0"),
]


def _half_a_word_document() -> bytes:
    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("A question?")
    document.save(buffer)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


BAD_FILES = [(n, _half_a_word_document() if n == "cut.docx" else c, b, s) for n, c, b, s in BAD_FILES]


@pytest.mark.parametrize(("name", "content", "bibliography", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_upload_shows_a_message_and_writes_nothing(client, cast, name, content, bibliography, says):
    client.force_login(cast.writer)
    before = row_counts()

    response = upload(
        client, content, name, bibliography, bib_name="r.json" if name in ("deep.md", "doe.md") else "r.bib"
    )

    assert response.status_code == 200
    assert says in form_errors(response)
    assert "Traceback" not in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize(("name", "content", "bibliography", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_on_the_command_line_exits_with_the_message(cast, tmp_path, name, content, bibliography, says):
    path = tmp_path / name
    path.write_bytes(content)
    extra = []
    if bibliography is not None:
        bib = tmp_path / ("refs.json" if name in ("deep.md", "doe.md") else "refs.bib")
        bib.write_bytes(bibliography)
        extra = ["--bib", str(bib)]
    before = row_counts()

    with pytest.raises(CommandError) as failure:
        call_command("import_article", str(path), "--audience", "patient", "--author", cast.writer.username, *extra)

    message = str(failure.value).replace("The submitted file is empty", "is empty")
    assert says.replace("The submitted file is empty", "is empty") in message
    assert "Nothing was imported." in message
    assert row_counts() == before


def test_messages_name_the_line(cast):
    bad_byte = "Line one\nLine two\nCaf\u00e9\n".encode("latin-1")
    with pytest.raises(ImportFailed) as failure:
        read_import_file(io.BytesIO(bad_byte), "a.txt")
    assert failure.value.line == 3

    with pytest.raises(ImportFailed) as failure:
        parse("# Title\n\nFine.\n\nNot \x00 fine.\n")
    assert failure.value.line == 5

    csl = '[\n  {"id": "ok", "title": "Fine"},\n  {"id": "Doe2020",\n   "author": ["Doe"]}\n]'
    with pytest.raises(ImportFailed, match=r"^Line 3: item “Doe2020”: each author") as failure:
        parse("# T\n\nText [@Doe2020].\n", csl, "r.json")


def test_the_command_has_the_forms_size_limit_and_reads_no_more(cast, tmp_path):
    big = tmp_path / "big.md"
    big.write_bytes(b"# Title\n\n" + b"word " * (MAX_IMPORT_BYTES // 5 + 1))

    with pytest.raises(CommandError, match=r"larger than 1\.0"):
        call_command("import_article", str(big), "--audience", "patient", "--author", cast.writer.username)
    assert Article.objects.count() == 0


def test_a_zip_that_is_not_a_word_document(client, cast):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not word")
    client.force_login(cast.writer)

    response = upload(client, buffer.getvalue(), "archive.docx")

    assert "is not a Word document (.docx)" in form_errors(response)
    assert row_counts() == {"Article": 0, "ArticleVariant": 0, "Reference": 0, "ArticleReference": 0}


def test_a_word_document_that_unpacks_to_too_much_is_refused(cast):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (25 * MAX_IMPORT_BYTES))
    assert len(buffer.getvalue()) < MAX_IMPORT_BYTES

    with pytest.raises(ImportFailed, match="unpacks to more than"):
        read_import_file(io.BytesIO(buffer.getvalue()), "bomb.docx")


def test_utf16_with_its_byte_order_mark_is_read(cast):
    text = read_import_file(io.BytesIO("Question?\n".encode("utf-16")), "windows.txt")
    assert text == "Question?\n"


# --- Fuzzing: nothing but ImportFailed comes out of the parsers -------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text built from the pieces the parsers look for, so the fuzz reaches past the first check.
_pieces = st.sampled_from(
    [
        "# ", "## ", "Bottom Line", "References", "Research", "Guideline", "\n", "\n\n", " 1, 2", " 3",
        "[@", "]", "@", ";", "doi:10.1056/x", "PMID: 123", "  • ", "- ", "1. ", ", 2019", "```", "{", "}",
        "Disclaimer", "Which best describes you?", "\t", "\r", "\ue000", "\ue001", "[[[", "(((", "*", "_",
    ]
)  # fmt: skip
article_text = st.lists(st.one_of(_pieces, st.text(max_size=12)), max_size=60).map("".join)
bibtex_text = st.lists(
    st.one_of(
        st.sampled_from(["@article{", "@book{", "@misc{", "}", ",", " = {", "}", '"', "author", "title", "year",
                         "doi", "pmid", "1999", " and ", "\\'e", "@string{", "@comment{", "#", "\n"]),
        st.text(max_size=8),
    ),
    max_size=50,
).map("".join)  # fmt: skip
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
csl_item = st.fixed_dictionaries(
    {"id": st.one_of(st.text(min_size=1, max_size=8), st.integers())},
    optional={
        name: json_values
        for name in ("title", "author", "issued", "DOI", "PMID", "container-title", "type", "page", "URL")
    },
)


def _parses_or_refuses(text: str, bibliography: str = "", name: str = "") -> None:
    with contextlib.suppress(ImportFailed):
        parse(text, bibliography, name)


@FUZZ
@given(text=article_text)
def test_flattened_and_markdown_parsers_raise_only_import_failed(text):
    _parses_or_refuses(text)


@FUZZ
@given(bibliography=bibtex_text)
def test_bibtex_parser_raises_only_import_failed(bibliography):
    _parses_or_refuses("# Title\n\nText [@a].\n", bibliography, "refs.bib")


@FUZZ
@given(items=st.lists(csl_item, max_size=3) | json_values)
def test_csl_json_parser_raises_only_import_failed(items):
    import json

    _parses_or_refuses("# Title\n\nText [@a].\n", json.dumps(items), "refs.json")


@FUZZ
@given(data=st.binary(max_size=400), name=st.sampled_from(["a.txt", "a.md", "a.docx", "a.bib"]))
def test_reading_any_bytes_raises_only_import_failed(data, name):
    with contextlib.suppress(ImportFailed):
        read_import_file(io.BytesIO(data), name)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None)
@given(text=article_text)
def test_planning_any_text_raises_only_import_failed(text):
    with contextlib.suppress(ImportFailed):
        plan_import(text, audience="patient")


def test_import_article_refuses_a_nul_passed_directly(cast):
    with pytest.raises(ImportFailed, match="NUL"):
        import_article("# T\n\nA\x00B\n", audience="patient", author=cast.writer)
    assert row_counts() == {"Article": 0, "ArticleVariant": 0, "Reference": 0, "ArticleReference": 0}
