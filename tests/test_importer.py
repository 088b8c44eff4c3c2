"""Importing articles written elsewhere: the flattened Q&A form and Markdown with BibTeX."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from articles import demo_content
from articles.citing import check_citations
from articles.importers import ImportFailed, import_article
from articles.models import Article, ArticleReference, ArticleVariant, Audience, Reference
from articles.references import requeue_stale_lookups
from articles.rendering import ReferenceLookup, find_citations, render_article_text

SAMPLES = Path(__file__).parent / "samples"
QA_TEXT = (SAMPLES / "qa_flattened.txt").read_text(encoding="utf-8")
MD_TEXT = (SAMPLES / "article.md").read_text(encoding="utf-8")
BIB_TEXT = (SAMPLES / "article.bib").read_text(encoding="utf-8")
LIBRARY_KEYS = ["chung2014", "holguin2020", "castro2018", "rabe2018", "irwin2018", "wenzel2013", "bachert2019"]


@pytest.fixture
def library(db: None) -> dict[str, Reference]:
    """Part of the demo library: real papers the samples cite, for matching by DOI, PMID and title."""
    specs = {spec["key"]: spec for spec in demo_content.REFERENCES}
    return {key: Reference.objects.create(**specs[key]) for key in LIBRARY_KEYS}


def line_of(fragment: str, text: str = QA_TEXT) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def row_counts() -> dict[str, int]:
    models = (Article, ArticleVariant, Reference, ArticleReference)
    return {model.__name__: model.objects.count() for model in models}


# --- The flattened Q&A form ---------------------------------------------------------------------


def test_flattened_qa_becomes_a_draft_in_the_named_version_only(cast, library):
    report = import_article(QA_TEXT, audience=Audience.PATIENT, author=cast.writer, topic="Asthma")

    article = report.article
    assert article.status == Article.Status.DRAFT
    assert list(article.authors.all()) == [cast.writer]
    assert article.title.startswith("Can I cut down my steroid tablets")
    assert article.topic == "Asthma"
    assert [v.audience for v in article.variants.all()] == [Audience.PATIENT]
    variant = article.variants.get()
    assert variant.title == "Lowering Steroid Tablets on a Biologic"
    assert variant.summary.startswith("Do not stop steroid tablets suddenly.")
    # The Bottom line's markers are citations too, by library key.
    assert variant.summary.endswith("one small step at a time [@chung2014; @rabe2018; @oral2014].")
    assert "1, 2" not in variant.summary
    # Page furniture and the disclaimer are not the writer's text.
    for furniture in ("Medical Advisory Board", "Which best describes you", "Under Review", "Disclaimer"):
        assert furniture not in variant.body


def test_flattened_markers_become_library_keys_before_the_full_stop(cast, library):
    report = import_article(QA_TEXT, audience=Audience.PATIENT, author=cast.writer)
    body = report.article.variants.get().body

    assert "without losing control [@chung2014; @rabe2018].\n" in body
    assert "## What the Trials Showed\n\n### Biologics Aimed at Eosinophils" in body
    assert "\n- With mepolizumab, people cut their daily tablet dose" in body
    assert "\n\n## Bottom Line" not in body


def test_flattened_references_matched_by_title_created_and_unmatched(cast, library):
    before = Reference.objects.count()
    report = import_article(QA_TEXT, audience=Audience.CLINICIAN, author=cast.writer)

    matched = {given.label: (ref.key, how) for given, ref, how in report.matched}
    assert matched == {
        "1": ("chung2014", "title"),
        "2": ("rabe2018", "title"),
        "3": ("holguin2020", "title"),
        "7": ("castro2018", "title"),
        "10": ("irwin2018", "title"),
    }
    assert len(report.created) == 5 == Reference.objects.count() - before
    created = {ref.key: ref for ref in report.created}
    assert set(created) == {"oral2014", "mepolizumab2014", "benralizumab2016", "tezepelumab2021", "omalizumab2014"}
    assert created["omalizumab2014"].kind == Reference.Kind.REVIEW
    assert created["omalizumab2014"].source == "The Cochrane database of systematic reviews"
    assert created["omalizumab2014"].year == 2014
    assert created["tezepelumab2021"].title == "Tezepelumab in adults and adolescents with severe, uncontrolled asthma"
    # Marker 11 has no entry in the References section: reported and left visible as an unknown key.
    assert report.unmatched == ["citation [@11]"]
    assert report.article.references.count() == 10


def test_imported_flattened_article_renders_with_one_unknown_citation(cast, library):
    article = import_article(QA_TEXT, audience=Audience.PATIENT, author=cast.writer).article

    rendered = render_article_text(
        article.variants.get().body, ReferenceLookup.from_references(article.references.all())
    )
    assert [use.key for use in rendered.unknown] == ["11"]
    assert len(rendered.cited) == 10
    assert check_citations(article).errors == [
        f"Unknown citation [@11] on line {rendered.unknown[0].line} of the patient or caregiver version."
    ]


def test_importing_twice_reuses_the_references_created_the_first_time(cast, library):
    import_article(QA_TEXT, audience=Audience.PATIENT, author=cast.writer)
    count = Reference.objects.count()
    second = import_article(QA_TEXT, audience=Audience.PATIENT, author=cast.writer)

    assert second.created == []
    assert len(second.matched) == 10
    assert Reference.objects.count() == count
    assert Article.objects.count() == 2


@pytest.mark.parametrize(
    ("cut_after", "reason"),
    [
        ("Tezepelumab in adults and adolescents with severe, uncontrolled asthma.\n", "reference 8 is incomplete"),
        ("Keep taking your inhalers throughout 1\n", "without a “Bottom Line” section"),
        ("References\n", "“References” section is empty"),
    ],
)
def test_truncated_flattened_file_changes_nothing_and_says_where(cast, library, cut_after, reason):
    line = line_of(cut_after)  # the last line left is where the file stops making sense
    truncated = QA_TEXT[: QA_TEXT.index(cut_after) + len(cut_after)]
    before = row_counts()

    with pytest.raises(ImportFailed) as failure:
        import_article(truncated, audience=Audience.PATIENT, author=cast.writer)

    assert failure.value.line == line
    assert str(failure.value).startswith(f"Line {line}: ")
    assert reason in str(failure.value)
    assert row_counts() == before


def test_unknown_reference_kind_is_reported_with_its_line(cast, library):
    broken = QA_TEXT.replace("Research\n\nMepolizumab treatment", "Podcast\n\nMepolizumab treatment")
    before = row_counts()

    with pytest.raises(ImportFailed, match=r"expected the kind of reference 5 .*found “Podcast”") as failure:
        import_article(broken, audience=Audience.PATIENT, author=cast.writer)
    assert failure.value.line == line_of("Podcast", broken)
    assert row_counts() == before


def test_only_writers_can_be_the_author_of_an_import(cast, library):
    before = row_counts()
    with pytest.raises(ImportFailed, match="Only writers"):
        import_article(QA_TEXT, audience=Audience.PATIENT, author=cast.outsider)
    assert row_counts() == before


# --- Markdown with BibTeX -------------------------------------------------------------------------


def import_markdown(cast, **extra):
    return import_article(
        MD_TEXT,
        audience=Audience.CLINICIAN,
        author=cast.writer,
        bibliography=BIB_TEXT,
        bibliography_name="a.bib",
        **extra,
    )


def test_markdown_with_bibtex_matches_by_doi_pmid_and_title(cast, library):
    report = import_markdown(cast)

    matched = {given.label: (ref.key, how) for given, ref, how in report.matched}
    assert matched == {
        "Castro2018": ("castro2018", "DOI"),
        "Wenzel2013": ("wenzel2013", "PMID"),
        "Bachert2019": ("bachert2019", "title"),
        "Rabe2018": ("rabe2018", "DOI"),
        "doi:10.1183/13993003.00588-2019": ("holguin2020", "DOI"),
        "pmid:24337046": ("chung2014", "PMID"),
    }
    assert report.unmatched == []
    assert {ref.key for ref in report.created} == {"bel2014", "ortega2014", "menziesgow2021"}


def test_markdown_new_references_carry_the_bibtex_metadata(cast, library):
    created = {ref.key: ref for ref in import_markdown(cast).created}

    bel = created["bel2014"]
    assert bel.title == "Oral Glucocorticoid-Sparing Effect of Mepolizumab in Eosinophilic Asthma"
    assert bel.author_list == ["Bel EH", "Wenzel SE", "Thompson PJ", "Prazma CM"]
    assert (bel.source, bel.year, bel.volume, bel.pages) == (
        "The New England Journal of Medicine",
        2014,
        "371",
        "1189-1197",
    )
    assert (bel.doi, bel.pmid) == ("10.1056/nejmoa1403291", "25199060")
    assert created["menziesgow2021"].author_list[0] == "Menzies-Gow A"


def test_markdown_body_title_summary_and_code(cast, library):
    article = import_markdown(cast).article
    variant = article.variants.get()

    assert article.title == "Do biologics let people with severe asthma take fewer steroid tablets?"
    assert variant.summary.startswith("For many adults with severe eosinophilic asthma")
    assert variant.summary.endswith("without losing control [@bel2014; @rabe2018].")
    assert "## Bottom line" not in variant.body and not variant.body.startswith("# ")
    assert "[@ortega2014; @castro2018; @wenzel2013]" in variant.body
    assert "[@doi:10.1183/13993003.00588-2019]" in variant.body
    assert "`[@key]`" in variant.body
    assert check_citations(article) == check_citations(article).__class__(errors=[], warnings=[])
    assert {use.key for use in find_citations(variant.body)} == {ref.key for ref in article.references.all()} - {
        "holguin2020",
        "chung2014",
    } | {"doi:10.1183/13993003.00588-2019", "pmid:24337046"}


def test_markdown_reference_list_with_identifiers_instead_of_bibtex(cast, library):
    text = (
        "# Mepolizumab and steroid tablets\n\nTablet doses fell [@bel] and attacks too [@pmid:25199059].\n\n"
        "## References\n\n"
        "- [@bel]: Bel EH, et al. Oral glucocorticoid-sparing effect of mepolizumab. doi:10.1056/NEJMoa1403291\n"
        "- Ortega HG, et al. Mepolizumab treatment in patients with severe eosinophilic asthma. PMID: 25199059\n"
        "- Wenzel S, et al. Dupilumab in persistent asthma. https://doi.org/10.1056/NEJMoa1304048\n"
    )
    report = import_article(text, audience=Audience.PATIENT, author=cast.writer)

    # Unlabelled items are cited by their number in the list, as a Word document would.
    assert [(given.label, ref.key, how) for given, ref, how in report.matched] == [("3", "wenzel2013", "DOI")]
    new = {ref.doi or ref.pmid: ref for ref in report.created}
    assert set(new) == {"10.1056/nejmoa1403291", "25199059"}
    assert all(ref.metadata_status == Reference.MetadataStatus.PENDING for ref in report.created)
    # Stamped as queued: beat's owed-work sweep leaves them to the lookup queued after commit.
    assert all(ref.lookup_queued_at is not None for ref in report.created)
    assert requeue_stale_lookups(timezone.now()) == 0
    body = report.article.variants.get().body
    # Entries waiting for their metadata are cited by identifier: their key changes once it is found.
    assert "Tablet doses fell [@doi:10.1056/nejmoa1403291]" in body
    assert "[@pmid:25199059]" in body
    assert "## References" not in body


def test_malformed_bibtex_changes_nothing_and_names_the_line(cast, library):
    truncated = BIB_TEXT[: BIB_TEXT.index("@article{Ortega2014") + 60]
    before = row_counts()

    with pytest.raises(ImportFailed) as failure:
        import_markdown_with(cast, truncated)
    assert failure.value.line == BIB_TEXT[: BIB_TEXT.index("@article{Ortega2014")].count("\n") + 1
    assert "cannot be read" in str(failure.value)
    assert row_counts() == before


def test_failure_after_references_were_created_rolls_everything_back(cast, library):
    # Bel2014 and Ortega2014 are created before MenziesGow2021 fails validation: none may remain.
    bad = BIB_TEXT.replace("  doi     = {10.1056/NEJMoa2034975},", "  url     = {javascript:alert(1)},")
    before = row_counts()

    with pytest.raises(ImportFailed, match=r"reference MenziesGow2021 cannot be stored \(url: "):
        import_markdown_with(cast, bad)
    assert row_counts() == before
    assert not Reference.objects.filter(key__in=["bel2014", "ortega2014"]).exists()


def import_markdown_with(cast, bibliography):
    return import_article(MD_TEXT, audience=Audience.CLINICIAN, author=cast.writer, bibliography=bibliography)


def test_csl_json_bibliography(cast, library):
    csl = """[{"id": "Bel2014", "type": "article-journal",
      "title": "Oral glucocorticoid-sparing effect of mepolizumab in eosinophilic asthma",
      "author": [{"family": "Bel", "given": "Elisabeth H."}], "container-title": "N Engl J Med",
      "issued": {"date-parts": [[2014, 9]]}, "DOI": "10.1056/NEJMoa1403291"}]"""
    text = "# Steroid-sparing\n\nDoses fell by half [@Bel2014].\n"
    report = import_article(
        text, audience=Audience.PATIENT, author=cast.writer, bibliography=csl, bibliography_name="refs.json"
    )

    (created,) = report.created
    assert (created.key, created.year, created.source, created.author_list) == (
        "bel2014",
        2014,
        "N Engl J Med",
        ["Bel EH"],
    )
    assert "[@bel2014]" in report.article.variants.get().body


def test_malformed_csl_json_names_the_line(cast, library):
    with pytest.raises(ImportFailed, match=r"^Line 2: the CSL-JSON file cannot be read"):
        import_article("# T\n\nx [@a].\n", audience="patient", author=cast.writer, bibliography='[\n{"id": }]')


# --- The management command -----------------------------------------------------------------------


def test_command_imports_and_prints_the_report(cast, library, capsys):
    call_command(
        "import_article", str(SAMPLES / "article.md"), "--audience", "clinician", "--author", cast.writer.username,
        "--topic", "Asthma", "--kind", "news", "--bib", str(SAMPLES / "article.bib"),
    )  # fmt: skip

    out = capsys.readouterr().out
    assert "Matched Castro2018 to library reference castro2018 by DOI." in out
    assert "New library reference bel2014" in out
    article = Article.objects.get()
    assert (article.kind, article.topic, article.status) == ("news", "Asthma", "draft")


def test_command_exits_non_zero_with_the_reason_on_a_truncated_file(cast, library, tmp_path):
    truncated = tmp_path / "cut.txt"
    truncated.write_text(QA_TEXT[: QA_TEXT.index("Chest, 2018")], encoding="utf-8")
    before = row_counts()

    # call_command, not execute_from_command_line: the latter closes the test's database connection.
    with pytest.raises(CommandError) as failure:
        call_command("import_article", str(truncated), "--audience", "patient", "--author", cast.writer.username)

    assert failure.value.returncode != 0  # what manage.py exits with
    assert f"Line {line_of('Classification of cough')}: reference 10 is incomplete" in str(failure.value)
    assert "Nothing was imported." in str(failure.value)
    assert row_counts() == before


def test_command_rejects_an_unknown_author(db, library):
    with pytest.raises(CommandError, match="No user called “nobody”"):
        call_command("import_article", str(SAMPLES / "qa_flattened.txt"), "--audience", "patient", "--author", "nobody")


# --- The upload form ------------------------------------------------------------------------------


def upload(client, text=QA_TEXT, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"audience": "patient", "kind": "qa", "title": "", "topic": "Asthma", **fields}
    data["file"] = SimpleUploadedFile("qa.txt", text.encode(), content_type="text/plain")
    return client.post(reverse("import_article"), data)


def test_writer_previews_then_imports_and_gets_a_draft(client, cast, library):
    client.force_login(cast.writer)
    assert client.get(reverse("import_article")).status_code == 200
    before = row_counts()

    preview = upload(client)

    assert preview.status_code == 200
    assert row_counts() == before  # the preview writes nothing
    html = preview.content.decode()
    assert "Can I cut down my steroid tablets" in html and "Nothing has been saved yet" in html
    assert "New library reference oral2014" in html and "Could not match citation [@11]" in html
    payload = preview.context["payload"]

    response = client.post(reverse("import_article"), {"payload": payload})

    article = Article.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("desk:article", kwargs={"slug": article.slug})
    assert list(article.authors.all()) == [cast.writer]
    assert article.references.count() == 10
    levels = {m.message.split(":")[0]: m.level_tag for m in get_messages(response.wsgi_request)}
    assert levels["Imported “Can I cut down my steroid tablets now that I have started a biologic injection for "
                  "severe asthma?” as a draft (" + article.slug + ")."] == "success"  # fmt: skip
    # New library entries and unmatched markers are for the writer to check: amber, not green.
    assert levels["New library reference oral2014 for the file's reference 4"] == "warning"
    assert levels["Could not match citation [@11]; it stays in the text as an unknown key."] == "warning"


def test_a_tampered_preview_imports_nothing(client, cast, library):
    client.force_login(cast.writer)
    payload = upload(client).context["payload"]

    response = client.post(reverse("import_article"), {"payload": payload[:-3] + "xyz"}, follow=True)

    assert "expired or was changed" in response.content.decode()
    assert Article.objects.count() == 0


@pytest.mark.parametrize("who", ["outsider", "reviewer"])
def test_people_who_are_not_writers_get_403(client, cast, library, who):
    client.force_login(getattr(cast, who))
    assert client.get(reverse("import_article")).status_code == 403
    assert upload(client).status_code == 403
    assert Article.objects.count() == 0


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("import_article"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_failed_upload_shows_the_error_and_keeps_the_fields(client, cast, library):
    client.force_login(cast.writer)
    before = row_counts()

    response = upload(client, text=QA_TEXT[:2000], title="My own title", topic="Severe asthma", audience="clinician")

    html = response.content.decode()
    assert response.status_code == 200
    assert "without a “Bottom Line” section" in html and "Nothing was imported." in html
    assert 'value="My own title"' in html and 'value="Severe asthma"' in html
    assert '<option value="clinician" selected>' in html
    assert row_counts() == before


def test_upload_requires_the_csrf_token(cast, library):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.writer)
    assert upload(client).status_code == 403
    assert Article.objects.count() == 0


def test_command_dry_run_shows_the_plan_and_writes_nothing(cast, library, capsys):
    before = row_counts()
    call_command(
        "import_article", str(SAMPLES / "qa_flattened.txt"), "--audience", "patient", "--author", cast.writer.username,
        "--dry-run",
    )  # fmt: skip

    out = capsys.readouterr().out
    assert out.startswith("Would import “Can I cut down my steroid tablets")
    assert "[warning] New library reference oral2014 for the file's reference 4" in out
    assert "[warning] Could not match citation [@11]" in out
    assert row_counts() == before
