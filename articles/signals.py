"""Every person gets a profile, so bylines and approvals always have a name to print."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Profile


@receiver(post_save, sender=User)
def create_profile(sender: type[User], instance: User, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        Profile.objects.get_or_create(
            user=instance, defaults={"display_name": instance.get_full_name() or instance.get_username()}
        )
