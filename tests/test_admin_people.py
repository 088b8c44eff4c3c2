"""The Django admin's people pages: adding a person with their profile filled in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from articles.models import Profile


def test_add_user_with_the_profile_filled_in_saves_one_profile(db: None) -> None:
    admin = User.objects.create_superuser("root", "root@example.org", "a-test-password-123")
    client = Client()
    client.force_login(admin)
    form: dict[str, Any] = {
        "username": "nadia_new",
        "usable_password": "true",
        "password1": "a-long-new-password-2026",
        "password2": "a-long-new-password-2026",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "0",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-display_name": "Dr. Nadia Novak",
        "profile-0-credentials": "MD, cardiologist",
        "profile-0-bio": "Cardiologist who reviews heart-failure articles.",
        "_save": "Save",
    }

    response = client.post("/admin/auth/user/add/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    person = User.objects.get(username="nadia_new")
    assert Profile.objects.filter(user=person).count() == 1
    assert person.profile.signature == "Dr. Nadia Novak, MD, cardiologist"
    assert person.check_password("a-long-new-password-2026")
