"""Password guessing is paused per account and per address (site and admin), lifted after the cool-off
or by an editor; people change and reset their own passwords on pages in the site's look."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone

PASSWORD = "a-test-password-123"  # tests/conftest.make_person
LOGIN, ADMIN_LOGIN = "/accounts/login/", "/admin/login/?next=/admin/"


def sign_in(client: Client, url: str, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client: Client, url: str, username: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        response = sign_in(client, url, username, "not-the-password", address)
        assert response.status_code in (200, 429)


def test_the_account_is_paused_after_the_limit_even_for_the_right_password(cast: Any) -> None:
    client = Client()
    fail(client, LOGIN, cast.writer.username, settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, LOGIN, cast.writer.username, "wrong").status_code == 429  # the limit-th failure

    response = sign_in(client, LOGIN, cast.writer.username, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in paused" in page and f"{settings.AXES_COOLOFF_TIME.seconds // 60} minutes" in page
    assert 'class="site-header"' in page  # in the site's look, not a bare error
    assert "_auth_user_id" not in client.session


def test_a_pause_is_per_account_from_any_address(cast: Any) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(Client(), LOGIN, cast.writer.username, 1, address=f"10.0.1.{n}")
    assert sign_in(Client(), LOGIN, cast.writer.username, PASSWORD, address="10.9.9.9").status_code == 429
    # Other people are not affected.
    assert sign_in(Client(), LOGIN, cast.co_writer.username, PASSWORD, address="10.9.9.9").status_code == 302


def test_a_pause_is_per_address_across_accounts(cast: Any) -> None:
    names = ["nobody1", "nobody2", "nobody3", "nobody4", "nobody5", "nobody6"][: settings.AXES_FAILURE_LIMIT]
    for name in names:
        fail(Client(), LOGIN, name, 1, address="10.0.2.2")
    assert sign_in(Client(), LOGIN, cast.writer.username, PASSWORD, address="10.0.2.2").status_code == 429
    assert sign_in(Client(), LOGIN, cast.writer.username, PASSWORD, address="10.0.2.3").status_code == 302


def test_the_admin_login_is_paused_too(cast: Any) -> None:
    client = Client()
    fail(client, ADMIN_LOGIN, cast.editor.username, settings.AXES_FAILURE_LIMIT)
    response = sign_in(client, ADMIN_LOGIN, cast.editor.username, PASSWORD)
    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()


def test_the_pause_lifts_after_the_cool_off(cast: Any) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = Client()
        fail(client, LOGIN, cast.writer.username, settings.AXES_FAILURE_LIMIT)
        traveller.shift(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
        assert sign_in(client, LOGIN, cast.writer.username, PASSWORD).status_code == 429
        # A try during the pause starts the cool-off again (a guesser gains nothing by keeping on).
        traveller.shift(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
        assert sign_in(client, LOGIN, cast.writer.username, PASSWORD).status_code == 429
        traveller.shift(settings.AXES_COOLOFF_TIME + timedelta(minutes=1))
        response = sign_in(client, LOGIN, cast.writer.username, PASSWORD)
        assert response.status_code == 302 and "_auth_user_id" in client.session


def test_a_successful_sign_in_clears_earlier_failures(cast: Any) -> None:
    client = Client()
    fail(client, LOGIN, cast.writer.username, settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, LOGIN, cast.writer.username, PASSWORD).status_code == 302
    fail(Client(), LOGIN, cast.writer.username, settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(Client(), LOGIN, cast.writer.username, PASSWORD).status_code == 302


def test_editors_see_and_lift_pauses_in_the_admin(cast: Any) -> None:
    fail(Client(), LOGIN, cast.writer.username, settings.AXES_FAILURE_LIMIT, address="10.0.3.3")
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    admin = Client()
    admin.force_login(root)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and cast.writer.username in listing.content.decode()

    attempt = AccessAttempt.objects.get(username=cast.writer.username)
    admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert sign_in(Client(), LOGIN, cast.writer.username, PASSWORD, address="10.0.3.3").status_code == 302


def test_behind_the_proxy_the_forwarded_client_is_counted(cast: Any, settings: Any) -> None:
    from articles.sign_in import client_ip

    settings.BEHIND_TLS_PROXY = True
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    assert client_ip(request) == "198.51.100.7"  # the proxy's own entry, not the client's claim
    settings.BEHIND_TLS_PROXY = False
    assert client_ip(request) == "10.0.0.254"


# --- Changing and resetting a password -------------------------------------------------------------------


def test_password_reset_sends_a_usable_link_by_email(cast: Any) -> None:
    client = Client()
    form = client.get("/accounts/password_reset/")
    assert form.status_code == 200 and 'class="site-header"' in form.content.decode()

    response = client.post("/accounts/password_reset/", {"email": cast.writer.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [cast.writer.email] and "new password" in message.subject
    found = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", str(message.body))
    assert found, message.body
    link = found.group(1)

    choose = client.get(link, follow=True)
    assert choose.status_code == 200 and "Choose a new password" in choose.content.decode()
    new_password = "a-brand-new-passphrase-2026"
    done = client.post(
        choose.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}, follow=True
    )
    assert "Password set" in done.content.decode()
    assert sign_in(Client(), LOGIN, cast.writer.username, new_password).status_code == 302
    # The link works once.
    assert "no longer works" in client.get(link, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(db: None) -> None:
    response = Client().post("/accounts/password_reset/", {"email": "nobody@example.org"}, follow=True)
    assert "Check your email" in response.content.decode()
    assert mail.outbox == []


def test_a_signed_in_person_changes_their_password(cast: Any) -> None:
    client = Client()
    client.force_login(cast.writer)
    page = client.get("/accounts/password_change/")
    assert page.status_code == 200 and 'class="site-header"' in page.content.decode()
    new_password = "another-long-passphrase-77"
    done = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert "Password changed" in done.content.decode()
    assert sign_in(Client(), LOGIN, cast.writer.username, new_password).status_code == 302


def test_password_change_needs_sign_in(db: None) -> None:
    response = Client().get("/accounts/password_change/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_sign_in_page_offers_the_reset(db: None) -> None:
    assert 'href="/accounts/password_reset/"' in Client().get(LOGIN).content.decode()
