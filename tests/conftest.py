"""The cast every test uses, and the real Celery worker for tests that need one."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth.models import Group, User

from articles.framed import frames
from articles.roles import ADVISORY_BOARD, WRITERS
from articles.views.reader import _published_version
from contentreview.celery import app as celery_app

pytest_plugins = ["tests.browser"]
RAM_DISK = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, which makes a private directory


def make_person(username: str, group: str | None = None, **extra: Any) -> User:
    user = User.objects.create_user(
        username=username, email=f"{username}@example.org", password="a-test-password-123", **extra
    )
    user.profile.display_name = username.replace("_", " ").title()
    user.profile.credentials = "MD" if group == ADVISORY_BOARD else ""
    user.profile.save()
    if group:
        # get_or_create: transactional tests flush the groups the data migration made.
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


class Cast:
    """A writer, a co-writer, another writer, two board reviewers, a board member who also writes,
    an editor (staff) and an outsider with an account but no role."""

    def __init__(self) -> None:
        self.writer = make_person("wanda_writer", WRITERS)
        self.co_writer = make_person("colin_cowriter", WRITERS)
        self.other_writer = make_person("olga_otherwriter", WRITERS)
        self.reviewer = make_person("rita_reviewer", ADVISORY_BOARD)
        self.reviewer2 = make_person("ravi_reviewer", ADVISORY_BOARD)
        self.board_author = make_person("bea_boardauthor", ADVISORY_BOARD)
        self.board_author.groups.add(Group.objects.get_or_create(name=WRITERS)[0])
        self.editor = make_person("eddie_editor", is_staff=True)
        self.outsider = make_person("otto_outsider")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> Iterator[None]:
    """On SQLite, the test database is a file, as the site's is, not Django's shared in-memory one.

    In memory, SQLite locks whole tables between connections of one process and answers "database table is
    locked" at once, so a request read while the worker thread wrote failed where the site would wait its
    turn (the busy timeout). A file in a fresh directory of its own (on tmpfs where there is one) locks as
    the site's file does, and keeps runs side by side apart."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        with tempfile.TemporaryDirectory(
            prefix="contentreview-test-", dir=RAM_DISK if RAM_DISK.is_dir() else None
        ) as scratch:
            database.setdefault("TEST", {})["NAME"] = str(Path(scratch) / "db.sqlite3")
            yield
    else:
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # Tests create many people; the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_citation_checks_on_submit(settings: Any) -> None:
    # Submitting queues a check of the article's sources on the real broker; tests that are not about the
    # citation watch must not leave such tasks for a later test's worker (which would reach the internet).
    settings.CITATION_CHECK_ON_SUBMIT = False


@pytest.fixture(autouse=True)
def own_page_cache(settings: Any) -> None:
    # Each test gets its own page-cache namespace: the database rolls back between tests, Redis does not.
    pages = {**settings.CACHES["pages"], "KEY_PREFIX": f"test-pages-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "pages": pages}


@pytest.fixture(autouse=True)
def fresh_published_versions() -> None:
    # Each process keeps the publication versions it served; a rolled-back database hands the same ids
    # (and, under a frozen clock, the same approval times) to the next test's publications.
    _published_version.cache_clear()
    frames.clear()  # article pages' frames, keyed by publication id and approval time likewise


@pytest.fixture
def cast(db: None) -> Cast:
    return Cast()


@pytest.fixture(scope="session")
def celery_worker(django_db_blocker: Any) -> Iterator[Any]:
    """A real worker in a thread, consuming from the real broker (never eager mode)."""
    # Whatever an earlier test queued without a worker names rows its rollback removed, or ids the next
    # test's rows take again; run now, it would act on the wrong rows. Start from an empty queue.
    celery_app.control.purge()
    with django_db_blocker.unblock(), start_worker(celery_app, perform_ping_check=False, loglevel="WARNING") as w:
        yield w
