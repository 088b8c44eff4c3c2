"""Settings come from the environment; production values pass Django's deployment checklist."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent


def run_manage(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {"DEBUG": "0", "ALLOWED_HOSTS": "reviewed.example.org", "SECRET_KEY": secrets.token_urlsafe(64)}


def test_production_values_pass_check_deploy_without_warnings() -> None:
    result = run_manage(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_manage({"DEBUG": "0", "SECRET_KEY": ""}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_database_and_broker_follow_the_environment() -> None:
    expected_vendor = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite3"
    assert settings.DATABASES["default"]["ENGINE"].endswith(expected_vendor)
    assert settings.CELERY_BROKER_URL == os.environ["REDIS_URL"]
    assert settings.CACHES["default"]["LOCATION"] == os.environ["REDIS_URL"]


def test_celery_is_json_only_with_time_limits() -> None:
    from contentreview.celery import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert "articles.tasks.heartbeat" in {entry["task"] for entry in app.conf.beat_schedule.values()}


def test_debug_is_off_when_the_variable_is_unset() -> None:
    result = run_manage({}, "shell", "-c", "from django.conf import settings; print(settings.DEBUG)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"


def test_web_entry_point_refuses_to_start_without_a_key_when_debug_is_unset() -> None:
    # Tooling that never signs anything still runs; serving pages does not.
    assert run_manage({}, "makemigrations", "--check", "--dry-run").returncode == 0
    for module in ("contentreview.wsgi", "contentreview.asgi"):
        env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"], cwd=BASE_DIR, env=env, capture_output=True, text=True
        )
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr


def test_the_development_key_is_never_used_unless_debug_is_turned_on() -> None:
    unset = run_manage({}, "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    assert unset.returncode != 0
    assert "SECRET_KEY setting must not be empty" in unset.stderr
    on = run_manage({"DEBUG": "1"}, "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    assert on.stdout.split()[-1].startswith("django-insecure-development-only")
