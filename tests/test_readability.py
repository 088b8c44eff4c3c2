"""Reading level: textstat's figures on the text a reader reads, drug names masked for the adjusted grade,
and the patient limit enforced by the workflow (and shown to the writer) with the hardest sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import textstat

from articles import readability, workflow
from articles.editing import VariantText
from articles.models import Article, WorkflowEvent

from . import editorial

MARKDOWN = """\
## Why it helps

Your daily inhaler calms your airways [@castro2018; @doi:10.1056/nejmoa1804092]. Skipping it can bring back a cough.

- Fewer attacks
- Less need for a rescue inhaler
"""
PLAIN = (
    "Why it helps. Your daily inhaler calms your airways. Skipping it can bring back a cough. "
    "Fewer attacks. Less need for a rescue inhaler."
)
DRUG_HEAVY = (
    "Dupilumab and mepolizumab treat eosinophilic asthma. Benralizumab and tezepelumab do too. "
    "Omalizumab treats allergic asthma. Dupilumab also treats chronic rhinosinusitis with nasal polyps."
)
HARD_SENTENCES = [
    "Physiological consequences of uncontrolled airway inflammation necessitate individualised therapeutic "
    "optimisation.",
    "Comprehensive pharmacological management considerably diminishes the probability of hospitalisation.",
    "Unsupervised discontinuation potentially precipitates clinical deterioration.",
]
TOO_HARD = VariantText(
    "Should you keep your treatment?",
    "Keep taking your medicine.",
    " ".join(HARD_SENTENCES) + "\n\nTalk with your nurse if you want to change it.\n",
)


def test_markdown_becomes_the_words_a_reader_reads() -> None:
    # Headings and list items become sentences of their own; citations are not words.
    assert readability.plain_text(MARKDOWN) == PLAIN


def test_figures_are_textstats_own_numbers_on_that_text() -> None:
    figures = readability.measure_text(PLAIN)
    assert figures.flesch_kincaid == textstat.flesch_kincaid_grade(PLAIN) == 2.1
    assert figures.smog == textstat.smog_index(PLAIN) == 3.1
    assert figures.words == textstat.lexicon_count(PLAIN) == 24
    assert figures.sentences == textstat.sentence_count(PLAIN) == 4
    # Nothing to mask here, so the adjusted figures are the raw ones.
    assert (figures.adjusted_flesch_kincaid, figures.adjusted_smog) == (figures.flesch_kincaid, figures.smog)


def test_hard_text_figures_match_textstat() -> None:
    text = " ".join(HARD_SENTENCES)
    figures = readability.measure_text(text)
    assert figures.flesch_kincaid == textstat.flesch_kincaid_grade(text) == 33.7
    assert figures.smog == textstat.smog_index(text) == 18.2


def test_masking_drug_and_disease_names_lowers_the_grade() -> None:
    figures = readability.measure_text(DRUG_HEAVY)
    assert figures.flesch_kincaid == textstat.flesch_kincaid_grade(DRUG_HEAVY)
    assert figures.adjusted_flesch_kincaid < figures.flesch_kincaid - 5
    assert figures.adjusted_smog < figures.smog
    assert figures.words == 23  # masking replaces words one for one, so the counts do not change
    masked = readability.mask_terms(DRUG_HEAVY)
    assert "Dupilumab" not in masked and "rhinosinusitis" not in masked and "polyps" not in masked
    assert textstat.lexicon_count(masked) == 23


def test_the_masked_terms_come_from_the_configured_file(settings: Any, tmp_path: Path) -> None:
    text = "Hydroxychloroquine is used for lupus. Take hydroxychloroquine with food. Do not stop on your own."
    before = readability.measure_text(text)
    terms = tmp_path / "terms.txt"
    terms.write_text("# our own list\nhydroxychloroquine\n", encoding="utf-8")
    settings.READABILITY_MASKED_TERMS_FILE = str(terms)
    after = readability.measure_text(text)
    assert after.adjusted_flesch_kincaid < before.adjusted_flesch_kincaid
    assert readability.mask_terms("Dupilumab works.") == "Dupilumab works."  # the default list is not used


def test_hardest_sentences_rank_long_words_then_length() -> None:
    text = "Keep taking your medicine every day. " + " ".join(reversed(HARD_SENTENCES)) + " Call us."
    hardest = readability.hardest_sentences(text)
    assert [s.text for s in hardest[:3]] == HARD_SENTENCES  # 8, 7 and 6 words of three or more syllables
    assert hardest[3].text == "Keep taking your medicine every day."
    assert len(hardest) == 4  # "Call us." is too short to count as a sentence, as in textstat


def test_a_drug_name_alone_does_not_make_a_sentence_hard() -> None:
    hardest = readability.hardest_sentences("Dupilumab is a medicine. It can lower the number of asthma attacks.")
    assert [s.polysyllables for s in hardest] == [0, 0]


# --- The patient limit in the workflow --------------------------------------------------------------


def too_hard_article(cast: Any) -> Article:
    return editorial.new_article(cast, text=editorial.article_text(patient=TOO_HARD, clinician=editorial.CLINICIAN))


@pytest.mark.django_db
def test_plain_patient_text_passes(cast: Any) -> None:
    assert readability.readability_problems(editorial.new_article(cast)) == []


@pytest.mark.django_db
def test_too_hard_patient_version_blocks_submission_with_grade_and_sentences(cast: Any) -> None:
    article = too_hard_article(cast)
    with pytest.raises(workflow.NotFit) as refused:
        workflow.submit(article, by=cast.writer)
    [reason] = [r for r in refused.value.reasons if "grade" in r]
    patient = article.variant("patient")
    assert patient is not None
    grade = readability.measure_variant(patient).adjusted_smog
    assert f"reads at grade {grade:g} (SMOG" in reason
    assert "the limit is grade 8" in reason
    for sentence in HARD_SENTENCES:
        assert sentence in reason
    assert editorial.refreshed(article).status == Article.Status.DRAFT
    assert not WorkflowEvent.objects.filter(article=article).exists()


@pytest.mark.django_db
def test_limit_and_measure_follow_the_settings(cast: Any, settings: Any) -> None:
    article = too_hard_article(cast)
    settings.PATIENT_GRADE_MEASURE = "flesch_kincaid"
    [reason] = readability.readability_problems(article)
    assert "(Flesch-Kincaid" in reason
    settings.PATIENT_MAX_GRADE = 40
    assert readability.readability_problems(article) == []
    workflow.submit(article, by=cast.writer)
    assert editorial.refreshed(article).status == Article.Status.SUBMITTED


@pytest.mark.django_db
def test_the_clinician_version_has_no_limit(cast: Any) -> None:
    hard_for_clinicians = VariantText("Therapeutic optimisation", "Optimise therapy.", TOO_HARD.body)
    article = editorial.new_article(
        cast, text=editorial.article_text(patient=editorial.PATIENT, clinician=hard_for_clinicians)
    )
    workflow.submit(article, by=cast.writer)
    assert editorial.refreshed(article).status == Article.Status.SUBMITTED


@pytest.mark.django_db
def test_the_submit_button_refuses_with_the_reasons_shown(cast: Any, client: Any) -> None:
    article = too_hard_article(cast)
    client.force_login(cast.writer)
    response = client.post(f"/desk/articles/{article.slug}/do/submit/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [(f"/desk/articles/{article.slug}/", 302)]  # back on the article page
    assert "Not submitted: one thing to fix first" in html
    assert html.count("the limit is grade 8") == 1  # each reason once
    assert HARD_SENTENCES[0] in html
    assert editorial.refreshed(article).status == Article.Status.DRAFT


@pytest.mark.django_db
def test_writers_and_reviewers_see_the_figures_of_both_versions(cast: Any, client: Any) -> None:
    article = too_hard_article(cast)
    for person in (cast.writer, cast.reviewer):
        client.force_login(person)
        html = client.get(f"/desk/articles/{article.slug}/").content.decode()
        assert html.count('<details class="readability') == 2
        assert "SMOG index" in html and "Flesch-Kincaid grade" in html
        assert "too hard to submit" in html  # the patient version, once
        assert html.count("too hard to submit") == 1
        assert HARD_SENTENCES[0] in html
