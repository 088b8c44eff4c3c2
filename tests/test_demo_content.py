"""`load_demo` builds a usable site and is idempotent."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command

from articles.models import Article, Audience, CitationAlert, Reference, ReferenceCheck
from tests.fakeweb import closed_port


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_load_demo_twice_changes_nothing() -> None:
    call_command("load_demo")
    first = row_counts()
    call_command("load_demo")
    assert row_counts() == first


@pytest.mark.django_db
def test_demo_has_people_in_every_role_and_two_complete_articles() -> None:
    call_command("load_demo")
    assert User.objects.filter(groups__name="Writers").count() == 1
    assert User.objects.filter(groups__name="Advisory Board").count() == 2
    assert User.objects.filter(is_staff=True).count() == 1
    kinds = set(Article.objects.values_list("kind", flat=True))
    assert kinds == {Article.Kind.QA, Article.Kind.NEWS}
    for article in Article.objects.all():
        assert {v.audience for v in article.variants.all()} == set(Audience.values)
    qa = Article.objects.get(kind=Article.Kind.QA)
    cited = qa.references.all()
    assert cited.count() >= 6
    assert sum(1 for ref in cited if ref.doi or ref.pmid) >= 6


@pytest.mark.django_db
def test_demo_articles_are_listed_on_the_home_page(client) -> None:
    call_command("load_demo")
    page = client.get("/").content.decode()
    for article in Article.objects.all():
        assert article.get_absolute_url() in page


@pytest.mark.django_db
def test_a_third_clearly_labelled_demo_article_cites_the_retracted_1998_lancet_paper() -> None:
    call_command("load_demo")
    demo = Article.objects.get(slug="demo-retracted-mmr-study")
    assert demo.title.startswith("Demo:")
    assert all("Demo article" in v.body for v in demo.variants.all())
    lancet = demo.references.get(key="wakefield1998")
    assert (lancet.doi, lancet.pmid) == ("10.1016/s0140-6736(97)11096-0", "9500320")


@pytest.mark.django_db
def test_offline_the_demo_retraction_is_unreachable_never_clean(settings, client) -> None:
    """What `./run` shows on a machine without internet: the services cannot be asked, and nothing says
    the 1998 paper is fine. (The link checker is left out: it would ask the real DNS.)"""
    call_command("load_demo")
    nowhere = f"http://127.0.0.1:{closed_port()}"
    settings.CROSSREF_API_URL, settings.EUTILS_API_URL = f"{nowhere}/crossref", f"{nowhere}/eutils"
    settings.CITATION_CHECKERS = [
        "articles.citations.crossref.CrossrefChecker",
        "articles.citations.pubmed.PubMedChecker",
        "articles.citations.age.AgeChecker",
    ]
    call_command("check_citations", "--article", "demo-retracted-mmr-study", "--sync", stdout=io.StringIO())

    lancet = Reference.objects.get(key="wakefield1998")
    found = {c.checker: c.standing for c in ReferenceCheck.objects.filter(reference=lancet)}
    assert found == {"crossref": "unreachable", "pubmed": "unreachable", "age": "aging"}
    assert not CitationAlert.objects.exists()
    response = client.get(lancet.articles.get().get_absolute_url(), follow=True)
    assert response.status_code == 200
    assert "was retracted" not in response.content.decode()  # nothing is claimed either way
